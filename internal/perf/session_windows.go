//go:build windows

package perf

import (
	"os"
	"syscall"

	"golang.org/x/sys/windows"
)

// ownSession starts a process in a process group of its own, as
// `sselab up --detach` starts the lab. Windows does not share CPU time
// by console session, so this only keeps the harness's Ctrl-C away from
// the servers it measures; the harness stops them itself.
func ownSession() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: windows.CREATE_NEW_PROCESS_GROUP}
}

// flushDisk does nothing on Windows, which has no call to flush every
// volume at once; measures there may pay for the writes of the one
// before.
func flushDisk() {}

// sharedSession is false: Windows does not share CPU time by session, so
// a cluster's nodes are started one by one.
const sharedSession = false

// sessionCmd is one program a shell starts in the background.
type sessionCmd struct {
	env  []string
	argv []string
}

// shellArgs is not used on Windows.
func shellArgs([]sessionCmd) []string { return nil }

// signalGroup kills p: Windows has no process groups to signal.
func signalGroup(p *os.Process, _ syscall.Signal) error { return p.Kill() }
