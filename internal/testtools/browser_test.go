package testtools

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"image/png"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const (
	formTitle = "sselab browser check"
	formPage  = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>` + formTitle + `</title>
<style>
body { font-family: sans-serif; margin: 2em; }
#out { font-size: 1.5em; color: #064; }
</style></head>
<body>
<h1>` + formTitle + `</h1>
<form id="form">
<label>Say something <input id="said" autocomplete="off"></label>
<button id="send" type="submit">Send</button>
</form>
<p>The page heard: <output id="out"></output></p>
<script>
document.getElementById("form").addEventListener("submit", function (e) {
	e.preventDefault();
	document.getElementById("out").textContent = document.getElementById("said").value;
});
</script>
</body></html>
`
)

// TestBrowser drives Chromium through a form on an HTTPS server whose
// certificate no authority vouches for: trusted by its SPKI hash the page
// works, and without the hash the browser refuses it.
func TestBrowser(t *testing.T) {
	t.Parallel()
	var untrustedHits atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/untrusted" {
			untrustedHits.Add(1)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, formPage)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.StartTLS()
	t.Cleanup(srv.Close)

	// Every browser must be gone once its test is over; parallel subtests
	// end before the parent's cleanups run.
	var mu sync.Mutex
	var browsers []*os.Process
	started := func(t *testing.T, p *os.Process) {
		if p == nil {
			t.Fatal("chromedp knows no browser process")
		}
		mu.Lock()
		browsers = append(browsers, p)
		mu.Unlock()
	}
	t.Cleanup(func() {
		for _, p := range browsers {
			if err := p.Signal(syscall.Signal(0)); !errors.Is(err, os.ErrProcessDone) {
				t.Errorf("browser process %d after the test: got %v, want %v", p.Pid, err, os.ErrProcessDone)
			}
		}
	})

	t.Run("trusted", func(t *testing.T) {
		t.Parallel()
		ctx := Browser(t, SPKIHash(srv.Certificate()))
		started(t, chromedp.FromContext(ctx).Browser.Process())

		const said = "Hello from sselab, KES and MinIO 42"
		if err := chromedp.Do(ctx,
			chromedp.Navigate(srv.URL+"/trusted"),
			chromedp.WaitVisible(chromedp.ID("said")),
			chromedp.SendKeys(chromedp.ID("said"), said),
			chromedp.Click(chromedp.ID("send")),
		); err != nil {
			t.Fatal(err)
		}
		size, err := chromedp.Run(ctx, chromedp.Evaluate[[2]int](`[window.innerWidth, window.innerHeight]`))
		if err != nil {
			t.Fatal(err)
		}
		if size != [2]int{1366, 900} {
			t.Errorf("viewport is %dx%d, want 1366x900", size[0], size[1])
		}
		heard, err := chromedp.Run(ctx, chromedp.Poll[string](
			`document.getElementById("out").textContent`, chromedp.WithPollingTimeout(10*time.Second)))
		if err != nil {
			t.Fatalf("waiting for the page to echo the input: %v", err)
		}
		if heard != said {
			t.Errorf("page heard %q, want %q", heard, said)
		}

		path := Screenshot(t, ctx, "form")
		if dir := filepath.Dir(path); !strings.HasSuffix(dir, sanitize(t.Name())) {
			t.Errorf("screenshot in %s, want a directory named after the test (%s)", dir, sanitize(t.Name()))
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		img, err := png.Decode(f)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if w := img.Bounds().Dx(); w != 1366 {
			t.Errorf("screenshot is %d pixels wide, want 1366", w)
		}
		// Something was drawn: a blank page has one color.
		b := img.Bounds()
		first := img.At(b.Min.X, b.Min.Y)
		drawn := false
		for y := b.Min.Y; y < b.Max.Y && !drawn; y += 2 {
			for x := b.Min.X; x < b.Max.X; x += 2 {
				if img.At(x, y) != first {
					drawn = true
					break
				}
			}
		}
		if !drawn {
			t.Errorf("screenshot %s is a single color", path)
		}
	})

	t.Run("untrusted", func(t *testing.T) {
		t.Parallel()
		ctx := Browser(t) // no SPKI hash: the test server's certificate has no trusted issuer
		started(t, chromedp.FromContext(ctx).Browser.Process())

		err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/untrusted"))
		var loadErr *chromedp.LoadError
		switch {
		case err == nil:
			// Some Chromium versions load an error page instead; it must
			// not be ours.
			title, err := chromedp.Run(ctx, chromedp.Title())
			if err != nil {
				t.Fatal(err)
			}
			if title == formTitle {
				t.Errorf("browser without the SPKI hash loaded the page (title %q)", title)
			}
		case errors.As(err, &loadErr):
			if !strings.HasPrefix(loadErr.ErrorText, "net::ERR_CERT_") {
				t.Errorf("navigation failed with %s, want a certificate error (net::ERR_CERT_...)", loadErr.ErrorText)
			}
			t.Logf("navigation refused, as it should be: %v", err)
		default:
			t.Fatalf("navigation: got %v, want a certificate error (net::ERR_CERT_...)", err)
		}
		if n := untrustedHits.Load(); n != 0 {
			t.Errorf("the server answered %d requests from the browser that does not trust it, want 0", n)
		}
	})
}

func TestSPKIHash(t *testing.T) {
	cert := httptest.NewTLSServer(http.NotFoundHandler())
	defer cert.Close()
	c := cert.Certificate()
	der, err := x509.MarshalPKIXPublicKey(c.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	if got, want := SPKIHash(c), base64.StdEncoding.EncodeToString(sum[:]); got != want {
		t.Errorf("SPKIHash: got %s, want %s", got, want)
	}
}

func TestSanitize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"TestBrowser", "TestBrowser"},
		{"TestBrowser/trusted", "TestBrowser_trusted"},
		{"TestX/a_b-c.d", "TestX_a_b-c.d"},
		{`a\b:c*d?e"f<g>h|i j`, "a_b_c_d_e_f_g_h_i_j"},
		{"héllo", "h_llo"},
		{"..", "_"},
		{".", "_"},
		{"", "_"},
		{"../../etc", ".._.._etc"},
	} {
		if got := sanitize(tc.in); got != tc.want {
			t.Errorf("sanitize(%q): got %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestWithin(t *testing.T) {
	root := filepath.FromSlash("/work/main")
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"/work/main", true},
		{"/work/main/internal/x", true},
		{"/work/mainly", false},
		{"/work/..main", false},
		{"/work", false},
		{"/root/.cache/sselab/artifacts", false},
	} {
		if got := within(root, filepath.FromSlash(tc.path)); got != tc.want {
			t.Errorf("within(%s, %s): got %v, want %v", root, tc.path, got, tc.want)
		}
	}
}
