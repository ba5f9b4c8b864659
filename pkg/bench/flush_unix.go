//go:build !windows

package bench

import "syscall"

// flushWrites asks the kernel to write every dirty page to disk and waits
// for it (sync(2)).
func flushWrites() { syscall.Sync() }
