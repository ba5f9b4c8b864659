package supervisor

import "syscall"

// hasParentDeathSignal reports whether the kernel can kill a child when its
// parent dies (Linux's Pdeathsig). Where it can, no watchdog is needed.
const hasParentDeathSignal = true

// setParentDeathSignal makes the kernel kill the child when its parent
// dies, even by SIGKILL. The signal fires when the thread that forked the
// child exits; spawn keeps that thread alive for as long as the child.
func setParentDeathSignal(attr *syscall.SysProcAttr) {
	attr.Pdeathsig = syscall.SIGKILL
}
