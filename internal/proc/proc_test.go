package proc

import (
	"math"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// startSelf starts the test binary as a child that runs no tests and
// exits at once. It is reaped when the test ends, if not before.
func startSelf(t *testing.T) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	// GORACE: under -race the child would sleep a second at exit.
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Wait() })
	return cmd
}

func TestAlive(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		pid  int
		want bool
	}{
		{"own process", os.Getpid(), true},
		{"zero", 0, false},
		{"minus one", -1, false},
		{"negative", -12345, false},
		{"beyond any pid", math.MaxInt, false},
	}
	for _, tt := range tests {
		if got := Alive(tt.pid); got != tt.want {
			t.Errorf("%s: Alive(%d): got %v, want %v", tt.name, tt.pid, got, tt.want)
		}
	}
}

func TestAliveWaitedChild(t *testing.T) {
	t.Parallel()
	cmd := startSelf(t)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	if pid := cmd.Process.Pid; Alive(pid) {
		t.Errorf("Alive(%d) for a child that exited and was waited for: got true, want false", pid)
	}
}

// TestAliveExitedNotWaited checks a child that has exited but was not
// waited for: a zombie on Linux, a process object that its open handle
// keeps on Windows. Neither runs. Without /proc (macOS) signal 0 cannot
// tell a zombie, so the test does not run there.
func TestAliveExitedNotWaited(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" && runtime.GOOS != "windows" {
		t.Skipf("on %s a zombie answers signal 0 and no /proc tells it apart", runtime.GOOS)
	}
	pid := startSelf(t).Process.Pid // it exits at once; nobody reaps it until cleanup
	deadline := time.Now().Add(10 * time.Second)
	for Alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("Alive(%d): still true 10s after the child started, want false once it exits", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if runtime.GOOS == "linux" {
		// Not reaped: its /proc entry is there, in state Z.
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			t.Fatalf("the zombie's /proc entry: %v", err)
		}
		if !exited(stat) {
			t.Errorf("the child's /proc stat %q: got a running state, want Z", stat)
		}
	}
}

func TestExited(t *testing.T) {
	t.Parallel()
	tests := []struct {
		stat string
		want bool
	}{
		{"42 (sleep) S 1 42 42 0 -1", false},
		{"42 (sleep) R 1 42 42 0 -1", false},
		{"42 (sleep) D 1", false},
		{"42 (sleep) Z 1 42 42 0 -1", true},
		{"42 (sleep) X 1", true},
		{"42 (a) Z (b) S 1 42", false}, // the name is "a) Z (b": the last ')' ends it
		{"42 (a) S (b) Z 1 42", true},
		{"42 (Z) S 1", false},
		{"42 (sleep)", false},
		{"42 (sleep) ", false},
		{"42 sleep Z", false}, // no ')': not a stat line
		{"", false},
	}
	for _, tt := range tests {
		if got := exited([]byte(tt.stat)); got != tt.want {
			t.Errorf("exited(%q): got %v, want %v", tt.stat, got, tt.want)
		}
	}
}
