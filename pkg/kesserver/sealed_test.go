package kesserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	kesapi "github.com/minio/kms-go/kes"
)

// testKDF keeps the tests fast; the format records the parameters.
var testKDF = KDFParams{Time: 1, MemoryKiB: 1 << 10, Threads: 1}

func newSealed(t *testing.T, pass string) (*SealedKeyStore, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "kes", "sealed")
	if err := CreateSealedKeyStore(dir, []byte(pass), testKDF); err != nil {
		t.Fatalf("CreateSealedKeyStore: %v", err)
	}
	s, err := OpenSealedKeyStore(testContext(t), dir, []byte(pass))
	if err != nil {
		t.Fatalf("OpenSealedKeyStore: %v", err)
	}
	return s, dir
}

func TestSealedKeyStore(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	s, dir := newSealed(t, "correct horse")
	value := []byte(`{"bytes":"c2VjcmV0LWtleS1tYXRlcmlhbC0zMi1ieXRlcy0wMTIzNDU2Nzg5"}`)
	if err := s.Create(ctx, "k1", value); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, "k1", value); !errors.Is(err, kesapi.ErrKeyExists) {
		t.Errorf("Create twice: got %v, want ErrKeyExists", err)
	}
	if err := s.Create(ctx, "k2", []byte("other")); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "k1")
	if err != nil || !bytes.Equal(got, value) {
		t.Errorf("Get: %q, %v; want what was created", got, err)
	}
	if _, err := s.Get(ctx, "missing"); !errors.Is(err, kesapi.ErrKeyNotFound) {
		t.Errorf("Get missing: got %v, want ErrKeyNotFound", err)
	}
	names, _, err := s.List(ctx, "", -1)
	if err != nil || strings.Join(names, ",") != "k1,k2" {
		t.Errorf("List: %v, %v; want k1,k2 (not the header)", names, err)
	}

	// At rest: no entry holds its value, nor any 8 bytes of it; the
	// directory is private.
	onDisk, err := os.ReadFile(filepath.Join(dir, "k1"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+8 <= len(value); i++ {
		if bytes.Contains(onDisk, value[i:i+8]) {
			t.Fatalf("k1's file holds %q of its value in clear", value[i:i+8])
		}
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("mode of %s: %v, %v; want 0700", dir, fi.Mode(), err)
	}

	// An entry moved to another name does not decrypt.
	if err := os.WriteFile(filepath.Join(dir, "k3"), onDisk, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "k3"); err == nil || !strings.Contains(err.Error(), "damaged or belongs to another keystore") {
		t.Errorf("Get of k1's entry under the name k3: got %v, want it refused", err)
	}

	// Sealed: every operation fails with ErrSealed, with KES's status.
	s.Seal()
	if !s.Sealed() {
		t.Error("Sealed after Seal: false")
	}
	if _, err := s.Status(ctx); !errors.Is(err, ErrSealed) {
		t.Errorf("Status sealed: %v", err)
	}
	if _, err := s.Get(ctx, "k1"); !errors.Is(err, ErrSealed) {
		t.Errorf("Get sealed: %v", err)
	}
	if err := s.Create(ctx, "k4", value); !errors.Is(err, ErrSealed) {
		t.Errorf("Create sealed: %v", err)
	}
	if err := s.Delete(ctx, "k2"); !errors.Is(err, ErrSealed) {
		t.Errorf("Delete sealed: %v", err)
	}
	if _, _, err := s.List(ctx, "", -1); !errors.Is(err, ErrSealed) {
		t.Errorf("List sealed: %v", err)
	}
	if st, ok := ErrSealed.(interface{ Status() int }); !ok || st.Status() != 423 {
		t.Error("ErrSealed has no HTTP status 423 for KES to pass on")
	}
	if err := s.Unseal([]byte("wrong horse")); !errors.Is(err, ErrWrongPassphrase) || !s.Sealed() {
		t.Errorf("Unseal with a wrong passphrase: %v, sealed %v; want ErrWrongPassphrase and still sealed", err, s.Sealed())
	}
	if err := s.Unseal([]byte("correct horse")); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, "k1"); err != nil || !bytes.Equal(got, value) {
		t.Errorf("Get after Unseal: %q, %v", got, err)
	}

	// Reopened: a wrong passphrase opens nothing; the right one finds the keys.
	if _, err := OpenSealedKeyStore(ctx, dir, []byte("wrong")); !errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("Open with a wrong passphrase: got %v", err)
	}
	again, err := OpenSealedKeyStore(ctx, dir, []byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := again.Get(ctx, "k1"); err != nil || !bytes.Equal(got, value) {
		t.Errorf("Get after reopening: %q, %v", got, err)
	}
}

