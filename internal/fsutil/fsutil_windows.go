//go:build windows

package fsutil

// syncDir is a no-op: Windows cannot open a directory for FlushFileBuffers
// through os.Open, and NTFS journals renames.
func syncDir(string) error { return nil }

// UnixModes says whether file modes decide who may read a file here: true
// on Unix; on Windows access lists do (see MkdirPrivate).
const UnixModes = false
