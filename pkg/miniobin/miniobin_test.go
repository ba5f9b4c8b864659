package miniobin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sselab/sselab/internal/lockfile"
	"github.com/sselab/sselab/internal/progress"
)

// The test binary doubles as the fake programs it needs: started under the
// name "minio" it acts like `minio --version`, under the name "go" like
// `go env GOVERSION` and `go install -v`. Files next to the fake steer it:
//
//	NAME.out   fake minio prints this instead of a MinIO version banner
//	NAME.runs  fake minio appends a line per run
//	NAME.fail  fake go install fails
//	NAME.args  fake go install records its arguments and environment here
const fakeVersion = "RELEASE.2025-09-07T16-13-09Z"

const testVersion = "v0.0.0-20990101000000-000000000000"

var (
	master    string // a copy of the test binary, linked to make fakes
	master2   string // another copy, for the test that changes its mtime
	masterSum string // sha256 of master
)

func TestMain(m *testing.M) {
	switch strings.TrimSuffix(filepath.Base(os.Args[0]), ".exe") {
	case "minio":
		os.Exit(fakeMinio())
	case "go":
		os.Exit(fakeGo())
	}
	// The fake programs are this test binary: under -race each would
	// sleep a second at exit without this.
	os.Setenv("GORACE", "atexit_sleep_ms=0")
	dir, err := os.MkdirTemp("", "miniobin-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	self, err := os.Executable()
	if err == nil {
		master = filepath.Join(dir, "master"+exeSuffix)
		master2 = filepath.Join(dir, "master2"+exeSuffix)
		if _, err = copyExecutable(self, master); err == nil {
			_, err = copyExecutable(self, master2)
		}
	}
	if err == nil {
		masterSum, err = fileSHA256(master)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func fakeMinio() int {
	self := os.Args[0]
	if f, err := os.OpenFile(self+".runs", os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
		f.WriteString("run\n")
		f.Close()
	}
	if len(os.Args) != 2 || os.Args[1] != "--version" {
		fmt.Fprintln(os.Stderr, "fake minio: only --version is supported")
		return 2
	}
	if out, err := os.ReadFile(self + ".out"); err == nil {
		os.Stdout.Write(out)
		return 0
	}
	fmt.Printf("minio version %s (commit-id=abc)\n", fakeVersion)
	fmt.Printf("Runtime: %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Println("License: GNU AGPLv3 - https://www.gnu.org/licenses/agpl-3.0.html")
	return 0
}

func fakeGo() int {
	self := os.Args[0]
	args := os.Args[1:]
	switch {
	case len(args) == 2 && args[0] == "env" && args[1] == "GOVERSION":
		fmt.Println("go1.99-fake")
		return 0
	case len(args) == 3 && args[0] == "install" && args[1] == "-v":
		rec := fmt.Sprintf("%s\nGOBIN=%s\nGOFLAGS=%s\n", strings.Join(args, " "), os.Getenv("GOBIN"), os.Getenv("GOFLAGS"))
		os.WriteFile(self+".args", []byte(rec), 0o644)
		fmt.Fprintln(os.Stderr, "go: downloading github.com/minio/minio v0.0.0")
		if _, err := os.Stat(self + ".fail"); err == nil {
			fmt.Fprintln(os.Stderr, "github.com/minio/minio/internal/x")
			fmt.Fprintln(os.Stderr, "# github.com/minio/minio/cmd")
			fmt.Fprintln(os.Stderr, "cmd/x.go:1:1: boom")
			return 1
		}
		for _, p := range []string{"github.com/minio/minio/internal/a", "github.com/minio/minio/cmd", "github.com/minio/minio"} {
			fmt.Fprintln(os.Stderr, p)
		}
		if _, err := copyExecutable(self, filepath.Join(os.Getenv("GOBIN"), "minio"+exeSuffix)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(os.Stderr, "fake go: unexpected arguments %q\n", args)
	return 2
}

// fake makes the fake program name (minio or go) as dir/name, a hard link
// to src (never writing an executable while tests run, which could make a
// concurrent exec fail with "text file busy").
func fake(t *testing.T, dir, name, src string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name+exeSuffix)
	if err := os.Link(src, p); err != nil {
		if _, err := copyExecutable(src, p); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// runs counts how often the fake minio at p was run.
func runs(t *testing.T, p string) int {
	t.Helper()
	b, err := os.ReadFile(p + ".runs")
	if errors.Is(err, fs.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte("\n"))
}

// lookPath returns a LookPath that knows only the programs in m.
func lookPath(m map[string]string) func(string) (string, error) {
	return func(name string) (string, error) {
		if p, ok := m[name]; ok {
			return p, nil
		}
		return "", &exec.Error{Name: name, Err: exec.ErrNotFound}
	}
}

// seedCache puts the fake minio into cacheDir as the cached build of
// version, as Build would.
func seedCache(t *testing.T, cacheDir, version string) string {
	t.Helper()
	dir := versionDir(cacheDir, version)
	bin := fake(t, dir, "minio", master)
	writeManifest(t, dir, Manifest{Version: version, SHA256: masterSum, Source: SourceBuild, Created: time.Now().UTC()})
	return bin
}

func writeManifest(t *testing.T, dir string, m Manifest) {
	t.Helper()
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCacheDir(t *testing.T) {
	// Not parallel: it sets an environment variable.
	dir := t.TempDir()
	t.Setenv("SSELAB_CACHE_DIR", dir)
	got, err := CacheDir()
	if err != nil || got != dir {
		t.Fatalf("CacheDir() = %q, %v; want %q, nil", got, err, dir)
	}
	t.Setenv("SSELAB_CACHE_DIR", "")
	got, err = CacheDir()
	if ucd, uerr := os.UserCacheDir(); uerr == nil {
		if want := filepath.Join(ucd, "sselab"); got != want || err != nil {
			t.Fatalf("CacheDir() = %q, %v; want %q, nil", got, err, want)
		}
	}
}

func TestParseVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, out, want string
		ok              bool
	}{
		{"release", "minio version RELEASE.2025-09-07T16-13-09Z (commit-id=07c3a429bfed433e49018cb0f78a52145d4bedeb)\nRuntime: go1.24.6 linux/amd64\n", "RELEASE.2025-09-07T16-13-09Z", true},
		{"source build", "minio version DEVELOPMENT.GOGET (commit-id=DEVELOPMENT.GOGET)\nRuntime: go1.26.8 linux/amd64\n", "DEVELOPMENT.GOGET", true},
		{"windows name, CRLF", "minio.exe version RELEASE.2025-09-07T16-13-09Z (commit-id=abc)\r\nRuntime: go1.24.6 windows/amd64\r\n", "RELEASE.2025-09-07T16-13-09Z", true},
		{"colours", "\x1b[1mminio version RELEASE.2024-01-01T00-00-00Z (commit-id=x)\x1b[0m\n", "RELEASE.2024-01-01T00-00-00Z", true},
		{"old release without commit", "minio version RELEASE.2019-10-12T01-39-57Z\n", "RELEASE.2019-10-12T01-39-57Z", true},
		{"mc", "mc version RELEASE.2025-08-13T08-35-41Z (commit-id=7394ce0dd2a80935aded936b09fa12cbb3cb8096)\n", "RELEASE.2025-08-13T08-35-41Z", true},
		{"other program", "tool version 1.2.3\n", "", false},
		{"nothing", "", "", false},
		{"usage text", "Usage: minio [FLAGS] COMMAND\n", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := parseVersion([]byte(tt.out))
			if got != tt.want || ok != tt.ok {
				t.Errorf("got %q, %v; want %q, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string) string // returns the path to check
		want    string
		wantErr []string
	}{
		{"fake minio", func(t *testing.T, dir string) string {
			return fake(t, dir, "minio", master)
		}, fakeVersion, nil},
		{"source build", func(t *testing.T, dir string) string {
			p := fake(t, dir, "minio", master)
			os.WriteFile(p+".out", []byte("minio version DEVELOPMENT.GOGET (commit-id=DEVELOPMENT.GOGET)\nRuntime: go1.26.8 linux/amd64\n"), 0o644)
			return p
		}, "DEVELOPMENT.GOGET", nil},
		{"other program", func(t *testing.T, dir string) string {
			p := fake(t, dir, "minio", master)
			os.WriteFile(p+".out", []byte("tool version 1.2.3\n"), 0o644)
			return p
		}, "", []string{"is not a MinIO server binary", "--version` printed: \"tool version 1.2.3\""}},
		{"failing program", func(t *testing.T, dir string) string {
			return fake(t, dir, "go", master) // fake go refuses --version
		}, "", []string{"is not a MinIO server binary", "exit status 2", "unexpected arguments"}},
		{"missing", func(t *testing.T, dir string) string {
			return filepath.Join(dir, "nope", "minio")
		}, "", []string{"no such file"}},
		{"directory", func(t *testing.T, dir string) string {
			return dir
		}, "", []string{"is a directory"}},
	}
	if runtime.GOOS != "windows" {
		tests = append(tests, struct {
			name    string
			setup   func(t *testing.T, dir string) string
			want    string
			wantErr []string
		}{"not executable", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "minio")
			if err := os.WriteFile(p, []byte("#!/bin/sh\necho minio version RELEASE.x\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}, "", []string{"is not executable"}})
		if _, err := os.Stat("/bin/true"); err == nil {
			tests = append(tests, struct {
				name    string
				setup   func(t *testing.T, dir string) string
				want    string
				wantErr []string
			}{"/bin/true", func(*testing.T, string) string { return "/bin/true" },
				"", []string{"miniobin: /bin/true is not a MinIO server binary (`/bin/true --version` "}})
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			p := tt.setup(t, dir)
			got, err := check(context.Background(), filepath.Join(dir, "cache"), p, p, p)
			if tt.wantErr == nil {
				if err != nil || got != tt.want {
					t.Fatalf("got %q, %v; want %q, nil", got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("got %q, nil; want an error", got)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got error %q, want it to contain %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "miniobin: ") {
				t.Errorf("got error %q, want prefix %q", err, "miniobin: ")
			}
		})
	}
}

func TestCheckMissingFile(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "minio")
	_, err := Check(context.Background(), p)
	if want := "miniobin: " + p + ": no such file"; err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("got errors.Is(err, fs.ErrNotExist) = false, want true")
	}
}

func TestCheckRemembers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cacheDir := filepath.Join(dir, "cache")
	p := fake(t, dir, "minio", master2)
	ctx := context.Background()
	steps := []struct {
		name     string
		change   func()
		wantRuns int
	}{
		{"first check runs it", func() {}, 1},
		{"unchanged binary is not run again", func() {}, 1},
		{"modified binary is run again", func() {
			later := time.Now().Add(time.Hour)
			if err := os.Chtimes(p, later, later); err != nil {
				t.Fatal(err)
			}
		}, 2},
		{"and then remembered again", func() {}, 2},
	}
	for _, s := range steps {
		s.change()
		v, err := check(ctx, cacheDir, p, p, p)
		if err != nil || v != fakeVersion {
			t.Fatalf("%s: got %q, %v; want %q, nil", s.name, v, err, fakeVersion)
		}
		if got := runs(t, p); got != s.wantRuns {
			t.Errorf("%s: got %d runs, want %d", s.name, got, s.wantRuns)
		}
	}
	if _, err := os.Stat(filepath.Join(cacheDir, checkedFile)); err != nil {
		t.Errorf("got %v, want %s to exist", err, checkedFile)
	}
}

func TestFindOrder(t *testing.T) {
	t.Parallel()
	type world struct {
		flag, env, cache, path, gotool bool
		build                          bool
		pathOut                        string // what the minio on PATH prints, if not MinIO
	}
	tests := []struct {
		name    string
		w       world
		want    string // Source
		wantErr string // exact error, or a part of it when it ends in "..."
	}{
		{"flag first", world{flag: true, env: true, cache: true, path: true, gotool: true, build: true}, SourceFlag, ""},
		{"then SSELAB_MINIO", world{env: true, cache: true, path: true, gotool: true, build: true}, SourceEnv, ""},
		{"then the cache", world{cache: true, path: true, gotool: true, build: true}, SourceCache, ""},
		{"then PATH", world{path: true, gotool: true, build: true}, SourcePATH, ""},
		{"then a build", world{gotool: true, build: true}, SourceBuild, ""},
		{"PATH minio that is not MinIO is passed over for a build", world{path: true, pathOut: "hello\n", gotool: true, build: true}, SourceBuild, ""},
		{"nothing at all", world{build: true}, "",
			"miniobin: no MinIO server binary found; pass --minio PATH, set SSELAB_MINIO, put minio on PATH, get one with 'sselab minio fetch --url URL', or install Go (https://go.dev/dl) so sselab can build it"},
		{"build turned off", world{gotool: true}, "",
			"miniobin: no MinIO server binary found; pass --minio PATH, set SSELAB_MINIO, put minio on PATH, or get one with 'sselab minio fetch --url URL' (building from source is turned off)"},
		{"PATH minio that is not MinIO is named", world{path: true, pathOut: "hello\n"}, "",
			"miniobin: no MinIO server binary found; pass --minio PATH, set SSELAB_MINIO, put minio on PATH, or get one with 'sselab minio fetch --url URL' (building from source is turned off); passed over minio on PATH (..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cacheDir := filepath.Join(dir, "cache")
			o := Options{CacheDir: cacheDir, Build: tt.w.build, Version: testVersion}
			want := map[string]string{}
			progs := map[string]string{}
			if tt.w.flag {
				o.Flag = fake(t, filepath.Join(dir, "flag"), "minio", master)
				want[SourceFlag] = o.Flag
			}
			if tt.w.env {
				o.Env = fake(t, filepath.Join(dir, "env"), "minio", master)
				want[SourceEnv] = o.Env
			}
			if tt.w.cache {
				want[SourceCache] = seedCache(t, cacheDir, testVersion)
			}
			if tt.w.path {
				progs["minio"] = fake(t, filepath.Join(dir, "path"), "minio", master)
				if tt.w.pathOut != "" {
					os.WriteFile(progs["minio"]+".out", []byte(tt.w.pathOut), 0o644)
				}
				want[SourcePATH] = progs["minio"]
			}
			if tt.w.gotool {
				progs["go"] = fake(t, filepath.Join(dir, "gotool"), "go", master)
			}
			want[SourceBuild] = filepath.Join(versionDir(cacheDir, testVersion), "minio"+exeSuffix)
			o.LookPath = lookPath(progs)

			b, err := Find(context.Background(), o)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("got %+v, nil; want error %q", b, tt.wantErr)
				}
				if w, ok := strings.CutSuffix(tt.wantErr, "..."); ok && !strings.HasPrefix(err.Error(), w) ||
					!ok && err.Error() != tt.wantErr {
					t.Fatalf("got error %q, want %q", err, tt.wantErr)
				}
				if !errors.Is(err, ErrNotFound) {
					t.Errorf("got errors.Is(err, ErrNotFound) = false, want true")
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want source %s", err, tt.want)
			}
			if b.Source != tt.want || b.Path != want[tt.want] || b.Version != fakeVersion {
				t.Fatalf("got %+v, want {Path:%s Source:%s Version:%s}", *b, want[tt.want], tt.want, fakeVersion)
			}
		})
	}
}

func TestFindExplicitErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := fake(t, filepath.Join(dir, "good"), "minio", master)
	bad := fake(t, filepath.Join(dir, "bad"), "minio", master)
	os.WriteFile(bad+".out", []byte("something else\n"), 0o644)
	missing := filepath.Join(dir, "x", "minio")
	tests := []struct {
		name      string
		flag, env string
		wantErr   string
	}{
		{"missing flag path is not skipped", missing, good, "miniobin: --minio " + missing + ": no such file"},
		{"missing env path", "", missing, "miniobin: SSELAB_MINIO=" + missing + ": no such file"},
		{"flag not MinIO", bad, "", "miniobin: --minio " + bad + " is not a MinIO server binary (`" + bad + " --version` printed: \"something else\")"},
		{"env is a directory", "", dir, "miniobin: SSELAB_MINIO=" + dir + " is a directory, not the MinIO server binary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := Options{Flag: tt.flag, Env: tt.env, CacheDir: filepath.Join(t.TempDir(), "cache"), LookPath: lookPath(nil)}
			b, err := Find(context.Background(), o)
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("got %v, %v; want error %q", b, err, tt.wantErr)
			}
		})
	}
}

func TestFindDamagedCache(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		damage  func(t *testing.T, dir string)
		wantErr []string
	}{
		{"binary modified", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "minio"+exeSuffix), []byte("evil"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, []string{"cached MinIO binary", "was modified after it was cached", "delete " + "DIR" + " and fetch or build it again"}},
		{"manifest missing", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "manifest.json"))
		}, []string{"has no readable manifest", "delete DIR"}},
		{"manifest garbage", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "manifest.json"), []byte("{"), 0o644)
		}, []string{"is damaged", "delete DIR"}},
		{"binary missing", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "minio"+exeSuffix))
		}, []string{"delete DIR"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cacheDir := t.TempDir()
			dir := versionDir(cacheDir, testVersion)
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			// Not a runnable file: a damaged entry must be refused before
			// anything in it is run.
			content := []byte("original binary")
			if err := os.WriteFile(filepath.Join(dir, "minio"+exeSuffix), content, 0o755); err != nil {
				t.Fatal(err)
			}
			sum, _ := fileSHA256(filepath.Join(dir, "minio"+exeSuffix))
			writeManifest(t, dir, Manifest{Version: testVersion, SHA256: sum, Source: SourceBuild})
			tt.damage(t, dir)
			b, err := Find(context.Background(), Options{CacheDir: cacheDir, Version: testVersion, LookPath: lookPath(nil)})
			if err == nil {
				t.Fatalf("got %+v, nil; want an error", b)
			}
			for _, w := range tt.wantErr {
				if w = strings.ReplaceAll(w, "DIR", dir); !strings.Contains(err.Error(), w) {
					t.Errorf("got error %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestBuildNoGo(t *testing.T) {
	t.Parallel()
	_, err := Build(context.Background(), Options{CacheDir: t.TempDir(), LookPath: lookPath(nil)})
	want := "miniobin: cannot build MinIO: no Go toolchain found on PATH; install Go from https://go.dev/dl or pass --minio PATH"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
	if !errors.Is(err, exec.ErrNotFound) {
		t.Errorf("got errors.Is(err, exec.ErrNotFound) = false, want true")
	}
}

// syncBuffer is a bytes.Buffer safe for the build's progress goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// deadPid returns the pid of a process that has exited.
func deadPid(t *testing.T) int {
	t.Helper()
	p := fake(t, t.TempDir(), "minio", master)
	cmd := exec.Command(p, "--version")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// leftovers lists what Build must not leave in CACHE/minio.
func leftovers(t *testing.T, cacheDir string) []string {
	t.Helper()
	var got []string
	ents, _ := os.ReadDir(minioDir(cacheDir))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".tmp-") || strings.HasSuffix(e.Name(), ".lock") {
			got = append(got, e.Name())
		}
	}
	return got
}

// TestBuild builds with the fake go, after each kind of lock file that
// nobody holds. The lock is an OS lock (internal/lockfile), which the OS
// drops when its holder dies, so there is no heartbeat any more and no
// "live lock without heartbeat" case: a file whose pid runs but whose
// lock nobody holds is simply taken (internal/lockfile tests that), and a
// held lock is waited for (TestBuildWaitsForLiveLock).
func TestBuild(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// lock makes a lock file before building and returns what the
		// progress must then say.
		lock           func(t *testing.T, path string) []string
		wantNoProgress []string
	}{
		{"no lock", nil, []string{"taking over", "waiting"}},
		{"lock file of a dead process is taken over", func(t *testing.T, path string) []string {
			pid := deadPid(t)
			os.WriteFile(path, []byte(strconv.Itoa(pid)+"\n"), 0o600)
			return []string{fmt.Sprintf("taking over the lock %s: process %d is gone\n", path, pid)}
		}, []string{"waiting"}},
		{"empty lock file is taken", func(t *testing.T, path string) []string {
			os.WriteFile(path, nil, 0o600)
			return nil
		}, []string{"taking over", "waiting"}},
		{"garbage lock file is taken", func(t *testing.T, path string) []string {
			os.WriteFile(path, []byte("garbage\n"), 0o600)
			return nil
		}, []string{"taking over", "waiting"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cacheDir := filepath.Join(dir, "cache")
			gotool := fake(t, filepath.Join(dir, "gotool"), "go", master)
			var progress syncBuffer
			o := Options{CacheDir: cacheDir, Version: testVersion, Build: true, Progress: &progress, LookPath: lookPath(map[string]string{"go": gotool})}
			var wantProgress []string
			if tt.lock != nil {
				os.MkdirAll(minioDir(cacheDir), 0o700)
				wantProgress = tt.lock(t, lockPath(o))
			}
			b, err := Build(context.Background(), o)
			if err != nil {
				t.Fatalf("got error %v, want a build", err)
			}
			wantPath := filepath.Join(versionDir(cacheDir, testVersion), "minio"+exeSuffix)
			if b.Path != wantPath || b.Source != SourceBuild || b.Version != fakeVersion {
				t.Fatalf("got %+v, want {Path:%s Source:build Version:%s}", *b, wantPath, fakeVersion)
			}
			args, _ := os.ReadFile(gotool + ".args")
			for _, w := range []string{
				"install -v github.com/minio/minio@" + testVersion + "\n",
				"GOBIN=" + filepath.Join(minioDir(cacheDir), tmpPrefix(testVersion)),
				"GOFLAGS=-trimpath\n",
			} {
				if !strings.Contains(string(args), w) {
					t.Errorf("go was run as %q, want it to contain %q", args, w)
				}
			}
			for _, w := range append([]string{
				"building MinIO " + testVersion + " from source with go1.99-fake (first time only; about 4-15 minutes) ...\n",
				"built MinIO " + testVersion + " in ",
				": " + wantPath + "\n",
			}, wantProgress...) {
				if !strings.Contains(progress.String(), w) {
					t.Errorf("got progress %q, want it to contain %q", progress.String(), w)
				}
			}
			for _, w := range tt.wantNoProgress {
				if strings.Contains(progress.String(), w) {
					t.Errorf("got progress %q, want it not to contain %q", progress.String(), w)
				}
			}
			raw, err := os.ReadFile(filepath.Join(versionDir(cacheDir, testVersion), "manifest.json"))
			if err != nil {
				t.Fatal(err)
			}
			var m Manifest
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			if m.Version != testVersion || m.SHA256 != masterSum || m.Source != SourceBuild || m.GoVersion != runtime.Version() || m.Created.IsZero() {
				t.Errorf("got manifest %+v, want version %s, sha256 %s, source build, go %s", m, testVersion, masterSum, runtime.Version())
			}
			log, _ := os.ReadFile(filepath.Join(minioDir(cacheDir), "build.log"))
			if !strings.Contains(string(log), "github.com/minio/minio/cmd\n") {
				t.Errorf("got build.log %q, want the go command's output", log)
			}
			if got := leftovers(t, cacheDir); len(got) != 0 {
				t.Errorf("got leftovers %q, want none", got)
			}

			// A second Build reuses the cached binary without running go.
			os.Remove(gotool + ".args")
			b, err = Build(context.Background(), o)
			if err != nil || b.Source != SourceCache || b.Path != wantPath {
				t.Fatalf("second Build: got %+v, %v; want source cache, path %s", b, err, wantPath)
			}
			if _, err := os.Stat(gotool + ".args"); err == nil {
				t.Errorf("second Build ran go, want it to use the cache")
			}
		})
	}
}

func TestBuildFails(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cacheDir := filepath.Join(dir, "cache")
	gotool := fake(t, filepath.Join(dir, "gotool"), "go", master)
	os.WriteFile(gotool+".fail", nil, 0o644)
	o := Options{CacheDir: cacheDir, Version: testVersion, LookPath: lookPath(map[string]string{"go": gotool})}
	_, err := Build(context.Background(), o)
	if err == nil {
		t.Fatal("got nil, want an error")
	}
	for _, w := range []string{
		"miniobin: building MinIO " + testVersion + " failed",
		"exit status 1",
		filepath.Join(minioDir(cacheDir), "build.log"),
		"\n  cmd/x.go:1:1: boom",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("got error %q, want it to contain %q", err, w)
		}
	}
	if got := leftovers(t, cacheDir); len(got) != 0 {
		t.Errorf("got leftovers %q, want none", got)
	}
	if _, err := os.Stat(versionDir(cacheDir, testVersion)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("got %v for the version directory, want it not to exist", err)
	}
}

