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
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sselab/sselab/internal/fsutil"
	"github.com/sselab/sselab/internal/lockfile"
	"github.com/sselab/sselab/internal/progress"
)

// progressEvery is how often a build (or a wait for another process's
// build) reports that it is still going.
var progressEvery = 15 * time.Second

// tailLines is how many lines of the go command's output a failed build's
// error shows.
const tailLines = 15

// Build builds MinIO o.Version from source with `go install` and puts it
// into the cache (CACHE/minio/<version>/), unless the cache already holds
// a good copy, which is returned instead. It takes about 4 minutes on two
// cores, 15 with a cold module cache, and reports progress on o.Progress;
// the go command's output is kept in CACHE/minio/build.log.
//
// A lock file (CACHE/minio/<version>.lock) keeps two sselab processes from
// building the same version at once: the second waits for the first and
// reuses its result. It is an OS lock (see internal/lockfile), which the
// OS drops when its holder dies: a build that was killed blocks nobody.
func Build(ctx context.Context, o Options) (*Binary, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	goPath, err := o.LookPath("go")
	if err != nil {
		return nil, &msgErr{"miniobin: cannot build MinIO: no Go toolchain found on PATH; install Go from https://go.dev/dl or pass --minio PATH", err}
	}
	dir := minioDir(o.CacheDir)
	if err := fsutil.MkdirPrivate(dir); err != nil {
		return nil, fmt.Errorf("miniobin: %w", err)
	}
	unlock, err := acquireLock(ctx, lockPath(o), o.Progress)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// Built earlier, or by the process we just waited for.
	b, err := cached(ctx, o)
	if b != nil {
		return b, nil
	}
	if err != nil {
		fmt.Fprintf(o.Progress, "replacing the cached MinIO: %s\n", trimPrefix(err.Error()))
	}
	removeLeftovers(o)
	return build(ctx, o, goPath)
}

// lockPath is CACHE/minio/<version>.lock.
func lockPath(o Options) string { return versionDir(o.CacheDir, o.Version) + ".lock" }

// tmpPrefix starts the names of the temporary directories of one version.
func tmpPrefix(version string) string { return ".tmp-" + version + "-" }

// removeLeftovers deletes temporary directories that an interrupted build
// or adoption of o.Version left behind. Only call it holding the lock.
func removeLeftovers(o Options) {
	old, _ := filepath.Glob(filepath.Join(minioDir(o.CacheDir), tmpPrefix(o.Version)+"*"))
	for _, d := range old {
		os.RemoveAll(d)
	}
}

// build runs the go command; the caller holds the lock.
func build(ctx context.Context, o Options, goPath string) (b *Binary, err error) {
	dir := minioDir(o.CacheDir)
	tmp, err := os.MkdirTemp(dir, tmpPrefix(o.Version))
	if err != nil {
		return nil, fmt.Errorf("miniobin: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	logPath := filepath.Join(dir, "build.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("miniobin: %w", err)
	}
	defer logf.Close()

	goVersion := goEnvVersion(ctx, goPath)
	with := goVersion
	if with == "" {
		with = "Go"
	}
	start := time.Now()
	fmt.Fprintf(o.Progress, "building MinIO %s from source with %s (first time only; about 4-15 minutes) ...\n", o.Version, with)

	target := modulePath + "@" + o.Version
	cmd := exec.CommandContext(ctx, goPath, "install", "-v", target)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(),
		"GOBIN="+tmp,
		"GOFLAGS=-trimpath",
		"CGO_ENABLED=0",
		"GO111MODULE=on",
		"GOWORK=off",
		"GOOS="+runtime.GOOS,
		"GOARCH="+runtime.GOARCH,
	)
	env := cmd.Env
	total := countPackages(ctx, goPath, o.Version, env)
	bar := progress.New(o.Progress, progress.Options{Description: "building MinIO", Total: total, Unit: "packages", Terminal: o.ProgressBar, Every: progressEvery})
	out := &buildOutput{log: logf, bar: bar, total: total}
	fmt.Fprintf(logf, "# %s install -v %s (GOBIN=%s GOFLAGS=-trimpath CGO_ENABLED=0)\n", goPath, target, tmp)
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.WaitDelay = 5 * time.Second

	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				out.tick() // a plain line even while nothing new is compiled
			}
		}
	}()
	runErr := cmd.Run()
	close(done)
	wg.Wait()
	out.flush()
	if runErr == nil {
		bar.Set(max(total, int64(out.packages)))
	}
	bar.Finish()

	if runErr != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("miniobin: building MinIO %s stopped: %w", o.Version, ctx.Err())
		}
		return nil, fmt.Errorf("miniobin: building MinIO %s failed (`go install %s`: %w); full log in %s, last lines:\n%s",
			o.Version, target, runErr, logPath, out.tail())
	}
	bin := filepath.Join(tmp, binaryName)
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("miniobin: `go install %s` succeeded but made no %s (see %s): %w", target, binaryName, logPath, err)
	}
	sum, err := fileSHA256(bin)
	if err != nil {
		return nil, fmt.Errorf("miniobin: %w", err)
	}
	if bi, err := buildinfo.ReadFile(bin); err == nil && bi.GoVersion != "" {
		goVersion = bi.GoVersion
	}
	m := Manifest{Version: o.Version, SHA256: sum, Source: SourceBuild, Created: time.Now().UTC(), GoVersion: goVersion}
	final, err := install(o, tmp, m)
	if err != nil {
		return nil, err
	}
	v, err := check(ctx, o.CacheDir, "freshly built "+final, final, final)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Progress, "built MinIO %s in %s: %s\n", o.Version, time.Since(start).Round(time.Second), final)
	return &Binary{Path: final, Source: SourceBuild, Version: v}, nil
}

