//go:build windows

package lab

// unixModes says file modes are meaningful here: not on Windows, where
// access is governed by ACLs (the per-user profile directory is private).
const unixModes = false
