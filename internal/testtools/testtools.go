// Package testtools gives tests the real programs they run against: a
// MinIO server, the kes CLI, mc, and the sselab binary itself. Each is
// built from source through the Go module proxy at a pinned version and
// cached outside the repository, so only the first run pays for the build.
//
// When a program cannot be had, a test is skipped on a developer machine
// and fails under CI (the CI environment variable is set): an end-to-end
// test that skips in CI would hide a broken pipeline.
package testtools

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/sselab/sselab/pkg/miniobin"
)

// MCVersion is the mc module version the tests build.
const MCVersion = "v0.0.0-20250313080218-cf909e1063a9"

// KESModule is the kes module the kes CLI is built from: the same version
// sselab embeds, taken from go.mod through the tool directive.
const KESModule = "github.com/minio/kes/cmd/kes"

// unavailable skips the test, or fails it under CI.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatalf("%s (CI is set: end-to-end tests must not skip)", msg)
	}
	t.Skip(msg)
}

// ToolsDir is where built test programs are cached.
func ToolsDir() (string, error) {
	cache, err := miniobin.CacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(cache, "tools"), nil
}

// MinIO returns a MinIO server binary: $SSELAB_MINIO if set, else the one
// sselab itself would use, built from source into the cache if needed
// (about 4 minutes the first time).
func MinIO(t testing.TB) string {
	t.Helper()
	minioOnce.Do(func() {
		var b *miniobin.Binary
		b, minioErr = miniobin.Find(context.Background(), miniobin.Options{
			Env: os.Getenv("SSELAB_MINIO"), Build: true, Progress: os.Stderr,
		})
		if minioErr == nil {
			minioPath = b.Path
		}
	})
	if minioErr != nil {
		unavailable(t, "no MinIO server binary: %v", minioErr)
	}
	return minioPath
}

var (
	minioOnce sync.Once
	minioPath string
	minioErr  error
)

// KESCLI returns the kes CLI of the kes version sselab embeds.
func KESCLI(t testing.TB) string {
	t.Helper()
	return cachedBuild(t, "kes-"+moduleVersion(t, "github.com/minio/kes"), func(out string) *exec.Cmd {
		cmd := exec.Command("go", "build", "-trimpath", "-o", out, KESModule)
		cmd.Dir = ModuleRoot(t)
		return cmd
	})
}

// MC returns the mc client at MCVersion.
func MC(t testing.TB) string {
	t.Helper()
	return cachedBuild(t, "mc-"+MCVersion, buildMC)
}

// BuildMC returns the mc client at MCVersion, built into the cache first
// if it is missing, for programs that are not tests (the performance
// harness).
func BuildMC() (string, error) {
	return build("mc-"+MCVersion, buildMC)
}

func buildMC(out string) *exec.Cmd {
	cmd := exec.Command("go", "install", "-trimpath", "github.com/minio/mc@"+MCVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+filepath.Dir(out), "GOFLAGS=", "GOWORK=off")
	cmd.Dir = os.TempDir()
	return cmd
}

// Sselab builds the sselab command of this checkout, once per test
// binary, into a temporary directory that Cleanup removes.
func Sselab(t testing.TB) string {
	t.Helper()
	sselabOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sselab-test-bin-")
		if err != nil {
			sselabErr = err
			return
		}
		sselabPath = filepath.Join(dir, "sselab"+exe())
		cmd := exec.Command("go", "build", "-o", sselabPath, "./cmd/sselab")
		cmd.Dir = ModuleRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			sselabErr = fmt.Errorf("go build ./cmd/sselab: %v\n%s", err, out)
		}
	})
	if sselabErr != nil {
		t.Fatal(sselabErr)
	}
	return sselabPath
}

// Cleanup removes what Sselab built; call it from TestMain after m.Run.
func Cleanup() {
	if sselabPath != "" {
		os.RemoveAll(filepath.Dir(sselabPath))
	}
}

var (
	sselabOnce sync.Once
	sselabPath string
	sselabErr  error
)

// ModuleRoot returns the directory of sselab's go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Fatalf("cannot find sselab's go.mod: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// moduleVersion returns the version of a dependency in go.mod.
func moduleVersion(t testing.TB, path string) string {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Version}}", path)
	cmd.Dir = ModuleRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", path, err)
	}
	return strings.TrimSpace(string(out))
}

// cachedBuild returns ToolsDir()/name, building it with build(tmpPath)
// first if it is missing; a program that cannot be had skips the test, or
// fails it under CI.
func cachedBuild(t testing.TB, name string, buildCmd func(out string) *exec.Cmd) string {
	t.Helper()
	path, err := build(name, buildCmd)
	if err != nil {
		unavailable(t, "%v", err)
	}
	return path
}

// build returns ToolsDir()/name, building it with buildCmd(tmpPath) first
// if it is missing. The build goes to a temporary name and is renamed
// into place, so concurrent test binaries never see half a file.
func build(name string, buildCmd func(out string) *exec.Cmd) (string, error) {
	if _, err := exec.LookPath("go"); err != nil {
		return "", fmt.Errorf("no Go toolchain to build %s", name)
	}
	dir, err := ToolsDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory for %s: %w", name, err)
	}
	path := filepath.Join(dir, name+exe())
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(dir, ".tmp-"+name+"-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, filepath.Base(path))
	if strings.HasPrefix(name, "mc-") {
		out = filepath.Join(tmp, "mc"+exe()) // go install names it after the package
	}
	if b, err := buildCmd(out).CombinedOutput(); err != nil {
		return "", fmt.Errorf("building %s: %v\n%s", name, err, b)
	}
	if err := os.Rename(out, path); err != nil {
		return "", err
	}
	return path, nil
}

func exe() string {
	if runtime.GOOS == "windows" {
		return ".exe"
	}
	return ""
}

// FreeAddr returns a loopback address (127.0.0.1:PORT) whose port was free
// a moment ago: nobody listens there, unless another program took it since.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Program returns the path of the first of names found in PATH: a client
// the tests run as a user would (rclone, the AWS CLI, s3cmd). Without one
// the test is skipped, or fails under CI; .ci/run installs them.
func Program(t testing.TB, names ...string) string {
	t.Helper()
	for _, name := range names {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	unavailable(t, "none of %s is installed (Debian: apt-get install %s)", strings.Join(names, ", "), names[0])
	return ""
}
