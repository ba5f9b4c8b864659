//go:build !windows

package supervisor

import (
	"errors"
	"os"
	"syscall"
)

// sysProcAttr returns how to start the child: in a process group of its
// own, so that Ctrl-C in the terminal reaches only sselab, which then stops
// the child once, gracefully; and, on Linux, with a parent-death signal.
func sysProcAttr() *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setpgid: true}
	setParentDeathSignal(attr)
	return attr
}

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
