package backup

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/sselab/sselab/internal/testtools"
)

// TestRoundTrip: a snapshot written and read back holds exactly the
// files a backup must hold, with their bytes and modes, and a manifest
// that describes them; nothing of MinIO's data, the logs or the state
// file.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	l := fakeLab(t, "", "sselab-key", "k2")
	writeFile(t, l.VaultSecretFile(), "secret-id")
	writeFile(t, filepath.Join(l.KeyStoreDir(), ".tmp-k3-123"), "half a key being written")
	before := tree(t, l.Root)

	path := writeBackup(t, l)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v, mode %v; want mode 0600", err, fi.Mode().Perm())
	}
	if got := testtools.Entries(t, filepath.Dir(path)); len(got) != 1 {
		t.Errorf("files next to the backup: %q, want the backup alone", got)
	}
	a, err := ReadFile(path, passIdentity(t, testPass))
	if err != nil {
		t.Fatal(err)
	}
	wantSameTree(t, before, tree(t, l.Root)) // reading changes nothing

	var paths []string
	for _, e := range a.Entries {
		paths = append(paths, e.Path)
		data, err := os.ReadFile(filepath.Join(l.Root, filepath.FromSlash(e.Path)))
		if err != nil || !bytes.Equal(data, e.Data) {
			t.Errorf("entry %s differs from the file (%v)", e.Path, err)
		}
	}
	for _, want := range []string{"settings.json", "credentials.json", "kes/key-index.json", "vault/secret-id", "certs/ca.crt", "certs/ca.key", "certs/minio-tls/private.key", "kes/keys/sselab-key", "kes/keys/k2"} {
		if !slices.Contains(paths, want) {
			t.Errorf("the backup lacks %s; it holds %q", want, paths)
		}
	}
	for _, p := range paths {
		if strings.HasPrefix(p, "minio/") || strings.HasPrefix(p, "logs/") || p == "state.json" || strings.Contains(p, ".tmp-") || strings.HasSuffix(p, ".log") {
			t.Errorf("the backup holds %s", p)
		}
	}
	m := a.Manifest
	if m.Format != Format || m.Version != FormatVersion || m.Sselab != "v-test" || m.Keystore != "fs" || m.KeysElsewhere != "" {
		t.Errorf("manifest header: %+v", m)
	}
	if ca, err := caIdentityOfDir(l.CertsDir()); err != nil || m.CAIdentity != ca {
		t.Errorf("manifest CA identity %s, want %s (%v)", m.CAIdentity, ca, err)
	}
	if got := m.KeyNames(); !slices.Equal(got, []string{"k2", "sselab-key"}) {
		t.Errorf("keys %q, want k2, sselab-key", got)
	}
	for _, k := range m.Keys {
		e, _ := a.Entry(k.Path)
		if k.SHA256 != sum(e.Data) || k.Created != "" {
			t.Errorf("key %+v: wrong checksum, or a creation date without a running lab", k)
		}
	}
	if e, _ := a.Entry("certs/ca.key"); e.Mode != 0o600 {
		t.Errorf("ca.key has mode %v in the backup, want 0600", e.Mode)
	}
}

// TestRecipient: a backup encrypted to an age key opens with its
// identity, and not with a passphrase; a passphrase backup does not open
// with an identity. Each refusal says what to give instead.
func TestRecipient(t *testing.T) {
	t.Parallel()
	a := snapshotOf(t, fakeLab(t, "", "sselab-key"))
	id, err := age.GenerateX25519Identity()
	must(t, err)
	r, err := ParseRecipient(id.Recipient().String())
	must(t, err)
	var byKey bytes.Buffer
	must(t, Encode(&byKey, a, r))

	got, err := Decode(bytes.NewReader(byKey.Bytes()), id)
	if err != nil || !slices.Equal(got.Manifest.KeyNames(), []string{"sselab-key"}) {
		t.Fatalf("with the identity: %v", err)
	}
	_, err = Decode(bytes.NewReader(byKey.Bytes()), passIdentity(t, testPass))
	if !errors.Is(err, ErrWrongKey) {
		t.Errorf("with a passphrase: %v, want ErrWrongKey", err)
	}
	testtools.WantErrContains(t, err, "--identity")

	other, _ := age.GenerateX25519Identity()
	_, err = Decode(bytes.NewReader(encode(t, a)), other)
	testtools.WantErrContains(t, err, "encrypted with a passphrase")
	_, err = Decode(bytes.NewReader(byKey.Bytes()), other)
	testtools.WantErrContains(t, err, "no identity")

	if _, err := ParseRecipient("age1notakey"); err == nil {
		t.Error("ParseRecipient accepted age1notakey")
	}
	keyFile := filepath.Join(t.TempDir(), "key.txt")
	writeFile(t, keyFile, "# created: now\n"+id.String()+"\n")
	ids, err := ReadIdentities(keyFile)
	if err != nil || len(ids) != 1 {
		t.Errorf("ReadIdentities: %v, %d identities", err, len(ids))
	}
	writeFile(t, keyFile, "not a key\n")
	_, err = ReadIdentities(keyFile)
	testtools.WantErrContains(t, err, "not an age identity file")
}

