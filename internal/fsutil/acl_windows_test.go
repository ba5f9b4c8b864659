//go:build windows

package fsutil

import (
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/windows"
)

// TestOwnerOnlyACL checks that a directory MkdirPrivate creates and a
// private file written into it carry a protected access list with one
// entry, for the current user.
func TestOwnerOnlyACL(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "private")
	if err := MkdirPrivate(dir); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "secret")
	if err := WriteFile(file, []byte("s3cret"), PrivatePerm); err != nil {
		t.Fatal(err)
	}
	user, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, file} {
		sd, err := windows.GetNamedSecurityInfo(p, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
		if err != nil {
			t.Fatal(err)
		}
		control, _, err := sd.Control()
		if err != nil {
			t.Fatal(err)
		}
		if control&windows.SE_DACL_PROTECTED == 0 {
			t.Errorf("%s: the access list inherits from the parent", p)
		}
		dacl, _, err := sd.DACL()
		if err != nil {
			t.Fatal(err)
		}
		if dacl.AceCount != 1 {
			t.Fatalf("%s: %d access entries, want 1 (the owner)", p, dacl.AceCount)
		}
		var ace *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, 0, &ace); err != nil {
			t.Fatal(err)
		}
		sid := (*windows.SID)(unsafe.Pointer(&ace.SidStart)) // the SID is stored inline from SidStart
		if !sid.Equals(user.User.Sid) {
			t.Errorf("%s: the entry is for %s, want the current user %s", p, sid, user.User.Sid)
		}
	}
}
