//go:build !windows

package fsutil

import (
	"fmt"
	"os"
)

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("fsutil: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsutil: sync %s: %w", dir, err)
	}
	return nil
}

// UnixModes says whether file modes decide who may read a file here: true
// on Unix; on Windows access lists do.
const UnixModes = true
