package miniobin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"aead.dev/minisign"

	"github.com/sselab/sselab/internal/fsutil"
	"github.com/sselab/sselab/internal/progress"
)

// LastRelease is the last community MinIO release published with binaries.
const LastRelease = "RELEASE.2025-09-07T16-13-09Z"

// ReleaseBaseURL is where release assets are downloaded from by default:
// GitHub release assets of github.com/minio/minio.
const ReleaseBaseURL = "https://github.com/minio/minio/releases/download"

// MinIOPublicKey is MinIO's minisign public key for its release binaries.
const MinIOPublicKey = "RWTx5Zr1tiHQLwG9keckT0c45M3AGeHD6IvimQHpyRywVWGbP1aVSGav"

// FetchOptions say what Fetch downloads and how.
type FetchOptions struct {
	Options

	// Release is the release tag; default LastRelease.
	Release string
	// URL is a direct URL of a binary (a mirror or an artifact store); it
	// replaces Release.
	URL string
	// SHA256 is the expected hex digest; default: the one published next
	// to the binary as URL.sha256sum ("<hex>  <name>").
	SHA256 string
	// InsecureURL allows http:// URLs of hosts other than loopback.
	InsecureURL bool
	// BaseURL is the release site; default ReleaseBaseURL.
	BaseURL string
	// PublicKey verifies URL.minisig when the site publishes one; default
	// MinIOPublicKey.
	PublicKey string
	// Client makes the requests; default: timeouts for connecting and the
	// response header, no overall limit (a stalled body is cut after
	// stallTimeout).
	Client *http.Client
}

// releaseTag is the form of MinIO release tags.
var releaseTag = regexp.MustCompile(`^RELEASE\.\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z$`)

// stallTimeout cuts a download when no byte arrives for this long.
var stallTimeout = 60 * time.Second

// assetName is the GitHub release asset of MinIO for an OS and
// architecture: minio.<os>-<arch>.<tag>, with .exe on Windows. Public
// scripts that download RELEASE.2025-09-07T16-13-09Z from GitHub use this
// form for linux-amd64, linux-arm64, darwin-arm64 and windows-amd64 (found
// with the code search; this machine cannot reach GitHub). Other pairs
// answer 404, and --url takes any other name.
func assetName(goos, goarch, tag string) string {
	name := "minio." + goos + "-" + goarch + "." + tag
	if goos == "windows" {
		name += ".exe"
	}
	return name
}

// Fetch downloads a MinIO server binary for this OS and architecture,
// verifies it (sha256 from o.SHA256 or URL.sha256sum; minisign signature
// URL.minisig when published) and installs it into the cache as
// CACHE/minio/<version>/ with a manifest. An interrupted download resumes
// with an HTTP Range request the next time. Only a verified binary ever
// becomes executable in the cache. A version that is already cached and
// intact is returned without any request.
func Fetch(ctx context.Context, o FetchOptions) (*Binary, error) {
	var err error
	if o.Options, err = o.Options.withDefaults(); err != nil {
		return nil, err
	}
	fromRelease := o.URL == ""
	src, err := o.source()
	if err != nil {
		return nil, err
	}
	if b, err := o.cachedDownload(ctx, src, fromRelease); err != nil || b != nil {
		return b, err
	}
	if o.Client == nil {
		o.Client = defaultClient()
	}
	if o.PublicKey == "" {
		o.PublicKey = MinIOPublicKey
	}
	if err := fsutil.MkdirPrivate(filepath.Join(minioDir(o.CacheDir), "downloads")); err != nil {
		return nil, fmt.Errorf("miniobin: cache directory %s is not usable: %w", o.CacheDir, err)
	}
	lockOpts := o.Options
	lockOpts.Version = "download-" + shortHash(src)
	unlock, err := acquireLock(ctx, lockPath(lockOpts), o.Progress)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// Another process may have fetched it while this one waited.
	if b, err := o.cachedDownload(ctx, src, fromRelease); err != nil || b != nil {
		return b, err
	}

	want, err := o.expectedSHA256(ctx, src)
	if err != nil {
		return nil, err
	}
	part := filepath.Join(minioDir(o.CacheDir), "downloads", shortHash(src)+".part")
	if err := o.download(ctx, src, part); err != nil {
		return nil, err
	}
	got, err := fileSHA256(part)
	if err != nil {
		return nil, fmt.Errorf("miniobin: %w", err)
	}
	if got != want {
		os.Remove(part)
		return nil, fmt.Errorf("miniobin: checksum mismatch for %s: got %s, want %s; the download is corrupt or tampered with; nothing was installed", src, got, want)
	}
	signature, err := o.verifySignature(ctx, src, part)
	if err != nil {
		os.Remove(part)
		return nil, err
	}
	return o.install(ctx, src, part, got, signature, fromRelease)
}

