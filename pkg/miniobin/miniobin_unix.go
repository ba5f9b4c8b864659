//go:build !windows

package miniobin

import "io/fs"

// exeSuffix is the file name suffix of executables on this OS.
const exeSuffix = ""

// isExecutable reports whether the file may be run: some execute bit set.
func isExecutable(fi fs.FileInfo) bool { return fi.Mode().Perm()&0o111 != 0 }
