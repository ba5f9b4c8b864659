//go:build windows

package runner

import (
	"errors"

	"golang.org/x/sys/windows"
)

// isAddrInUse reports whether a listen failed because the port is taken.
func isAddrInUse(err error) bool { return errors.Is(err, windows.WSAEADDRINUSE) }
