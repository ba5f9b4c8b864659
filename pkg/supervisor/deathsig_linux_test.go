package supervisor

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestChildDiesWithParent runs the test binary as a parent that supervises
// a "serve" grandchild, kills the parent with SIGKILL (no chance to clean
// up), and checks that the grandchild dies too.
func TestChildDiesWithParent(t *testing.T) {
	t.Parallel()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = childEnviron(envMode+"=parent", envDir+"="+t.TempDir())
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe() // the parent waits for it to close
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()

	lines := make(chan string, 1)
	go func() {
		defer close(lines)
		if sc := bufio.NewScanner(stdout); sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var pid int
	select {
	case line, ok := <-lines:
		if !ok {
			t.Fatal("parent exited without starting the grandchild")
		}
		if _, err := fmt.Sscanf(line, "grandchild %d", &pid); err != nil {
			t.Fatalf("parent said %q: %v", line, err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("timed out waiting for the parent to start the grandchild")
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	if !processAlive(pid) {
		t.Fatalf("grandchild %d is not running", pid)
	}

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("parent's Wait = %v, want killed", err)
	}
	waitGone(t, pid)
}
