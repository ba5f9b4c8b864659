//go:build unix

package e2e

import "syscall"

// syscallTerm is SIGTERM, which 'kill' and service managers send.
var syscallTerm = syscall.SIGTERM
