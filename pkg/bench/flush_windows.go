//go:build windows

package bench

// flushWrites does nothing: Windows has no call that flushes every file
// without administrator rights, so there a phase may still share the
// disk with the write-back of the phase before it.
func flushWrites() {}
