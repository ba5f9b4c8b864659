package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sselab/sselab/internal/testtools"
	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/miniobin"
)

// TestUpOffline starts a lab with MinIO only in sselab's cache and every
// proxy variable pointing at a listener that counts connections: `up`
// (and the MinIO it starts) must not make a single outside request.
func TestUpOffline(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	cacheDir := t.TempDir()
	version := "RELEASE.2025-09-07T16-13-09Z"
	bin := cacheMinIO(t, cacheDir, version)

	proxy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	var dials atomic.Int32
	go func() {
		for {
			c, err := proxy.Accept()
			if err != nil {
				return
			}
			dials.Add(1)
			c.Close()
		}
	}()
	proxyURL := "http://" + proxy.Addr().String()

	dir := filepath.Join(t.TempDir(), "lab")
	env := append(os.Environ(),
		"SSELAB_CACHE_DIR="+cacheDir, "SSELAB_MINIO=",
		"HTTPS_PROXY="+proxyURL, "HTTP_PROXY="+proxyURL, "https_proxy="+proxyURL, "http_proxy="+proxyURL,
		"NO_PROXY=", "no_proxy=", "GOPROXY=off", "PATH="+os.Getenv("PATH"))
	run := func(args ...string) string {
		cmd := exec.Command(testtools.Sselab(t), args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("sselab %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if got := strings.TrimSpace(run("minio", "path")); got != bin {
		t.Errorf("sselab minio path: got %q, want the cached %s", got, bin)
	}
	run(append([]string{"up", "--detach", "--dir", dir}, freePorts...)...)
	t.Cleanup(func() { stopLab(t, dir) })
	h, err := lab.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if h.State.MinIOPath != bin {
		t.Errorf("the lab runs %s, want the cached %s", h.State.MinIOPath, bin)
	}
	time.Sleep(time.Second) // give MinIO's own background calls a chance to show
	if n := dials.Load(); n != 0 {
		t.Errorf("the offline up made %d connections to the proxy, want none", n)
	}
	// The control: a request through the same environment does reach it.
	cmd := exec.Command("curl", "-s", "-o", "/dev/null", "--max-time", "2", "https://example.invalid/")
	cmd.Env = env
	if _, err := exec.LookPath("curl"); err == nil {
		cmd.Run()
		if dials.Load() == 0 {
			t.Error("a request through the proxy variables did not reach the counting proxy: the test proves nothing")
		}
	}
}

// cacheMinIO puts the test MinIO into cacheDir as version, with a
// manifest, the way 'sselab minio fetch' leaves it.
func cacheMinIO(t *testing.T, cacheDir, version string) string {
	t.Helper()
	src := testtools.MinIO(t)
	dir := filepath.Join(cacheDir, "minio", version)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "minio")
	if err := os.Link(src, bin); err != nil {
		copyFile(t, src, bin)
	}
	f, err := os.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	m := miniobin.Manifest{Version: version, SHA256: hex.EncodeToString(h.Sum(nil)), Source: "test", Created: time.Now().UTC()}
	raw, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return bin
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
