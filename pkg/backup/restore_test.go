package backup

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sselab/sselab/internal/testtools"
	"github.com/sselab/sselab/pkg/keystore"
	"github.com/sselab/sselab/pkg/labdir"
	"github.com/sselab/sselab/pkg/pki"
)

// TestRestoreNewDir: a restored directory holds every file of the
// backup with its bytes; directories are 0700, private files 0600,
// certificates 0644; nothing else is left next to it.
func TestRestoreNewDir(t *testing.T) {
	t.Parallel()
	l := fakeLab(t, "", "sselab-key", "k2")
	a := snapshotOf(t, l)
	for _, existing := range []bool{false, true} {
		parent := t.TempDir()
		dst := labdir.Layout{Root: filepath.Join(parent, "a", "b", "restored")}
		if existing {
			must(t, os.MkdirAll(dst.Root, 0o755)) // an empty directory is fine
		}
		must(t, Restore(a, dst))
		if got := testtools.Entries(t, parent); !slices.Equal(got, []string{"a"}) {
			t.Errorf("next to the restored directory: %q", got)
		}
		got := tree(t, dst.Root)
		for _, e := range a.Entries {
			data, err := os.ReadFile(onDisk(dst, e.Path))
			if err != nil || string(data) != string(e.Data) {
				t.Errorf("%s: not restored as in the backup (%v)", e.Path, err)
			}
		}
		if len(got) != len(a.Entries)+countDirs(got) {
			t.Errorf("restored %d paths, want the %d entries and their directories: %q", len(got), len(a.Entries), got)
		}
		for p, desc := range got {
			mode := strings.Fields(desc)[0]
			want := "-rw-------"
			switch {
			case strings.HasPrefix(mode, "d"):
				want = "drwx------"
			case strings.HasSuffix(p, ".crt"):
				want = "-rw-r--r--"
			}
			if mode != want {
				t.Errorf("%s has mode %s, want %s", p, mode, want)
			}
		}
		// The restored directory makes the same backup.
		again := snapshotOf(t, dst)
		if !slices.Equal(again.Manifest.Files, a.Manifest.Files) {
			t.Errorf("a backup of the restored directory differs:\n%v\n%v", again.Manifest.Files, a.Manifest.Files)
		}
	}
}

func countDirs(tree map[string]string) int {
	n := 0
	for _, d := range tree {
		if strings.HasPrefix(d, "d") {
			n++
		}
	}
	return n
}

// TestRestoreRefuses: a directory with something in it, a file, and a
// directory where a lab runs are refused, and left as they were.
func TestRestoreRefuses(t *testing.T) {
	t.Parallel()
	l := fakeLab(t, "", "sselab-key")
	a := snapshotOf(t, l)

	running := fakeLab(t, "", "other")
	lock, err := labdir.Lock(running)
	must(t, err)
	defer lock.Release()
	nonEmpty := filepath.Join(t.TempDir(), "lab")
	writeFile(t, filepath.Join(nonEmpty, "notes.txt"), "mine")
	file := filepath.Join(t.TempDir(), "file")
	writeFile(t, file, "x")

	for _, c := range []struct{ dir, want string }{
		{running.Root, "a lab runs on"},
		{nonEmpty, "is not empty"},
		{file, "is a file"},
	} {
		before := tree(t, filepath.Dir(c.dir))
		err := Restore(a, labdir.Layout{Root: c.dir})
		testtools.WantErrContains(t, err, c.want)
		wantSameTree(t, before, tree(t, filepath.Dir(c.dir)))
	}
}

// TestRestoreKeys: missing keys are put back, identical ones left alone,
// the key index gets the union of the names, and running it again
// changes nothing.
func TestRestoreKeys(t *testing.T) {
	t.Parallel()
	l := fakeLab(t, "", "sselab-key", "k2", "k3")
	a := snapshotOf(t, l)
	want := tree(t, l.Root)
	must(t, os.Remove(filepath.Join(l.KeyStoreDir(), "k2")))
	must(t, os.Remove(filepath.Join(l.KeyStoreDir(), "k3")))
	writeTestIndex(t, l, "sselab-key")

	rep, err := RestoreKeys(a, l, false)
	must(t, err)
	if !slices.Equal(rep.Restored, []string{"k2", "k3"}) || !slices.Equal(rep.Present, []string{"sselab-key"}) || !slices.Equal(rep.Indexed, []string{"k2", "k3"}) || rep.Header {
		t.Errorf("report %+v", rep)
	}
	got := tree(t, l.Root)
	delete(want, "kes/key-index.json") // rewritten, with the same names
	delete(got, "kes/key-index.json")
	wantSameTree(t, want, got)
	var idx index
	must(t, labdir.ReadJSON(l.KeyIndexFile(), &idx))
	if !slices.Equal(idx.Keys, []string{"k2", "k3", "sselab-key"}) {
		t.Errorf("key index %q", idx.Keys)
	}

	before := tree(t, l.Root)
	rep, err = RestoreKeys(a, l, false)
	must(t, err)
	if len(rep.Restored) != 0 || len(rep.Present) != 3 {
		t.Errorf("again: %+v", rep)
	}
	wantSameTree(t, before, tree(t, l.Root))
}

