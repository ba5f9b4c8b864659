package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/sselab/sselab/internal/testtools"
	"github.com/sselab/sselab/pkg/labdir"
)

// fakeS3 is just enough of an S3 server for bucket creation and default
// encryption, plus MinIO's readiness probe. Signatures are not checked.
type fakeS3 struct {
	mu      sync.Mutex
	buckets map[string]string // bucket -> encryption configuration XML ("" for none)
	puts    []string          // "PUT bucket" and "PUT bucket?encryption", in order
}

const sseS3Config = `<ServerSideEncryptionConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>`

func newFakeS3(t *testing.T, buckets map[string]string) (*fakeS3, *httptest.Server) {
	t.Helper()
	f := &fakeS3{buckets: buckets}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func s3Error(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>`+code+`</Code><Message>`+code+`</Message></Error>`)
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.URL.Path == "/minio/health/ready" {
		return
	}
	bucket := strings.Trim(r.URL.Path, "/")
	q := r.URL.Query()
	cfg, exists := f.buckets[bucket]
	switch {
	case q.Has("location"):
		io.WriteString(w, `<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></LocationConstraint>`)
	case r.Method == http.MethodHead:
		if !exists {
			w.WriteHeader(http.StatusNotFound)
		}
	case r.Method == http.MethodPut && len(q) == 0:
		f.buckets[bucket] = ""
		f.puts = append(f.puts, "PUT "+bucket)
	case !exists:
		s3Error(w, http.StatusNotFound, "NoSuchBucket")
	case r.Method == http.MethodGet && q.Has("encryption"):
		if cfg == "" {
			s3Error(w, http.StatusNotFound, "ServerSideEncryptionConfigurationNotFoundError")
			return
		}
		io.WriteString(w, cfg)
	case r.Method == http.MethodPut && q.Has("encryption"):
		body, _ := io.ReadAll(r.Body)
		f.buckets[bucket] = string(body)
		f.puts = append(f.puts, "PUT "+bucket+"?encryption")
	default:
		s3Error(w, http.StatusNotImplemented, "NotImplemented")
	}
}

func (f *fakeS3) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.puts...)
}

func TestEnsureEncryptedBucket(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		existing  map[string]string
		wantPuts  []string
		wantAlgo  string
		wantKeyID string
	}{
		{"missing bucket", map[string]string{}, []string{"PUT bk1", "PUT bk1?encryption"}, "aws:kms", "the-key"},
		{"bucket without encryption", map[string]string{"bk1": ""}, []string{"PUT bk1?encryption"}, "aws:kms", "the-key"},
		{"bucket with the user's SSE-S3 is kept", map[string]string{"bk1": sseS3Config}, nil, "AES256", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := testtools.Context(t)
			f, srv := newFakeS3(t, tt.existing)
			s3, err := NewS3Client(srv.URL, labdir.Credentials{RootUser: "u", RootPassword: "password"}, http.DefaultTransport, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := EnsureEncryptedBucket(ctx, s3, "bk1", "the-key"); err != nil {
				t.Fatalf("ensureEncryptedBucket: %v", err)
			}
			if got := f.calls(); strings.Join(got, ",") != strings.Join(tt.wantPuts, ",") {
				t.Errorf("changes: got %q, want %q", got, tt.wantPuts)
			}
			enc, err := bucketEncryption(ctx, s3, "bk1")
			if err != nil {
				t.Fatalf("bucketEncryption: %v", err)
			}
			if enc.Algorithm != tt.wantAlgo || enc.KeyID != tt.wantKeyID {
				t.Errorf("encryption: got %+v, want %s with key %q", enc, tt.wantAlgo, tt.wantKeyID)
			}
			// Idempotent: a second run changes nothing.
			before := len(f.calls())
			if err := EnsureEncryptedBucket(ctx, s3, "bk1", "other-key"); err != nil {
				t.Fatal(err)
			}
			if got := f.calls(); len(got) != before {
				t.Errorf("second run: got changes %q, want none", got[before:])
			}
		})
	}
}

func TestBucketEncryptionNone(t *testing.T) {
	t.Parallel()
	ctx := testtools.Context(t)
	_, srv := newFakeS3(t, map[string]string{"plain": ""})
	s3, err := NewS3Client(srv.URL, labdir.Credentials{RootUser: "u", RootPassword: "password"}, http.DefaultTransport, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bucketEncryption(ctx, s3, "plain"); !errors.Is(err, errNoEncryption) {
		t.Errorf("bucket without encryption: got %v, want errNoEncryption", err)
	}
	_, err = bucketEncryption(ctx, s3, "missing")
	if err == nil || errors.Is(err, errNoEncryption) {
		t.Errorf("missing bucket: got %v, want an error other than errNoEncryption", err)
	}
	testtools.WantErrContains(t, err, "bucket missing")
}

func TestNewS3Client(t *testing.T) {
	t.Parallel()
	tests := []struct {
		endpoint string
		ok       bool
		secure   bool
	}{
		{"https://127.0.0.1:9000", true, true},
		{"http://localhost:9000", true, false},
		{"://bad", false, false},
	}
	for _, tt := range tests {
		c, err := NewS3Client(tt.endpoint, labdir.Credentials{RootUser: "u", RootPassword: "password"}, http.DefaultTransport, 0)
		if (err == nil) != tt.ok {
			t.Errorf("NewS3Client(%q): got error %v, want ok=%v", tt.endpoint, err, tt.ok)
			continue
		}
		if err != nil {
			testtools.WantErrContains(t, err, tt.endpoint)
			continue
		}
		if got := c.EndpointURL().Scheme == "https"; got != tt.secure {
			t.Errorf("NewS3Client(%q): got secure=%v, want %v", tt.endpoint, got, tt.secure)
		}
	}
}

func TestStatusBuckets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, srv := newFakeS3(t, map[string]string{"enc": sseS3Config, "plain": ""})
	h := &Handle{
		Layout: labdir.Layout{Root: dir},
		State: labdir.State{
			PID: 1, S3Endpoint: srv.URL, KESEndpoint: "https://" + testtools.FreeAddr(t),
			ControlAddress: testtools.FreeAddr(t), Key: "k1", Buckets: []string{"enc", "plain"},
		},
		Credentials: labdir.Credentials{RootUser: "u", RootPassword: "password"},
		PKI:         newTestPKI(t, dir),
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	st := h.Status(ctx)
	if !st.MinIO.Ready || st.MinIO.Error != "" {
		t.Errorf("MinIO: got ready=%v error %q, want ready", st.MinIO.Ready, st.MinIO.Error)
	}
	if st.KES.Up || st.Ready {
		t.Errorf("got KES up=%v ready=%v with KES down, want both false", st.KES.Up, st.Ready)
	}
	if len(st.Buckets) != 2 {
		t.Fatalf("buckets: got %+v, want 2", st.Buckets)
	}
	if b := st.Buckets[0]; b.Name != "enc" || b.Encryption.Algorithm != "AES256" || b.Error != "" {
		t.Errorf("bucket enc: got %+v, want AES256 and no error", b)
	}
	if b := st.Buckets[1]; b.Name != "plain" || b.Encryption.Algorithm != "" || !strings.Contains(b.Error, "plaintext") {
		t.Errorf("bucket plain: got %+v, want no encryption and a plaintext warning", b)
	}
	testtools.WantErrContains(t, st.Err(), "KES is not answering")
}

func TestS3Code(t *testing.T) {
	t.Parallel()
	notInit := minio.ErrorResponse{Code: "XMinioServerNotInitialized"}
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{errors.New("plain"), ""},
		{notInit, "XMinioServerNotInitialized"},
		{fmt.Errorf("lab: bucket b: %w", notInit), "XMinioServerNotInitialized"},
		{fmt.Errorf("outer: %w", fmt.Errorf("inner: %w", minio.ErrorResponse{Code: "NoSuchBucket"})), "NoSuchBucket"},
	}
	for _, tt := range tests {
		if got := s3Code(tt.err); got != tt.want {
			t.Errorf("s3Code(%v): got %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestRetryInitializing(t *testing.T) {
	t.Parallel()
	notInit := fmt.Errorf("lab: bucket b: %w", minio.ErrorResponse{Code: "XMinioServerNotInitialized"})
	other := fmt.Errorf("lab: bucket b: %w", minio.ErrorResponse{Code: "AccessDenied"})

	// Retried until it works.
	calls := 0
	err := RetryInitializing(testtools.Context(t), func() error {
		calls++
		if calls < 4 {
			return notInit
		}
		return nil
	})
	if err != nil || calls != 4 {
		t.Errorf("three not-initialized answers, then success: got %v after %d calls, want nil after 4", err, calls)
	}

	// Other errors are not retried.
	for _, want := range []error{other, errors.New("connection refused")} {
		calls = 0
		err = RetryInitializing(testtools.Context(t), func() error { calls++; return want })
		if err != want || calls != 1 {
			t.Errorf("got %v after %d calls, want %v after 1", err, calls, want)
		}
	}

	// A cancelled context ends the wait with the last error.
	ctx, cancel := context.WithCancel(t.Context())
	calls = 0
	err = RetryInitializing(ctx, func() error {
		calls++
		if calls == 2 {
			cancel()
		}
		return notInit
	})
	if !errors.Is(err, notInit) || calls != 2 {
		t.Errorf("cancelled: got %v after %d calls, want the not-initialized error after 2", err, calls)
	}
}

func TestProbeReady(t *testing.T) {
	t.Parallel()
	var status = map[string]int{"/ok": http.StatusOK, "/down": http.StatusServiceUnavailable}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		prefix, ok := strings.CutSuffix(r.URL.Path, "/minio/health/ready")
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status[prefix])
	}))
	defer srv.Close()
	ctx := testtools.Context(t)
	if err := ProbeReady(ctx, srv.Client(), srv.URL+"/ok"); err != nil {
		t.Errorf("probeReady on a ready server: got %v, want nil", err)
	}
	err := ProbeReady(ctx, srv.Client(), srv.URL+"/down")
	testtools.WantErrContains(t, err, srv.URL+"/down/minio/health/ready", "503")

	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	if err := ProbeReady(ctx, closed.Client(), closed.URL); err == nil {
		t.Errorf("probeReady on a closed server: got nil, want an error")
	}
}
