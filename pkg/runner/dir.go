package runner

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sselab/sselab/pkg/labdir"
)

// snapshotDir records which top-level entries of dir exist, and returns a
// function that removes every entry created since; if created says this
// process made dir and dir held nothing but the lock file, the function
// removes dir itself. It runs only when the lab never became ready, so no
// object was written; still, it never removes a keystore while MinIO data
// that the keys may protect stays behind. The lock file is left to the
// lock's Release.
func snapshotDir(dir string, created bool) (undo func(), err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("runner: cannot use --dir %s: %w", dir, err)
	}
	had := map[string]bool{filepath.Base(labdir.Layout{Root: dir}.LockFile()): true}
	for _, e := range entries {
		had[e.Name()] = true
	}
	if created && len(had) == 1 {
		return func() { os.RemoveAll(dir) }, nil
	}
	return func() {
		if !had["kes"] && had["minio"] {
			had["kes"] = true // keep new keys: existing data may use them
		}
		now, _ := os.ReadDir(dir)
		for _, e := range now {
			if !had[e.Name()] {
				os.RemoveAll(filepath.Join(dir, e.Name()))
			}
		}
	}, nil
}

// logError is a failure whose details are in a log file, which it names on
// a line of its own.
type logError struct {
	err error
	log string
}

func (e *logError) Error() string { return fmt.Sprintf("%v\nfull log: %s", e.err, e.log) }
func (e *logError) Unwrap() error { return e.err }

// undoKeepingLog runs undo, but first saves the log that err names, if
// any: undo may remove it with the new directory, and the user needs it
// to see why MinIO failed. The copy goes to the temporary directory, and
// err is changed to name it.
func undoKeepingLog(undo func(), err error) {
	var le *logError
	if !errors.As(err, &le) {
		undo()
		return
	}
	saved, serr := copyToTemp(le.log)
	undo()
	switch _, statErr := os.Stat(le.log); {
	case serr != nil:
	case statErr == nil:
		os.Remove(saved) // the log is still where the error says
	default:
		le.log = saved
	}
}

// copyToTemp copies the file at path to a new private file in the
// temporary directory and returns its name.
func copyToTemp(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp("", "sselab-"+filepath.Base(path)+"-*")
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}
