//go:build windows

package proc

import (
	"errors"
	"math"

	"golang.org/x/sys/windows"
)

// maxPID is the largest pid: process ids are DWORDs.
const maxPID = math.MaxUint32

// stillActive is the exit code GetExitCodeProcess reports for a process
// that runs (STILL_ACTIVE). A process that exits with 259 is misread as
// running.
const stillActive = 259

// alive opens the process and asks for its exit code. A process that may
// not be opened (ERROR_ACCESS_DENIED: another user's, or a protected one)
// exists, so it counts as alive.
func alive(pid int) bool {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		return errors.Is(err, windows.ERROR_ACCESS_DENIED)
	}
	defer windows.CloseHandle(h)
	var code uint32
	if err := windows.GetExitCodeProcess(h, &code); err != nil {
		return true // it exists; its state is unknown
	}
	return code == stillActive
}
