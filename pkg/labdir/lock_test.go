package labdir

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/sselab/sselab/internal/lockfile"
	"github.com/sselab/sselab/internal/testtools"
)

func TestLockDir(t *testing.T) {
	t.Parallel()
	layout := Layout{Root: t.TempDir()}
	path := layout.LockFile()
	if Locked(layout) {
		t.Errorf("isLocked on a missing file: got true, want false")
	}

	l, err := Lock(layout)
	if err != nil {
		t.Fatalf("lockDir: %v", err)
	}
	if l.Note != "" {
		t.Errorf("note on a new lock file: got %q, want none", l.Note)
	}
	if got, want := lockfile.ReadPID(path), os.Getpid(); got != want {
		t.Errorf("lock file holds pid %d, want %d", got, want)
	}
	if !Locked(layout) {
		t.Errorf("isLocked while held: got false, want true")
	}
	// isLocked must not take the lock away from its holder.
	if !Locked(layout) {
		t.Errorf("second isLocked while held: got false, want true")
	}

	second, err := Lock(layout)
	if err == nil {
		second.Release()
		t.Fatalf("second lockDir: got no error, want ErrLocked")
	}
	if !errors.Is(err, ErrLocked) {
		t.Errorf("second lockDir: got %v, want it to wrap ErrLocked", err)
	}
	testtools.WantErrContains(t, err, "(process "+strconv.Itoa(os.Getpid())+", which is running)", "'sselab down --dir "+filepath.Dir(path)+"'", "--dir")

	l.Release()
	if testtools.Exists(t, path) {
		t.Errorf("after Release: %s exists, want it removed", path)
	}
	if Locked(layout) {
		t.Errorf("isLocked after Release: got true, want false")
	}
	l.Release() // twice is safe

	l2, err := Lock(layout)
	if err != nil {
		t.Fatalf("lockDir after Release: %v", err)
	}
	if l2.Note != "" {
		t.Errorf("note after a Release: got %q, want none (Release removes the file)", l2.Note)
	}
	if !Locked(layout) {
		t.Errorf("isLocked after relocking: got false, want true")
	}
	l2.Release()
	if Locked(layout) {
		t.Errorf("isLocked after the second Release: got true, want false")
	}

	var nilLock *DirLock
	nilLock.Release() // a Lab that never got its lock releases nil
}

func TestLockDirUnknownHolder(t *testing.T) {
	t.Parallel()
	layout := Layout{Root: t.TempDir()}
	l, err := Lock(layout)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if err := os.WriteFile(layout.LockFile(), []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Lock(layout)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("got %v, want ErrLocked", err)
	}
	testtools.WantErrContains(t, err, "(another process)")
}

func TestLockDirMissingDir(t *testing.T) {
	t.Parallel()
	layout := Layout{Root: filepath.Join(t.TempDir(), "missing")}
	path := layout.LockFile()
	l, err := Lock(layout)
	if err == nil {
		l.Release()
		t.Fatalf("lockDir in a missing directory: got nil error, want one")
	}
	if errors.Is(err, ErrLocked) {
		t.Errorf("got %v, want an error that is not ErrLocked", err)
	}
	testtools.WantErrContains(t, err, filepath.Dir(path), "no such file", "pick a directory")
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
		{"dead holder", "999999999\n", "labdir: took over the lock of process 999999999, which is gone"},
		{"reused pid", strconv.Itoa(alive) + "\n", fmt.Sprintf("labdir: took over the lock of process %d, which no longer holds it", alive)},
		{"our own pid", strconv.Itoa(os.Getpid()) + "\n", fmt.Sprintf("labdir: took over the lock of process %d, which is gone", os.Getpid())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			layout := Layout{Root: t.TempDir()}
			testtools.WriteFile(t, layout.LockFile(), tt.content)
			l, err := Lock(layout)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Release()
			if l.Note != tt.want {
				t.Errorf("note: got %q, want %q", l.Note, tt.want)
			}
			var out bytes.Buffer
			l.Report(&out)
			if want := tt.want + "\n"; tt.want != "" && out.String() != want {
				t.Errorf("report: got %q, want %q", out.String(), want)
			}
			if tt.want == "" && out.Len() > 0 {
				t.Errorf("report: got %q, want nothing", out.String())
			}
			l.Report(nil) // discards
		})
	}
	var nilLock *DirLock
	nilLock.Report(new(bytes.Buffer))
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
