//go:build !windows

package lockfile_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sselab/sselab/internal/lockfile"
	"github.com/sselab/sselab/internal/testtools"
)

// childLockEnv switches the test binary into a child that takes the lock
// at the path it names, prints "locked" and holds it until its stdin
// closes (or a minute passes).
const childLockEnv = "SSELAB_LOCKFILE_TEST_CHILD_LOCK"

func TestMain(m *testing.M) {
	if path := os.Getenv(childLockEnv); path != "" {
		os.Exit(childHoldLock(path))
	}
	os.Exit(m.Run())
}

func childHoldLock(path string) int {
	l, err := lockfile.TryLock(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer l.Release()
	fmt.Println("locked")
	done := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
	}
	return 0
}

// TestLockFreedWhenHolderKilled has a child process take the lock, checks
// that it keeps this process out, SIGKILLs it (so no Release runs) while
// this process waits, and checks that the wait ends with the lock taken
// over from the child.
func TestLockFreedWhenHolderKilled(t *testing.T) {
	t.Parallel()
	ctx := testtools.Context(t)
	path := filepath.Join(t.TempDir(), "x.lock")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, exe, "-test.run=^$")
	// GORACE: under -race the child would sleep a second at exit.
	cmd.Env = append(os.Environ(), childLockEnv+"="+path, "GORACE=atexit_sleep_ms=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitOnce sync.Once
	wait := func() { waitOnce.Do(func() { cmd.Wait() }) }
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		wait()
	})

	lines := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()
	select {
	case line, ok := <-lines:
		if !ok || line != "locked" {
			wait()
			t.Fatalf("child: got %q (open %v), want \"locked\"; stderr: %s", line, ok, stderr.String())
		}
	case <-ctx.Done():
		t.Fatalf("child did not report the lock in time")
	}

	child := cmd.Process.Pid
	l, err := lockfile.TryLock(path)
	if err == nil {
		l.Release()
		t.Fatalf("TryLock while the child holds it: got nil error, want a *HeldError")
	}
	wantHeld(t, err, path, child)
	if !lockfile.Held(path) {
		t.Errorf("Held while the child holds it: got false, want true")
	}

	w := startWait(ctx, path)
	if got := w.holder(t); got != child {
		t.Errorf("waiting: got holder %d, want the child, %d", got, child)
	}

	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no Release runs
		t.Fatal(err)
	}
	wait()
	if got := w.lock(t, "the holder was killed").Previous(); got != child {
		t.Errorf("Previous after taking over the killed child's lock: got %d, want %d", got, child)
	}
	if got := lockfile.ReadPID(path); got != os.Getpid() {
		t.Errorf("lock file after relocking: got pid %d, want %d", got, os.Getpid())
	}
}

func TestLockConcurrent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "x.lock")
	var holders, maxHolders, wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				l, err := lockfile.TryLock(path)
				if err != nil {
					if held := (*lockfile.HeldError)(nil); !errors.As(err, &held) {
						t.Errorf("TryLock: got %v, want nil or a *HeldError", err)
					}
					continue
				}
				wins.Add(1)
				n := holders.Add(1)
				for {
					m := maxHolders.Load()
					if n <= m || maxHolders.CompareAndSwap(m, n) {
						break
					}
				}
				time.Sleep(50 * time.Microsecond)
				holders.Add(-1)
				l.Release()
			}
		})
	}
	wg.Wait()
	if got := maxHolders.Load(); got != 1 {
		t.Errorf("at most %d goroutines held the lock at once, want 1", got)
	}
	if wins.Load() == 0 {
		t.Errorf("nobody got the lock in 400 tries")
	}
	if testtools.Exists(t, path) {
		t.Errorf("after every Release: %s exists, want it removed", path)
	}
}

func TestLockFileMode(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "x.lock")
	mustLock(t, path)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got&^0o600 != 0 {
		t.Errorf("lock file mode: got %v, want at most 0600", got)
	}
}