// goEnvVersion returns the version of the Go toolchain at goPath, such as
// "go1.26.8", or "" if it cannot be told.
func goEnvVersion(ctx context.Context, goPath string) string {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goPath, "env", "GOVERSION")
	cmd.WaitDelay = time.Second
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// install writes m into tmp and renames tmp to CACHE/minio/<version>,
// replacing a previous (damaged) entry. The caller holds the lock. It
// returns the path of the installed binary.
func install(o Options, tmp string, m Manifest) (string, error) {
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return "", fmt.Errorf("miniobin: %w", err)
	}
	if err := fsutil.WriteFile(filepath.Join(tmp, "manifest.json"), append(raw, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("miniobin: %w", err)
	}
	final := versionDir(o.CacheDir, o.Version)
	var old string
	if _, err := os.Stat(final); err == nil {
		old = filepath.Join(minioDir(o.CacheDir), tmpPrefix(o.Version)+"old-"+strconv.FormatInt(time.Now().UnixNano(), 36))
		if err := fsutil.RenameDir(final, old); err != nil {
			return "", fmt.Errorf("miniobin: moving the old cached MinIO aside: %w", err)
		}
	}
	if err := fsutil.RenameDir(tmp, final); err != nil {
		return "", fmt.Errorf("miniobin: %w", err)
	}
	if old != "" {
		os.RemoveAll(old)
	}
	return filepath.Join(final, binaryName), nil
}

// Adopt copies an existing MinIO binary, built from source as module
// version o.Version of github.com/minio/minio (as `go install` does), into
// the cache, where Find will find it. It refuses a binary whose embedded
// Go build information names another module or version, and one that does
// not answer --version like MinIO. The original file is left in place.
func Adopt(ctx context.Context, o Options, path string) (*Binary, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("miniobin: %w", err)
	}
	v, err := check(ctx, o.CacheDir, path, path, abs)
	if err != nil {
		return nil, err
	}
	bi, err := buildinfo.ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("miniobin: cannot adopt %s: no Go build information: %w", path, err)
	}
	if bi.Main.Path != modulePath || bi.Main.Version != o.Version {
		return nil, fmt.Errorf("miniobin: cannot adopt %s: it was built from %s@%s, want %s@%s", path, bi.Main.Path, bi.Main.Version, modulePath, o.Version)
	}
	if err := fsutil.MkdirPrivate(minioDir(o.CacheDir)); err != nil {
		return nil, fmt.Errorf("miniobin: %w", err)
	}
	unlock, err := acquireLock(ctx, lockPath(o), o.Progress)
	if err != nil {
		return nil, err
	}
	defer unlock()
	removeLeftovers(o)
	tmp, err := os.MkdirTemp(minioDir(o.CacheDir), tmpPrefix(o.Version))
	if err != nil {
		return nil, fmt.Errorf("miniobin: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	sum, err := copyExecutable(abs, filepath.Join(tmp, binaryName))
	if err != nil {
		return nil, fmt.Errorf("miniobin: adopting %s: %w", path, err)
	}
	src := (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()
	m := Manifest{Version: o.Version, SHA256: sum, Source: src, Created: time.Now().UTC(), GoVersion: bi.GoVersion}
	final, err := install(o, tmp, m)
	if err != nil {
		return nil, err
	}
	ok = true
	if fi, err := os.Stat(final); err == nil {
		_ = rememberChecked(o.CacheDir, final, checkKey{Size: fi.Size(), ModTime: fi.ModTime().UnixNano()}, v)
	}
	return &Binary{Path: final, Source: SourceCache, Version: v}, nil
}

// copyExecutable copies src to the new file dst (mode 0755), syncs it and
// returns the hex SHA-256 of what was copied.
func copyExecutable(src, dst string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(out, h), in); err != nil {
		out.Close()
		return "", err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return "", err
	}
	if err := out.Close(); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// buildOutput receives the go command's stdout and stderr (one writer, so
// os/exec calls it from one goroutine at a time), copies it to the log,
// counts what `go install -v` reports and keeps the last lines.
type buildOutput struct {
	log   io.Writer
	bar   *progress.Bar
	total int64 // packages to build, -1 if unknown

	mu        sync.Mutex
	partial   []byte
	packages  int // lines naming a package, one per package built
	downloads int // "go: downloading" lines
	last      []string
}

func (b *buildOutput) Write(p []byte) (int, error) {
	b.log.Write(p) // a failing log must not fail the build
	b.mu.Lock()
	defer b.mu.Unlock()
	b.partial = append(b.partial, p...)
	for {
		i := bytes.IndexByte(b.partial, '\n')
		if i < 0 {
			break
		}
		b.line(strings.TrimRight(string(b.partial[:i]), "\r"))
		b.partial = b.partial[i+1:]
	}
	return len(p), nil
}

// line accounts for one complete line of output; b.mu is held.
func (b *buildOutput) line(s string) {
	switch {
	case strings.HasPrefix(s, "go: downloading "):
		b.downloads++
	case s != "" && !strings.ContainsAny(s, " \t") && !strings.HasPrefix(s, "go:") && !strings.HasPrefix(s, "#"):
		// `go install -v` prints the import path of each package it builds.
		b.packages++
		if b.packages == 1 {
			b.bar.Describe("building MinIO") // modules are downloaded
		}
		done := int64(b.packages)
		if b.total > 0 {
			done = min(done, b.total-1) // the count is close, not exact: 100% is the end
		}
		b.bar.Set(done)
	}
	b.last = append(b.last, s)
	if len(b.last) > tailLines {
		b.last = b.last[len(b.last)-tailLines:]
	}
}

// flush accounts for a last line without a newline.
func (b *buildOutput) flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.partial) > 0 {
		b.line(string(b.partial))
		b.partial = nil
	}
}

