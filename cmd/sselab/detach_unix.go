//go:build !windows

package main

import "syscall"

// detachedAttr starts the background lab in a session of its own, so it
// survives the terminal that started it and Ctrl-C there.
func detachedAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true}
}
