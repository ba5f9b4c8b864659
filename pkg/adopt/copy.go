package adopt

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/sselab/sselab/internal/fsutil"
)

// copyWorkers is how many files CopyTo copies at once.
const copyWorkers = 4

// CopyTo copies the drive to dst, which must not exist, so that a failed
// copy leaves nothing behind: into a new directory next to dst, every
// file and directory synced, then renamed to dst. Directories get mode
// 0700 and files 0600, the lab's own modes. The drive is only read.
func (d *Drive) CopyTo(dst string) (err error) {
	parent := filepath.Dir(dst)
	if err := fsutil.MkdirPrivate(parent); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dst)+"-adopting-")
	if err != nil {
		return fmt.Errorf("adopt: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	dirs, err := copyTree(d.Path, tmp)
	if err != nil {
		return fmt.Errorf("adopt: copying %s into %s: %w", d.Path, parent, err)
	}
	for _, dir := range dirs {
		if err := fsutil.SyncDir(filepath.Join(tmp, dir)); err != nil {
			return err
		}
	}
	return fsutil.RenameDir(tmp, dst)
}

// copyTree copies the files and directories under src into the existing
// directory dst, files by several workers, and returns the directories
// it made (relative, "." first).
func copyTree(src, dst string) ([]string, error) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	failed := func(err error) bool {
		mu.Lock()
		defer mu.Unlock()
		if first == nil {
			first = err
		}
		return first != nil
	}
	jobs := make(chan string)
	for range copyWorkers {
		wg.Go(func() {
			for rel := range jobs {
				if err := copyFile(filepath.Join(src, rel), filepath.Join(dst, rel)); err != nil {
					failed(err)
				}
			}
		})
	}
	dirs := []string{"."}
	err := filepath.WalkDir(src, func(path string, e fs.DirEntry, err error) error {
		if failed(err) {
			return errStop
		}
		rel, err := filepath.Rel(src, path)
		switch {
		case err != nil:
			return err
		case rel == ".":
		case e.IsDir():
			dirs = append(dirs, rel)
			return os.Mkdir(filepath.Join(dst, rel), fsutil.DirPerm)
		case e.Type().IsRegular():
			jobs <- rel
		default:
			return fmt.Errorf("%s is a %s, not a file or directory", path, kindOf(e.Type()))
		}
		return nil
	})
	close(jobs)
	wg.Wait()
	if err != nil && !errors.Is(err, errStop) {
		failed(err)
	}
	return dirs, first
}

// errStop ends a walk after a worker failed.
var errStop = errors.New("stop")

// copyFile copies the regular file src to the new file dst (mode 0600)
// and syncs it.
func copyFile(src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fsutil.PrivatePerm)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	if _, err := io.Copy(out, in); err != nil {
		return err
	}
	return out.Sync()
}
