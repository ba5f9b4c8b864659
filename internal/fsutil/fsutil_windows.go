//go:build windows

package fsutil

// syncDir is a no-op: Windows cannot open a directory for FlushFileBuffers
// through os.Open, and NTFS journals renames.
func syncDir(string) error { return nil }
