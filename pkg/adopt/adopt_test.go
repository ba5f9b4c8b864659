package adopt

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/chacha20"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/sselab/sselab/internal/testtools"
)

// testdata/drive is a part of a drive that a MinIO (the module version
// sselab builds) wrote with MINIO_KMS_SECRET_KEY from testdata/static.key,
// an IAM user alice and an object bkt1/plain.
const fixture = "testdata/drive"

func fixtureKey(t *testing.T) StaticKey {
	t.Helper()
	b, err := os.ReadFile("testdata/static.key")
	if err != nil {
		t.Fatal(err)
	}
	k, err := parseKey(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var key32 = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))

func TestParseKey(t *testing.T) {
	t.Parallel()
	good, err := parseKey("old-key:" + key32)
	if err != nil || good.Name != "old-key" || !bytes.Equal(good.Material, bytes.Repeat([]byte{7}, 32)) {
		t.Fatalf("parseKey(good): got %+v, %v", good, err)
	}
	for _, c := range []struct{ name, in, want string }{
		{"empty", "", "no ':'"},
		{"no colon", "old-key" + key32, "no ':'"},
		{"no name", ":" + key32, "name before ':' is empty"},
		{"bad name", "a/b:" + key32, `key name "a/b"`},
		{"env line", "MINIO_KMS_SECRET_KEY=old-key:" + key32, "keep only the value"},
		{"not base64", "old-key:not base64!", "not base64"},
		{"url base64", "old-key:" + base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xff}, 32)), "not base64"},
		{"16 bytes", "old-key:" + base64.StdEncoding.EncodeToString(make([]byte, 16)), "16 bytes, not 32"},
		{"two lines", "old-key:" + key32 + "\nother:" + key32, "more than one line"},
		{"trailing space", "old-key:" + key32 + " ", "not base64"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseKey(c.in)
			testtools.WantErrContains(t, err, c.want)
			if len(c.in) > 8 && strings.Contains(err.Error(), c.in[8:]) {
				t.Errorf("the error quotes the key: %v", err)
			}
		})
	}
}

func TestReadKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, data string, perm os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), perm); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, perm)
		return p
	}
	for _, c := range []struct{ name, data string }{
		{"newline", "k1:" + key32 + "\n"},
		{"crlf", "k1:" + key32 + "\r\n"},
		{"bare", "k1:" + key32},
	} {
		k, err := ReadKeyFile(write(c.name, c.data, 0o600))
		if err != nil || k.Name != "k1" {
			t.Errorf("%s: got %+v, %v; want key k1", c.name, k, err)
		}
	}
	_, err := ReadKeyFile(write("two-newlines", "k1:"+key32+"\n\n", 0o600))
	testtools.WantErrContains(t, err, "is not a static key", "more than one line")
	_, err = ReadKeyFile(filepath.Join(dir, "missing"))
	testtools.WantErrContains(t, err, "--static-key-file", "no such file")
	_, err = ReadKeyFile(dir)
	testtools.WantErrContains(t, err, "not a regular file")
	if runtime.GOOS != "windows" {
		p := write("open", "k1:"+key32+"\n", 0o644)
		_, err = ReadKeyFile(p)
		testtools.WantErrContains(t, err, "can be read by others", "chmod 600 "+p)
	}
}

// seal seals plaintext under key as MinIO's static key (and KES) do.
func seal(t *testing.T, key, plaintext, ad []byte, chacha bool) (sealed, iv, nonce []byte) {
	t.Helper()
	iv, nonce = make([]byte, ivSize), make([]byte, nonceSize)
	rand.Read(iv)
	rand.Read(nonce)
	var aead cipher.AEAD
	if chacha {
		k, err := chacha20.HChaCha20(key, iv)
		if err != nil {
			t.Fatal(err)
		}
		aead, _ = chacha20poly1305.New(k)
	} else {
		mac := hmac.New(sha256.New, key)
		mac.Write(iv)
		block, _ := aes.NewCipher(mac.Sum(nil))
		aead, _ = cipher.NewGCM(block)
	}
	return aead.Seal(nil, nonce, plaintext, ad), iv, nonce
}

