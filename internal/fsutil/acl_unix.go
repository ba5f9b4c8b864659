//go:build !windows

package fsutil

// ownerOnly does nothing here: modes 0700 and 0600 already keep other
// users out.
func ownerOnly(string, bool) error { return nil }
