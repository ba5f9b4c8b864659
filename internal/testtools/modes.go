package testtools

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
)

// WantPrivateTree fails the test unless every file under dir has mode
// 0600 (0700 for the files named in executables, by base name) and every
// directory 0700. Windows has no Unix modes: it checks nothing there.
func WantPrivateTree(t testing.TB, dir string, executables ...string) {
	t.Helper()
	if runtime.GOOS == "windows" {
		return
	}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		want := os.FileMode(0o600)
		switch {
		case fi.IsDir():
			want = os.ModeDir | 0o700
		case slices.Contains(executables, filepath.Base(p)):
			want = 0o700
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
