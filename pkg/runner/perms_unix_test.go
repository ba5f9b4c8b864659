//go:build !windows

package runner

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sselab/sselab/pkg/labdir"
)

func TestCheckModes(t *testing.T) {
	t.Parallel()
	newDir := func(t *testing.T) labdir.Layout {
		l := labdir.Layout{Root: t.TempDir()}
		os.Chmod(l.Root, 0o700)
		os.MkdirAll(l.CertsDir(), 0o700)
		os.MkdirAll(l.KeyStoreDir(), 0o700)
		os.Chmod(filepath.Dir(l.KeyStoreDir()), 0o700)
		os.WriteFile(filepath.Join(l.CertsDir(), "operator.key"), []byte("k"), 0o600)
		os.WriteFile(filepath.Join(l.KeyStoreDir(), "sselab-key"), []byte("k"), 0o600)
		os.WriteFile(l.CredentialsFile(), []byte("{}"), 0o600)
		return l
	}
	t.Run("private files 0600, dirs 0700: nothing to say", func(t *testing.T) {
		t.Parallel()
		l := newDir(t)
		var warn bytes.Buffer
		if err := checkModes(l, &warn); err != nil || warn.Len() > 0 {
			t.Errorf("got %v, warnings %q; want neither", err, warn.String())
		}
	})
	for _, f := range []string{"certs/operator.key", "kes/keys/sselab-key", "credentials.json"} {
		t.Run(f+" readable by others is refused", func(t *testing.T) {
			t.Parallel()
			l := newDir(t)
			path := filepath.Join(l.Root, f)
			os.Chmod(path, 0o644)
			err := checkModes(l, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), "chmod 600 "+path) {
				t.Errorf("got %v, want a refusal naming chmod 600 %s", err, path)
			}
			if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
				t.Error("the refusal changed the file's mode")
			}
		})
	}
	t.Run("an open directory is fixed with a warning", func(t *testing.T) {
		t.Parallel()
		l := newDir(t)
		os.Chmod(l.CertsDir(), 0o755)
		var warn bytes.Buffer
		if err := checkModes(l, &warn); err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Stat(l.CertsDir()); fi.Mode().Perm() != 0o700 {
			t.Errorf("certs dir mode: got %v, want 0700", fi.Mode().Perm())
		}
		if !strings.Contains(warn.String(), l.CertsDir()) {
			t.Errorf("warning: got %q, want it to name %s", warn.String(), l.CertsDir())
		}
	})
}
