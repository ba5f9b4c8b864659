//go:build !windows

package supervisor

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sselab/sselab/internal/proc"
)

// TestWatchdogKillsChildWhenParentKilled SIGKILLs a parent whose
// grandchild is guarded by a forced watchdog (on Linux: no parent-death
// signal, see TestGuardLinux): the grandchild must be gone within 3s, the
// watchdog must say what it did in the grandchild's log, and exit.
func TestWatchdogKillsChildWhenParentKilled(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	parent, pid := startParent(t, dir, envWatchdog+"=1")
	wpid := readPIDFile(t, filepath.Join(dir, "watchdog.pid"))
	t.Cleanup(func() { syscall.Kill(wpid, syscall.SIGKILL) })
	if !proc.Alive(wpid) {
		t.Fatalf("watchdog %d is not running", wpid)
	}

	killParent(t, parent)
	killed := time.Now()
	for proc.Alive(pid) {
		if time.Since(killed) > 3*time.Second {
			t.Fatalf("grandchild %d still runs 3s after its parent was killed", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("grandchild gone %s after its parent was killed", time.Since(killed).Round(time.Millisecond))

	// The watchdog exits once the group is gone, or after its grace
	// period if the exited grandchild is not reaped at once.
	deadline := time.Now().Add(watchdogGrace + 5*time.Second)
	for proc.Alive(wpid) {
		if time.Now().After(deadline) {
			t.Fatalf("watchdog %d still runs %s after the grandchild is gone", wpid, watchdogGrace+5*time.Second)
		}
		time.Sleep(10 * time.Millisecond)
	}
	log, err := os.ReadFile(filepath.Join(dir, "grandchild.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("grandchild's log:\n%s", log)
	want := "watchdog: the supervising process is gone (its pipe was closed); sending SIGTERM to process group " + strconv.Itoa(pid)
	if !strings.Contains(string(log), want) {
		t.Errorf("grandchild's log:\n%s\nwant it to contain %q", log, want)
	}
	// The grandchild got the watchdog's SIGTERM, not a SIGKILL. (It may
	// die of SIGPIPE instead of saying so: its output pipe has no reader
	// left. The line is checked only if present.)
	if strings.Contains(string(log), "sending SIGKILL") && strings.Contains(string(log), "serve: got signal") {
		t.Errorf("grandchild's log:\n%s\nwant no SIGKILL after the grandchild exited on SIGTERM", log)
	}
}

// TestWatchdogDismissed checks that the watchdog of each run exits
// quietly when the run ends while the supervisor lives: after a crash and
// restart, and after Stop. Nothing may be signaled by a dismissed watchdog.
func TestWatchdogDismissed(t *testing.T) {
	t.Parallel()
	cfg, _, rec := testConfig(t, "serve")
	wdir := t.TempDir()
	cfg.Watchdog = testWatchdog(cfg.Path, wdir)
	cfg.LogFile = filepath.Join(wdir, "child.log")
	cfg.Restart = true
	p, err := Start(testContext(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(context.Background())
	first := readPIDFile(t, filepath.Join(wdir, "watchdog.pid"))
	if !proc.Alive(first) {
		t.Fatalf("watchdog %d is not running", first)
	}
	os.Remove(filepath.Join(wdir, "watchdog.pid"))

	child := p.PID()
	if err := syscall.Kill(child, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a restart", func() bool { return p.Restarts() == 1 && p.PID() != 0 })
	second := readPIDFile(t, filepath.Join(wdir, "watchdog.pid"))
	if second == first {
		t.Fatalf("the restarted child has the same watchdog %d", first)
	}
	waitGone(t, first)
	if !proc.Alive(second) {
		t.Errorf("watchdog %d of the restarted child is not running", second)
	}
	// Stop only once the restarted child handles SIGTERM: a signal that
	// arrives before it has set up its handler kills it without a line.
	waitFor(t, "the restarted child listening", func() bool {
		log, _ := os.ReadFile(cfg.LogFile)
		return bytes.Count(log, []byte("serve: listening on")) == 2
	})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	// Stop returns once the watchdog was dismissed and waited for.
	if proc.Alive(second) {
		t.Errorf("watchdog %d still runs after Stop returned", second)
	}
	log, err := os.ReadFile(cfg.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(log, []byte("watchdog:")) {
		t.Errorf("child's log:\n%s\nwant no line from a dismissed watchdog", log)
	}
	if got := bytes.Count(log, []byte("serve: got signal terminated")); got != 1 {
		t.Errorf("child's log:\n%s\nwant one SIGTERM (from Stop), got %d", log, got)
	}
	if rec.contains("outlive") {
		t.Error("the supervisor reported a child without a watchdog")
	}
}

// TestWatchdogForcedWithoutCommand checks that a forced watchdog without a
// command is refused before anything starts.
func TestWatchdogForcedWithoutCommand(t *testing.T) {
	t.Parallel()
	cfg, dir, _ := testConfig(t, "serve")
	cfg.Watchdog = &Watchdog{Force: true}
	p, err := Start(testContext(t), cfg)
	if err == nil {
		p.Stop(context.Background())
		t.Fatal("Start succeeded, want an error")
	}
	if want := "supervisor: Watchdog.Force is set but Watchdog.Command is empty"; err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "pid")); err == nil {
		t.Error("the child was started")
	}
}

// TestWatchdogStartFails checks that a watchdog that cannot start leaves
// the child running, unguarded, and says so.
func TestWatchdogStartFails(t *testing.T) {
	t.Parallel()
	cfg, _, rec := testConfig(t, "serve")
	cfg.Watchdog = &Watchdog{Command: []string{filepath.Join(t.TempDir(), "missing")}, Force: true}
	p := start(t, cfg)
	if p.PID() == 0 {
		t.Fatal("no child is running")
	}
	if !rec.contains("start watchdog") || !rec.contains("would outlive this process") {
		t.Errorf("supervisor events: %q; want one saying the watchdog did not start", rec.lines)
	}
}

// startGroup starts the test binary in mode as the leader of a new process
// group and returns it; it is killed when the test ends.
func startGroup(t *testing.T, mode string) (*exec.Cmd, <-chan struct{}) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command(exe)
	cmd.Env = childEnviron(envMode+"="+mode, envDir+"="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	})
	waitFor(t, mode+" to listen", func() bool { return probe(dir)(t.Context()) == nil })
	return cmd, exited
}

func TestRunWatchdog(t *testing.T) {
	t.Parallel()
	t.Run("dismissed", func(t *testing.T) {
		t.Parallel()
		cmd, exited := startGroup(t, "serve")
		var log bytes.Buffer
		if err := runWatchdog(strings.NewReader("\n"), &log, cmd.Process.Pid, time.Second); err != nil {
			t.Fatal(err)
		}
		if log.Len() > 0 {
			t.Errorf("log: got %q, want nothing", log.String())
		}
		select {
		case <-exited:
			t.Error("the group's leader exited; want it left alone")
		case <-time.After(200 * time.Millisecond):
		}
	})
	t.Run("SIGTERM", func(t *testing.T) {
		t.Parallel()
		cmd, exited := startGroup(t, "serve")
		var log bytes.Buffer
		if err := runWatchdog(strings.NewReader(""), &log, cmd.Process.Pid, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		<-exited
		if code := cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("leader's exit code: got %d, want 0 (a clean exit on SIGTERM)", code)
		}
		wantLog(t, log.String(), "sending SIGTERM to process group "+strconv.Itoa(cmd.Process.Pid), "exited after")
		if strings.Contains(log.String(), "SIGKILL") {
			t.Errorf("log: %q; want no SIGKILL", log.String())
		}
	})
	t.Run("SIGKILL after grace", func(t *testing.T) {
		t.Parallel()
		cmd, exited := startGroup(t, "ignore-term")
		var log bytes.Buffer
		began := time.Now()
		if err := runWatchdog(strings.NewReader(""), &log, cmd.Process.Pid, 300*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(began); d < 300*time.Millisecond {
			t.Errorf("returned after %s, want at least the 300ms grace", d)
		}
		<-exited
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
			t.Errorf("leader ended with %v, want SIGKILL", cmd.ProcessState)
		}
		wantLog(t, log.String(), "sending SIGTERM", "still there 300ms after SIGTERM; sending SIGKILL")
	})
	t.Run("group gone", func(t *testing.T) {
		t.Parallel()
		// A pid above every pid_max: no such group.
		var log bytes.Buffer
		if err := runWatchdog(strings.NewReader(""), &log, 1<<30, time.Second); err != nil {
			t.Fatal(err)
		}
		wantLog(t, log.String(), "process group 1073741824 was already gone")
	})
	t.Run("read error", func(t *testing.T) {
		t.Parallel()
		var log bytes.Buffer
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		w.Close()
		r.Close() // reading a closed file fails without EOF
		if err := runWatchdog(r, &log, 1<<30, time.Second); err != nil {
			t.Fatal(err)
		}
		wantLog(t, log.String(), "(reading its pipe failed: ", "sending SIGTERM")
	})
	for _, pgid := range []int{-1, 0, 1} {
		t.Run("refuses pgid "+strconv.Itoa(pgid), func(t *testing.T) {
			t.Parallel()
			var log bytes.Buffer
			err := runWatchdog(strings.NewReader(""), &log, pgid, time.Second)
			if want := "supervisor: watchdog: refusing to signal process group " + strconv.Itoa(pgid); err == nil || err.Error() != want {
				t.Errorf("got %v, want %q", err, want)
			}
			if log.Len() > 0 {
				t.Errorf("log: got %q, want nothing", log.String())
			}
		})
	}
}

func wantLog(t *testing.T, log string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(log, s) {
			t.Errorf("log: %q; want it to contain %q", log, s)
		}
	}
}

// readPIDFile waits for a file holding a pid and returns the pid.
func readPIDFile(t *testing.T, path string) int {
	t.Helper()
	var pid int
	waitFor(t, path, func() bool {
		b, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		pid, err = strconv.Atoi(string(b))
		return err == nil
	})
	return pid
}
