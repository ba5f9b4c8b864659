//go:build !windows

package supervisor

import (
	"errors"
	"os"
	"syscall"
)

// guard ties the children's lives to this process's: on Linux through the
// parent-death signal, elsewhere through a watchdog process per run.
type guard struct {
	deathSignal bool      // set Pdeathsig on the child (Linux)
	watchdog    *Watchdog // start one per run, or nil
	logFile     string    // the watchdog's output
}

// newGuard returns the guard for cfg. It fails only when cfg forces a
// watchdog without saying how to run one. Without a parent-death signal
// and without a watchdog, children outlive a killed supervisor.
func newGuard(cfg *Config, _ func(format string, args ...any)) (*guard, error) {
	g := &guard{logFile: cfg.LogFile}
	w := watchdogFor(cfg)
	switch {
	case w != nil && w.Force:
		if len(w.Command) == 0 {
			return nil, errors.New("supervisor: Watchdog.Force is set but Watchdog.Command is empty")
		}
		g.watchdog = w
	case hasParentDeathSignal:
		g.deathSignal = true
	case w != nil && len(w.Command) > 0:
		g.watchdog = w
	}
	return g, nil
}

// sysProcAttr returns how to start the child: in a process group of its
// own, so that Ctrl-C in the terminal reaches only sselab, which then stops
// the child once, gracefully, and so that a watchdog can signal the whole
// group; and, on Linux, with a parent-death signal.
func (g *guard) sysProcAttr() *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setpgid: true}
	if g.deathSignal {
		setParentDeathSignal(attr)
	}
	return attr
}

// attach guards the child p, just started and not yet waited for, and
// returns what to call once it has been waited for (nil if nothing). The
// child is not reaped before attach returns, so its process group id (its
// pid, see Setpgid) cannot name another group meanwhile.
//
// If this process dies between the child's start and the watchdog's, the
// child is not guarded: that window is the time of one fork and exec.
func (g *guard) attach(p *os.Process) (release func(), err error) {
	if g.watchdog == nil {
		return nil, nil
	}
	wd, err := startWatchdog(g.watchdog, p.Pid, g.logFile)
	if err != nil {
		return nil, err
	}
	return wd.dismiss, nil
}

// close releases what the guard holds; nothing on Unix.
func (g *guard) close() {}

// interrupt asks the child to exit. MinIO shuts down cleanly on SIGTERM.
func interrupt(p *os.Process) error {
	return p.Signal(syscall.SIGTERM)
}

// kill kills the child and whatever it started in its process group.
func kill(p *os.Process) error {
	// The group id is the child's pid (Setpgid with Pgid 0). The child is
	// not reaped yet when this is called, so the id cannot have been
	// reused; the race with its exit is as narrow as for any kill(2).
	gerr := syscall.Kill(-p.Pid, syscall.SIGKILL)
	err := p.Kill()
	if err == nil || errors.Is(err, os.ErrProcessDone) || gerr == nil {
		return nil
	}
	return err
}
