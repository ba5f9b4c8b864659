package lab

import (
	"fmt"
	"os"

	"github.com/sselab/sselab/internal/fsutil"
)

// DiskStatus reports the file system that holds the state directory:
// MinIO's drive, the keystore and the logs.
type DiskStatus struct {
	Path      string `json:"path"`
	FreeBytes uint64 `json:"free_bytes"`
	Writable  bool   `json:"writable"`
	Error     string `json:"error,omitempty"`
}

// checkDisk measures the free space under dir and proves that dir can be
// written, with a small synced file that it removes again. Only a failed
// write makes the disk not OK: how much room MinIO keeps in reserve
// depends on the drive's size.
func checkDisk(dir string) DiskStatus {
	d := DiskStatus{Path: dir}
	d.FreeBytes, _ = freeSpace(dir) // shown only; the write below decides
	if err := probeWrite(dir); err != nil {
		d.Error = fmt.Sprintf("cannot write to %s (%v); free space or make it writable: MinIO cannot store objects nor KES keys until then", dir, err)
		return d
	}
	d.Writable = true
	return d
}

// OK reports whether the disk can take the lab's writes.
func (d DiskStatus) OK() bool { return d.Writable && d.Error == "" }

// probeWrite writes and syncs 4 KiB in a new file in dir, then removes it.
func probeWrite(dir string) error {
	f, err := os.CreateTemp(dir, ".sselab-probe-*")
	if err != nil {
		return fsutil.PathCause(err)
	}
	defer os.Remove(f.Name())
	if _, err = f.Write(make([]byte, 4096)); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return fsutil.PathCause(err)
}

// FreeSpace returns the free bytes of the file system that holds the lab's
// directory and MinIO's drives.
func (h *Handle) FreeSpace() (uint64, error) { return freeSpace(h.Layout.Root) }
