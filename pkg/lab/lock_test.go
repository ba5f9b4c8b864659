package lab

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestLockDir(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sselab.lock")
	if isLocked(path) {
		t.Errorf("isLocked on a missing file: got true, want false")
	}

	l, err := lockDir(path)
	if err != nil {
		t.Fatalf("lockDir: %v", err)
	}
	if got, want := readPID(path), os.Getpid(); got != want {
		t.Errorf("lock file holds pid %d, want %d", got, want)
	}
	if !isLocked(path) {
		t.Errorf("isLocked while held: got false, want true")
	}
	// isLocked must not take the lock away from its holder.
	if !isLocked(path) {
		t.Errorf("second isLocked while held: got false, want true")
	}

	second, err := lockDir(path)
	if err == nil {
		second.Release()
		t.Fatalf("second lockDir: got no error, want ErrLocked")
	}
	if !errors.Is(err, ErrLocked) {
		t.Errorf("second lockDir: got %v, want it to wrap ErrLocked", err)
	}
	wantErrContains(t, err, "process "+strconv.Itoa(os.Getpid()), "'sselab down'", "--dir")

	l.Release()
	if exists(t, path) {
		t.Errorf("after Release: %s exists, want it removed", path)
	}
	if isLocked(path) {
		t.Errorf("isLocked after Release: got true, want false")
	}
	l.Release() // twice is safe

	l2, err := lockDir(path)
	if err != nil {
		t.Fatalf("lockDir after Release: %v", err)
	}
	if !isLocked(path) {
		t.Errorf("isLocked after relocking: got false, want true")
	}
	l2.Release()
	if isLocked(path) {
		t.Errorf("isLocked after the second Release: got true, want false")
	}

	var nilLock *dirLock
	nilLock.Release() // a Lab that never got its lock releases nil
}

func TestLockDirStaleFile(t *testing.T) {
	t.Parallel()
	// A lock file left by a killed holder holds a pid but no lock.
	path := filepath.Join(t.TempDir(), "sselab.lock")
	writeFile(t, path, "999999999\nleft over\n")
	if isLocked(path) {
		t.Errorf("isLocked on a stale file: got true, want false")
	}
	l, err := lockDir(path)
	if err != nil {
		t.Fatalf("lockDir on a stale file: %v", err)
	}
	defer l.Release()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(data), strconv.Itoa(os.Getpid())+"\n"; got != want {
		t.Errorf("lock file: got %q, want %q", got, want)
	}
}

func TestLockDirUnknownHolder(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sselab.lock")
	l, err := lockDir(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if _, err := l.f.WriteAt([]byte("garbage\n"), 0); err != nil {
		t.Fatal(err)
	}
	_, err = lockDir(path)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("got %v, want ErrLocked", err)
	}
	wantErrContains(t, err, "(another process)")
}

func TestLockDirMissingDir(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "missing", "sselab.lock")
	l, err := lockDir(path)
	if err == nil {
		l.Release()
		t.Fatalf("lockDir in a missing directory: got nil error, want one")
	}
	if errors.Is(err, ErrLocked) {
		t.Errorf("got %v, want an error that is not ErrLocked", err)
	}
	wantErrContains(t, err, path)
}

func TestReadPID(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		content string
		want    int
	}{
		{"123\n", 123},
		{"  456  ", 456},
		{"", 0},
		{"abc", 0},
		{"12 34", 0},
	}
	for i, tt := range tests {
		path := filepath.Join(dir, strconv.Itoa(i))
		writeFile(t, path, tt.content)
		if got := readPID(path); got != tt.want {
			t.Errorf("readPID(%q): got %d, want %d", tt.content, got, tt.want)
		}
	}
	if got := readPID(filepath.Join(dir, "missing")); got != 0 {
		t.Errorf("readPID(missing): got %d, want 0", got)
	}
}