// TestRestoreKeysRefuses: each refusal leaves the directory as it was.
func TestRestoreKeysRefuses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		kms     string
		prepare func(t *testing.T, l labdir.Layout)
		force   bool
		want    []string
	}{
		{name: "a key with other bytes", prepare: func(t *testing.T, l labdir.Layout) {
			must(t, os.Remove(filepath.Join(l.KeyStoreDir(), "k3"))) // missing, but not put back either
			writeFile(t, filepath.Join(l.KeyStoreDir(), "k2"), "other key material")
			writeFile(t, filepath.Join(l.KeyStoreDir(), "sselab-key"), "other key material")
		}, want: []string{"other key material than the backup for k2, sselab-key", "nothing was changed"}},
		{name: "another lab", prepare: func(t *testing.T, l labdir.Layout) {
			newCA(t, l)
			must(t, os.Remove(filepath.Join(l.KeyStoreDir(), "k2")))
		}, want: []string{"another lab", "--force"}},
		{name: "another lab, even with force, when a key differs", force: true, prepare: func(t *testing.T, l labdir.Layout) {
			newCA(t, l)
			writeFile(t, filepath.Join(l.KeyStoreDir(), "k2"), "other key material")
		}, want: []string{"other key material than the backup for k2"}},
		{name: "no CA", prepare: func(t *testing.T, l labdir.Layout) {
			must(t, os.RemoveAll(l.CertsDir()))
		}, want: []string{"cannot tell whether the backup comes from the lab", "--force"}},
		{name: "not a lab", prepare: func(t *testing.T, l labdir.Layout) {
			must(t, os.Remove(l.SettingsFile()))
		}, want: []string{"holds no lab", "new directory"}},
		{name: "another kind of keystore", prepare: func(t *testing.T, l labdir.Layout) {
			must(t, labdir.WriteJSON(l.SettingsFile(), labdir.Settings{Keystore: labdir.Keystore{KMS: keystore.KindSealed}}))
		}, want: []string{"kind fs", "kind sealed", "new directory"}},
		{name: "a lab runs", prepare: func(t *testing.T, l labdir.Layout) {
			lock, err := labdir.Lock(l)
			must(t, err)
			t.Cleanup(lock.Release)
		}, want: []string{"a lab runs on", "sselab down"}},
		{name: "sealed, another header", kms: keystore.KindSealed, prepare: func(t *testing.T, l labdir.Layout) {
			writeFile(t, filepath.Join(l.SealedKeyStoreDir(), "keystore.json"), `{"another":"header"}`)
			must(t, os.Remove(filepath.Join(l.SealedKeyStoreDir(), "k2")))
		}, want: []string{"another header", "new directory"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			l := fakeLab(t, c.kms, "sselab-key", "k2", "k3")
			a := snapshotOf(t, l)
			c.prepare(t, l)
			before := tree(t, l.Root)
			_, err := RestoreKeys(a, l, c.force)
			testtools.WantErrContains(t, err, c.want...)
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error on more than one line: %q", err)
			}
			wantSameTree(t, before, tree(t, l.Root))
		})
	}
}

// newCA replaces the lab's PKI with another one: another lab.
func newCA(t *testing.T, l labdir.Layout) {
	t.Helper()
	must(t, os.RemoveAll(l.CertsDir()))
	_, err := pki.LoadOrCreate(pki.Options{Dir: l.CertsDir()})
	must(t, err)
}

// TestRestoreKeysForce: with force, the keys of another lab's backup are
// put back.
func TestRestoreKeysForce(t *testing.T) {
	t.Parallel()
	l := fakeLab(t, "", "sselab-key", "k2")
	a := snapshotOf(t, l)
	newCA(t, l)
	must(t, os.Remove(filepath.Join(l.KeyStoreDir(), "k2")))
	rep, err := RestoreKeys(a, l, true)
	must(t, err)
	if !slices.Equal(rep.Restored, []string{"k2"}) {
		t.Errorf("report %+v", rep)
	}
}

