package lab

import (
	"bytes"
	"errors"
	"fmt"
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
	if l.note != "" {
		t.Errorf("note on a new lock file: got %q, want none", l.note)
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
	wantErrContains(t, err, "(process "+strconv.Itoa(os.Getpid())+", which is running)", "'sselab down --dir "+filepath.Dir(path)+"'", "--dir")

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
	if l2.note != "" {
		t.Errorf("note after a Release: got %q, want none (Release removes the file)", l2.note)
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
	wantErrContains(t, err, filepath.Dir(path), "no such file", "pick a directory")
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

// TestLockDirTakeover checks the note about the lock file found, for each
// kind of content a lock that nobody holds may have.
func TestLockDirTakeover(t *testing.T) {
	t.Parallel()
	// The parent (go test) is alive and does not hold the lock: a pid
	// reused after the holder died looks like that.
	alive := os.Getppid()
	tests := []struct {
		name, content, want string
	}{
		{"empty", "", ""},
		{"garbage", "garbage\n", ""},
		{"dead holder", "999999999\n", "lab: took over the lock of process 999999999, which is gone"},
		{"reused pid", strconv.Itoa(alive) + "\n", fmt.Sprintf("lab: took over the lock of process %d, which no longer holds it", alive)},
		{"our own pid", strconv.Itoa(os.Getpid()) + "\n", fmt.Sprintf("lab: took over the lock of process %d, which is gone", os.Getpid())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "sselab.lock")
			writeFile(t, path, tt.content)
			l, err := lockDir(path)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Release()
			if l.note != tt.want {
				t.Errorf("note: got %q, want %q", l.note, tt.want)
			}
			var out bytes.Buffer
			l.report(&out)
			if want := tt.want + "\n"; tt.want != "" && out.String() != want {
				t.Errorf("report: got %q, want %q", out.String(), want)
			}
			if tt.want == "" && out.Len() > 0 {
				t.Errorf("report: got %q, want nothing", out.String())
			}
			l.report(nil) // discards
		})
	}
	var nilLock *dirLock
	nilLock.report(new(bytes.Buffer))
}

func TestHolder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pid  int
		want string
	}{
		{0, "another process"},
		{-3, "another process"},
		{os.Getpid(), fmt.Sprintf("process %d, which is running", os.Getpid())},
		{999999999, "process 999999999 is named in the lock file but is gone; another process holds the lock"},
	}
	for _, tt := range tests {
		if got := holder(tt.pid); got != tt.want {
			t.Errorf("holder(%d): got %q, want %q", tt.pid, got, tt.want)
		}
	}
}