// TestWrongPassphrase is refused as such.
func TestWrongPassphrase(t *testing.T) {
	t.Parallel()
	data := encode(t, snapshotOf(t, fakeLab(t, "", "sselab-key")))
	_, err := Decode(bytes.NewReader(data), passIdentity(t, []byte("wrong passphrase")))
	if !errors.Is(err, ErrWrongKey) {
		t.Fatalf("got %v, want ErrWrongKey", err)
	}
	testtools.WantErrContains(t, err, "backup: ", "wrong passphrase")
	if _, err := PassphraseRecipient(nil); err == nil {
		t.Error("an empty passphrase was accepted")
	}
}

// TestTruncated: a backup cut anywhere is refused, never read as a
// smaller backup: in the age header, in the archive, between its end and
// age's last chunk, one byte short.
func TestTruncated(t *testing.T) {
	t.Parallel()
	data := encode(t, snapshotOf(t, fakeLab(t, "", "sselab-key", "k2")))
	cuts := []int{0, 1, 20, 100, 200, len(data) / 2, len(data) - 100, len(data) - 17, len(data) - 16, len(data) - 1}
	for n := 0; n < len(data); n += 331 {
		cuts = append(cuts, n)
	}
	for _, n := range cuts {
		_, err := openBytes(t, data[:n])
		if err == nil {
			t.Fatalf("a backup cut to %d of %d bytes was accepted", n, len(data))
		}
		if !errors.Is(err, ErrDamaged) && !errors.Is(err, ErrNotBackup) {
			t.Errorf("cut to %d bytes: %v, want ErrDamaged or ErrNotBackup", n, err)
		}
	}
	if _, err := openBytes(t, data); err != nil {
		t.Fatalf("the whole backup: %v", err)
	}
}

// TestTampered: one byte flipped anywhere is refused.
func TestTampered(t *testing.T) {
	t.Parallel()
	data := encode(t, snapshotOf(t, fakeLab(t, "", "sselab-key")))
	positions := []int{0, 30, 120, len(data) / 2, len(data) - 1}
	for i := 0; i < len(data); i += 257 {
		positions = append(positions, i)
	}
	for _, i := range positions {
		bad := bytes.Clone(data)
		bad[i] ^= 0x01
		_, err := openBytes(t, bad)
		if err == nil {
			t.Fatalf("a backup with byte %d of %d flipped was accepted", i, len(data))
		}
		if !errors.Is(err, ErrDamaged) && !errors.Is(err, ErrNotBackup) && !errors.Is(err, ErrWrongKey) {
			t.Errorf("byte %d flipped: %v", i, err)
		}
	}
	bad := bytes.Clone(data)
	bad[len(bad)/2] ^= 0x80
	_, err := openBytes(t, bad)
	testtools.WantErrContains(t, err, "damaged", "changed after it was written")
}

// TestNewerFormat: a backup of a newer format version is refused with an
// error that says to use a newer sselab, whatever else its manifest holds.
func TestNewerFormat(t *testing.T) {
	t.Parallel()
	a := snapshotOf(t, fakeLab(t, "", "sselab-key"))
	a.Manifest.Version = FormatVersion + 1
	a.Manifest.Sselab = "v9.0.0"
	a.Manifest.Files = append(a.Manifest.Files, File{Path: "/somewhere/new", Mode: "bad"})
	_, err := openBytes(t, encode(t, a))
	if !errors.Is(err, ErrNewerFormat) {
		t.Fatalf("got %v, want ErrNewerFormat", err)
	}
	testtools.WantErrContains(t, err, "newer sselab", "v9.0.0", "format version 2")

	a.Manifest.Version, a.Manifest.Format = FormatVersion, "something-else"
	_, err = openBytes(t, encode(t, a))
	if !errors.Is(err, ErrNotBackup) {
		t.Errorf("another format: %v, want ErrNotBackup", err)
	}
}

