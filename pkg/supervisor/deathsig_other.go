//go:build !windows && !linux

package supervisor

import "syscall"

// setParentDeathSignal does nothing: only Linux has a parent-death signal.
// Elsewhere a child outlives a parent that is killed with SIGKILL.
func setParentDeathSignal(attr *syscall.SysProcAttr) {}
