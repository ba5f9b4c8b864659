package backup

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/sselab/sselab/internal/fsutil"
	"github.com/sselab/sselab/pkg/keystore"
	"github.com/sselab/sselab/pkg/labdir"
	"github.com/sselab/sselab/pkg/pki"
)

func init() {
	scryptWorkFactor = 10 // a few milliseconds instead of a second per backup
}

// testPass is the passphrase of the tests' backups.
var testPass = []byte("correct horse battery staple")

// fakeLab makes a state directory as a lab leaves it: a real PKI, the
// settings of a keystore of kind kms ("" is fs), credentials, key files
// of about 200 bytes in the keystore of that kind, a key index, and
// files a backup must leave out (MinIO's data, logs, the state file).
func fakeLab(t testing.TB, kms string, keys ...string) labdir.Layout {
	t.Helper()
	l := labdir.Layout{Root: filepath.Join(t.TempDir(), "lab")}
	if err := fsutil.MkdirPrivate(l.Root); err != nil {
		t.Fatal(err)
	}
	if _, err := pki.LoadOrCreate(pki.Options{Dir: l.CertsDir()}); err != nil {
		t.Fatal(err)
	}
	must(t, labdir.WriteJSON(l.SettingsFile(), labdir.Settings{Address: "127.0.0.1:9000", Key: "sselab-key", Buckets: []string{"encrypted"}, Keystore: labdir.Keystore{KMS: kms}}))
	must(t, labdir.WriteJSON(l.CredentialsFile(), labdir.Credentials{RootUser: "sselab-test", RootPassword: "secret-password"}))
	store := l.KeyStoreDir()
	if kms == keystore.KindSealed {
		store = l.SealedKeyStoreDir()
		writeFile(t, filepath.Join(store, "keystore.json"), `{"format":"test","salt":"`+randomText(t, 16)+`"}`)
	}
	for _, k := range keys {
		writeFile(t, filepath.Join(store, k), randomText(t, 150))
	}
	if len(keys) > 0 {
		writeTestIndex(t, l, keys...)
	}
	writeFile(t, filepath.Join(l.MinIODataDir(), "bucket", "object"), "MinIO's data")
	writeFile(t, l.MinIOLog(), "log")
	writeFile(t, l.StateFile(), "{}")
	writeFile(t, l.KESAuditLog(), "{}")
	return l
}

// index is the key index as package keystore writes it.
type index struct {
	Keys []string `json:"keys"`
}

// writeTestIndex writes the key index of l with names, sorted.
func writeTestIndex(t testing.TB, l labdir.Layout, names ...string) {
	t.Helper()
	names = slices.Sorted(slices.Values(names))
	must(t, labdir.WriteJSON(l.KeyIndexFile(), index{Keys: names}))
}

// randomText is n random bytes in base64: about the size of a KES key
// file (base64 of 150 bytes is 200 bytes).
func randomText(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func writeFile(t testing.TB, path, data string) {
	t.Helper()
	must(t, fsutil.MkdirPrivate(filepath.Dir(path)))
	must(t, os.WriteFile(path, []byte(data), 0o600))
}

// tree describes every path below dir with its mode and the SHA-256 of
// its content: equal trees are byte-identical.
func tree(t testing.TB, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		desc := fi.Mode().String()
		if d.Type().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			h := sha256.Sum256(data)
			desc += " " + hex.EncodeToString(h[:])
		}
		r, _ := filepath.Rel(dir, p)
		m[filepath.ToSlash(r)] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// wantSameTree fails unless the trees are equal, naming what differs.
func wantSameTree(t testing.TB, before, after map[string]string) {
	t.Helper()
	var diff []string
	for p, d := range before {
		if after[p] != d {
			diff = append(diff, fmt.Sprintf("%s: %q -> %q", p, d, after[p]))
		}
	}
	for p, d := range after {
		if _, ok := before[p]; !ok {
			diff = append(diff, fmt.Sprintf("%s: new (%s)", p, d))
		}
	}
	sort.Strings(diff)
	if len(diff) > 0 {
		t.Errorf("the directory changed:\n%s", strings.Join(diff, "\n"))
	}
}

// snapshotOf takes a snapshot of l at a fixed time.
func snapshotOf(t testing.TB, l labdir.Layout) *Archive {
	t.Helper()
	a, err := Snapshot(t.Context(), l, Options{Version: "v-test", Now: func() time.Time { return time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// encode encrypts a with the test passphrase.
func encode(t testing.TB, a *Archive) []byte {
	t.Helper()
	r, err := PassphraseRecipient(testPass)
	must(t, err)
	var b bytes.Buffer
	must(t, Encode(&b, a, r))
	return b.Bytes()
}

// openBytes decrypts a backup with the test passphrase.
func openBytes(t testing.TB, data []byte) (*Archive, error) {
	t.Helper()
	return Decode(bytes.NewReader(data), passIdentity(t, testPass))
}

func passIdentity(t testing.TB, pass []byte) age.Identity {
	t.Helper()
	id, err := PassphraseIdentity(pass)
	must(t, err)
	return id
}

// writeBackup writes a backup of l with the test passphrase and returns
// its path.
func writeBackup(t testing.TB, l labdir.Layout) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "lab.sselab-backup")
	r, err := PassphraseRecipient(testPass)
	must(t, err)
	must(t, WriteFile(out, snapshotOf(t, l), false, r))
	return out
}

// caIdentityOfDir is the KES identity of the CA of the PKI in dir.
func caIdentityOfDir(dir string) (string, error) {
	return pki.IdentityOfFile((&pki.PKI{Dir: dir}).CAFile())
}
