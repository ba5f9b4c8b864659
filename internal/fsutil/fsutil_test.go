package fsutil

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestWriteFileReplacesAtomically(t *testing.T) {
	t.Parallel()
	for name, write := range map[string]func(string, []byte, fs.FileMode) error{"WriteFile": WriteFile, "ReplaceFile": ReplaceFile} {
		dir := t.TempDir()
		path := filepath.Join(dir, "state.json")
		for _, content := range []string{"first", "second, longer than the first"} {
			if err := write(path, []byte(content), PrivatePerm); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != content {
				t.Fatalf("after %s(%q): got %q, %v", name, content, got, err)
			}
		}
		if runtime.GOOS != "windows" {
			fi, _ := os.Stat(path)
			if fi.Mode().Perm() != PrivatePerm {
				t.Errorf("%s: mode: got %v, want %v", name, fi.Mode().Perm(), PrivatePerm)
			}
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Errorf("%s: directory holds %d entries, want only the file (no temporary left)", name, len(entries))
		}
	}
}

func TestWriteFileFailureLeavesOldContent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := WriteFile(path, []byte("old"), PrivatePerm); err != nil {
		t.Fatal(err)
	}
	// A directory where the file should be: the rename must fail.
	blocked := filepath.Join(dir, "blocked")
	os.MkdirAll(filepath.Join(blocked, "child"), 0o700)
	if err := WriteFile(blocked, []byte("new"), PrivatePerm); err == nil || !strings.HasPrefix(err.Error(), "fsutil: ") {
		t.Errorf("WriteFile onto a non-empty directory: got %v, want an fsutil error", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestWriteStagedAndSync(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.key"), filepath.Join(dir, "b.crt")
	if err := WriteStaged(a, []byte("key"), PrivatePerm); err != nil {
		t.Fatal(err)
	}
	if err := WriteStaged(b, []byte("cert"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteStaged(a, []byte("again"), PrivatePerm); !errors.Is(err, fs.ErrExist) {
		t.Errorf("WriteStaged over an existing file: got %v, want fs.ErrExist", err)
	}
	if err := SyncFiles(a, b); err != nil {
		t.Errorf("SyncFiles: %v", err)
	}
	if err := SyncFiles(a, filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("SyncFiles with a missing file: got %v, want an error naming it", err)
	}
	if err := SyncDir(dir); err != nil {
		t.Errorf("SyncDir: %v", err)
	}
	dst := filepath.Join(t.TempDir(), "published")
	if err := RenameDir(dir, dst); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dst, "a.key")); string(got) != "key" {
		t.Errorf("after RenameDir: got %q, want %q", got, "key")
	}
}

func TestMkdirPrivate(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "a", "b")
	if err := MkdirPrivate(dir); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		fi, _ := os.Stat(dir)
		if fi.Mode().Perm() != DirPerm {
			t.Errorf("mode: got %v, want %v", fi.Mode().Perm(), DirPerm)
		}
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	if err := MkdirPrivate(filepath.Join(file, "sub")); err == nil {
		t.Error("MkdirPrivate under a regular file: got nil error")
	}
}
