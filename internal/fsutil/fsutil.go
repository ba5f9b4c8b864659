// Package fsutil writes the files sselab owns so that a crash never leaves
// one half-written: data goes to a temporary file in the same directory,
// is synced, and is renamed into place.
package fsutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// DirPerm is the mode of every directory sselab creates: owner only.
const DirPerm fs.FileMode = 0o700

// PrivatePerm is the mode of private keys, credentials and state files.
const PrivatePerm fs.FileMode = 0o600

// MkdirPrivate creates dir and any missing parents with mode 0700; on
// Windows, a dir it creates gets an access list for its owner only, which
// what is created inside inherits. Directories that already exist keep
// their mode and access list.
func MkdirPrivate(dir string) error {
	_, statErr := os.Stat(dir)
	if err := os.MkdirAll(dir, DirPerm); err != nil {
		return fmt.Errorf("fsutil: %w", err)
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		return ownerOnly(dir, true)
	}
	return nil
}

// restrict gives a private file (perm without group or other bits) an
// access list for its owner only on Windows, before any data is written.
func restrict(path string, perm fs.FileMode) error {
	if perm&0o077 != 0 {
		return nil
	}
	return ownerOnly(path, false)
}

// WriteFile atomically replaces path with data and the mode perm. Readers
// see either the old content or the new one, never a mix; after a crash
// only a stray temporary file (name starting with ".tmp-") may remain.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	return replace(path, data, perm, true)
}

// ReplaceFile replaces path with data like WriteFile, but does not wait
// for the disk: readers never see a partial file, but a crash of the
// machine may lose the new content, or leave the file empty. It is for
// files worth nothing after a crash, such as a running lab's state file.
func ReplaceFile(path string, data []byte, perm fs.FileMode) error {
	return replace(path, data, perm, false)
}

// replace writes data to a temporary file next to path and renames it to
// path; durable syncs the file and the directory.
func replace(path string, data []byte, perm fs.FileMode, durable bool) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, ".tmp-"+base+"-*")
	if err != nil {
		return fmt.Errorf("fsutil: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("fsutil: %w", err)
	}
	if err = restrict(tmp, perm); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("fsutil: write %s: %w", path, err)
	}
	if durable {
		if err = f.Sync(); err != nil {
			return fmt.Errorf("fsutil: sync %s: %w", path, err)
		}
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("fsutil: close %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("fsutil: %w", err)
	}
	if !durable {
		return nil
	}
	return syncDir(dir)
}

// WriteStaged writes a new file into a staging directory that is not yet
// visible under its final name: no temporary name, no sync. Publish the
// staging directory with SyncFiles on everything written, SyncDir on its
// directories, then RenameDir.
func WriteStaged(path string, data []byte, perm fs.FileMode) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("fsutil: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("fsutil: close %s: %w", path, cerr)
		}
	}()
	if err := f.Chmod(perm); err != nil { // perm regardless of the umask
		return fmt.Errorf("fsutil: %w", err)
	}
	if err := restrict(path, perm); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("fsutil: write %s: %w", path, err)
	}
	return nil
}

// SyncFiles makes the contents of files durable. The syncs run
// concurrently, so the file system can commit them together.
func SyncFiles(files ...string) error {
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	for i, name := range files {
		wg.Go(func() {
			f, err := os.OpenFile(name, os.O_RDWR, 0)
			if err != nil {
				errs[i] = fmt.Errorf("fsutil: %w", err)
				return
			}
			defer f.Close()
			if err := f.Sync(); err != nil {
				errs[i] = fmt.Errorf("fsutil: sync %s: %w", name, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// SyncDir makes the entries of dir durable (a no-op on Windows).
func SyncDir(dir string) error { return syncDir(dir) }

// RenameDir atomically moves the directory src to dst, which must not
// exist, and syncs dst's parent so the move survives a crash.
func RenameDir(src, dst string) error {
	if err := os.Rename(src, dst); err != nil {
		return fmt.Errorf("fsutil: %w", err)
	}
	return syncDir(filepath.Dir(dst))
}

// PathCause drops the path from a file system error, for messages that
// name the path themselves: "cannot write to DIR (no space left on
// device)".
func PathCause(err error) error {
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		return pathErr.Err
	}
	return err
}

// Private reports whether only the owner can access the file, as far as
// Unix modes tell; on Windows it is always true.
func Private(fi fs.FileInfo) bool {
	return !UnixModes || fi.Mode().Perm()&0o077 == 0
}
