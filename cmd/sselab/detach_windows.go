//go:build windows

package main

import (
	"syscall"

	"golang.org/x/sys/windows"
)

// detachedAttr starts the background lab without a console and in a
// process group of its own, so it survives the console that started it.
func detachedAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		CreationFlags: windows.CREATE_NEW_PROCESS_GROUP | windows.DETACHED_PROCESS,
		HideWindow:    true,
	}
}
