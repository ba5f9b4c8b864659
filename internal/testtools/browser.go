package testtools

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sselab/sselab/pkg/miniobin"
)

// The size of the browser's window and of the page's viewport.
const browserWidth, browserHeight = 1366, 900

// chromiumNames are the programs Chromium looks for in PATH, in order.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome"}

// Chromium returns the browser the browser tests drive: $SSELAB_CHROMIUM
// if set (a path, or a name looked up in PATH), else the first of
// chromium, chromium-browser and google-chrome in PATH. Without one the
// test is skipped, or fails under CI.
func Chromium(t testing.TB) string {
	t.Helper()
	if env := os.Getenv("SSELAB_CHROMIUM"); env != "" {
		path, err := exec.LookPath(env)
		if err != nil {
			t.Fatalf("SSELAB_CHROMIUM=%s: %v; point it at a Chromium or Chrome binary, or unset it", env, err)
		}
		return path
	}
	for _, name := range chromiumNames {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	unavailable(t, "no Chromium for the browser tests (looked for %s in PATH); "+
		"install it with 'apt-get install chromium' (Debian, Ubuntu) or set SSELAB_CHROMIUM to a Chromium or Chrome binary",
		strings.Join(chromiumNames, ", "))
	return ""
}

// SPKIHash returns the base64 SHA-256 hash of cert's SubjectPublicKeyInfo,
// the form Chromium's --ignore-certificate-errors-spki-list takes.
func SPKIHash(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// Browser starts a headless Chromium (see Chromium) with a 1366x900
// window and viewport and returns the context of its first tab, for
// chromedp.Run and chromedp.Do. The browser is closed, and its process
// gone, when the test ends; if the test failed, the browser's own output
// is logged.
//
// The browser trusts the system's certificate authorities, and also any
// server certificate whose SubjectPublicKeyInfo hash (see SPKIHash) is in
// trustSPKI, whoever signed it: that is how a test trusts exactly one
// server, such as the lab's console, and nothing else. Pass the hash of the
// leaf certificate the server presents.
//
// The tab's context ends 5 seconds before the test's deadline, so a
// browser action that hangs fails the test instead of the test binary.
func Browser(t testing.TB, trustSPKI ...string) context.Context {
	t.Helper()
	for _, h := range trustSPKI {
		// A KES identity is the same hash in hex: easy to pass by mistake.
		if b, err := base64.StdEncoding.DecodeString(h); err != nil || len(b) != sha256.Size {
			t.Fatalf("testtools.Browser: %q is not a base64 SHA-256 hash of a SubjectPublicKeyInfo; make it with SPKIHash", h)
		}
	}
	path := Chromium(t)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		// Chromium refuses to run as root with its sandbox; the root of a
		// CI container is the usual case.
		chromedp.Flag("no-sandbox", os.Geteuid() == 0),
		chromedp.WindowSize(browserWidth, browserHeight),
		chromedp.DisableGPU,
	)
	if len(trustSPKI) > 0 {
		// Chromium honors this flag only with a --user-data-dir, which
		// chromedp always passes (a temporary directory per browser).
		opts = append(opts, chromedp.Flag("ignore-certificate-errors-spki-list", strings.Join(trustSPKI, ",")))
	}
	output := &tailBuffer{max: 16 << 10}
	opts = append(opts, chromedp.CombinedOutput(output))

	parent, cancelParent := context.Background(), context.CancelFunc(func() {})
	if dt, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if d, ok := dt.Deadline(); ok {
			parent, cancelParent = context.WithDeadline(parent, d.Add(-5*time.Second))
		}
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(parent, opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		// Close the browser gracefully, then make sure: cancelAlloc waits
		// until the process has exited and its profile directory is gone.
		closeCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := chromedp.Cancel(closeCtx); err != nil && ctx.Err() == nil {
			t.Logf("closing the browser: %v", err)
		}
		cancel()
		cancelTab()
		cancelAlloc()
		cancelParent()
		if t.Failed() {
			if out := strings.TrimSpace(output.String()); out != "" {
				t.Logf("output of %s:\n%s", path, out)
			}
		}
	})
	// Start the browser now, bound to ctx rather than to the context of
	// the test's first action, so that a failure to start shows here.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", path, err) // the cleanup logs its output
	}
	// Headless Chromium takes --window-size as the outer size of a window
	// whose (invisible) toolbar still takes room: at 1366x900 the page
	// would get 1366x757. Give the page the whole size.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(browserWidth, browserHeight)); err != nil {
		t.Fatalf("setting the viewport to %dx%d: %v", browserWidth, browserHeight, err)
	}
	return ctx
}

// Screenshot saves a full-page PNG of the tab in ctx (see Browser) as
// name.png in a directory for the test, outside the repository:
// $SSELAB_ARTIFACTS/<test>/ if set, else <cache>/artifacts/<test>/ where
// <cache> is sselab's per-user cache (~/.cache/sselab on Linux). It logs
// the path and returns it.
func Screenshot(t testing.TB, ctx context.Context, name string) string {
	t.Helper()
	dir := ArtifactsDir(t)
	path := filepath.Join(dir, sanitize(name)+".png")
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
	return path
}

// ArtifactsDir returns the directory where the test's artifacts, such as
// screenshots, go (see Screenshot); it may not exist yet. It fails the test
// if that directory would be inside the repository.
func ArtifactsDir(t testing.TB) string {
	t.Helper()
	base := os.Getenv("SSELAB_ARTIFACTS")
	if base == "" {
		cache, err := miniobin.CacheDir()
		if err != nil {
			t.Fatalf("no directory for test artifacts (set SSELAB_ARTIFACTS): %v", err)
		}
		base = filepath.Join(cache, "artifacts")
	}
	base, err := filepath.Abs(base)
	if err != nil {
		t.Fatalf("SSELAB_ARTIFACTS: %v", err)
	}
	if root := moduleRootAbove(); root != "" && within(root, base) {
		t.Fatalf("test artifacts would go to %s, inside the repository %s; set SSELAB_ARTIFACTS to a directory outside it", base, root)
	}
	return filepath.Join(base, sanitize(t.Name()))
}

// sanitize turns a test or artifact name into one path element: every
// rune but ASCII letters, digits, '.', '-' and '_' becomes '_' (the '/'
// of a subtest too), and a name of only dots becomes "_".
func sanitize(name string) string {
	s := strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '.', r == '-', r == '_':
			return r
		}
		return '_'
	}, name)
	if strings.Trim(s, ".") == "" {
		return "_"
	}
	return s
}

// moduleRootAbove returns the nearest directory at or above the working
// directory (a test runs in its package's directory) that holds a go.mod,
// or "" if there is none.
func moduleRootAbove() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			return ""
		}
		dir = up
	}
}

// within reports whether path is dir or inside it; both are absolute.
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// tailBuffer keeps the last max bytes written to it; the browser's output
// goes there from chromedp's goroutines.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
