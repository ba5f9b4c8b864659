package lockfile_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sselab/sselab/internal/lockfile"
	"github.com/sselab/sselab/internal/testtools"
)

// mustLock takes the lock at path or fails the test; the lock is released
// when the test ends, if not before.
func mustLock(t *testing.T, path string) *lockfile.Lock {
	t.Helper()
	l, err := lockfile.TryLock(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Release)
	return l
}

// waiter is a Wait running in a goroutine.
type waiter struct {
	ctx     context.Context
	holders chan int
	done    chan waitResult
}

// waitResult is what Wait returned.
type waitResult struct {
	l   *lockfile.Lock
	err error
}

// startWait calls Wait in a goroutine until ctx ends.
func startWait(ctx context.Context, path string) *waiter {
	w := &waiter{ctx: ctx, holders: make(chan int, 1), done: make(chan waitResult, 1)}
	go func() {
		l, err := lockfile.Wait(ctx, path, func(pid int) {
			select {
			case w.holders <- pid:
			default:
			}
		})
		w.done <- waitResult{l, err}
	}()
	return w
}

// holder returns the first holder Wait told of; it fails the test if
// Wait returned first or ctx ended.
func (w *waiter) holder(t *testing.T) int {
	t.Helper()
	select {
	case pid := <-w.holders:
		return pid
	case r := <-w.done:
		r.l.Release()
		t.Fatalf("Wait while held: got %v, want it to wait", r.err)
	case <-w.ctx.Done():
		t.Fatal("Wait did not call waiting")
	}
	return 0
}

// lock returns the lock Wait took after what happened; it fails the test
// if Wait failed or ctx ended first. The lock is released when the test
// ends.
func (w *waiter) lock(t *testing.T, after string) *lockfile.Lock {
	t.Helper()
	select {
	case r := <-w.done:
		if r.err != nil {
			t.Fatalf("Wait after %s: %v", after, r.err)
		}
		t.Cleanup(r.l.Release)
		return r.l
	case <-w.ctx.Done():
		t.Fatalf("Wait still waiting after %s", after)
	}
	return nil
}

// wantHeld fails the test unless err is a *HeldError for path naming pid.
func wantHeld(t *testing.T, err error, path string, pid int) {
	t.Helper()
	var held *lockfile.HeldError
	if !errors.As(err, &held) {
		t.Fatalf("got %v, want a *HeldError", err)
	}
	if held.Path != path || held.PID != pid {
		t.Errorf("got %+v, want {Path:%s PID:%d}", *held, path, pid)
	}
}

func TestTryLock(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "x.lock")
	if lockfile.Held(path) {
		t.Errorf("Held on a missing file: got true, want false")
	}

	l, err := lockfile.TryLock(path)
	if err != nil {
		t.Fatalf("TryLock: %v", err)
	}
	if got := l.Previous(); got != 0 {
		t.Errorf("Previous on a new lock file: got %d, want 0", got)
	}
	if got, want := lockfile.ReadPID(path), os.Getpid(); got != want {
		t.Errorf("lock file holds pid %d, want %d", got, want)
	}
	if !lockfile.Held(path) {
		t.Errorf("Held while held: got false, want true")
	}
	// Held must not take the lock away from its holder.
	if !lockfile.Held(path) {
		t.Errorf("second Held while held: got false, want true")
	}

	// flock and LockFileEx conflict between two opens in one process.
	second, err := lockfile.TryLock(path)
	if err == nil {
		second.Release()
		t.Fatalf("second TryLock: got no error, want a *HeldError")
	}
	wantHeld(t, err, path, os.Getpid())
	if got, want := err.Error(), "lockfile: process "+strconv.Itoa(os.Getpid())+" holds "+path; got != want {
		t.Errorf("error: got %q, want %q", got, want)
	}

	l.Release()
	if testtools.Exists(t, path) {
		t.Errorf("after Release: %s exists, want it removed", path)
	}
	if lockfile.Held(path) {
		t.Errorf("Held after Release: got true, want false")
	}
	l.Release() // twice is safe

	l2, err := lockfile.TryLock(path)
	if err != nil {
		t.Fatalf("TryLock after Release: %v", err)
	}
	if got := l2.Previous(); got != 0 {
		t.Errorf("Previous after a Release: got %d, want 0 (Release removes the file)", got)
	}
	if !lockfile.Held(path) {
		t.Errorf("Held after relocking: got false, want true")
	}
	l2.Release()
	if lockfile.Held(path) {
		t.Errorf("Held after the second Release: got true, want false")
	}

	var nilLock *lockfile.Lock
	nilLock.Release() // a caller that never got its lock releases nil
	if got := nilLock.Previous(); got != 0 {
		t.Errorf("Previous on nil: got %d, want 0", got)
	}
}

// TestTryLockRetries checks that TryLock outlasts a lock held for an
// instant, as Held holds it.
func TestTryLockRetries(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "x.lock")
	l, err := lockfile.TryLock(path)
	if err != nil {
		t.Fatal(err)
	}
	released := make(chan struct{})
	go func() {
		time.Sleep(20 * time.Millisecond)
		l.Release()
		close(released)
	}()
	l2, err := lockfile.TryLock(path)
	<-released
	if err != nil {
		t.Fatalf("TryLock while a lock is released 20ms later: %v", err)
	}
	l2.Release()
}

