package adopt

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"

	"github.com/sselab/sselab/internal/fsutil"
)

// Drive is a MinIO drive that Check found fit for adoption.
type Drive struct {
	// Path is the drive: absolute, symbolic links resolved.
	Path string

	// Key is the static key MinIO ran with.
	Key StaticKey

	// Checked are the configuration and IAM objects (paths inside
	// .minio.sys) whose data keys Key unseals.
	Checked []string

	// Buckets are the buckets on the drive.
	Buckets []string

	// Files and Bytes are what CopyTo copies.
	Files int
	Bytes int64

	// Note says what Check could not check, for the user, or "".
	Note string

	sample Sealed
}

// Sample is a data key of MinIO's configuration that Key unseals: once
// KES holds the key, KES must unseal it too.
func (d *Drive) Sample() Sealed { return d.sample }

// Check checks, without writing anything, that path is the drive of a
// single-drive MinIO that no running MinIO serves, and that key decrypts
// MinIO's own configuration and IAM on it: it unseals the data key of
// every encrypted object under .minio.sys/config with key, as MinIO
// would at start. It also finds what a copy of the drive takes, and
// refuses a drive a copy could not reproduce (symbolic links, devices).
func Check(path string, key StaticKey) (*Drive, error) {
	abs, err := filepath.Abs(path)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		return nil, fmt.Errorf("adopt: --adopt-drive %s: %w", path, fsutil.PathCause(err))
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("adopt: --adopt-drive %s is not a directory; give the directory MinIO served ('minio server DIR')", path)
	}
	if err := checkFormat(abs); err != nil {
		return nil, err
	}
	d := &Drive{Path: abs, Key: key}
	switch pid, cmdline, err := driveUser(abs); {
	case errors.Is(err, errCannotTell):
		d.Note = fmt.Sprintf("sselab cannot tell on %s whether a MinIO serves %s: make sure none does while the drive is copied", runtime.GOOS, abs)
	case err != nil:
		return nil, fmt.Errorf("adopt: cannot tell whether a MinIO serves %s: %w", abs, err)
	case pid != 0:
		return nil, fmt.Errorf("adopt: %s is in use by process %d (%s): stop that MinIO first; sselab adopts only a drive no MinIO serves", abs, pid, cmdline)
	}
	if err := d.checkConfig(); err != nil {
		return nil, err
	}
	if err := d.survey(); err != nil {
		return nil, err
	}
	return d, nil
}

// checkFormat refuses a directory that is not the drive of a
// single-drive MinIO, as .minio.sys/format.json tells.
func checkFormat(drive string) error {
	b, err := os.ReadFile(filepath.Join(drive, minioMetaBucket, "format.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("adopt: %s is not a MinIO drive: it has no %s; give --adopt-drive the directory MinIO served ('minio server DIR')", drive, filepath.Join(minioMetaBucket, "format.json"))
	}
	if err != nil {
		return fmt.Errorf("adopt: %w", err)
	}
	var f struct {
		Format string `json:"format"`
		XL     struct {
			Sets [][]string `json:"sets"`
		} `json:"xl"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("adopt: %s is not a MinIO drive: its format.json does not parse (%v)", drive, err)
	}
	switch f.Format {
	case "xl-single":
		return nil
	case "xl":
		n := 0
		for _, s := range f.XL.Sets {
			n += len(s)
		}
		return fmt.Errorf("adopt: %s is one of %d drives of an erasure-coded MinIO; sselab adopts the drive of a single-drive MinIO ('minio server DIR' with one DIR)", drive, n)
	case "fs":
		return fmt.Errorf("adopt: %s is a drive of MinIO's old FS mode, which today's MinIO cannot serve; copy its objects into a lab with 'mc mirror' instead", drive)
	}
	return fmt.Errorf("adopt: %s is not a drive sselab can adopt: format %q, not xl-single", drive, f.Format)
}

// checkConfig unseals the data key of every encrypted object under
// .minio.sys/config with d.Key.
func (d *Drive) checkConfig() error {
	meta := filepath.Join(d.Path, minioMetaBucket)
	root := filepath.Join(meta, "config")
	if _, err := os.Stat(root); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("adopt: %s has no MinIO configuration (%s): the MinIO that made it never finished starting", d.Path, filepath.Join(minioMetaBucket, "config"))
	}
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("adopt: cannot read the drive: %w", err)
		}
		if e.Name() != "xl.meta" || !e.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(meta, filepath.Dir(path))
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		s, err := openConfigObject(d.Path, rel, d.Key)
		var other *keyIDError
		switch {
		case errors.Is(err, errPlain):
			return nil
		case errors.As(err, &other):
			return fmt.Errorf("adopt: MinIO's configuration on %s (%s) is sealed with the key %q, but --static-key-file holds the key %q: give the MINIO_KMS_SECRET_KEY that MinIO ran with", d.Path, rel, other.got, d.Key.Name)
		case errors.Is(err, errWrongKey):
			return fmt.Errorf("adopt: the key %q from --static-key-file does not decrypt MinIO's configuration on %s (%s): it is not the MINIO_KMS_SECRET_KEY that MinIO ran with", d.Key.Name, d.Path, rel)
		case errors.Is(err, errNotKMS):
			return fmt.Errorf("adopt: MinIO's configuration on %s (%s) is encrypted, but not with a KMS key: MinIO before RELEASE.2021-04-22 encrypted it with its root credentials, which sselab cannot adopt", d.Path, rel)
		case err != nil:
			return fmt.Errorf("adopt: cannot read MinIO's configuration object %s on %s: %w", rel, d.Path, err)
		}
		if d.sample.Ciphertext == nil || rel == "config/config.json" {
			d.sample = s
		}
		d.Checked = append(d.Checked, rel)
		return nil
	})
	if err != nil {
		return err
	}
	if len(d.Checked) == 0 {
		return fmt.Errorf("adopt: nothing of MinIO's configuration on %s is encrypted: the MinIO that wrote it did not run with MINIO_KMS_SECRET_KEY, and --adopt-drive takes only the drive of a MinIO with a static key", d.Path)
	}
	return nil
}

// survey counts what a copy takes and lists the buckets; it refuses
// entries that are neither regular files nor directories.
func (d *Drive) survey() error {
	return filepath.WalkDir(d.Path, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("adopt: cannot read the drive: %w", err)
		}
		switch {
		case e.IsDir():
			if filepath.Dir(path) == d.Path && e.Name() != minioMetaBucket {
				d.Buckets = append(d.Buckets, e.Name())
			}
		case e.Type().IsRegular():
			fi, err := e.Info()
			if err != nil {
				return fmt.Errorf("adopt: cannot read the drive: %w", err)
			}
			d.Files++
			d.Bytes += fi.Size()
		default:
			return fmt.Errorf("adopt: %s is a %s, not a file or directory: MinIO does not make such entries, and sselab copies only files and directories", path, kindOf(e.Type()))
		}
		return nil
	})
}

// kindOf names a file type for people.
func kindOf(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m&(fs.ModeDevice|fs.ModeCharDevice) != 0:
		return "device"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	}
	return "special file"
}

// HasBucket reports whether the drive holds bucket.
func (d *Drive) HasBucket(bucket string) bool { return slices.Contains(d.Buckets, bucket) }
