//go:build windows

package supervisor

import (
	"os"
	"os/exec"
	"testing"
	"unsafe"

	"golang.org/x/sys/windows"
)

// procIsProcessInJob is kernel32's IsProcessInJob, which x/sys/windows
// does not wrap.
var procIsProcessInJob = windows.NewLazySystemDLL("kernel32.dll").NewProc("IsProcessInJob")

// inJob reports whether process pid is in job.
func inJob(t *testing.T, pid int, job windows.Handle) bool {
	t.Helper()
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		t.Fatalf("open process %d: %v", pid, err)
	}
	defer windows.CloseHandle(h)
	var result int32 // BOOL
	r, _, err := procIsProcessInJob.Call(uintptr(h), uintptr(job), uintptr(unsafe.Pointer(&result)))
	if r == 0 {
		t.Fatalf("IsProcessInJob(%d): %v", pid, err)
	}
	return result != 0
}

func TestKillOnCloseJob(t *testing.T) {
	t.Parallel()
	job, err := newKillOnCloseJob()
	if err != nil {
		t.Fatal(err)
	}
	defer windows.CloseHandle(job)
	var info windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION
	if err := windows.QueryInformationJobObject(job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info)), nil); err != nil {
		t.Fatal(err)
	}
	if got := info.BasicLimitInformation.LimitFlags; got != windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE {
		t.Errorf("LimitFlags: got %#x, want JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE (%#x)", got, windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE)
	}
}

// TestChildInJob checks that the child, and its restart, are in the
// Process's job, and that the job is closed when supervision ends.
func TestChildInJob(t *testing.T) {
	t.Parallel()
	cfg, _, rec := testConfig(t, "serve")
	cfg.Restart = true
	p := start(t, cfg)
	if p.guard.job == 0 {
		t.Fatalf("no job object: %q", rec.lines)
	}
	pid := p.PID()
	if !inJob(t, pid, p.guard.job) {
		t.Errorf("child %d is not in the job", pid)
	}
	proc, err := os.FindProcess(pid)
	if err != nil {
		t.Fatal(err)
	}
	proc.Kill()
	waitFor(t, "a restart", func() bool { return p.Restarts() == 1 && p.PID() != 0 })
	if pid := p.PID(); !inJob(t, pid, p.guard.job) {
		t.Errorf("restarted child %d is not in the job", pid)
	}
	if err := p.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if p.guard.job != 0 {
		t.Error("job handle still open after Stop")
	}
}

// TestJobCloseKillsChild checks what KILL_ON_JOB_CLOSE promises: closing
// the guard terminates a child still in the job.
func TestJobCloseKillsChild(t *testing.T) {
	t.Parallel()
	cfg, dir, _ := testConfig(t, "serve")
	g, err := newGuard(&cfg, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(cfg.Path)
	cmd.Env = cfg.Env
	cmd.SysProcAttr = g.sysProcAttr()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The "serve" child runs for a minute unless killed: waiting for it
	// now cannot free its pid before attach.
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	if _, err := g.attach(cmd.Process); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the child to listen", func() bool { return probe(dir)(t.Context()) == nil })
	g.close()
	waitFor(t, "the child to be terminated", func() bool {
		select {
		case <-exited:
			return true
		default:
			return false
		}
	})
}

// TestChildDiesWithParent runs the test binary as a parent that supervises
// a "serve" grandchild, terminates the parent, and checks that the
// grandchild dies too: the system closed the parent's job handle.
func TestChildDiesWithParent(t *testing.T) {
	t.Parallel()
	parent, pid := startParent(t, t.TempDir())
	killParent(t, parent)
	waitGone(t, pid)
}