func TestUnseal(t *testing.T) {
	t.Parallel()
	key, other := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	dek := bytes.Repeat([]byte{9}, 32)
	ad := kmsContext(".minio.sys", ".minio.sys/config/config.json")
	if got := string(ad); got != `{".minio.sys":".minio.sys/config/config.json"}` {
		t.Fatalf("kmsContext: got %s", got)
	}
	binaryForm := func(s, iv, nonce []byte) []byte { return append(append(slices.Clone(s), iv...), nonce...) }
	jsonForm := func(aead string) func(s, iv, nonce []byte) []byte {
		return func(s, iv, nonce []byte) []byte {
			b, _ := json.Marshal(map[string]any{"aead": aead, "id": "x", "iv": iv, "nonce": nonce, "bytes": s})
			return b
		}
	}
	for _, c := range []struct {
		name   string
		chacha bool
		form   func(s, iv, nonce []byte) []byte
	}{
		{"binary AES-GCM", false, binaryForm},
		{"JSON AES-GCM", false, jsonForm("AES-256-GCM-HMAC-SHA-256")},
		{"JSON ChaCha20", true, jsonForm("ChaCha20Poly1305")},
	} {
		t.Run(c.name, func(t *testing.T) {
			ct := c.form(seal(t, key, dek, ad, c.chacha))
			if got, err := unseal(key, ct, ad); err != nil || !bytes.Equal(got, dek) {
				t.Fatalf("unseal: got %x, %v; want %x", got, err, dek)
			}
			if _, err := unseal(other, ct, ad); err == nil {
				t.Error("unseal with another key: got nil error")
			}
			if _, err := unseal(key, ct, kmsContext(".minio.sys", "config/other.json")); err == nil {
				t.Error("unseal with another context: got nil error")
			}
		})
	}
	if _, err := unseal(key, []byte("short"), ad); err == nil {
		t.Error("unseal(short): got nil error")
	}
}

func TestParseConfigObject(t *testing.T) {
	t.Parallel()
	hdr, _ := json.Marshal(map[string]any{"keyid": "k", "kmskey": []byte("sealed"), "algorithm": "AES-256-GCM", "nonce": []byte("n")})
	enc := append([]byte{1, 0, 0, 0, 0}, hdr...)
	binary.LittleEndian.PutUint32(enc[1:5], uint32(len(hdr)))
	enc = append(enc, 0xff, 0xfe) // ciphertext
	h, err := parseConfigObject(enc)
	if err != nil || h.KeyID != "k" || string(h.KMSKey) != "sealed" {
		t.Errorf("encrypted: got %+v, %v", h, err)
	}
	if _, err := parseConfigObject([]byte(`{"version":"1"}`)); !errors.Is(err, errPlain) {
		t.Errorf("plain JSON: got %v, want errPlain", err)
	}
	salt := append([]byte{0xd3, 0x01}, bytes.Repeat([]byte{0xff}, 40)...)
	if _, err := parseConfigObject(salt); !errors.Is(err, errNotKMS) {
		t.Errorf("root-credential ciphertext: got %v, want errNotKMS", err)
	}
	bad := slices.Clone(enc)
	binary.LittleEndian.PutUint32(bad[1:5], 1<<30)
	if _, err := parseConfigObject(bad); !errors.Is(err, errNotKMS) {
		t.Errorf("header size too large: got %v, want errNotKMS", err)
	}
}

func TestCompleteRunes(t *testing.T) {
	t.Parallel()
	euro := []byte("a€") // € is 3 bytes
	for cut, want := range map[int]string{4: "a€", 3: "a", 2: "a", 1: "a"} {
		if got := string(completeRunes(euro[:cut])); got != want {
			t.Errorf("completeRunes(%q): got %q, want %q", euro[:cut], got, want)
		}
	}
}

func TestCheckFixture(t *testing.T) {
	t.Parallel()
	k := fixtureKey(t)
	d, err := Check(fixture, k)
	if err != nil {
		t.Fatal(err)
	}
	wantChecked := []string{"config/config.json", "config/iam/format.json", "config/iam/users/alice/identity.json"}
	if !slices.Equal(d.Checked, wantChecked) {
		t.Errorf("Checked: got %v, want %v", d.Checked, wantChecked)
	}
	if !slices.Equal(d.Buckets, []string{"bkt1"}) || !d.HasBucket("bkt1") || d.HasBucket("encrypted") {
		t.Errorf("Buckets: got %v, want [bkt1]", d.Buckets)
	}
	if d.Files != 5 || d.Bytes == 0 {
		t.Errorf("survey: got %d files, %d bytes; want 5 files", d.Files, d.Bytes)
	}
	if s := d.Sample(); s.Object != "config/config.json" || len(s.Plaintext) != 32 {
		t.Errorf("Sample: got %s with a %d-byte data key, want config/config.json, 32", s.Object, len(s.Plaintext))
	}

	wrong := StaticKey{Name: k.Name, Material: bytes.Repeat([]byte{3}, 32)}
	_, err = Check(fixture, wrong)
	testtools.WantErrContains(t, err, `the key "old-key" from --static-key-file does not decrypt MinIO's configuration`, "config/config.json")
	_, err = Check(fixture, StaticKey{Name: "other", Material: k.Material})
	testtools.WantErrContains(t, err, `sealed with the key "old-key"`, `holds the key "other"`)
}

