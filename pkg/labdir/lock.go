package labdir

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/sselab/sselab/internal/fsutil"
	"github.com/sselab/sselab/internal/lockfile"
	"github.com/sselab/sselab/internal/proc"
)

// ErrLocked reports that another process runs a lab on the directory.
var ErrLocked = errors.New("labdir: a lab is already running on this directory")

// DirLock is the lock of a state directory, held by the process that runs
// the lab on it (see package lockfile: the OS drops it when the holder
// dies, however it dies, so a killed sselab never blocks the next `up`).
type DirLock struct {
	lock *lockfile.Lock
	// Note says whose lock was taken over, or is "".
	Note string
}

// Lock takes the lock of the directory or fails at once. A refusal wraps
// ErrLocked and names the holder's pid and whether that process runs.
func Lock(l Layout) (*DirLock, error) {
	lock, err := lockfile.TryLock(l.LockFile())
	var held *lockfile.HeldError
	switch {
	case errors.As(err, &held):
		return nil, fmt.Errorf("%w (%s); stop it with 'sselab down --dir %s' or pick another --dir", ErrLocked, holder(held.PID), l.Root)
	case err != nil:
		return nil, fmt.Errorf("labdir: cannot use --dir %s: cannot create its lock file: %w; pick a directory you can write to", l.Root, fsutil.PathCause(err))
	}
	return &DirLock{lock: lock, Note: takeoverNote(lock.Previous())}, nil
}

// Report writes the takeover note, if any, as one line to w (nil
// discards it).
func (d *DirLock) Report(w io.Writer) {
	if d == nil || d.Note == "" || w == nil {
		return
	}
	fmt.Fprintln(w, d.Note)
}

// Release drops the lock and removes the lock file. It is safe to call on
// nil and more than once.
func (d *DirLock) Release() {
	if d != nil {
		d.lock.Release()
	}
}

// Locked reports whether a process holds the lock of the directory, that
// is whether a lab runs there.
func Locked(l Layout) bool { return lockfile.Held(l.LockFile()) }

// holder describes the holder of a lock we could not take, from the pid
// its file holds (0 if none). A holder whose pid is gone is possible: the
// lock is held by another process, one that has just taken it and not yet
// written its pid, or one that inherited the lock from the named process.
func holder(pid int) string {
	switch {
	case pid <= 0:
		return "another process"
	case proc.Alive(pid):
		return fmt.Sprintf("process %d, which is running", pid)
	default:
		return fmt.Sprintf("process %d is named in the lock file but is gone; another process holds the lock", pid)
	}
}

// takeoverNote says whose lock file we took over, from the pid it held
// before we wrote ours: "" for a new or empty file.
func takeoverNote(pid int) string {
	switch {
	case pid <= 0:
		return ""
	case pid != os.Getpid() && proc.Alive(pid):
		// The pid was reused by a process that does not hold the lock.
		return fmt.Sprintf("labdir: took over the lock of process %d, which no longer holds it", pid)
	default:
		return fmt.Sprintf("labdir: took over the lock of process %d, which is gone", pid)
	}
}
