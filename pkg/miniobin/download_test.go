package miniobin

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"aead.dev/minisign"
)

// site plays a release site: it serves the fake minio as the asset of
// LastRelease for this OS/arch, with a .sha256sum and a .minisig made with
// a test key, and can misbehave in the ways a real site does.
type site struct {
	srv      *httptest.Server
	body     []byte
	sumLine  string // .sha256sum content; "" = 404
	sig      []byte // .minisig content; nil = 404
	pub      string // the public key that verifies sig
	priv     minisign.PrivateKey
	status   int  // if set, the asset answers with this status
	truncate bool // the first asset request sends half the body and hangs up
	stall    bool // the asset request sends headers, then nothing
	requests atomic.Int32
	mu       sync.Mutex
	ranges   []string
}

func newSite(t *testing.T) *site {
	t.Helper()
	body, err := os.ReadFile(master)
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, err := minisign.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pubText, _ := pub.MarshalText()
	s := &site{body: body, sumLine: masterSum + "  minio\n", sig: hashedSign(priv, body), pub: string(pubText), priv: priv}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// asset is the path of the fake release asset.
func (s *site) asset() string {
	return "/" + LastRelease + "/" + assetName(runtimeGOOS(), runtimeGOARCH(), LastRelease)
}

func (s *site) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	switch r.URL.Path {
	case "/moved":
		http.Redirect(w, r, s.asset(), http.StatusFound)
		return
	case "/moved.sha256sum":
		http.Redirect(w, r, s.asset()+".sha256sum", http.StatusFound)
		return
	case "/moved.minisig":
		http.Redirect(w, r, s.asset()+".minisig", http.StatusFound)
		return
	case s.asset() + ".sha256sum":
		if s.sumLine == "" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, s.sumLine)
		return
	case s.asset() + ".minisig":
		if s.sig == nil {
			http.NotFound(w, r)
			return
		}
		w.Write(s.sig)
		return
	case s.asset():
	default:
		http.NotFound(w, r)
		return
	}
	if s.status != 0 {
		http.Error(w, http.StatusText(s.status), s.status)
		return
	}
	s.mu.Lock()
	s.ranges = append(s.ranges, r.Header.Get("Range"))
	first := len(s.ranges) == 1
	s.mu.Unlock()
	if s.stall {
		w.Header().Set("Content-Length", strconv.Itoa(len(s.body)))
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		return
	}
	if s.truncate && first {
		w.Header().Set("Content-Length", strconv.Itoa(len(s.body)))
		w.WriteHeader(http.StatusOK)
		w.Write(s.body[:len(s.body)/2])
		w.(http.Flusher).Flush()
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
		return
	}
	http.ServeContent(w, r, "minio", time.Time{}, strings.NewReader(string(s.body)))
}

func (s *site) options(t *testing.T) FetchOptions {
	return FetchOptions{
		Options:   Options{CacheDir: filepath.Join(t.TempDir(), "cache")},
		BaseURL:   s.srv.URL,
		PublicKey: s.pub,
	}
}

// runnable lists the executable files in the cache outside downloads/.
func runnable(t *testing.T, cacheDir string) []string {
	t.Helper()
	var found []string
	filepath.Walk(cacheDir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			found = append(found, p)
		}
		return nil
	})
	return found
}