func TestTryLockStaleFile(t *testing.T) {
	t.Parallel()
	// A lock file left by a killed holder holds a pid but no lock.
	path := filepath.Join(t.TempDir(), "x.lock")
	testtools.WriteFile(t, path, "999999999\nleft over\n")
	if lockfile.Held(path) {
		t.Errorf("Held on a stale file: got true, want false")
	}
	l := mustLock(t, path)
	if got := l.Previous(); got != 0 {
		t.Errorf("Previous on a file that holds more than a pid: got %d, want 0", got)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(data), strconv.Itoa(os.Getpid())+"\n"; got != want {
		t.Errorf("lock file: got %q, want %q", got, want)
	}
}

func TestTryLockUnknownHolder(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "x.lock")
	mustLock(t, path)
	// Over the holder's pid; Windows locks a byte far past it.
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteAt([]byte("garbage\n"), 0)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	_, err = lockfile.TryLock(path)
	wantHeld(t, err, path, 0)
	if got, want := err.Error(), "lockfile: another process holds "+path; got != want {
		t.Errorf("error: got %q, want %q", got, want)
	}
}

func TestTryLockMissingDir(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "missing", "x.lock")
	l, err := lockfile.TryLock(path)
	if err == nil {
		l.Release()
		t.Fatalf("TryLock in a missing directory: got nil error, want one")
	}
	var held *lockfile.HeldError
	if errors.As(err, &held) {
		t.Errorf("got %v, want an error that is not a *HeldError", err)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("got %v, want it to wrap fs.ErrNotExist", err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "lockfile: ") || !strings.Contains(msg, path) {
		t.Errorf("error %q: want it to start with \"lockfile: \" and name %s", msg, path)
	}
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
		{"789\r\n", 789},
		{"", 0},
		{"abc", 0},
		{"12 34", 0},
		{"0\n", 0},
		{"-5\n", 0},
		{"999999999\nleft over\n", 0},
		{"123" + strings.Repeat(" ", 40), 0}, // too long to be a pid file
	}
	for i, tt := range tests {
		path := filepath.Join(dir, strconv.Itoa(i))
		testtools.WriteFile(t, path, tt.content)
		if got := lockfile.ReadPID(path); got != tt.want {
			t.Errorf("ReadPID(%q): got %d, want %d", tt.content, got, tt.want)
		}
	}
	if got := lockfile.ReadPID(filepath.Join(dir, "missing")); got != 0 {
		t.Errorf("ReadPID(missing): got %d, want 0", got)
	}
}

// TestPrevious checks the pid Previous reports, for each kind of content
// a lock file that nobody holds may have.
func TestPrevious(t *testing.T) {
	t.Parallel()
	// The parent (go test) is alive and does not hold the lock: a pid
	// reused after the holder died looks like that.
	alive := os.Getppid()
	tests := []struct {
		name, content string
		want          int
	}{
		{"empty", "", 0},
		{"garbage", "garbage\n", 0},
		{"dead holder", "999999999\n", 999999999},
		{"reused pid", strconv.Itoa(alive) + "\n", alive},
		{"our own pid", strconv.Itoa(os.Getpid()) + "\n", os.Getpid()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "x.lock")
			testtools.WriteFile(t, path, tt.content)
			l := mustLock(t, path)
			if got := l.Previous(); got != tt.want {
				t.Errorf("Previous: got %d, want %d", got, tt.want)
			}
			if got, want := lockfile.ReadPID(path), os.Getpid(); got != want {
				t.Errorf("lock file holds pid %d, want ours, %d", got, want)
			}
		})
	}
}

func TestWait(t *testing.T) {
	t.Parallel()
	ctx := testtools.Context(t)
	path := filepath.Join(t.TempDir(), "x.lock")

	// A free lock is taken at once, without a call to waiting.
	l, err := lockfile.Wait(ctx, path, func(int) { t.Errorf("waiting called for a free lock") })
	if err != nil {
		t.Fatalf("Wait on a free lock: %v", err)
	}

	w := startWait(ctx, path)
	if got := w.holder(t); got != os.Getpid() {
		t.Errorf("waiting: got holder %d, want %d", got, os.Getpid())
	}
	l.Release()
	if got := w.lock(t, "the release").Previous(); got != 0 {
		t.Errorf("Previous after a Release: got %d, want 0", got)
	}
	if got, want := lockfile.ReadPID(path), os.Getpid(); got != want {
		t.Errorf("lock file holds pid %d, want %d", got, want)
	}
}

func TestWaitCanceled(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "x.lock")
	mustLock(t, path)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	calls := 0
	l2, err := lockfile.Wait(ctx, path, func(int) { calls++ })
	if err == nil {
		l2.Release()
		t.Fatal("Wait on a held lock: got nil error, want one when ctx ends")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want it to wrap context.DeadlineExceeded", err)
	}
	wantHeld(t, err, path, os.Getpid())
	if calls == 0 {
		t.Errorf("waiting was never called")
	}
	if !lockfile.Held(path) {
		t.Errorf("after a canceled Wait: the holder's lock is gone")
	}

	// A context that has already ended takes no lock and makes no file.
	missing := filepath.Join(t.TempDir(), "y.lock")
	ctx, cancel = context.WithCancel(t.Context())
	cancel()
	if l3, err := lockfile.Wait(ctx, missing, nil); !errors.Is(err, context.Canceled) {
		l3.Release()
		t.Errorf("Wait with an ended context: got %v, want context.Canceled", err)
	}
	if testtools.Exists(t, missing) {
		t.Errorf("Wait with an ended context made %s", missing)
	}
}