// cachedDownload returns the cache entry of an earlier Fetch of the same
// release or URL, checked against its manifest, or nil.
func (o *FetchOptions) cachedDownload(ctx context.Context, src string, fromRelease bool) (*Binary, error) {
	opts := o.Options
	if fromRelease {
		opts.Version = o.Release
		return cached(ctx, opts)
	}
	entries, err := List(opts)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.Manifest.Source == src {
			opts.Version = e.Version
			return cached(ctx, opts)
		}
	}
	return nil, nil
}

// source validates the options and returns the URL to download: o.URL,
// else the release asset of o.Release for this OS and architecture.
func (o *FetchOptions) source() (string, error) {
	src := o.URL
	if src == "" {
		if o.Release == "" {
			o.Release = LastRelease
		}
		if !releaseTag.MatchString(o.Release) {
			return "", fmt.Errorf("miniobin: unknown release tag %q; tags look like %s", o.Release, LastRelease)
		}
		base := o.BaseURL
		if base == "" {
			base = ReleaseBaseURL
		}
		src = strings.TrimSuffix(base, "/") + "/" + o.Release + "/" + assetName(runtime.GOOS, runtime.GOARCH, o.Release)
	}
	if o.SHA256 != "" {
		if b, err := hex.DecodeString(o.SHA256); err != nil || len(b) != sha256.Size {
			return "", fmt.Errorf("miniobin: --sha256 %q is not a hex SHA-256 (64 hex digits)", o.SHA256)
		}
		o.SHA256 = strings.ToLower(o.SHA256)
	}
	u, err := url.Parse(src)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("miniobin: %q is not a URL", src)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && (o.InsecureURL || isLoopback(u.Hostname())):
	case u.Scheme == "http":
		return "", fmt.Errorf("miniobin: refusing %s: not HTTPS; use https, a loopback mirror, or --insecure-url", src)
	default:
		return "", fmt.Errorf("miniobin: refusing %s: only https (and http on loopback) URLs are supported", src)
	}
	return src, nil
}

// isLoopback reports whether host is localhost or a loopback address.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// defaultClient has timeouts for everything but the body, which
// stallReader guards.
func defaultClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
		},
		CheckRedirect: checkRedirect,
	}
}

// checkRedirect follows up to 10 redirects, never from https to http,
// and to http only on loopback (plain http elsewhere needs --insecure-url,
// which a redirect cannot give).
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("too many redirects")
	}
	if req.URL.Scheme == "https" {
		return nil
	}
	for _, prev := range via {
		if prev.URL.Scheme == "https" {
			return fmt.Errorf("refusing a redirect from https to %s", req.URL.Redacted())
		}
	}
	if req.URL.Scheme != "http" || !isLoopback(req.URL.Hostname()) {
		return fmt.Errorf("refusing a redirect to %s: not HTTPS", req.URL.Redacted())
	}
	return nil
}