func TestFetchVerifiesAndCaches(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	o := s.options(t)
	b, err := Fetch(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if b.Source != SourceDownload || b.Version != fakeVersion {
		t.Errorf("got %+v, want a download of %s", *b, fakeVersion)
	}
	m, err := readManifest(filepath.Dir(b.Path))
	if err != nil {
		t.Fatal(err)
	}
	if m.SHA256 != masterSum || m.Version != LastRelease || m.Source != s.srv.URL+s.asset() || m.Signature != "verified" {
		t.Errorf("manifest: got %+v, want version %s, sha256 %s, the asset URL and a verified signature", m, LastRelease, masterSum)
	}
	if _, err := Check(context.Background(), b.Path); err != nil {
		t.Errorf("the cached binary does not run: %v", err)
	}
	before := s.requests.Load()
	if b2, err := Fetch(context.Background(), o); err != nil || b2.Path != b.Path {
		t.Errorf("second Fetch: got %+v, %v; want the cached %s", b2, err, b.Path)
	}
	if n := s.requests.Load() - before; n != 0 {
		t.Errorf("second Fetch made %d requests, want none", n)
	}
	// What Find does with it: the newest cached binary, no network.
	if f, err := Find(context.Background(), Options{CacheDir: o.CacheDir, LookPath: lookPath(nil)}); err != nil || f.Path != b.Path {
		t.Errorf("Find after Fetch: got %+v, %v; want %s", f, err, b.Path)
	}
}

func TestFetchRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(s *site, o *FetchOptions)
		want  string
	}{
		{"wrong sha256sum", func(s *site, o *FetchOptions) { s.sumLine = strings.Repeat("ab", 32) + "  minio\n" }, "checksum mismatch"},
		{"wrong --sha256", func(s *site, o *FetchOptions) { o.SHA256 = strings.Repeat("0", 64) }, "checksum mismatch"},
		{"malformed --sha256", func(s *site, o *FetchOptions) { o.SHA256 = "xyz" }, "is not a hex SHA-256"},
		{"no checksum published", func(s *site, o *FetchOptions) { s.sumLine = "" }, "pass --sha256"},
		{"signature by another key", func(s *site, o *FetchOptions) { s.sig = hashedSign(otherKey(t), s.body) }, "bad signature"},
		{"signature of other content", func(s *site, o *FetchOptions) { s.sig = hashedSign(s.priv, []byte("something else")) }, "bad signature"},
		{"garbage signature", func(s *site, o *FetchOptions) { s.sig = []byte("not a signature") }, "bad signature"},
		{"404", func(s *site, o *FetchOptions) { s.status = http.StatusNotFound }, "not found (404); check --release / --url"},
		{"410", func(s *site, o *FetchOptions) { s.status = http.StatusGone }, "no longer serves community MinIO binaries (410 Gone); build from source with 'sselab minio build' or pass --url"},
		{"500", func(s *site, o *FetchOptions) { s.status = http.StatusInternalServerError }, "500 Internal Server Error"},
		{"unknown release tag", func(s *site, o *FetchOptions) { o.Release = "latest" }, `unknown release tag "latest"`},
		{"http on another host", func(s *site, o *FetchOptions) { o.URL = "http://mirror.example.com/minio" }, "not HTTPS; use https, a loopback mirror, or --insecure-url"},
		{"ftp", func(s *site, o *FetchOptions) { o.URL = "ftp://mirror.example.com/minio" }, "only https"},
		{"not MinIO", func(s *site, o *FetchOptions) {
			s.body = []byte("#!/bin/sh\necho hello\n")
			s.sumLine, s.sig = "", nil
			o.SHA256 = sha256Hex(s.body)
		}, "not a MinIO server binary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSite(t)
			o := s.options(t)
			tt.setup(s, &o)
			b, err := Fetch(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "miniobin: ") {
				t.Fatalf("got %+v, %v; want an error containing %q", b, err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			if found := runnable(t, o.CacheDir); len(found) > 0 {
				t.Errorf("executables left in the cache: %v", found)
			}
		})
	}
}

func TestFetchNoRequestWhenRefusedEarly(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	for _, o := range []FetchOptions{
		{Options: s.options(t).Options, URL: "http://mirror.example.com/minio"},
		{Options: s.options(t).Options, BaseURL: s.srv.URL, Release: "RELEASE.latest"},
	} {
		Fetch(context.Background(), o)
	}
	if n := s.requests.Load(); n != 0 {
		t.Errorf("refused fetches made %d requests, want none", n)
	}
}

