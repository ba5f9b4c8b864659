//go:build !windows

package lab

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// childLockEnv switches the test binary into a child that takes the lock
// at the path it names, prints "locked" and holds it until its stdin
// closes (or a minute passes).
const childLockEnv = "SSELAB_LAB_TEST_CHILD_LOCK"

func TestMain(m *testing.M) {
	if path := os.Getenv(childLockEnv); path != "" {
		os.Exit(childHoldLock(path))
	}
	os.Exit(m.Run())
}

func childHoldLock(path string) int {
	l, err := lockDir(path)
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

func TestLockFreedWhenHolderKilled(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "sselab.lock")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childLockEnv+"="+path)
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
	l, err := lockDir(path)
	if err == nil {
		l.Release()
		t.Fatalf("lockDir while the child holds it: got nil error, want ErrLocked")
	}
	if !errors.Is(err, ErrLocked) {
		t.Errorf("got %v, want ErrLocked", err)
	}
	wantErrContains(t, err, "(process "+strconv.Itoa(child)+", which is running)")
	if !isLocked(path) {
		t.Errorf("isLocked while the child holds it: got false, want true")
	}

	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no Release runs
		t.Fatal(err)
	}
	wait()
	if got := readPID(path); got != child {
		t.Errorf("lock file after the kill: got pid %d, want the dead child's %d", got, child)
	}

	deadline := time.Now().Add(10 * time.Second)
	for {
		l, err = lockDir(path)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lockDir after the holder was killed: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	defer l.Release()
	if got := readPID(path); got != os.Getpid() {
		t.Errorf("lock file after relocking: got pid %d, want %d", got, os.Getpid())
	}
	var out bytes.Buffer
	l.report(&out)
	if got, want := out.String(), "lab: took over the lock of process "+strconv.Itoa(child)+", which is gone\n"; got != want {
		t.Errorf("report after taking over the killed child's lock: got %q, want %q", got, want)
	}
}

func TestLockDirConcurrent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sselab.lock")
	var holders, maxHolders, wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				l, err := lockDir(path)
				if err != nil {
					if !errors.Is(err, ErrLocked) {
						t.Errorf("lockDir: got %v, want nil or ErrLocked", err)
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
	if exists(t, path) {
		t.Errorf("after every Release: %s exists, want it removed", path)
	}
}
