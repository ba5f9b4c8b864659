package vault

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/kes"
	"github.com/minio/kes/kesconf"
	kesapi "github.com/minio/kms-go/kes"

	"github.com/sselab/sselab/internal/fakevault"
)

// kesStore connects KES's own Vault keystore (kesconf, linked into this
// test only) with the settings of c.
func kesStore(t *testing.T, c *Config) kes.KeyStore {
	t.Helper()
	ks := &kesconf.VaultKeyStore{
		Endpoint: c.Endpoint, Engine: c.Engine, APIVersion: c.KVVersion, Prefix: c.Prefix,
		Namespace: c.Namespace, CAPath: c.CAFile, StatusPing: c.StatusPing,
		AppRole: &kesconf.VaultAppRoleAuth{Engine: c.AppRole.Engine, ID: c.AppRole.ID, Secret: c.AppRole.Secret},
	}
	store, err := ks.Connect(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

// TestKeyStoreSameEntriesAsKES writes keys with KeyStore and with the
// Vault keystore of 'kes server' under one prefix, in KV v1 and v2, and
// reads, lists and deletes each with the other: a lab and a 'kes server'
// share their keys in Vault.
func TestKeyStoreSameEntriesAsKES(t *testing.T) {
	for _, kv := range []int{1, 2} {
		t.Run("KV v"+string(rune('0'+kv)), func(t *testing.T) {
			v, c := startVault(t, fakevault.Options{TLS: true, Mounts: map[string]int{"kv": kv}})
			if _, err := Preflight(ctx(t), c); err != nil {
				t.Fatal(err)
			}
			ours, err := Connect(ctx(t), c)
			if err != nil {
				t.Fatal(err)
			}
			defer ours.Close()
			stores := map[string]kes.KeyStore{"sselab": ours, "kes": kesStore(t, c)}
			for writer, w := range stores {
				for reader, r := range stores {
					name := writer + "-to-" + reader
					value := []byte("key material of " + name)
					if err := w.Create(ctx(t), name, value); err != nil {
						t.Fatalf("%s Create %s: %v", writer, name, err)
					}
					if got, err := r.Get(ctx(t), name); err != nil || !bytes.Equal(got, value) {
						t.Errorf("%s Get of %s's key: %q, %v; want %q", reader, writer, got, err, value)
					}
					if err := r.Create(ctx(t), name, []byte("other")); !errors.Is(err, kesapi.ErrKeyExists) {
						t.Errorf("%s Create over %s's key: %v, want ErrKeyExists", reader, writer, err)
					}
				}
			}
			if data, ok := v.Secret("kv", "lab/sselab-to-kes"); !ok || data["sselab-to-kes"] != "key material of sselab-to-kes" {
				t.Errorf("Vault holds %v (%v) at kv/lab/sselab-to-kes", data, ok)
			}
			for name, s := range stores {
				names, next, err := s.List(ctx(t), "sselab-", 0)
				if err != nil || next != "" || !slices.Equal(names, []string{"sselab-to-kes", "sselab-to-sselab"}) {
					t.Errorf("%s List sselab-: %q, %q, %v", name, names, next, err)
				}
			}
			if err := ours.Delete(ctx(t), "kes-to-sselab"); err != nil {
				t.Fatal(err)
			}
			for name, s := range stores {
				if _, err := s.Get(ctx(t), "kes-to-sselab"); !errors.Is(err, kesapi.ErrKeyNotFound) {
					t.Errorf("%s Get after Delete: %v, want ErrKeyNotFound", name, err)
				}
			}
		})
	}
}

// storeWithKey starts a fake Vault with a KV v2 engine, connects a
// KeyStore that asks for the seal state every ping (default if 0), and
// creates the key "k" with the value "v". The store closes with the test.
func storeWithKey(t *testing.T, o fakevault.Options, ping time.Duration) (*fakevault.Server, *KeyStore) {
	t.Helper()
	o.Mounts = map[string]int{"kv": 2}
	v, c := startVault(t, o)
	c.KVVersion = KVv2
	if ping > 0 {
		c.StatusPing = ping
	}
	s, err := Connect(ctx(t), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Create(ctx(t), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	return v, s
}

// TestKeyStoreSealed: while Vault is sealed the keystore fails at once,
// so that KES serves what it has cached; unsealed, it works again.
func TestKeyStoreSealed(t *testing.T) {
	v, s := storeWithKey(t, fakevault.Options{}, 50*time.Millisecond)
	v.Seal()
	if _, err := s.Status(ctx(t)); err == nil || !strings.Contains(err.Error(), "sealed") {
		t.Errorf("Status while sealed: %v, want sealed", err)
	}
	if _, err := s.Get(ctx(t), "k"); !errors.Is(err, errSealed) {
		t.Errorf("Get while sealed: %v, want %v", err, errSealed)
	}
	v.Unseal()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := s.Get(ctx(t), "k")
		if err == nil && string(got) == "v" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Get 10s after unsealing: %q, %v", got, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := s.Status(ctx(t)); err != nil {
		t.Errorf("Status after unsealing: %v", err)
	}
}

// TestKeyStoreOutlivesItsToken gives the keystore tokens that expire
// after 2 s and uses it for three times as long: it renews its token in
// time (KES v0.24.0's own keystore does not, minio/kes #504).
func TestKeyStoreOutlivesItsToken(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 6 seconds")
	}
	v, s := storeWithKey(t, fakevault.Options{TokenTTL: 2 * time.Second}, 0)
	for end := time.Now().Add(6 * time.Second); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		if got, err := s.Get(ctx(t), "k"); err != nil || string(got) != "v" {
			t.Fatalf("Get with 2s tokens: %q, %v", got, err)
		}
	}
	renewals := 0
	for _, r := range v.Requests() {
		if strings.HasSuffix(r.Path, "/auth/token/renew-self") && r.Status == 200 {
			renewals++
		}
	}
	if renewals < 2 {
		t.Errorf("%d token renewals in 6s of 2s tokens, want at least 2", renewals)
	}
}