// TestManifestMismatch: an archive whose entries and manifest disagree,
// or that holds a file no backup may hold, is refused. Each case is an
// archive as a faulty or malicious writer could make it, encrypted
// properly.
func TestManifestMismatch(t *testing.T) {
	t.Parallel()
	l := fakeLab(t, "", "sselab-key", "k2")
	cases := []struct {
		name   string
		change func(a *Archive)
		want   string
	}{
		{"entry missing", func(a *Archive) { a.Entries = a.Entries[1:] }, "does not hold"},
		{"entry not listed", func(a *Archive) { a.Manifest.Files = a.Manifest.Files[1:] }, "does not list"},
		{"content changed", func(a *Archive) { a.Entries[0].Data = append(a.Entries[0].Data, 'x'); a.Manifest.Files[0].Size++ }, "SHA-256"},
		{"size differs", func(a *Archive) { a.Manifest.Files[0].Size++ }, "bytes"},
		{"key checksum differs", func(a *Archive) { a.Manifest.Keys[0].SHA256 = strings.Repeat("0", 64) }, "does not match its files"},
		{"key not a keystore file", func(a *Archive) { a.Manifest.Keys[0].Path = "settings.json" }, "does not match its files"},
		{"listed twice", func(a *Archive) { a.Manifest.Files = append(a.Manifest.Files, a.Manifest.Files[0]) }, "twice"},
		{"bad mode", func(a *Archive) { a.Manifest.Files[0].Mode = "rw-" }, "mode"},
		{"outside the directory", func(a *Archive) { addEntry(a, "../evil", "x") }, "not a file of a state directory"},
		{"absolute path", func(a *Archive) { addEntry(a, "/etc/evil", "x") }, "not a file of a state directory"},
		{"MinIO's data", func(a *Archive) { addEntry(a, "minio/data/bucket/object", "x") }, "not a file of a state directory"},
		{"the state file", func(a *Archive) { addEntry(a, "state.json", "{}") }, "not a file of a state directory"},
		{"a hidden key file", func(a *Archive) { addEntry(a, "kes/keys/.tmp-x", "x") }, "not a file of a state directory"},
		{"a directory below the keystore", func(a *Archive) { addEntry(a, "kes/keys/sub/key", "x") }, "not a file of a state directory"},
		{"dot-dot in certs", func(a *Archive) { addEntry(a, "certs/../../evil", "x") }, "not a file of a state directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := snapshotOf(t, l)
			c.change(a)
			_, err := openBytes(t, encode(t, a))
			if !errors.Is(err, ErrDamaged) {
				t.Fatalf("got %v, want ErrDamaged", err)
			}
			testtools.WantErrContains(t, err, c.want)
		})
	}
}

// addEntry adds an entry and lists it in the manifest.
func addEntry(a *Archive, path, data string) {
	e := Entry{Path: path, Mode: 0o600, Data: []byte(data)}
	a.Entries = append(a.Entries, e)
	a.Manifest.Files = append(a.Manifest.Files, fileOf(e))
}

// TestNotABackup: other files are refused as not being backups.
func TestNotABackup(t *testing.T) {
	t.Parallel()
	for _, data := range []string{"", "hello", "age-encryption.org/v1\n"} {
		_, err := openBytes(t, []byte(data))
		if !errors.Is(err, ErrNotBackup) {
			t.Errorf("%q: got %v, want ErrNotBackup", data, err)
		}
	}
}

// TestWriteFileFailure: when writing fails half-way (a full disk), no
// file is left under the final name, nor a temporary one; an existing
// file is kept unless force.
func TestWriteFileFailure(t *testing.T) {
	a := snapshotOf(t, fakeLab(t, "", "sselab-key"))
	r, err := PassphraseRecipient(testPass)
	must(t, err)
	dir := t.TempDir()
	out := filepath.Join(dir, "lab.sselab-backup")

	wrapWriter = func(w io.Writer) io.Writer { return &fullDisk{w: w, left: 1000} }
	err = WriteFile(out, a, false, r)
	wrapWriter = func(w io.Writer) io.Writer { return w }
	testtools.WantErrContains(t, err, "cannot write", "no space left", "nothing was written")
	if got := testtools.Entries(t, dir); len(got) != 0 {
		t.Errorf("after a failed write the directory holds %q", got)
	}

	writeFile(t, out, "precious")
	err = WriteFile(out, a, false, r)
	if !errors.Is(err, ErrExists) {
		t.Errorf("over an existing file: %v, want ErrExists", err)
	}
	testtools.WantErrContains(t, err, "--force")
	if data, _ := os.ReadFile(out); string(data) != "precious" {
		t.Error("the existing file was changed")
	}
	must(t, WriteFile(out, a, true, r))
	if _, err := ReadFile(out, passIdentity(t, testPass)); err != nil {
		t.Errorf("the backup written with force: %v", err)
	}
	if got := testtools.Entries(t, dir); len(got) != 1 {
		t.Errorf("after writing with force the directory holds %q", got)
	}
}

// fullDisk fails once left bytes are written.
type fullDisk struct {
	w    io.Writer
	left int
}

func (f *fullDisk) Write(p []byte) (int, error) {
	if len(p) > f.left {
		n, _ := f.w.Write(p[:f.left])
		f.left = 0
		return n, errors.New("write: no space left on device")
	}
	f.left -= len(p)
	return f.w.Write(p)
}
