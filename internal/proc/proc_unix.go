//go:build !windows

package proc

import (
	"errors"
	"math"
	"os"
	"strconv"
	"syscall"
)

// maxPID is the largest pid: pid_t is a 32-bit signed integer, and a
// larger int would be cut down to another pid (or to 0, the caller's
// process group) by kill.
const maxPID = math.MaxInt32

// alive asks with signal 0 whether pid exists (EPERM: it does, as another
// user's), then, on Linux, whether /proc says it has exited.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true // no /proc (macOS), or one that hides the process: signal 0 is all there is
	}
	return !exited(stat)
}
