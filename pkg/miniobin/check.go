package miniobin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sselab/sselab/internal/fsutil"
)

// checkTimeout bounds one `minio --version` run.
const checkTimeout = 10 * time.Second

// checkedFile is the name, inside the cache directory, of the file that
// remembers which binaries were already recognised as MinIO.
const checkedFile = "checked.json"

// maxChecked bounds the number of remembered binaries.
const maxChecked = 64

// ErrNotMinIO is wrapped by Check's error when a program runs but does not
// identify itself as a MinIO server.
var ErrNotMinIO = errors.New("not a MinIO server binary")

// Check runs `path --version` (at most 10 s) and returns the version MinIO
// reports, such as "RELEASE.2025-09-07T16-13-09Z" or "DEVELOPMENT.GOGET".
// It fails for a missing file, a directory, a file that is not executable
// and a program whose output is not MinIO's.
//
// The answer is remembered in CacheDir()/checked.json, keyed by the
// binary's absolute path, size and modification time, so checking an
// unchanged binary again costs one stat.
func Check(ctx context.Context, path string) (version string, err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("miniobin: %s: %w", path, err)
	}
	cacheDir, err := CacheDir()
	if err != nil {
		cacheDir = "" // checking still works, it just is not remembered
	}
	return check(ctx, cacheDir, path, path, abs)
}

// check is Check with an explicit cache directory ("" = remember nothing);
// desc names the binary in errors ("--minio /x/minio"), shown is the path
// as the user gave it, abs its absolute form.
func check(ctx context.Context, cacheDir, desc, shown, abs string) (string, error) {
	fi, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", &msgErr{fmt.Sprintf("miniobin: %s: no such file", desc), err}
	case err != nil:
		return "", fmt.Errorf("miniobin: %s: %w", desc, err)
	case fi.IsDir():
		return "", fmt.Errorf("miniobin: %s is a directory, not the MinIO server binary", desc)
	case !fi.Mode().IsRegular():
		return "", fmt.Errorf("miniobin: %s is not a regular file (mode %v)", desc, fi.Mode())
	case !isExecutable(fi):
		return "", fmt.Errorf("miniobin: %s is not executable (mode %v); make it executable (chmod +x) or pick another file", desc, fi.Mode().Perm())
	}
	key := checkKey{Size: fi.Size(), ModTime: fi.ModTime().UnixNano()}
	if cacheDir != "" {
		if v, ok := lookupChecked(cacheDir, abs, key); ok {
			return v, nil
		}
	}
	v, err := runVersion(ctx, desc, shown, abs)
	if err != nil {
		return "", err
	}
	if err := checkMainPackage(desc, abs); err != nil {
		return "", err
	}
	if cacheDir != "" {
		// Best effort: a cache that cannot be written only costs time.
		_ = rememberChecked(cacheDir, abs, key, v)
	}
	return v, nil
}

// serverPackage is the main package of the MinIO server.
const serverPackage = "github.com/minio/minio"

// checkMainPackage refuses MinIO's other Go programs, such as mc, whose
// --version output looks like the server's. A binary without readable Go
// build information is left to the --version check.
func checkMainPackage(desc, abs string) error {
	bi, err := buildinfo.ReadFile(abs)
	if err != nil || !strings.HasPrefix(bi.Path, "github.com/minio/") || bi.Path == serverPackage {
		return nil
	}
	return &msgErr{fmt.Sprintf("miniobin: %s is %s, not the MinIO server binary (%s)", desc, bi.Path, serverPackage), ErrNotMinIO}
}

// versionLine matches the first line of `minio --version`, printed by
// MinIO's cmd/main.go as "%s version %s (commit-id=%s)" where the first %s
// is the program's base name (usually "minio"). Older releases printed no
// commit id.
var versionLine = regexp.MustCompile(`^(\S+) version (\S+)(?: \(commit-id=(\S*)\))?\s*$`)

// ansi matches terminal colour sequences, which MinIO adds on a terminal.
var ansi = regexp.MustCompile("\x1b\\[[0-9;]*[A-Za-z]")

// parseVersion recognises MinIO's --version output and returns the
// version it reports.
func parseVersion(out []byte) (string, bool) {
	for _, line := range strings.Split(ansi.ReplaceAllString(string(out), ""), "\n") {
		m := versionLine.FindStringSubmatch(strings.TrimRight(line, "\r"))
		if m == nil {
			continue
		}
		v := m[2]
		commit := strings.Contains(line, "(commit-id=")
		if commit || strings.HasPrefix(v, "RELEASE.") || strings.HasPrefix(v, "DEVELOPMENT.") {
			return v, true
		}
	}
	return "", false
}

