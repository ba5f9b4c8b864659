package keystore

import "os"

// killSelf ends the process at once, as TerminateProcess would: no
// deferred function runs.
func killSelf() {
	p, _ := os.FindProcess(os.Getpid())
	p.Kill()
}
