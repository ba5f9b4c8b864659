//go:build !windows

package perf

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

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

// sharedSession reports whether nodes can be started in one session of
// their own, as processes started by hand from one terminal are: where
// the kernel shares CPU time by session (autogroup), a cluster whose
// nodes each had a session would get a share per node, while the lab's
// nodes share the lab's one.
const sharedSession = true

// sessionCmd is one program a shell starts in the background.
type sessionCmd struct {
	env  []string // extra NAME=value pairs, no secrets
	argv []string
}

// shellArgs returns the /bin/sh arguments that start every cmd in the
// background and wait for them all; on SIGTERM (sent to the whole group)
// the shell waits until they have stopped.
func shellArgs(cmds []sessionCmd) []string {
	var b strings.Builder
	b.WriteString("trap 'wait; exit 0' TERM\n")
	for _, c := range cmds {
		for _, kv := range c.env {
			name, value, _ := strings.Cut(kv, "=")
			fmt.Fprintf(&b, "%s=%s ", name, shQuote(value))
		}
		for i, a := range c.argv {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(shQuote(a))
		}
		b.WriteString(" &\n")
	}
	b.WriteString("wait\n")
	return []string{"-c", b.String()}
}

// shQuote quotes s for the shell.
func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// signalGroup sends sig to the process group p leads (a process started
// in a session of its own leads its group, and its children are in it).
func signalGroup(p *os.Process, sig syscall.Signal) error { return syscall.Kill(-p.Pid, sig) }
