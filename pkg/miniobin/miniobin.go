// Package miniobin finds, or builds from source, the MinIO server binary
// that `sselab up` runs.
//
// Since 2025 MinIO publishes community releases only as source, so besides
// an explicit path (--minio, SSELAB_MINIO) and `minio` on PATH, sselab can
// build MinIO with the Go toolchain (`go install github.com/minio/minio@V`)
// and keep the result in a per-user cache:
//
//	CACHE/minio/<version>/minio          (minio.exe on Windows)
//	CACHE/minio/<version>/manifest.json  (sha256, source, time)
//
// A cached binary is checked against its manifest's sha256 every time it
// is used, so a modified file is refused instead of run.
package miniobin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// DefaultVersion is the module version of github.com/minio/minio that
// sselab builds from source when no MinIO binary is at hand.
const DefaultVersion = "v0.0.0-20260212201848-7aac2a2c5b7c"

// modulePath is the Go module (and main package) that Build installs.
var modulePath = "github.com/minio/minio"

// ErrNotFound is wrapped by Find's error when no MinIO binary was found
// and none could be built.
var ErrNotFound = errors.New("no MinIO server binary found")

// Sources reported in Binary.Source.
const (
	SourceFlag     = "flag"
	SourceEnv      = "SSELAB_MINIO"
	SourceCache    = "cache"
	SourcePATH     = "PATH"
	SourceBuild    = "build"
	SourceSelected = "selected"
	SourceDownload = "download"
)

// CacheDir returns sselab's cache directory: $SSELAB_CACHE_DIR if set,
// otherwise os.UserCacheDir()/sselab. The directory may not exist yet.
func CacheDir() (string, error) {
	if d := os.Getenv("SSELAB_CACHE_DIR"); d != "" {
		abs, err := filepath.Abs(d)
		if err != nil {
			return "", fmt.Errorf("miniobin: SSELAB_CACHE_DIR: %w", err)
		}
		return abs, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("miniobin: no cache directory (set SSELAB_CACHE_DIR): %w", err)
	}
	return filepath.Join(d, "sselab"), nil
}

// Manifest describes a cached MinIO binary; it is stored as manifest.json
// next to the binary.
type Manifest struct {
	Version   string    `json:"version"`              // module version of github.com/minio/minio
	SHA256    string    `json:"sha256"`               // hex SHA-256 of the binary
	Source    string    `json:"source"`               // "build" or a URL the binary came from
	Created   time.Time `json:"created"`              // when it was put into the cache
	GoVersion string    `json:"go_version,omitempty"` // Go toolchain that built it, if known
	Signature string    `json:"signature,omitempty"`  // downloads: "verified" (minisign) or "unsigned"
}

// Options tell Find and Build where to look and what they may do.
type Options struct {
	// Flag is the value of --minio PATH; it has the highest priority.
	Flag string
	// Env is the value of SSELAB_MINIO (the caller reads the variable).
	Env string
	// CacheDir is sselab's cache directory; empty means CacheDir().
	CacheDir string
	// Download allows downloading LastRelease when nothing is cached.
	Download bool
	// Build allows building MinIO from source when nothing else is found.
	Build bool
	// Version is the module version of github.com/minio/minio to use from
	// the cache or to build; empty means DefaultVersion.
	Version string
	// Progress receives progress lines while building or downloading; nil
	// discards them.
	Progress io.Writer
	// ProgressBar draws an updating bar on Progress (for a terminal);
	// otherwise Progress gets a plain line every few seconds.
	ProgressBar bool
	// LookPath finds programs on PATH; nil means exec.LookPath.
	LookPath func(string) (string, error)
}

// Binary is a MinIO server binary ready to run.
type Binary struct {
	// Path is the absolute path of the binary.
	Path string
	// Source says where it was found: "flag", "SSELAB_MINIO", "cache",
	// "PATH" or "build".
	Source string
	// Version is the version the binary reports with --version, such as
	// "RELEASE.2025-09-07T16-13-09Z" or "DEVELOPMENT.GOGET" (source builds).
	Version string
}

