//go:build windows

package supervisor

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// guard ties the children's lives to this process's through a job object
// with JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE: the system terminates every
// process in the job when the last handle to the job is closed, and it
// closes a process's handles when the process ends, however it ends. Only
// this process holds a handle to the job: CreateJobObject is given no
// security attributes, so the handle is not inheritable (and os/exec
// passes a child only its standard handles anyway). So the child dies
// when this process dies, as with Pdeathsig on Linux.
//
// One job serves every run of the child and lives as long as the
// Process: it is closed when supervision ends, after the child has
// exited, which also terminates whatever the child left running.
// Processes the child starts are in the job too.
//
// The child is started, then assigned to the job. Starting it suspended
// (CREATE_SUSPENDED) would close the window between the two, but os/exec
// closes the handle of the child's main thread and gives no way to resume
// it short of enumerating the system's threads; and creating the child
// directly in the job (PROC_THREAD_ATTRIBUTE_JOB_LIST) needs an attribute
// list that os/exec does not let us pass. The window that remains is the
// time of one OpenProcess and AssignProcessToJobObject call: if this
// process is killed within it, or if the child starts a process of its
// own within it (MinIO does not), that process is not in the job.
type guard struct {
	job windows.Handle // 0 if no job object could be made
}

// newGuard returns the guard for cfg. If the job object cannot be made, it
// says so through logf and the children run unguarded: they then outlive
// a killed supervisor. It never fails; the error is for symmetry with
// Unix, where a forced watchdog without a command is refused.
func newGuard(cfg *Config, logf func(format string, args ...any)) (*guard, error) {
	job, err := newKillOnCloseJob()
	if err != nil {
		logf("%s: %v; it would outlive this process if this process were killed", cfg.Name, err)
		return &guard{}, nil
	}
	return &guard{job: job}, nil
}

// newKillOnCloseJob creates an unnamed job object whose processes are
// terminated when its last handle is closed.
func newKillOnCloseJob() (windows.Handle, error) {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return 0, fmt.Errorf("supervisor: create job object: %w", err)
	}
	info := newJobLimits()
	info.BasicLimitInformation.LimitFlags = windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
	_, err = windows.SetInformationJobObject(job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(info)), uint32(unsafe.Sizeof(*info)))
	runtime.KeepAlive(info)
	if err != nil {
		windows.CloseHandle(job)
		return 0, fmt.Errorf("supervisor: set job object limits: %w", err)
	}
	return job, nil
}

// newJobLimits returns zeroed job limits on the heap. They are passed to
// the system as a uintptr, which the garbage collector neither keeps alive
// nor updates if the goroutine's stack moves during the call; a heap
// object does not move. A pointer returned by a function that is not
// inlined always escapes to the heap.
//
//go:noinline
func newJobLimits() *windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION {
	return new(windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION)
}

// sysProcAttr returns how to start the child: in a new process group, so
// that it can be sent CTRL_BREAK_EVENT alone, and so that Ctrl-C in the
// console reaches only sselab, which then stops the child once.
func (g *guard) sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: windows.CREATE_NEW_PROCESS_GROUP}
}

// attach puts the child p, just started and not yet waited for, in the
// job. It returns no release function: the child leaves the job when it
// exits. The os.Process holds a handle to the child until it is waited
// for, and Windows does not reuse the id of a process while a handle to
// it is open, so the pid names our child.
func (g *guard) attach(p *os.Process) (release func(), err error) {
	if g.job == 0 {
		return nil, nil
	}
	h, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, uint32(p.Pid))
	if err != nil {
		return nil, fmt.Errorf("supervisor: open process %d to put it in a job object: %w", p.Pid, err)
	}
	defer windows.CloseHandle(h)
	if err := windows.AssignProcessToJobObject(g.job, h); err != nil {
		return nil, fmt.Errorf("supervisor: put process %d in a job object: %w", p.Pid, err)
	}
	return nil, nil
}

// close closes the job, terminating whatever is still in it. It is called
// once, when supervision ends and the child has exited.
func (g *guard) close() {
	if g.job != 0 {
		windows.CloseHandle(g.job)
		g.job = 0
	}
}

// interrupt asks the child to exit with CTRL_BREAK_EVENT, which a Go
// program such as MinIO receives as os.Interrupt. It fails when sselab has
// no console to share with the child; the caller then kills the child.
func interrupt(p *os.Process) error {
	return windows.GenerateConsoleCtrlEvent(windows.CTRL_BREAK_EVENT, uint32(p.Pid))
}

// kill terminates the child. Processes it started are in its job object
// and are terminated when supervision ends and the job is closed.
func kill(p *os.Process) error {
	return p.Kill()
}
