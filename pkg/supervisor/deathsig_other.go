//go:build !windows && !linux

package supervisor

import "syscall"

// hasParentDeathSignal reports whether the kernel can kill a child when its
// parent dies. Only Linux can; elsewhere a watchdog process does it (see
// Watchdog).
const hasParentDeathSignal = false

// setParentDeathSignal does nothing: only Linux has a parent-death signal.
func setParentDeathSignal(attr *syscall.SysProcAttr) {}
