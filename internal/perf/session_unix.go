//go:build !windows

package perf

import "syscall"

// ownSession starts a process in a session of its own, as if a user had
// started it in a terminal of its own, and as `sselab up --detach` starts
// the lab. Where the kernel groups CPU time by session (Linux's
// autogroup, on by default on desktop distributions), a server in the
// harness's session would share one CPU share with the load generator,
// while the lab has a share of its own: the comparison would then
// measure the scheduler, not the servers.
func ownSession() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true}
}

// flushDisk writes every dirty page to the disks, so that a measure does
// not pay for the writes of the one before it.
func flushDisk() { syscall.Sync() }
