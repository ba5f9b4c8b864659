//go:build windows

package miniobin

import (
	"errors"
	"io/fs"
	"syscall"
)

// exeSuffix is the file name suffix of executables on this OS.
const exeSuffix = ".exe"

// isExecutable reports whether the file may be run. Windows has no execute
// bit; whether the file really runs is found out by running it.
func isExecutable(fs.FileInfo) bool { return true }

const (
	processQueryLimitedInformation = 0x1000 // PROCESS_QUERY_LIMITED_INFORMATION
	stillActive                    = 259    // STILL_ACTIVE
)

// processAlive reports whether a process with this pid exists. A process
// that may not be opened (access denied) counts as alive.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	h, err := syscall.OpenProcess(processQueryLimitedInformation, false, uint32(pid))
	if err != nil {
		return errors.Is(err, syscall.ERROR_ACCESS_DENIED)
	}
	defer syscall.CloseHandle(h)
	var code uint32
	if err := syscall.GetExitCodeProcess(h, &code); err != nil {
		return true
	}
	return code == stillActive
}
