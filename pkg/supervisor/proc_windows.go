//go:build windows

package supervisor

import (
	"os"
	"syscall"

	"golang.org/x/sys/windows"
)

// sysProcAttr returns how to start the child: in a new process group, so
// that it can be sent CTRL_BREAK_EVENT alone, and so that Ctrl-C in the
// console reaches only sselab, which then stops the child once.
//
// TODO: put the child in a job object with
// JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE, so that it dies with sselab as it
// does on Linux through Pdeathsig.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: windows.CREATE_NEW_PROCESS_GROUP}
}

// interrupt asks the child to exit with CTRL_BREAK_EVENT, which a Go
// program such as MinIO receives as os.Interrupt. It fails when sselab has
// no console to share with the child; the caller then kills the child.
func interrupt(p *os.Process) error {
	return windows.GenerateConsoleCtrlEvent(windows.CTRL_BREAK_EVENT, uint32(p.Pid))
}

// kill terminates the child. Processes it started survive it (until there
// is a job object, see sysProcAttr).
func kill(p *os.Process) error {
	return p.Kill()
}
