//go:build !windows

package miniobin

import (
	"errors"
	"io/fs"
	"syscall"
)

// exeSuffix is the file name suffix of executables on this OS.
const exeSuffix = ""

// isExecutable reports whether the file may be run: some execute bit set.
func isExecutable(fi fs.FileInfo) bool { return fi.Mode().Perm()&0o111 != 0 }

// processAlive reports whether a process with this pid exists. A process
// owned by another user (EPERM) counts as alive.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
