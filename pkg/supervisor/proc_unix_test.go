//go:build !windows

package supervisor

import (
	"syscall"
	"testing"
)

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