// TestRestoreKeysSealed: the sealed keystore's keys are put back, with
// its header when it is missing.
func TestRestoreKeysSealed(t *testing.T) {
	t.Parallel()
	l := fakeLab(t, keystore.KindSealed, "sselab-key", "k2")
	a := snapshotOf(t, l)
	if a.Manifest.Keystore != keystore.KindSealed || !slices.Equal(a.Manifest.KeyNames(), []string{"k2", "sselab-key"}) {
		t.Fatalf("manifest: keystore %s, keys %q", a.Manifest.Keystore, a.Manifest.KeyNames())
	}
	want := tree(t, l.Root)
	must(t, os.RemoveAll(l.SealedKeyStoreDir()))
	rep, err := RestoreKeys(a, l, false)
	must(t, err)
	if !rep.Header || !slices.Equal(rep.Restored, []string{"k2", "sselab-key"}) {
		t.Errorf("report %+v", rep)
	}
	wantSameTree(t, want, tree(t, l.Root))
}

// TestRestoreKeysElsewhere: a backup of a lab whose keys are in Vault
// holds none, and says where they are.
func TestRestoreKeysElsewhere(t *testing.T) {
	t.Parallel()
	l := fakeLab(t, keystore.KindVault)
	writeFile(t, l.VaultSecretFile(), "secret-id")
	a := snapshotOf(t, l)
	if len(a.Manifest.Keys) != 0 || !strings.Contains(a.Manifest.KeysElsewhere, "Vault") {
		t.Errorf("manifest: keys %q, elsewhere %q", a.Manifest.KeyNames(), a.Manifest.KeysElsewhere)
	}
	if _, ok := a.Entry("vault/secret-id"); !ok {
		t.Error("the Vault secret_id is not in the backup")
	}
	_, err := RestoreKeys(a, l, false)
	testtools.WantErrContains(t, err, "holds no keys", "Vault")
}

// TestSnapshotNoLab: a directory without a lab is refused.
func TestSnapshotNoLab(t *testing.T) {
	t.Parallel()
	_, err := Snapshot(t.Context(), labdir.Layout{Root: t.TempDir()}, Options{})
	testtools.WantErrContains(t, err, "holds no lab")

	l := fakeLab(t, "")
	must(t, os.RemoveAll(l.CertsDir()))
	_, err = Snapshot(t.Context(), l, Options{})
	testtools.WantErrContains(t, err, "ca.crt", "missing")
}

// TestMergeIndex: the union of the names, in whatever shape the index
// has; an index already holding every name is left byte for byte.
func TestMergeIndex(t *testing.T) {
	t.Parallel()
	cases := []struct{ ours, theirs, want, added string }{
		{`["a","b"]`, `["b","c"]`, `["a","b","c"]`, "c"},
		{`["a","b"]`, `["b"]`, `["a","b"]`, ""},
		{`{"version":1,"keys":["a"]}`, `{"version":1,"keys":["b","a"]}`, `{"keys":["a","b"],"version":1}`, "b"},
		{`{"version":2,"keys":{"a":{"created":"x"}}}`, `{"version":1,"keys":{"b":{"created":"y"}}}`, `{"keys":{"a":{"created":"x"},"b":{"created":"y"}},"version":2}`, "b"},
		{`null`, `["a"]`, `["a"]`, "a"},
		{"{\n  \"keys\": [\n    \"k2\"\n  ]\n}\n", `{"keys":["sselab-key","k2","a"]}`, `{"keys":["a","k2","sselab-key"]}`, "a,sselab-key"},
	}
	for _, c := range cases {
		merged, added, err := mergeIndex([]byte(c.ours), []byte(c.theirs))
		must(t, err)
		compact := strings.Join(strings.Fields(string(merged)), "")
		if c.added == "" && string(merged) != c.ours {
			t.Errorf("%s + %s: rewritten as %s", c.ours, c.theirs, merged)
		}
		if c.added != "" && compact != c.want {
			t.Errorf("%s + %s = %s, want %s", c.ours, c.theirs, compact, c.want)
		}
		if strings.Join(added, ",") != c.added {
			t.Errorf("%s + %s: added %q, want %q", c.ours, c.theirs, added, c.added)
		}
	}
	if _, _, err := mergeIndex([]byte(`["a"`), []byte(`["b"]`)); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("a damaged index: %v", err)
	}
}

// TestPassphraseRecipientEmpty: age refuses an empty passphrase.
func TestPassphraseRecipientEmpty(t *testing.T) {
	t.Parallel()
	if _, err := PassphraseIdentity([]byte{}); err == nil || errors.Is(err, ErrWrongKey) {
		t.Errorf("empty passphrase identity: %v", err)
	}
}