// tick updates the bar when nothing else does: while modules download,
// it says how many so far.
func (b *buildOutput) tick() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.packages == 0 && b.downloads > 0 {
		b.bar.Describe(fmt.Sprintf("building MinIO (downloading modules: %d so far)", b.downloads))
	} else {
		b.bar.Describe("building MinIO")
	}
	b.bar.Add(0)
}

// countPackages returns how many packages building MinIO version
// compiles: 'go list -deps' in a scratch module that requires it, with
// the build's environment. It downloads the modules the build needs
// anyway. -1 when it cannot tell.
func countPackages(ctx context.Context, goPath, version string, env []string) int64 {
	dir, err := os.MkdirTemp("", "sselab-count-")
	if err != nil {
		return -1
	}
	defer os.RemoveAll(dir)
	mod := "module sselab.local/count\n\ngo 1.24\n\nrequire " + modulePath + " " + version + "\n"
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o600); err != nil {
		return -1
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goPath, "list", "-mod=mod", "-deps", "-f", "{{.ImportPath}}", modulePath)
	cmd.Dir = dir
	cmd.Env = append(slices.Clone(env), "GOFLAGS=-mod=mod")
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.Output()
	if err != nil {
		return -1
	}
	return int64(bytes.Count(out, []byte("\n")))
}

// tail returns the last lines of output, indented.
func (b *buildOutput) tail() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.last) == 0 {
		return "  (no output)"
	}
	return "  " + strings.Join(b.last, "\n  ")
}

// acquireLock takes the lock file at path (see internal/lockfile). While
// another process holds it, acquireLock waits until it is released or ctx
// ends, saying so on progress at most every progressEvery; taking over the
// file of a holder that is gone is said too. The returned function
// releases the lock.
func acquireLock(ctx context.Context, path string, progress io.Writer) (func(), error) {
	var waitStart, reported time.Time
	l, err := lockfile.Wait(ctx, path, func(pid int) {
		now := time.Now()
		if waitStart.IsZero() {
			waitStart = now
		}
		if reported.IsZero() || now.Sub(reported) >= progressEvery {
			fmt.Fprintf(progress, "waiting for %s, which is building or caching MinIO (lock %s), %s elapsed ...\n",
				processName(pid), path, now.Sub(waitStart).Round(time.Second))
			reported = now
		}
	})
	if err != nil {
		if held := (*lockfile.HeldError)(nil); errors.As(err, &held) { // ctx ended while it was held
			return nil, fmt.Errorf("miniobin: waiting for lock %s held by %s: %w", path, processName(held.PID), ctx.Err())
		}
		return nil, fmt.Errorf("miniobin: %w", err)
	}
	if pid := l.Previous(); pid > 0 {
		fmt.Fprintf(progress, "taking over the lock %s: process %d is gone\n", path, pid)
	}
	return l.Release, nil
}

// processName is "process PID", or "another process" for pid 0 (unknown).
func processName(pid int) string {
	if pid <= 0 {
		return "another process"
	}
	return fmt.Sprintf("process %d", pid)
}