// runVersion runs `abs --version` and parses what it prints.
func runVersion(parent context.Context, desc, shown, abs string) (string, error) {
	ctx, cancel := context.WithTimeout(parent, checkTimeout)
	defer cancel()
	var (
		out    *capBuffer
		runErr error
	)
	// A binary written a moment ago can be "busy": a process forked
	// meanwhile by this program may still hold the write descriptor until
	// it execs. That clears within milliseconds, so try again.
	for try := 0; ; try++ {
		cmd := exec.CommandContext(ctx, abs, "--version")
		cmd.Env = append(os.Environ(), "NO_COLOR=1", "TERM=dumb")
		out = &capBuffer{max: 64 << 10}
		cmd.Stdout = out
		cmd.Stderr = out
		cmd.WaitDelay = time.Second
		runErr = cmd.Run()
		if !errors.Is(runErr, syscall.ETXTBSY) || try == 20 || ctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v, ok := parseVersion(out.Bytes()); ok {
		return v, nil
	}
	if err := parent.Err(); err != nil {
		return "", fmt.Errorf("miniobin: checking %s: %w", desc, err)
	}
	if ctx.Err() != nil {
		return "", fmt.Errorf("miniobin: %s: `%s --version` did not finish within %v: %w", desc, shown, checkTimeout, ErrNotMinIO)
	}
	printed := "printed nothing"
	if s := strings.TrimSpace(ansi.ReplaceAllString(string(out.Bytes()), "")); s != "" {
		if len(s) > 200 {
			s = s[:200] + "..."
		}
		printed = fmt.Sprintf("printed: %q", s)
	}
	if runErr != nil {
		var ee *exec.ExitError
		if !errors.As(runErr, &ee) {
			// It did not even start: wrong architecture, bad format, ...
			return "", fmt.Errorf("miniobin: %s cannot be run: %w", desc, runErr)
		}
		printed = runErr.Error() + ", " + printed
	}
	return "", fmt.Errorf("miniobin: %s is %w (`%s --version` %s)", desc, ErrNotMinIO, shown, printed)
}

// capBuffer keeps at most max bytes of what is written to it.
type capBuffer struct {
	buf bytes.Buffer
	max int
}

func (b *capBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room > 0 {
		if len(p) > room {
			b.buf.Write(p[:room])
		} else {
			b.buf.Write(p)
		}
	}
	return len(p), nil
}

func (b *capBuffer) Bytes() []byte { return b.buf.Bytes() }

// checkKey identifies one state of a binary file.
type checkKey struct {
	Size    int64 `json:"size"`
	ModTime int64 `json:"mtime_ns"`
}

// checkEntry is one remembered result in checked.json.
type checkEntry struct {
	checkKey
	Version string    `json:"version"`
	Checked time.Time `json:"checked"`
}

// checkedDoc is the content of checked.json.
type checkedDoc struct {
	Binaries map[string]checkEntry `json:"binaries"`
}

// checkedMu serialises this process's read-modify-write of checked.json;
// between processes a lost update only costs a re-check.
var checkedMu sync.Mutex

func readChecked(cacheDir string) checkedDoc {
	var d checkedDoc
	raw, err := os.ReadFile(filepath.Join(cacheDir, checkedFile))
	if err == nil {
		_ = json.Unmarshal(raw, &d) // a damaged file is simply rebuilt
	}
	if d.Binaries == nil {
		d.Binaries = map[string]checkEntry{}
	}
	return d
}

func lookupChecked(cacheDir, abs string, key checkKey) (string, bool) {
	checkedMu.Lock()
	defer checkedMu.Unlock()
	e, ok := readChecked(cacheDir).Binaries[abs]
	if !ok || e.checkKey != key || e.Version == "" {
		return "", false
	}
	return e.Version, true
}

func rememberChecked(cacheDir, abs string, key checkKey, version string) error {
	checkedMu.Lock()
	defer checkedMu.Unlock()
	d := readChecked(cacheDir)
	d.Binaries[abs] = checkEntry{checkKey: key, Version: version, Checked: time.Now().UTC()}
	// Forget binaries that are gone, then the oldest if still too many.
	for p := range d.Binaries {
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			delete(d.Binaries, p)
		}
	}
	for len(d.Binaries) > maxChecked {
		var oldest string
		for p, e := range d.Binaries {
			if oldest == "" || e.Checked.Before(d.Binaries[oldest].Checked) {
				oldest = p
			}
		}
		delete(d.Binaries, oldest)
	}
	raw, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	if err := fsutil.MkdirPrivate(cacheDir); err != nil {
		return err
	}
	return fsutil.WriteFile(filepath.Join(cacheDir, checkedFile), append(raw, '\n'), fsutil.PrivatePerm)
}

// fileSHA256 returns the hex SHA-256 of the file at path.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