// withDefaults fills in the defaults of unset options.
func (o Options) withDefaults() (Options, error) {
	if o.Version == "" {
		o.Version = DefaultVersion
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.LookPath == nil {
		o.LookPath = exec.LookPath
	}
	if o.CacheDir == "" {
		d, err := CacheDir()
		if err != nil {
			return o, err
		}
		o.CacheDir = d
	}
	return o, nil
}

// minioDir is CACHE/minio, the parent of every cached version.
func minioDir(cacheDir string) string { return filepath.Join(cacheDir, "minio") }

// versionDir is CACHE/minio/<version>.
func versionDir(cacheDir, version string) string {
	return filepath.Join(minioDir(cacheDir), version)
}

// binaryName is the file name of the MinIO binary on this OS.
const binaryName = "minio" + exeSuffix

// Find returns the MinIO server binary to run. It tries, in order: the
// --minio flag, SSELAB_MINIO, the binary chosen with 'sselab minio use',
// the newest cached binary, `minio` on PATH, a download of LastRelease (if
// o.Download is set) and a build from source (if o.Build is set and a Go
// toolchain is on PATH). An explicit choice (flag, environment, selection)
// that is not a working MinIO binary is an error, not skipped, and so is a
// cached binary whose sha256 no longer matches its manifest. When nothing
// is found the error wraps ErrNotFound and lists the ways to fix it.
//
// With a binary cached, Find makes no network request.
func Find(ctx context.Context, o Options) (*Binary, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if o.Flag != "" {
		return explicit(ctx, o.CacheDir, "--minio "+o.Flag, o.Flag, SourceFlag)
	}
	if o.Env != "" {
		return explicit(ctx, o.CacheDir, "SSELAB_MINIO="+o.Env, o.Env, SourceEnv)
	}
	if b, err := selectedOrNewest(ctx, o); err != nil || b != nil {
		return b, err
	}
	var notes []string
	if p, err := o.LookPath("minio"); err == nil {
		b, err := explicit(ctx, o.CacheDir, "minio on PATH ("+p+")", p, SourcePATH)
		if err == nil {
			return b, nil
		}
		// A `minio` on PATH that is not the server (or is broken) must not
		// stop a download or build; say why it was passed over if nothing
		// else works.
		notes = append(notes, "passed over "+trimPrefix(err.Error()))
		fmt.Fprintf(o.Progress, "ignoring minio on PATH: %s\n", trimPrefix(err.Error()))
	}
	if o.Download {
		b, err := Fetch(ctx, FetchOptions{Options: o})
		if err == nil {
			return b, nil
		}
		notes = append(notes, "download failed: "+trimPrefix(err.Error()))
		fmt.Fprintf(o.Progress, "cannot download MinIO: %s\n", trimPrefix(err.Error()))
	}
	fixes := "pass --minio PATH, set SSELAB_MINIO, put minio on PATH, or get one with 'sselab minio fetch --url URL' (building from source is turned off)"
	if o.Build {
		if _, err := o.LookPath("go"); err == nil {
			return Build(ctx, o)
		}
		fixes = "pass --minio PATH, set SSELAB_MINIO, put minio on PATH, get one with 'sselab minio fetch --url URL', or install Go (https://go.dev/dl) so sselab can build it"
	}
	note := ""
	if len(notes) > 0 {
		note = "; " + strings.Join(notes, "; ")
	}
	return nil, fmt.Errorf("miniobin: %w; %s%s", ErrNotFound, fixes, note)
}

// selectedOrNewest returns the binary chosen with Use, else the newest
// cached one, else nil.
func selectedOrNewest(ctx context.Context, o Options) (*Binary, error) {
	sel, err := readSelection(o.CacheDir)
	if err != nil {
		return nil, err
	}
	switch {
	case sel.Path != "":
		return explicit(ctx, o.CacheDir, "the MinIO chosen with 'sselab minio use' ("+sel.Path+")", sel.Path, SourceSelected)
	case sel.Version != "":
		o.Version = sel.Version
		b, err := cached(ctx, o)
		if b == nil && err == nil {
			err = fmt.Errorf("miniobin: the MinIO chosen with 'sselab minio use' (%s) is no longer cached; choose another with 'sselab minio use'", sel.Version)
		}
		if b != nil {
			b.Source = SourceSelected
		}
		return b, err
	}
	entries, err := List(o)
	if err != nil || len(entries) == 0 {
		return nil, err
	}
	o.Version = entries[0].Version
	return cached(ctx, o)
}

// trimPrefix drops the package prefix of one of this package's errors so
// it can be embedded in another.
func trimPrefix(s string) string {
	const p = "miniobin: "
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

// explicit validates and checks a binary the user (or PATH) named.
func explicit(ctx context.Context, cacheDir, desc, path, source string) (*Binary, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("miniobin: %s: %w", desc, err)
	}
	v, err := check(ctx, cacheDir, desc, path, abs)
	if err != nil {
		return nil, err
	}
	return &Binary{Path: abs, Source: source, Version: v}, nil
}

// cached returns the cached build of o.Version, nil if there is none, or
// an error if the cache entry is damaged or was modified.
func cached(ctx context.Context, o Options) (*Binary, error) {
	dir := versionDir(o.CacheDir, o.Version)
	bin := filepath.Join(dir, binaryName)
	manPath := filepath.Join(dir, "manifest.json")
	fix := fmt.Sprintf("delete %s and fetch or build it again, or pass --minio PATH", dir)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	raw, err := os.ReadFile(manPath)
	if err != nil {
		return nil, fmt.Errorf("miniobin: cached MinIO %s has no readable manifest (%w); %s", dir, err, fix)
	}
	var m Manifest
	if err := json.Unmarshal(raw, &m); err != nil || m.SHA256 == "" {
		if err == nil {
			err = errors.New("no sha256")
		}
		return nil, fmt.Errorf("miniobin: cached MinIO manifest %s is damaged (%w); %s", manPath, err, fix)
	}
	sum, err := fileSHA256(bin)
	if err != nil {
		return nil, fmt.Errorf("miniobin: cached MinIO %s: %w; %s", dir, err, fix)
	}
	if sum != m.SHA256 {
		return nil, fmt.Errorf("miniobin: cached MinIO binary %s was modified after it was cached (sha256 %s, manifest says %s); %s", bin, sum, m.SHA256, fix)
	}
	v, err := check(ctx, o.CacheDir, "cached "+bin, bin, bin)
	if err != nil {
		return nil, fmt.Errorf("%w; %s", err, fix)
	}
	return &Binary{Path: bin, Source: SourceCache, Version: v}, nil
}

// msgErr is an error with its own message that still unwraps to the cause,
// so callers can test for fs.ErrNotExist and the like.
type msgErr struct {
	msg string
	err error
}

func (e *msgErr) Error() string { return e.msg }
func (e *msgErr) Unwrap() error { return e.err }