func TestSealedKeyStoreHeader(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	_, dir := newSealed(t, "passphrase")
	if err := CreateSealedKeyStore(dir, []byte("passphrase"), testKDF); err == nil {
		t.Error("CreateSealedKeyStore over an existing keystore: got nil error")
	}
	header := filepath.Join(dir, SealedHeader)
	orig, err := os.ReadFile(header)
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(orig, &h); err != nil {
		t.Fatal(err)
	}
	if p := h["kdf_params"].(map[string]any); h["kdf"] != "argon2id" || p["time"] != 1.0 || p["memory_kib"] != 1024.0 {
		t.Errorf("header: kdf %v %v; want argon2id with the parameters used", h["kdf"], p)
	}
	for _, tt := range []struct {
		name string
		edit func(map[string]any)
		want string
	}{
		{"newer format", func(h map[string]any) { h["version"] = 2 }, "use a newer sselab"},
		{"unusable parameters", func(h map[string]any) { h["kdf_params"].(map[string]any)["time"] = 0 }, "KDF parameters this sselab does not use"},
		{"weaker parameters", func(h map[string]any) { h["kdf_params"].(map[string]any)["memory_kib"] = 512 }, "wrong passphrase"},
		{"other cipher", func(h map[string]any) { h["cipher"] = "aes-gcm" }, "not a sealed keystore header"},
	} {
		var m map[string]any
		json.Unmarshal(orig, &m)
		tt.edit(m)
		b, _ := json.Marshal(m)
		if err := os.WriteFile(header, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenSealedKeyStore(ctx, dir, []byte("passphrase")); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error saying %q", tt.name, err, tt.want)
		}
	}
	os.WriteFile(header, []byte("{"), 0o600)
	if _, err := OpenSealedKeyStore(ctx, dir, []byte("passphrase")); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("truncated header: got %v", err)
	}
}

// TestSealedKeyStoreInKES: KES serves the sealed keystore; sealing it and
// flushing KES's cache makes every key operation fail with the sealed
// keystore's message, unsealing brings the keys back at once.
func TestSealedKeyStoreInKES(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	l := newLab(t)
	store, _ := newSealed(t, "passphrase")
	l.cfg.KeyStore = store
	s := start(t, ctx, l.cfg)
	op := l.client(t, s, l.pki.Operator)
	minio := l.client(t, s, l.pki.MinIOClient)
	if err := op.CreateKey(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	dek, err := minio.GenerateKey(ctx, "k", nil)
	if err != nil {
		t.Fatal(err)
	}

	store.Seal()
	if err := s.FlushCache(); err != nil {
		t.Fatal(err)
	}
	_, err = minio.GenerateKey(ctx, "k", nil)
	var kerr kesapi.Error
	if !errors.As(err, &kerr) || kerr.Status() != 423 || !strings.Contains(err.Error(), "sealed keystore is sealed") {
		t.Errorf("GenerateKey while sealed: got %v, want 423 naming the sealed keystore", err)
	}
	if _, err := minio.Decrypt(ctx, "k", dek.Ciphertext, nil); err == nil {
		t.Error("Decrypt while sealed: got nil error")
	}

	start := time.Now()
	if err := store.Unseal([]byte("passphrase")); err != nil {
		t.Fatal(err)
	}
	if err := s.FlushCache(); err != nil {
		t.Fatal(err)
	}
	plain, err := minio.Decrypt(ctx, "k", dek.Ciphertext, nil)
	if err != nil || !bytes.Equal(plain, dek.Plaintext) {
		t.Errorf("Decrypt after unseal: %v", err)
	}
	t.Logf("unsealed and decrypting after %v", time.Since(start))

	// Closing the server closes (seals) the keystore; flushing did not.
	if store.Sealed() {
		t.Error("the keystore was closed by a cache flush")
	}
	s.Close()
	if !store.Sealed() {
		t.Error("the keystore is still unsealed after the server closed")
	}
}

// BenchmarkKESKeyStore measures KES's generate and decrypt as MinIO's
// identity with the file keystore and with the sealed keystore, in one
// process, so that their ratio is the sealed keystore's cost. KES caches
// keys, so the keystore is read only on a miss; the -uncached variants
// flush KES's cache before every operation, the worst case.
func BenchmarkKESKeyStore(b *testing.B) {
	for _, kind := range []string{"fs", "sealed"} {
		for _, uncached := range []bool{false, true} {
			name := kind
			if uncached {
				name += "-uncached"
			}
			b.Run(name, func(b *testing.B) {
				ctx := b.Context()
				l := newLabB(b)
				if kind == "sealed" {
					dir := filepath.Join(l.dir, "sealed")
					if err := CreateSealedKeyStore(dir, []byte("passphrase"), DefaultKDFParams); err != nil {
						b.Fatal(err)
					}
					ks, err := OpenSealedKeyStore(ctx, dir, []byte("passphrase"))
					if err != nil {
						b.Fatal(err)
					}
					l.cfg.KeyStore = ks
				}
				s, err := Start(ctx, l.cfg)
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				op := kesapi.NewClientWithConfig(s.Endpoint(), l.pki.ClientTLS(l.pki.Operator))
				minio := kesapi.NewClientWithConfig(s.Endpoint(), l.pki.ClientTLS(l.pki.MinIOClient))
				if err := op.CreateKey(ctx, "k"); err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				for b.Loop() {
					if uncached {
						s.FlushCache()
					}
					dek, err := minio.GenerateKey(ctx, "k", nil)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := minio.Decrypt(ctx, "k", dek.Ciphertext, nil); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
