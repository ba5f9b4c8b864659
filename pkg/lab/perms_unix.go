//go:build !windows

package lab

// unixModes says file modes are meaningful here.
const unixModes = true
