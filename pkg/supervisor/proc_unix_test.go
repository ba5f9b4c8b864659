//go:build !windows

package supervisor

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"
)

// processAlive reports whether a process with this pid exists and is not a
// zombie (a killed orphan may wait a while for its new parent to reap it).
func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return errors.Is(err, syscall.EPERM)
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // no /proc (macOS): signal 0 is all we have
	}
	// The state follows the command name, which is in parentheses.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
		return false
	}
	return true
}

func TestOwnProcessGroup(t *testing.T) {
	t.Parallel()
	cfg, _, _ := testConfig(t, "serve")
	p := start(t, cfg)
	pid := p.PID()
	pgid, err := syscall.Getpgid(pid)
	if err != nil {
		t.Fatal(err)
	}
	if pgid != pid {
		t.Errorf("child's process group = %d, want its own (%d)", pgid, pid)
	}
	if pgid == syscall.Getpgrp() {
		t.Error("child is in the parent's process group")
	}
}