// shortHash names the download state of one URL.
func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// get requests url (with Range from offset when > 0) and turns HTTP
// errors into one line that says what to do.
func (o *FetchOptions) get(ctx context.Context, u string, offset int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("miniobin: %w", err)
	}
	req.Header.Set("Accept-Encoding", "identity") // byte offsets must mean the same on resume
	if offset > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(offset, 10)+"-")
	}
	if o.Client.CheckRedirect == nil {
		c := *o.Client
		c.CheckRedirect = checkRedirect
		o.Client = &c
	}
	resp, err := o.Client.Do(req)
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		err = ue.Err // the URL is in the message already
	}
	if err != nil {
		return nil, fmt.Errorf("miniobin: cannot download %s: %w; check the network, pass --url with a mirror, or build from source with 'sselab minio build'", u, err)
	}
	switch {
	case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusPartialContent:
		return resp, nil
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		return resp, nil
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotFound:
		return nil, &httpError{resp.StatusCode, fmt.Sprintf("miniobin: %s: not found (404); check --release / --url", u)}
	case http.StatusGone:
		return nil, &httpError{resp.StatusCode, fmt.Sprintf("miniobin: %s: the site no longer serves community MinIO binaries (410 Gone); build from source with 'sselab minio build' or pass --url with a mirror", u)}
	}
	return nil, &httpError{resp.StatusCode, fmt.Sprintf("miniobin: %s: %s", u, resp.Status)}
}

// httpError is an HTTP failure with its status.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

// expectedSHA256 is o.SHA256, else the digest published at src.sha256sum.
func (o *FetchOptions) expectedSHA256(ctx context.Context, src string) (string, error) {
	if o.SHA256 != "" {
		return o.SHA256, nil
	}
	resp, err := o.get(ctx, src+".sha256sum", 0)
	var he *httpError
	if errors.As(err, &he) && he.status == http.StatusNotFound {
		return "", fmt.Errorf("miniobin: no checksum is published at %s.sha256sum; pass --sha256 HEX to verify the download", src)
	}
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return "", fmt.Errorf("miniobin: %s.sha256sum: %w", src, err)
	}
	fields := strings.Fields(string(raw))
	if len(fields) == 0 {
		return "", fmt.Errorf("miniobin: %s.sha256sum is empty; pass --sha256", src)
	}
	sum := strings.ToLower(fields[0])
	if b, err := hex.DecodeString(sum); err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("miniobin: %s.sha256sum does not start with a hex SHA-256; pass --sha256", src)
	}
	return sum, nil
}

// download fetches src into part, resuming what an earlier attempt left.
func (o *FetchOptions) download(ctx context.Context, src, part string) error {
	var offset int64
	if fi, err := os.Stat(part); err == nil {
		offset = fi.Size()
	}
	resp, err := o.get(ctx, src, offset)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	flags := os.O_CREATE | os.O_WRONLY
	switch resp.StatusCode {
	case http.StatusPartialContent:
		flags |= os.O_APPEND
		fmt.Fprintf(o.Progress, "resuming the download of %s at %d bytes\n", src, offset)
	case http.StatusRequestedRangeNotSatisfiable: // the .part is complete, or stale
		resp.Body.Close()
		if offset == 0 {
			return fmt.Errorf("miniobin: %s: the server refuses a download from the start (416)", src)
		}
		os.Remove(part)
		return o.download(ctx, src, part) // offset is 0 now: at most once more
	default: // 200: from the start
		flags |= os.O_TRUNC
		offset = 0
	}
	f, err := os.OpenFile(part, flags, 0o600) // not executable until verified
	if err != nil {
		return fmt.Errorf("miniobin: cache directory %s is not writable: %w", o.CacheDir, err)
	}
	total := int64(-1)
	if resp.ContentLength >= 0 {
		total = offset + resp.ContentLength
	}
	p := progress.New(o.Progress, progress.Options{Description: "downloading MinIO", Total: total, Bytes: true, Terminal: o.ProgressBar})
	p.Set(offset)
	body := newStallReader(resp.Body)
	n, err := io.Copy(io.MultiWriter(f, p), body)
	body.stop()
	p.Finish()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	switch {
	case errors.Is(err, errStalled):
		return fmt.Errorf("miniobin: %s stalled: no data for %v; run again to resume the download", src, stallTimeout)
	case err != nil:
		return fmt.Errorf("miniobin: downloading %s: %w; run again to resume the download", src, err)
	case total >= 0 && offset+n != total:
		return fmt.Errorf("miniobin: downloading %s: got %d of %d bytes; run again to resume the download", src, offset+n, total)
	}
	return nil
}