// drive makes a copy of the fixture to change.
func drive(t *testing.T) string {
	t.Helper()
	d, err := Check(fixture, fixtureKey(t))
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "drive")
	if err := d.CopyTo(dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestCheckRefuses(t *testing.T) {
	t.Parallel()
	k := fixtureKey(t)
	for _, c := range []struct {
		name   string
		change func(t *testing.T, dir string)
		want   []string
	}{
		{"no format.json", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, ".minio.sys", "format.json")) },
			[]string{"is not a MinIO drive", "no .minio.sys/format.json"}},
		{"erasure set", func(t *testing.T, dir string) {
			testtools.WriteFile(t, filepath.Join(dir, ".minio.sys", "format.json"), `{"version":"1","format":"xl","xl":{"sets":[["a","b","c","d"]]}}`)
		}, []string{"one of 4 drives of an erasure-coded MinIO"}},
		{"FS mode", func(t *testing.T, dir string) {
			testtools.WriteFile(t, filepath.Join(dir, ".minio.sys", "format.json"), `{"version":"1","format":"fs"}`)
		}, []string{"old FS mode"}},
		{"no configuration", func(t *testing.T, dir string) { os.RemoveAll(filepath.Join(dir, ".minio.sys", "config")) },
			[]string{"has no MinIO configuration"}},
		{"plain configuration", func(t *testing.T, dir string) {
			os.RemoveAll(filepath.Join(dir, ".minio.sys", "config"))
			copyFixtureObject(t, filepath.Join(fixture, "bkt1", "plain"), filepath.Join(dir, ".minio.sys", "config", "config.json"))
		}, []string{"nothing of MinIO's configuration", "is encrypted", "did not run with MINIO_KMS_SECRET_KEY"}},
		{"symbolic link", func(t *testing.T, dir string) {
			if err := os.Symlink("/etc/hostname", filepath.Join(dir, "bkt1", "link")); err != nil {
				t.Skip("no symbolic links here:", err)
			}
		}, []string{"is a symbolic link", "copies only files and directories"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := drive(t)
			c.change(t, dir)
			_, err := Check(dir, k)
			testtools.WantErrContains(t, err, c.want...)
		})
	}
	_, err := Check(filepath.Join(t.TempDir(), "missing"), k)
	testtools.WantErrContains(t, err, "--adopt-drive", "no such file")
}

// copyFixtureObject copies the xl.meta of the object in src to dst.
func copyFixtureObject(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(src, "xl.meta"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	testtools.WriteFile(t, filepath.Join(dst, "xl.meta"), string(b))
}

func TestCopyTo(t *testing.T) {
	t.Parallel()
	dst := drive(t)
	want := map[string][]byte{}
	filepath.WalkDir(fixture, func(p string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			rel, _ := filepath.Rel(fixture, p)
			want[rel], _ = os.ReadFile(p)
		}
		return err
	})
	got := 0
	err := filepath.WalkDir(dst, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, _ := e.Info()
		if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %v, want no access for others", p, fi.Mode().Perm())
		}
		if !e.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(dst, p)
		b, _ := os.ReadFile(p)
		if !bytes.Equal(b, want[rel]) {
			t.Errorf("%s differs from the original", rel)
		}
		got++
		return nil
	})
	if err != nil || got != len(want) {
		t.Errorf("copy holds %d files (%v), want %d", got, err, len(want))
	}
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(dst), ".drive-adopting-*")); len(leftovers) > 0 {
		t.Errorf("temporary directories left: %v", leftovers)
	}

	// A second copy onto the same place fails and leaves nothing behind.
	d, err := Check(fixture, fixtureKey(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.CopyTo(dst); err == nil {
		t.Error("CopyTo onto an existing directory: got nil error")
	}
	if entries := testtools.Entries(t, filepath.Dir(dst)); !slices.Equal(entries, []string{"drive"}) {
		t.Errorf("after a failed copy: got %v, want [drive]", entries)
	}
}

func TestServesDrive(t *testing.T) {
	t.Parallel()
	drive := t.TempDir()
	if real, err := filepath.EvalSymlinks(drive); err == nil {
		drive = real
	}
	parent, base := filepath.Dir(drive), filepath.Base(drive)
	for _, c := range []struct {
		name string
		args []string
		cwd  string
		want bool
	}{
		{"absolute", []string{"minio", "server", drive, "--address", ":9000"}, "", true},
		{"trailing slash", []string{"minio", "server", drive + string(filepath.Separator)}, "", true},
		{"relative", []string{"minio", "server", base}, parent, true},
		{"relative, cwd unknown", []string{"minio", "server", base}, "", false},
		{"endpoint URL", []string{"minio", "server", "http://127.0.0.1:9000" + filepath.ToSlash(drive)}, "", runtime.GOOS != "windows"},
		{"not a server", []string{"ls", drive}, "", false},
		{"another drive", []string{"minio", "server", parent}, "", false},
		{"as a flag value only", []string{"minio", "server", "--certs-dir=" + drive}, "", false},
	} {
		if got := servesDrive(c.args, c.cwd, drive); got != c.want {
			t.Errorf("%s: servesDrive(%q, %q): got %v, want %v", c.name, c.args, c.cwd, got, c.want)
		}
	}
}