// holdLock takes the lock at path as another build would: flock and
// LockFileEx conflict between two opens even in one process. The lock is
// released when the test ends, if not before.
func holdLock(t *testing.T, path string) *lockfile.Lock {
	t.Helper()
	l, err := lockfile.TryLock(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Release)
	return l
}

func TestBuildWaitsForLiveLock(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cacheDir := filepath.Join(dir, "cache")
	gotool := fake(t, filepath.Join(dir, "gotool"), "go", master)
	var progress syncBuffer
	o := Options{CacheDir: cacheDir, Version: testVersion, Progress: &progress, LookPath: lookPath(map[string]string{"go": gotool})}
	os.MkdirAll(minioDir(cacheDir), 0o700)
	// The lock is held by "another build" (it writes this process's pid).
	lock := holdLock(t, lockPath(o))
	type result struct {
		b   *Binary
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := Build(context.Background(), o)
		done <- result{b, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("got %+v, %v while the lock was held, want Build to wait", r.b, r.err)
	case <-time.After(600 * time.Millisecond):
	}
	// The other build finishes: its result appears, then the lock goes.
	want := seedCache(t, cacheDir, testVersion)
	lock.Release()
	var r result
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Build still waiting 10s after the lock was released")
	}
	if r.err != nil || r.b.Source != SourceCache || r.b.Path != want {
		t.Fatalf("got %+v, %v; want source cache, path %s", r.b, r.err, want)
	}
	if _, err := os.Stat(gotool + ".args"); err == nil {
		t.Errorf("Build ran go, want it to reuse the other build's result")
	}
	if !strings.Contains(progress.String(), fmt.Sprintf("waiting for process %d", os.Getpid())) {
		t.Errorf("got progress %q, want a waiting line", progress.String())
	}
	if strings.Contains(progress.String(), "taking over") {
		t.Errorf("got progress %q, want no takeover of a lock that was released", progress.String())
	}
}