func TestFetchUnsigned(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	s.sig = nil
	o := s.options(t)
	b, err := Fetch(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := readManifest(filepath.Dir(b.Path)); m.Signature != "unsigned" {
		t.Errorf("manifest signature: got %q, want unsigned", m.Signature)
	}
}

func TestFetchSHA256Flag(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	s.sumLine = ""
	o := s.options(t)
	o.SHA256 = strings.ToUpper(masterSum)
	if _, err := Fetch(context.Background(), o); err != nil {
		t.Fatalf("with --sha256 and no .sha256sum: %v", err)
	}
}

func TestFetchResumes(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	s.truncate = true
	o := s.options(t)
	if _, err := Fetch(context.Background(), o); err == nil || !strings.Contains(err.Error(), "run again to resume") {
		t.Fatalf("cut download: got %v, want an error saying to run again", err)
	}
	if found := runnable(t, o.CacheDir); len(found) > 0 {
		t.Errorf("executables in the cache after a cut download: %v", found)
	}
	b, err := Fetch(context.Background(), o)
	if err != nil {
		t.Fatalf("second Fetch: %v", err)
	}
	s.mu.Lock()
	ranges := append([]string(nil), s.ranges...)
	s.mu.Unlock()
	if want := "bytes=" + strconv.Itoa(len(s.body)/2) + "-"; len(ranges) != 2 || ranges[1] != want {
		t.Errorf("asset requests' Range headers: got %q, want [\"\" %q]", ranges, want)
	}
	if sum, _ := fileSHA256(b.Path); sum != masterSum {
		t.Errorf("resumed binary: sha256 %s, want %s", sum, masterSum)
	}
}

func TestFetchStall(t *testing.T) {
	// Not parallel: it shortens the package's stall timeout.
	defer func(d time.Duration) { stallTimeout = d }(stallTimeout)
	stallTimeout = 200 * time.Millisecond
	s := newSite(t)
	s.stall = true
	o := s.options(t)
	if _, err := Fetch(context.Background(), o); err == nil || !strings.Contains(err.Error(), "stalled") {
		t.Fatalf("got %v, want an error saying the download stalled", err)
	}
}

func TestFetchRedirectAndURL(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	o := s.options(t)
	o.URL = s.srv.URL + "/moved"
	b, err := Fetch(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if b.Version != fakeVersion || filepath.Base(filepath.Dir(b.Path)) != fakeVersion {
		t.Errorf("--url download: got %+v, want version %s named after what the binary reports", *b, fakeVersion)
	}
	before := s.requests.Load()
	if _, err := Fetch(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if n := s.requests.Load() - before; n != 0 {
		t.Errorf("second Fetch of the same --url made %d requests, want none", n)
	}
}

func TestFetchRefusesDowngradeRedirect(t *testing.T) {
	t.Parallel()
	plain := newSite(t)
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.srv.URL+plain.asset(), http.StatusFound)
	}))
	defer tlsSrv.Close()
	o := plain.options(t)
	o.URL = tlsSrv.URL + "/minio"
	o.SHA256 = masterSum
	o.Client = tlsSrv.Client()
	if _, err := Fetch(context.Background(), o); err == nil || !strings.Contains(err.Error(), "redirect from https") {
		t.Errorf("https redirected to http: got %v, want a refusal", err)
	}
}

func TestFetchUnwritableCache(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	o := s.options(t)
	os.WriteFile(o.CacheDir, []byte("a file, not a directory"), 0o600)
	if _, err := Fetch(context.Background(), o); err == nil || !strings.Contains(err.Error(), o.CacheDir) {
		t.Errorf("cache dir is a file: got %v, want an error naming %s", err, o.CacheDir)
	}
}

// otherKey is a minisign key that is not the site's.
func otherKey(t *testing.T) minisign.PrivateKey {
	_, priv, err := minisign.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func runtimeGOOS() string   { return runtime.GOOS }
func runtimeGOARCH() string { return runtime.GOARCH }

// hashedSign signs like the minisign tool does by default (prehashed).
func hashedSign(priv minisign.PrivateKey, body []byte) []byte {
	r := minisign.NewReader(bytes.NewReader(body))
	io.Copy(io.Discard, r) // Sign covers what was read
	return r.Sign(priv)
}

func TestFetchLegacySignature(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	s.sig = minisign.Sign(s.priv, s.body) // not prehashed
	if _, err := Fetch(context.Background(), s.options(t)); err != nil {
		t.Errorf("a legacy (not prehashed) signature: %v", err)
	}
}

func TestFetchConcurrent(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	o := s.options(t)
	var wg sync.WaitGroup
	paths := make([]string, 4)
	errs := make([]error, 4)
	for i := range paths {
		wg.Go(func() {
			b, err := Fetch(context.Background(), o)
			errs[i] = err
			if err == nil {
				paths[i] = b.Path
			}
		})
	}
	wg.Wait()
	for i := range paths {
		if errs[i] != nil || paths[i] != paths[0] {
			t.Errorf("fetch %d: got %q, %v; want %q", i, paths[i], errs[i], paths[0])
		}
	}
	s.mu.Lock()
	n := len(s.ranges)
	s.mu.Unlock()
	if n != 1 {
		t.Errorf("4 concurrent fetches downloaded the binary %d times, want once", n)
	}
	if sum, _ := fileSHA256(paths[0]); sum != masterSum {
		t.Errorf("cached binary: sha256 %s, want %s", sum, masterSum)
	}
}
