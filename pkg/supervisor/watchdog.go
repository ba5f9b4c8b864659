package supervisor

import (
	"slices"
	"sync/atomic"
	"time"
)

// A Watchdog is a small process that ends the child when the supervising
// process dies without stopping it (SIGKILL, a crash), on Unix systems
// that have no parent-death signal, such as macOS.
//
// The supervisor starts the child in a process group of its own, then the
// watchdog, with the child's process group id appended to Command and
// with its stdin a pipe whose write end only the supervisor holds. The
// watchdog is expected to call RunWatchdog, which blocks reading stdin.
// When the supervisor dies, the kernel closes the write end: the watchdog
// reads EOF, sends SIGTERM to the group, and SIGKILL if the group is still
// there a few seconds later. When the child exits while the supervisor
// lives (a crash, or Stop), the supervisor writes a byte to the pipe
// first, and the watchdog exits without signaling anything.
//
// On Linux the kernel kills the child itself (Pdeathsig), and a watchdog
// is used only when Force is set. Windows does not use a watchdog: the
// child is put in a job object that the system closes, killing the child,
// when the supervising process dies.
type Watchdog struct {
	// Command is the program and arguments of a process that calls
	// RunWatchdog, such as this program's own executable with a hidden
	// subcommand. The child's process group id is appended as the last
	// argument. It runs with this process's environment, not Config.Env,
	// and its output goes to Config.LogFile (or nowhere).
	Command []string

	// Force uses the watchdog on Linux too, instead of the parent-death
	// signal, so that the mechanism used on macOS can be tested on Linux.
	Force bool
}

// defaultWatchdog is the watchdog for a Config without one; see
// SetWatchdog.
var defaultWatchdog atomic.Pointer[Watchdog]

// SetWatchdog sets the watchdog used by every Config whose Watchdog field
// is nil; nil removes it. A program calls it once, at init, with the
// command that runs RunWatchdog.
func SetWatchdog(w *Watchdog) {
	if w != nil {
		w = &Watchdog{Command: slices.Clone(w.Command), Force: w.Force}
	}
	defaultWatchdog.Store(w)
}

// watchdogFor returns the watchdog that applies to cfg, or nil.
func watchdogFor(cfg *Config) *Watchdog {
	if cfg.Watchdog != nil {
		return cfg.Watchdog
	}
	return defaultWatchdog.Load()
}

const (
	// watchdogGrace is how long the watchdog lets the child's process
	// group exit after SIGTERM before it sends SIGKILL. It is shorter
	// than Config.StopGrace: the supervisor is gone, so nobody waits for
	// a clean shutdown, and a user may be waiting to start a new one.
	watchdogGrace = 5 * time.Second

	// watchdogDismissWait bounds the wait for a dismissed watchdog to
	// exit before it is killed.
	watchdogDismissWait = 2 * time.Second
)