// verifySignature checks src.minisig when the site publishes one and
// reports "verified" or "unsigned".
func (o *FetchOptions) verifySignature(ctx context.Context, src, part string) (string, error) {
	resp, err := o.get(ctx, src+".minisig", 0)
	var he *httpError
	if errors.As(err, &he) && (he.status == http.StatusNotFound || he.status == http.StatusForbidden) {
		return "unsigned", nil // S3-style stores answer 403 for a missing file
	}
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	sig, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", fmt.Errorf("miniobin: %s.minisig: %w", src, err)
	}
	var key minisign.PublicKey
	if err := key.UnmarshalText([]byte(o.PublicKey)); err != nil {
		return "", fmt.Errorf("miniobin: minisign public key: %w", err)
	}
	ok, err := verifyFile(key, part, sig)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("miniobin: bad signature on %s: it does not verify with the minisign key %X; nothing was installed", src, key.ID())
	}
	return "verified", nil
}

// verifyFile checks a minisign signature of the file at path: streaming
// for prehashed signatures (minisign's default), reading the file whole
// for legacy ones.
func verifyFile(key minisign.PublicKey, path string, sig []byte) (bool, error) {
	var s minisign.Signature
	if err := s.UnmarshalText(sig); err != nil {
		return false, nil
	}
	if s.Algorithm != minisign.HashEdDSA {
		data, err := os.ReadFile(path)
		if err != nil {
			return false, fmt.Errorf("miniobin: %w", err)
		}
		return minisign.Verify(key, data, sig), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("miniobin: %w", err)
	}
	defer f.Close()
	r := minisign.NewReader(f)
	if _, err := io.Copy(io.Discard, r); err != nil {
		return false, fmt.Errorf("miniobin: %w", err)
	}
	return r.Verify(key, sig), nil
}

// install makes the verified download a cache entry: a temporary
// directory with the binary (now executable) and its manifest, checked to
// be MinIO, renamed into CACHE/minio/<version>.
func (o *FetchOptions) install(ctx context.Context, src, part, sum, signature string, fromRelease bool) (*Binary, error) {
	tmp, err := os.MkdirTemp(minioDir(o.CacheDir), ".tmp-download-")
	if err != nil {
		return nil, fmt.Errorf("miniobin: cache directory %s is not writable: %w", o.CacheDir, err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	bin := filepath.Join(tmp, binaryName)
	if err := os.Rename(part, bin); err != nil {
		return nil, fmt.Errorf("miniobin: %w", err)
	}
	if err := os.Chmod(bin, 0o755); err != nil {
		return nil, fmt.Errorf("miniobin: %w", err)
	}
	v, err := check(ctx, "", src, bin, bin)
	if err != nil {
		return nil, fmt.Errorf("%w (is it the binary for %s/%s?)", err, runtime.GOOS, runtime.GOARCH)
	}
	opts := o.Options
	opts.Version = o.Release
	if !fromRelease {
		opts.Version = v
		if !releaseTag.MatchString(v) {
			opts.Version = "url-" + sum[:12]
		}
	}
	unlock, err := acquireLock(ctx, lockPath(opts), o.Progress)
	if err != nil {
		return nil, err
	}
	defer unlock()
	m := Manifest{Version: opts.Version, SHA256: sum, Source: src, Signature: signature, Created: time.Now().UTC()}
	final, err := install(opts, tmp, m)
	if err != nil {
		return nil, err
	}
	ok = true
	fmt.Fprintf(o.Progress, "MinIO %s verified (sha256 %s, signature %s) and cached at %s\n", v, sum, signature, final)
	return &Binary{Path: final, Source: SourceDownload, Version: v}, nil
}

// errStalled reports a download that stopped sending data.
var errStalled = errors.New("stalled")

// stallReader reads a response body and closes it when no data arrived
// for stallTimeout, so a stalled server cannot hang the download.
type stallReader struct {
	body    io.ReadCloser
	timer   *time.Timer
	stalled atomic.Bool
}

func newStallReader(body io.ReadCloser) *stallReader {
	s := &stallReader{body: body}
	s.timer = time.AfterFunc(stallTimeout, func() {
		s.stalled.Store(true)
		body.Close()
	})
	return s
}

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.body.Read(p)
	if s.stalled.Load() {
		return n, errStalled
	}
	s.timer.Reset(stallTimeout)
	return n, err
}

// stop ends the watch.
func (s *stallReader) stop() { s.timer.Stop() }
