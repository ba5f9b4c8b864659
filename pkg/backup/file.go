package backup

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"filippo.io/age"

	"github.com/sselab/sselab/internal/fsutil"
)

// ErrExists: the backup file to write exists already.
var ErrExists = errors.New("backup: the file exists")

// wrapWriter lets tests make writing a backup fail (a full disk).
var wrapWriter = func(w io.Writer) io.Writer { return w }

// WriteFile writes a as a backup file at path with mode 0600, encrypted
// to recipients. It writes a temporary file next to path, syncs it and
// then gives it its name, so that a failure (a full disk, Ctrl-C) leaves
// neither a file under that name nor the temporary one. An existing file
// at path is an error wrapping ErrExists, unless force.
func WriteFile(path string, a *Archive, force bool, recipients ...age.Recipient) (err error) {
	if !force {
		if err := CheckNew(path); err != nil {
			return err
		}
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, ".tmp-"+base+"-*")
	if err != nil {
		return fmt.Errorf("backup: cannot write next to %s: %w", path, fsutil.PathCause(err))
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(fsutil.PrivatePerm); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	bw := bufio.NewWriterSize(wrapWriter(f), 1<<16)
	if err := Encode(bw, a, recipients...); err != nil {
		return writeError(path, err)
	}
	if err := bw.Flush(); err != nil {
		return writeError(path, err)
	}
	if err := f.Sync(); err != nil {
		return writeError(path, err)
	}
	if err := f.Close(); err != nil {
		return writeError(path, err)
	}
	if err := publish(tmp, path, force); err != nil {
		return err
	}
	return fsutil.SyncDir(dir)
}

// writeError says that writing the backup at path failed.
func writeError(path string, err error) error {
	return fmt.Errorf("backup: cannot write %s (%w); nothing was written", path, fsutil.PathCause(err))
}

// CheckNew refuses a path where a file exists, as WriteFile does without
// force, so that a command can refuse before it asks for a passphrase.
func CheckNew(path string) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%w: %s; pick another name, or pass --force to replace it", ErrExists, path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// publish gives the complete temporary file tmp its name path. Without
// force it never replaces a file that appeared meanwhile: a hard link
// fails if path exists; where the file system has no hard links, it
// checks and renames.
func publish(tmp, path string, force bool) error {
	if force {
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		return nil
	}
	err := os.Link(tmp, path)
	switch {
	case err == nil:
		os.Remove(tmp)
		return nil
	case errors.Is(err, fs.ErrExist):
		return CheckNew(path)
	}
	if err := CheckNew(path); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// ReadFile reads and checks the backup file at path, as Decode does.
func ReadFile(path string, identities ...age.Identity) (*Archive, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	a, err := decode(bufio.NewReaderSize(f, 1<<16), identities)
	if err != nil {
		return nil, fmt.Errorf("backup: %s: %w", path, err)
	}
	return a, nil
}