func TestBuildWaitCanceled(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cacheDir := filepath.Join(dir, "cache")
	gotool := fake(t, filepath.Join(dir, "gotool"), "go", master)
	o := Options{CacheDir: cacheDir, Version: testVersion, LookPath: lookPath(map[string]string{"go": gotool})}
	os.MkdirAll(minioDir(cacheDir), 0o700)
	holdLock(t, lockPath(o))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := Build(ctx, o)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want context.DeadlineExceeded", err)
	}
	if want := fmt.Sprintf("miniobin: waiting for lock %s held by process %d: ", lockPath(o), os.Getpid()); !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got error %q, want it to start with %q", err, want)
	}
	if !lockfile.Held(lockPath(o)) {
		t.Errorf("got the other process's lock dropped, want it left alone")
	}
}

func TestAdoptRefusesOtherModule(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := fake(t, dir, "minio", master)
	_, err := Adopt(context.Background(), Options{CacheDir: filepath.Join(dir, "cache"), Version: testVersion}, p)
	if err == nil || !strings.Contains(err.Error(), "cannot adopt") || !strings.Contains(err.Error(), "want github.com/minio/minio@"+testVersion) {
		t.Fatalf("got %v, want a refusal naming the wanted module", err)
	}
}

func TestBuildOutput(t *testing.T) {
	t.Parallel()
	var log, shown bytes.Buffer
	bar := progress.New(&shown, progress.Options{Description: "building MinIO", Total: 10, Unit: "packages", Every: time.Nanosecond})
	b := &buildOutput{log: &log, bar: bar, total: 10}
	io.WriteString(b, "go: downloading a v1\ngo: downloading b v2\n")
	b.tick()
	if got, want := shown.String(), "building MinIO (downloading modules: 2 so far): 0% (0 of 10 packages)"; !strings.HasPrefix(got, want) {
		t.Errorf("while downloading: got %q, want %q", got, want)
	}
	shown.Reset()
	io.WriteString(b, "github.com/a\r\ngithub.com/b\n# github.com/b\nx.go:1: err")
	b.flush()
	if got, want := shown.String(), "building MinIO: 20% (2 of 10 packages)"; !strings.Contains(got, want) {
		t.Errorf("got %q, want a line with %q", got, want)
	}
	if got := b.tail(); !strings.HasSuffix(got, "\n  x.go:1: err") {
		t.Errorf("got tail %q, want it to end with the last line", got)
	}
	if log.Len() == 0 {
		t.Errorf("got an empty log, want the output")
	}
}
