//go:build windows

package miniobin

import "io/fs"

// exeSuffix is the file name suffix of executables on this OS.
const exeSuffix = ".exe"

// isExecutable reports whether the file may be run. Windows has no execute
// bit; whether the file really runs is found out by running it.
func isExecutable(fs.FileInfo) bool { return true }
