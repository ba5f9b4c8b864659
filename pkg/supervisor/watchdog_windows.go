//go:build windows

package supervisor

import (
	"errors"
	"io"
)

// RunWatchdog is the body of a watchdog process on Unix (see Watchdog).
// Windows needs no watchdog, since a job object ties the child to the
// supervisor, and RunWatchdog fails there.
func RunWatchdog(stdin io.Reader, log io.Writer, pgid int) error {
	return errors.New("supervisor: there is no watchdog on Windows: a job object ties the child to the supervisor")
}
