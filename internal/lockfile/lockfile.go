// Package lockfile is sselab's one lock between processes: an exclusive,
// OS-level lock (flock on Unix, LockFileEx on Windows) on a file that
// holds the holder's pid.
//
// The stale-lock story: the OS drops the lock when its holder dies,
// however it dies, so a killed process never leaves a lock that blocks
// anybody. Its file stays behind, with its pid; whoever takes the lock
// next takes the file over, writes its own pid, and can say whose lock it
// took over (Previous). The pid is only informative: who holds the OS lock
// decides, never whether the pid in the file runs, so a reused pid cannot
// block anyone. Release removes the file.
package lockfile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"
)

// Lock is an exclusive OS-level lock on a file, taken by TryLock or Wait
// and held until Release or until this process ends. Keep it reachable
// while the lock is needed: a Lock that is garbage collected closes its
// file, which drops the lock.
type Lock struct {
	f    *os.File
	path string
	prev int
}

// HeldError reports that another process holds the lock.
type HeldError struct {
	// Path is the lock file.
	Path string
	// PID is the pid the lock file holds, 0 if none. It is normally the
	// holder's; a holder that has just taken the lock may not have
	// written it yet, so it may name a process that is gone.
	PID int
}

// Error names the holder (by the pid in the file) and the lock file.
func (e *HeldError) Error() string {
	if e.PID <= 0 {
		return fmt.Sprintf("lockfile: another process holds %s", e.Path)
	}
	return fmt.Sprintf("lockfile: process %d holds %s", e.PID, e.Path)
}

// retryFor is how long TryLock keeps trying: Held takes the lock for an
// instant, which must not fail a TryLock. It is also how often Wait calls
// its waiting function.
const retryFor = 200 * time.Millisecond

// TryLock takes the lock at path, creating the file (mode 0600) if need
// be, or fails at once (after retrying for 200 ms, the most a Held takes
// it for). When another process holds it the error is a *HeldError.
func TryLock(path string) (*Lock, error) {
	return lock(path)
}

// Wait takes the lock at path, waiting while another process holds it,
// until ctx ends. While it waits it calls waiting (if non-nil) about
// every poll (200 ms) with the holder's pid (0 if unknown); callers use it
// to report progress. An error after ctx ended wraps ctx.Err() and, if
// the lock was held, the *HeldError.
func Wait(ctx context.Context, path string, waiting func(holder int)) (*Lock, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("lockfile: %s: %w", path, err)
	}
	for {
		// While the lock is held, lock keeps trying for retryFor: the poll.
		l, err := lock(path)
		var held *HeldError
		if !errors.As(err, &held) {
			return l, err
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("%w; gave up waiting: %w", held, err)
		}
		if waiting != nil {
			waiting(held.PID)
		}
	}
}

// lock opens (or creates) the file at path and takes the lock on it,
// trying again for retryFor while it is held.
func lock(path string) (*Lock, error) {
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("lockfile: %w", err)
		}
		if err := tryLockRetry(f); err != nil {
			pid := pidIn(f)
			f.Close()
			if errors.Is(err, errHeld) {
				return nil, &HeldError{Path: path, PID: pid}
			}
			return nil, fmt.Errorf("lockfile: locking %s: %w", path, err)
		}
		// The previous holder may have removed the file between our open
		// and our lock: then we hold a lock on a deleted file. Retry.
		same, err := sameFile(f, path)
		if err != nil || !same {
			f.Close() // closing drops the lock
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("lockfile: %w", err)
			}
			continue
		}
		l := &Lock{f: f, path: path, prev: pidIn(f)}
		// The pid is written after the lock is taken, so it never names a
		// process that only tried.
		if err := f.Truncate(0); err == nil {
			f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
		}
		return l, nil
	}
}

// Held reports whether some process holds the lock at path. It takes the
// lock for an instant if nobody does, which TryLock allows for. A file
// that cannot be opened (missing, or not readable) is not held; one that
// can be opened but not locked for any reason is.
func Held(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close() // closing drops the lock if we took it
	return tryLock(f) != nil
}

// Previous is the pid the file held when this process took the lock: that
// of a holder that is gone (its lock was dropped by the OS, or its pid was
// since reused by a process that does not hold the lock), 0 for a new or
// empty file. Callers say "took over the lock of process N".
func (l *Lock) Previous() int {
	if l == nil {
		return 0
	}
	return l.prev
}

// Release drops the lock and removes the file; safe to call twice and on
// nil. On Windows, where a file another process has open at that moment
// cannot be removed, the file is emptied first, so that the process that
// takes it next finds no pid (Previous is 0).
func (l *Lock) Release() {
	if l == nil || l.f == nil {
		return
	}
	release(l.f, l.path)
	l.f = nil
}

// ReadPID returns the pid a lock file holds, 0 if none (a missing, empty
// or unreadable file, or one that holds anything but a positive number).
func ReadPID(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	return pidIn(f)
}

// pidIn returns the pid the open lock file f holds, 0 if none. It reads
// from the start of the file, which Windows leaves readable while the
// lock is held (see lockOffset).
func pidIn(f *os.File) int {
	var buf [32]byte // a pid, a newline and room for spaces
	n, err := f.ReadAt(buf[:], 0)
	if (err != nil && err != io.EOF) || n == len(buf) {
		return 0 // unreadable, or too long to be a pid
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// sameFile reports whether f is still the file at path.
func sameFile(f *os.File, path string) (bool, error) {
	a, err := f.Stat()
	if err != nil {
		return false, err
	}
	b, err := os.Stat(path)
	if err != nil {
		return false, err
	}
	return os.SameFile(a, b), nil
}

// errHeld is what tryLock returns when another open file holds the lock.
var errHeld = errors.New("held")

// tryLockRetry calls tryLock until it succeeds, fails for another reason
// than errHeld, or retryFor has passed.
func tryLockRetry(f *os.File) error {
	deadline := time.Now().Add(retryFor)
	for {
		err := tryLock(f)
		if !errors.Is(err, errHeld) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}
