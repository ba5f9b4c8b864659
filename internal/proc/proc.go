// Package proc tells whether a process runs, in the same sense on every
// platform sselab supports: it exists and has not exited. A process that
// has exited but not been reaped yet (a zombie on Unix, a process object
// kept by an open handle on Windows) does not run.
package proc

import "bytes"

// Alive reports whether a process with this pid exists and has not exited.
// A pid that no process can have (0, negative, out of the platform's
// range) is not alive. A process of another user, which this one may not
// signal or open, is alive. On Linux a zombie is not alive; on Unix
// without /proc (macOS) only signal 0 is asked, so an unreaped zombie
// counts as alive there.
func Alive(pid int) bool {
	if pid <= 0 || uint64(pid) > maxPID {
		return false
	}
	return alive(pid)
}

// exited reports whether a /proc/PID/stat line names the state of a
// process that has exited: Z (zombie) or X (dead). The state follows the
// command name, which is in parentheses and may itself hold ") ", so the
// last ')' ends it.
func exited(stat []byte) bool {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return false
	}
	state := bytes.TrimLeft(stat[i+1:], " ")
	return len(state) > 0 && (state[0] == 'Z' || state[0] == 'X')
}
