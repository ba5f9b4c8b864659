package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"filippo.io/age"
	"github.com/minio/minio-go/v7"

	"github.com/sselab/sselab/internal/testtools"
	"github.com/sselab/sselab/pkg/backup"
	"github.com/sselab/sselab/pkg/labdir"
	"github.com/sselab/sselab/pkg/pki"
)

// backupPass is the passphrase of the tests' backups, given to sselab
// in its environment as a script would.
const backupPass = "a passphrase for the e2e backups"

// withPass runs sselab with the backups' passphrase in its environment.
func withPass(t *testing.T, args ...string) result {
	t.Helper()
	return sselabEnv(t, []string{"SSELAB_PASSPHRASE=" + backupPass}, args...)
}

// mustWithPass is withPass that fails the test unless sselab exits 0.
func mustWithPass(t *testing.T, args ...string) result {
	t.Helper()
	r := withPass(t, args...)
	if r.code != 0 {
		t.Fatalf("sselab %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// wantFailure fails the test unless r exited with code and said, on one
// line starting "sselab: ", everything in want.
func wantFailure(t *testing.T, what string, r result, code int, want ...string) {
	t.Helper()
	line := strings.TrimSuffix(r.stderr, "\n")
	if r.code != code || strings.Contains(line, "\n") || !strings.HasPrefix(line, "sselab: ") {
		t.Errorf("%s: exit %d, stderr %q; want exit %d and one line", what, r.code, r.stderr, code)
	}
	for _, w := range want {
		if !strings.Contains(line, w) {
			t.Errorf("%s: stderr %q does not say %q", what, line, w)
		}
	}
}

// manifestOf reads the manifest of a backup with 'backup verify --json'.
func manifestOf(t *testing.T, file string) backup.Manifest {
	t.Helper()
	var m backup.Manifest
	if err := json.Unmarshal([]byte(mustWithPass(t, "backup", "verify", file, "--json").stdout), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestBackupRestore backs up a running lab while keys are being made,
// verifies the backup, makes a new lab from it and starts it, and tries
// every bad input: each fails with one line and leaves the state
// directory as it was.
func TestBackupRestore(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	ctx := testtools.Context(t)
	scratch := t.TempDir()
	dir := filepath.Join(scratch, "lab")
	h := upDetached(t, dir)
	mustRun(t, "key", "create", "k2", "--dir", dir)

	// A backup while KES makes keys: every key it holds is whole.
	file := filepath.Join(scratch, "lab.sselab-backup")
	bgCtx, stopKeys := context.WithCancel(ctx)
	var wg sync.WaitGroup
	started := make(chan struct{}) // closed once a few keys are made
	wg.Go(func() {
		var once sync.Once
		defer once.Do(func() { close(started) })
		for i := 0; bgCtx.Err() == nil; i++ {
			if err := h.KES().CreateKey(bgCtx, fmt.Sprintf("during-%03d", i)); err != nil && bgCtx.Err() == nil {
				t.Errorf("creating keys during the backup: %v", err)
				return
			}
			if i == 5 {
				once.Do(func() { close(started) })
			}
		}
	})
	<-started
	r := mustWithPass(t, "backup", "--out", file, "--dir", dir)
	stopKeys()
	wg.Wait()
	if !strings.Contains(r.stdout, "backup of "+dir+" written to "+file) {
		t.Errorf("backup said %q", r.stdout)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the backup file: %v; want mode 0600", err)
	}
	if got := testtools.Entries(t, scratch); !slices.Equal(got, []string{"lab", "lab.sselab-backup"}) {
		t.Errorf("next to the backup: %q", got)
	}

	m := manifestOf(t, file)
	names := m.KeyNames()
	if !slices.Contains(names, labdir.DefaultKey) || !slices.Contains(names, "k2") {
		t.Errorf("the backup holds the keys %q; want %s and k2", names, labdir.DefaultKey)
	}
	during := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return !strings.HasPrefix(n, "during-") })
	t.Logf("the backup holds %d keys made while it ran", len(during))
	for _, k := range m.Keys {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(k.Path)))
		if err != nil || sha256Hex(data) != k.SHA256 {
			t.Errorf("key %s: the backup's entry is not the key file (%v)", k.Name, err)
		}
		if k.Created == "" {
			t.Errorf("key %s: no creation date, though the lab ran", k.Name)
		}
	}
	caID, err := pki.IdentityOfFile(h.PKI.CAFile())
	if err != nil || m.CAIdentity != caID || m.Keystore != "fs" || m.Version != backup.FormatVersion {
		t.Errorf("manifest: CA %s (want %s, %v), keystore %s, version %d", m.CAIdentity, caID, err, m.Keystore, m.Version)
	}
	for _, f := range m.Files {
		if strings.HasPrefix(f.Path, "minio/") || strings.HasPrefix(f.Path, "logs/") || f.Path == "state.json" || strings.HasSuffix(f.Path, ".log") {
			t.Errorf("the backup holds %s", f.Path)
		}
	}
	out := mustWithPass(t, "backup", "verify", file).stdout
	for _, want := range []string{"intact", "sselab-backup version 1", caID, "fs", fmt.Sprintf("%d: %s (created 20", len(names), names[0]), "certificates"} {
		if !strings.Contains(out, want) {
			t.Errorf("backup verify: %q does not say %q", out, want)
		}
	}

	// To an age key instead of a passphrase.
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	idFile, toKey := filepath.Join(t.TempDir(), "backup.key"), filepath.Join(t.TempDir(), "to-key.sselab-backup")
	if err := os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "backup", "--out", toKey, "--recipient", id.Recipient().String(), "--dir", dir)
	if out := mustRun(t, "backup", "verify", toKey, "--identity", idFile).stdout; !strings.Contains(out, "intact") {
		t.Errorf("backup verify --identity: %q", out)
	}
	wantFailure(t, "a backup to an age key, with a passphrase", withPass(t, "backup", "verify", toKey), 1, "--identity")
	wantFailure(t, "a passphrase backup, with --identity", sselab(t, "backup", "verify", file, "--identity", idFile), 1, "encrypted with a passphrase")

	t.Run("bad input", func(t *testing.T) { backupBadInput(t, dir, file) })

	// A new lab from the backup, started beside the first one.
	restored := filepath.Join(scratch, "restored")
	r = mustWithPass(t, "restore", file, "--dir", restored)
	if !strings.Contains(r.stdout, "restored "+file+" into "+restored) || !strings.Contains(r.stdout, "sselab up --dir "+restored) {
		t.Errorf("restore said %q", r.stdout)
	}
	if got := testtools.Entries(t, scratch); !slices.Equal(got, []string{"lab", "lab.sselab-backup", "restored"}) {
		t.Errorf("after the restore, %s holds %q", scratch, got)
	}
	wantPrivateModes(t, restored)
	r = mustWithPass(t, "restore", file, "--keys-only", "--dir", restored)
	if !strings.Contains(r.stdout, "nothing to restore") {
		t.Errorf("restore --keys-only into the restored lab said %q", r.stdout)
	}
	h2 := upDetached(t, restored)
	if id, _ := pki.IdentityOfFile(h2.PKI.CAFile()); id != caID {
		t.Errorf("the restored lab's CA is %s, want %s", id, caID)
	}
	keys, err := h2.ListKeys(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range keys {
		got = append(got, k.Name)
	}
	if !slices.Equal(got, names) {
		t.Errorf("the restored lab has the keys %q, want %q", got, names)
	}
}

// backupBadInput tries every bad input of backup and restore with the
// lab on dir running and its backup file.
func backupBadInput(t *testing.T, dir, file string) {
	scratch := t.TempDir()
	l := labdir.Layout{Root: dir}
	keysAndCerts := func() string { return treeHash(t, l.KeyStoreDir()) + treeHash(t, l.CertsDir()) }
	stable := keysAndCerts()
	fileHash := treeHash(t, file)
	newDir := filepath.Join(scratch, "new")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	badFile := func(name string, data []byte) string {
		p := filepath.Join(scratch, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tampered := bytes.Clone(data)
	tampered[len(tampered)/2] ^= 0x01
	emptyPassFile := badFile("empty-pass", nil)

	cases := []struct {
		name string
		env  []string // nil: the right passphrase
		args []string
		code int
		want []string
	}{
		{"wrong passphrase", []string{"SSELAB_PASSPHRASE=not the passphrase"}, []string{"restore", file, "--dir", newDir}, 1, []string{"wrong passphrase"}},
		{"wrong passphrase, verify", []string{"SSELAB_PASSPHRASE=not the passphrase"}, []string{"backup", "verify", file}, 1, []string{"wrong passphrase"}},
		{"empty passphrase", []string{"SSELAB_PASSPHRASE="}, []string{"restore", file, "--dir", newDir}, 1, []string{"no passphrase given"}},
		{"empty passphrase file", nil, []string{"restore", file, "--dir", newDir, "--passphrase-file", emptyPassFile}, 1, []string{"is empty"}},
		{"empty passphrase for a backup", []string{"SSELAB_PASSPHRASE="}, []string{"backup", "--out", filepath.Join(scratch, "b"), "--dir", dir}, 1, []string{"no passphrase given"}},
		{"short passphrase for a backup", []string{"SSELAB_PASSPHRASE=short"}, []string{"backup", "--out", filepath.Join(scratch, "b"), "--dir", dir}, 1, []string{"at least 8"}},
		{"truncated", nil, []string{"restore", badFile("truncated", data[:len(data)/2]), "--dir", newDir}, 1, []string{"damaged", "cut short"}},
		{"truncated by one byte", nil, []string{"backup", "verify", badFile("short", data[:len(data)-1])}, 1, []string{"damaged"}},
		{"tampered", nil, []string{"restore", badFile("tampered", tampered), "--dir", newDir}, 1, []string{"damaged", "changed after it was written"}},
		{"newer format", nil, []string{"restore", newerFormat(t, file, scratch), "--dir", newDir}, 1, []string{"newer sselab", "format version 2", "use a newer sselab"}},
		{"not a backup", nil, []string{"backup", "verify", badFile("not-a-backup", []byte("hello"))}, 1, []string{"not an sselab backup"}},
		{"no such backup", nil, []string{"restore", filepath.Join(scratch, "nope"), "--dir", newDir}, 1, []string{"no such file"}},
		{"restore into the running lab", nil, []string{"restore", file, "--dir", dir}, 1, []string{"a lab runs on " + dir}},
		{"keys into the running lab", nil, []string{"restore", file, "--keys-only", "--dir", dir}, 1, []string{"a lab runs on " + dir, "sselab down"}},
		{"--out exists", nil, []string{"backup", "--out", file, "--dir", dir}, 1, []string{"exists", "--force"}},
		{"no --out", nil, []string{"backup", "--dir", dir}, 2, []string{"--out FILE", "see 'sselab backup --help'"}},
		{"passphrase and recipient", nil, []string{"backup", "--out", filepath.Join(scratch, "b"), "--passphrase-file", emptyPassFile, "--recipient", "age1x"}, 2, []string{"exclude each other"}},
		{"bad recipient", nil, []string{"backup", "--out", filepath.Join(scratch, "b"), "--recipient", "age1notakey"}, 2, []string{"--recipient", "not an age public key"}},
		{"restore without a file", nil, []string{"restore", "--dir", newDir}, 2, []string{"takes the backup FILE", "see 'sselab restore --help'"}},
		{"--force without --keys-only", nil, []string{"restore", file, "--dir", newDir, "--force"}, 2, []string{"--keys-only"}},
		{"unknown flag", nil, []string{"restore", file, "--keys"}, 2, []string{"unknown flag"}},
	}
	for _, c := range cases {
		r := sselabEnv(t, append([]string{"SSELAB_PASSPHRASE=" + backupPass}, c.env...), c.args...)
		wantFailure(t, c.name, r, c.code, c.want...)
		if testtools.Exists(t, newDir) || testtools.Exists(t, filepath.Join(scratch, "b")) {
			t.Fatalf("%s: left %s or %s behind", c.name, newDir, filepath.Join(scratch, "b"))
		}
		if left := tempFiles(t, scratch, filepath.Dir(file)); len(left) > 0 {
			t.Errorf("%s: left temporary files: %q", c.name, left)
		}
	}
	if keysAndCerts() != stable || treeHash(t, file) != fileHash {
		t.Error("a refused command changed the keys or certificates of the lab, or the backup file")
	}

	// --keys-only into a stopped lab from another lab's backup, and over
	// a key with other material: refused, nothing changed.
	other := filepath.Join(scratch, "other")
	mustWithPass(t, "restore", file, "--dir", other)
	ol := labdir.Layout{Root: other}
	if err := os.RemoveAll(ol.CertsDir()); err != nil {
		t.Fatal(err)
	}
	if _, err := pki.LoadOrCreate(pki.Options{Dir: ol.CertsDir()}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(ol.KeyStoreDir(), "k2")); err != nil {
		t.Fatal(err)
	}
	before := treeHash(t, other)
	wantFailure(t, "another lab", withPass(t, "restore", file, "--keys-only", "--dir", other), 1, "another lab", "--force")
	if treeHash(t, other) != before {
		t.Error("a refused --keys-only from another lab changed the directory")
	}
	if err := os.WriteFile(filepath.Join(ol.KeyStoreDir(), labdir.DefaultKey), []byte("other key material"), 0o600); err != nil {
		t.Fatal(err)
	}
	before = treeHash(t, other)
	wantFailure(t, "a key with other material", withPass(t, "restore", file, "--keys-only", "--force", "--dir", other), 1, "other key material than the backup for "+labdir.DefaultKey, "nothing was changed")
	if treeHash(t, other) != before {
		t.Error("a refused --keys-only over a key with other material changed the directory")
	}
	if err := os.Remove(filepath.Join(ol.KeyStoreDir(), labdir.DefaultKey)); err != nil {
		t.Fatal(err)
	}
	r := mustWithPass(t, "restore", file, "--keys-only", "--force", "--dir", other)
	if !strings.Contains(r.stdout, "put back 2 keys into "+other+": k2, "+labdir.DefaultKey) {
		t.Errorf("restore --keys-only --force said %q", r.stdout)
	}
}

// newerFormat writes a copy of the backup whose manifest has a newer
// format version, as a newer sselab would write it.
func newerFormat(t *testing.T, file, dir string) string {
	t.Helper()
	id, err := backup.PassphraseIdentity([]byte(backupPass))
	if err != nil {
		t.Fatal(err)
	}
	a, err := backup.ReadFile(file, id)
	if err != nil {
		t.Fatal(err)
	}
	a.Manifest.Version = backup.FormatVersion + 1
	rec, err := backup.PassphraseRecipient([]byte(backupPass))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "newer.sselab-backup")
	if err := backup.WriteFile(p, a, false, rec); err != nil {
		t.Fatal(err)
	}
	return p
}

// tempFiles lists the temporary files (".tmp-*") in dirs.
func tempFiles(t *testing.T, dirs ...string) []string {
	t.Helper()
	var left []string
	for _, d := range dirs {
		for _, n := range testtools.Entries(t, d) {
			if strings.HasPrefix(n, ".tmp-") {
				left = append(left, filepath.Join(d, n))
			}
		}
	}
	return left
}

// wantPrivateModes checks a restored state directory: directories 0700,
// certificates 0644, every other file 0600.
func wantPrivateModes(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		switch {
		case d.IsDir():
			want = fs.ModeDir | 0o700
		case strings.HasSuffix(p, ".crt"):
			want = 0o644
		}
		if fi.Mode() != want {
			t.Errorf("%s has mode %v, want %v", p, fi.Mode(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDisasterRehearsal rehearses the loss of the keys (issue 15):
// objects under two keys, a backup, the keystore lost, 'up' refusing to
// start without it (and saying how to restore it), the keys put back,
// and every object read back as it was written.
func TestDisasterRehearsal(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	ctx := testtools.Context(t)
	dir := filepath.Join(t.TempDir(), "lab")
	file := filepath.Join(t.TempDir(), "lab.sselab-backup")
	h := upDetached(t, dir)
	mustRun(t, "key", "create", "k2", "--dir", dir)
	mustRun(t, "bucket", "create", "bucket2", "--sse-kms", "k2", "--dir", dir)

	type object struct{ bucket, name, key string }
	written := map[object][]byte{}
	for i, size := range []int{0, 1, 4 << 10, 1 << 20} {
		for _, o := range []object{{labdir.DefaultBucket, "", labdir.DefaultKey}, {"bucket2", "", "k2"}} {
			o.name = fmt.Sprintf("object-%d", i)
			body := make([]byte, size)
			rand.Read(body)
			info, err := h.PutObject(ctx, o.bucket, o.name, bytes.NewReader(body), int64(size), "application/octet-stream")
			if err != nil {
				t.Fatal(err)
			}
			if info.KMSKey() != o.key {
				t.Errorf("%s/%s is encrypted with the key %q, want %s", o.bucket, o.name, info.KMSKey(), o.key)
			}
			written[o] = body
		}
	}

	mustWithPass(t, "backup", "--out", file, "--dir", dir)
	mustRun(t, "down", "--dir", dir)
	l := labdir.Layout{Root: dir}
	if err := os.RemoveAll(l.KeyStoreDir()); err != nil {
		t.Fatal(err)
	}

	// 'up' must not start with a new default key, which would leave the
	// old objects unreadable: it names the lost keys and the restore.
	r := sselab(t, append([]string{"up", "--detach", "--dir", dir}, freePorts...)...)
	wantFailure(t, "up without the keystore", r, 1, "sselab restore", "--keys-only", labdir.DefaultKey, "k2")
	t.Logf("up without the keystore: exit %d: %s", r.code, strings.TrimSpace(r.stderr))
	if r.code == 0 {
		stopLab(t, dir)
		os.RemoveAll(l.KeyStoreDir()) // what that 'up' made, so the rehearsal goes on
	}
	if testtools.Exists(t, filepath.Join(l.KeyStoreDir(), labdir.DefaultKey)) {
		t.Fatal("the refused 'up' made a new default key")
	}

	r = mustWithPass(t, "restore", file, "--keys-only", "--dir", dir)
	if !strings.Contains(r.stdout, "put back 2 keys into "+dir+": k2, "+labdir.DefaultKey) {
		t.Errorf("restore --keys-only said %q", r.stdout)
	}
	h = upDetached(t, dir)
	for o, body := range written {
		obj, err := h.GetObject(ctx, o.bucket, o.name)
		if err != nil {
			t.Fatalf("%s/%s after the restore: %v", o.bucket, o.name, err)
		}
		got, err := readAllClose(obj)
		if err != nil || !bytes.Equal(got, body) {
			t.Errorf("%s/%s after the restore: %d bytes (%v), want the %d written", o.bucket, o.name, len(got), err, len(body))
		}
	}
	info, err := h.StatObject(ctx, "bucket2", "object-1")
	if err != nil || info.KMSKey() != "k2" {
		t.Errorf("bucket2/object-1 after the restore: key %q (%v), want k2", info.KMSKey(), err)
	}
}

// readAllClose reads an object whole and closes it.
func readAllClose(obj *minio.Object) ([]byte, error) {
	defer obj.Close()
	return io.ReadAll(obj)
}

// sha256Hex is the hex SHA-256 of data.
func sha256Hex(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}
