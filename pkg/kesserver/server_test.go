package kesserver

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/kes"
	kesapi "github.com/minio/kms-go/kes"

	"github.com/sselab/sselab/internal/testtools"
	"github.com/sselab/sselab/pkg/pki"
)

// pollTimeout bounds every wait for a condition in these tests.
const pollTimeout = 5 * time.Second

// testContext returns a context that ends shortly before the test's
// deadline, so that a hanging call fails the test instead of the binary.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if d, ok := t.Deadline(); ok {
		ctx, cancel = context.WithDeadline(ctx, d.Add(-5*time.Second))
	}
	t.Cleanup(cancel)
	return ctx
}

// lab is a lab PKI and a valid Config that uses it.
type lab struct {
	pki *pki.PKI
	dir string
	cfg Config
}

// newLab creates a PKI in a temporary directory and a Config listening on
// a free port of 127.0.0.1, with a file keystore and both log files in
// that directory.
func newLab(t *testing.T) *lab { return newLabB(t) }

// newLabB is newLab for tests and benchmarks.
func newLabB(t testing.TB) *lab {
	t.Helper()
	dir := t.TempDir()
	p := newPKI(t, filepath.Join(dir, "certs"))
	cfg := DefaultConfig()
	cfg.Address = "127.0.0.1:0"
	cfg.TLS = p.ServerTLS(p.KESServer)
	cfg.KeyStoreDir = filepath.Join(dir, "keys")
	cfg.Policies = testPolicies(p)
	cfg.AuditLogFile = filepath.Join(dir, "log", "audit.log")
	cfg.ErrorLogFile = filepath.Join(dir, "log", "error.log")
	return &lab{pki: p, dir: dir, cfg: cfg}
}

// testPolicies give the PKI's two client identities policies in the
// lab's manner: the operator may manage keys and ask for status, MinIO
// may only generate and decrypt data keys.
func testPolicies(p *pki.PKI) []Policy {
	return []Policy{
		{Name: "minio", Allow: []string{"/v1/key/generate/*", "/v1/key/decrypt/*"}, Identities: []kes.Identity{kes.Identity(p.MinIOClient.Identity())}},
		{Name: "operator", Allow: []string{"/version", "/v1/status", "/v1/api", "/v1/key/*"}, Identities: []kes.Identity{kes.Identity(p.Operator.Identity())}},
	}
}

func newPKI(t testing.TB, dir string) *pki.PKI {
	t.Helper()
	p, err := pki.LoadOrCreate(pki.Options{Dir: dir})
	if err != nil {
		t.Fatalf("pki.LoadOrCreate: %v", err)
	}
	return p
}

// start starts a server with cfg and closes it when the test ends.
func start(t *testing.T, ctx context.Context, cfg Config) *Server {
	t.Helper()
	s, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// client returns a KES client that presents c and trusts the lab CA.
func (l *lab) client(t *testing.T, s *Server, c *pki.Cert) *kesapi.Client {
	t.Helper()
	return newKESClient(t, s, l.pki.ClientTLS(c))
}

func newKESClient(t *testing.T, s *Server, conf *tls.Config) *kesapi.Client {
	t.Helper()
	c := kesapi.NewClientWithConfig(s.Endpoint(), conf)
	t.Cleanup(c.HTTPClient.CloseIdleConnections)
	return c
}

// do sends one request without a body to s and returns the response
// status.
func do(ctx context.Context, c *http.Client, s *Server, method, path string) (int, error) {
	return testtools.StatusOf(ctx, c, method, s.Endpoint()+path)
}

// waitLogLine polls the file at path until one of its lines contains
// every string of want.
func waitLogLine(t *testing.T, ctx context.Context, path string, want ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, pollTimeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		data, _ := os.ReadFile(path)
		for _, line := range strings.Split(string(data), "\n") {
			found := true
			for _, w := range want {
				found = found && strings.Contains(line, w)
			}
			if found {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s has no line containing %q after %v; content:\n%s", path, want, pollTimeout, data)
		case <-tick.C:
		}
	}
}

// freeAddr returns an address of 127.0.0.1 that nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// wantListenable checks that addr can be bound, i.e. no listener is
// left on it.
func wantListenable(t *testing.T, addr string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Errorf("listen on %s after the failed Start: got %v, want the port free", addr, err)
		return
	}
	ln.Close()
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	p := newPKI(t, filepath.Join(t.TempDir(), "certs"))
	valid := func() Config {
		c := DefaultConfig()
		c.Address = "127.0.0.1:7373"
		c.TLS = p.ServerTLS(p.KESServer)
		c.KeyStoreDir = filepath.Join(t.TempDir(), "keys")
		c.Policies = testPolicies(p)
		return c
	}
	tests := []struct {
		name    string
		change  func(*Config)
		wantErr string // "" means valid
	}{
		{"DefaultConfig with the pieces set", func(*Config) {}, ""},
		{"nil TLS", func(c *Config) { c.TLS = nil }, "no TLS server certificate"},
		{"TLS without certificate", func(c *Config) { c.TLS.Certificates = nil }, "no TLS server certificate"},
		{"TLS with GetCertificate", func(c *Config) {
			cert := c.TLS.Certificates[0]
			c.TLS.Certificates = nil
			c.TLS.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil }
		}, ""},
		{"no ClientCAs", func(c *Config) { c.TLS.ClientCAs = nil }, "no client CA pool"},
		{"no keystore", func(c *Config) { c.KeyStoreDir = "" }, "no keystore"},
		{"KeyStore instead of KeyStoreDir", func(c *Config) {
			c.KeyStoreDir = ""
			c.KeyStore = &kes.MemKeyStore{}
		}, ""},
		{"no policies", func(c *Config) { c.Policies = nil }, "no policy configured"},
		{"no MinIO identity", func(c *Config) { c.Policies[0].Identities = []kes.Identity{""} }, "policy minio: identity \"\" is not a KES identity"},
		{"no operator identity", func(c *Config) { c.Policies[1].Identities = []kes.Identity{""} }, "policy operator: identity \"\" is not a KES identity"},
		{"equal identities", func(c *Config) { c.Policies[1].Identities = c.Policies[0].Identities }, "is in the policies minio and operator"},
		{"no address", func(c *Config) { c.Address = "" }, "no listen address"},
		{"Listener instead of Address", func(c *Config) {
			c.Address = ""
			c.Listener = struct{ net.Listener }{}
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.change(&c)
			err := c.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate: got %v, want nil", err)
			case tt.wantErr == "":
			case err == nil:
				t.Fatalf("Validate: got nil, want an error mentioning %q", tt.wantErr)
			case !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "kesserver: "):
				t.Fatalf("Validate: got %q, want \"kesserver: ...%s...\"", err, tt.wantErr)
			}
		})
	}
}

func TestDefaultConfig(t *testing.T) {
	t.Parallel()
	c := DefaultConfig()
	if c.Address != "" {
		t.Errorf("Address: got %q, want none: the caller chooses", c.Address)
	}
	if c.ReadyTimeout != DefaultReadyTimeout {
		t.Errorf("ReadyTimeout: got %v, want %v", c.ReadyTimeout, DefaultReadyTimeout)
	}
	want := kes.CacheConfig{Expiry: DefaultCacheExpiry, ExpiryUnused: DefaultCacheExpiryUnused, ExpiryOffline: DefaultCacheExpiryOffline}
	if c.Cache != want {
		t.Errorf("Cache: got %+v, want %+v", c.Cache, want)
	}
	if err := c.Validate(); err == nil {
		t.Error("Validate of DefaultConfig without TLS, keystore and identities: got nil, want an error")
	}
}

func TestStart(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	l := newLab(t)
	s := start(t, ctx, l.cfg)

	select {
	case <-s.Ready():
	default:
		t.Error("Ready is not closed after Start returned")
	}
	addr, ok := s.Addr().(*net.TCPAddr)
	if !ok || addr.Port == 0 || !addr.IP.Equal(net.IPv4(127, 0, 0, 1)) {
		t.Fatalf("Addr: got %v, want 127.0.0.1 with a port chosen by the system", s.Addr())
	}
	if got, want := s.Endpoint(), "https://"+addr.String(); got != want {
		t.Errorf("Endpoint: got %q, want %q", got, want)
	}
	if _, err := l.client(t, s, l.pki.Operator).Status(ctx); err != nil {
		t.Errorf("Status right after Start: got %v, want nil", err)
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	l := newLab(t)
	s, err := Start(ctx, l.cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	addr := s.Addr().String()
	if _, err := l.client(t, s, l.pki.Operator).Status(ctx); err != nil {
		t.Fatalf("Status: %v", err)
	}

	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = s.Close() })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent Close #%d: got %v, want nil", i, err)
		}
	}
	if err := s.Close(); err != errs[0] {
		t.Errorf("Close again: got %v, want %v", err, errs[0])
	}

	select {
	case err, ok := <-s.Err():
		if err != nil {
			t.Errorf("Err after Close: got %v, want nil", err)
		}
		if ok {
			if _, ok := <-s.Err(); ok {
				t.Error("Err after Close: delivered twice, want it closed after one value")
			}
		}
	case <-time.After(pollTimeout):
		t.Fatalf("Err after Close: nothing after %v, want nil and closed", pollTimeout)
	}

	// The listener is gone: a new connection is refused.
	if c, err := net.DialTimeout("tcp", addr, pollTimeout); err == nil {
		c.Close()
		t.Errorf("dial %s after Close: got a connection, want it refused", addr)
	}
}

// TestErrDeliversFailure stops the server behind its back (its listener
// fails) and checks that Err reports that, once.
func TestErrDeliversFailure(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	l := newLab(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l.cfg.Address = ""
	l.cfg.Listener = ln
	s, err := Start(ctx, l.cfg)
	if err != nil {
		ln.Close()
		t.Fatalf("Start: %v", err)
	}
	defer s.Close()
	if got, want := s.Addr().String(), ln.Addr().String(); got != want {
		t.Errorf("Addr with Config.Listener: got %s, want %s", got, want)
	}

	ln.Close()
	select {
	case err, ok := <-s.Err():
		if !ok || err == nil {
			t.Fatalf("Err after the listener failed: got (%v, open %v), want an error", err, ok)
		}
	case <-time.After(pollTimeout):
		t.Fatalf("Err: nothing %v after the listener failed, want an error", pollTimeout)
	}
	select {
	case err, ok := <-s.Err():
		if ok {
			t.Errorf("Err read again: got %v, want the channel closed", err)
		}
	case <-time.After(pollTimeout):
		t.Fatalf("Err read again: still open after %v, want it closed", pollTimeout)
	}
}

func TestStartPortInUse(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	l := newLab(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := busy.Addr().String()
	l.cfg.Address = addr

	s, err := Start(ctx, l.cfg)
	if err == nil {
		s.Close()
		busy.Close()
		t.Fatalf("Start on %s, which is in use: got a server, want an error", addr)
	}
	if s != nil {
		t.Errorf("Start failed but returned a non-nil *Server")
	}
	if !strings.Contains(err.Error(), addr) {
		t.Errorf("Start on a port in use: got %q, want it to name %s", err, addr)
	}
	if err := busy.Close(); err != nil {
		t.Fatal(err)
	}
	wantListenable(t, addr)
}

func TestStartKeyStoreDirUnusable(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	l := newLab(t)
	file := filepath.Join(l.dir, "a-file")
	if err := os.WriteFile(file, []byte("not a directory\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l.cfg.KeyStoreDir = filepath.Join(file, "keys")
	addr := freeAddr(t)
	l.cfg.Address = addr

	s, err := Start(ctx, l.cfg)
	if err == nil {
		s.Close()
		t.Fatalf("Start with keystore %s under a regular file: got a server, want an error", l.cfg.KeyStoreDir)
	}
	if s != nil {
		t.Errorf("Start failed but returned a non-nil *Server")
	}
	if !strings.Contains(err.Error(), "keystore") || !strings.Contains(err.Error(), file) {
		t.Errorf("Start with an unusable keystore: got %q, want it to mention the keystore and %s", err, file)
	}
	wantListenable(t, addr)
}

// TestStartClosesConfigListener checks that a Listener handed to Start is
// closed when Start fails, as Config.Listener documents.
func TestStartClosesConfigListener(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	l := newLab(t)
	file := filepath.Join(l.dir, "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	l.cfg.KeyStoreDir = filepath.Join(file, "keys")
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	l.cfg.Address = ""
	l.cfg.Listener = ln

	if s, err := Start(ctx, l.cfg); err == nil {
		s.Close()
		t.Fatal("Start with an unusable keystore: got a server, want an error")
	}
	ln.SetDeadline(time.Now().Add(pollTimeout)) // an open listener fails with a timeout
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept on Config.Listener after the failed Start: got %v, want %v", err, net.ErrClosed)
	}
}

// TestStartKESRejectsConfig starts with an identity KES would refuse:
// Start must fail, name it, and leave the port free.
func TestStartKESRejectsConfig(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	l := newLab(t)
	const bad = "minio.crt" // a file name where an identity belongs
	l.cfg.Policies[0].Identities = []kes.Identity{bad}
	addr := freeAddr(t)
	l.cfg.Address = addr

	s, err := Start(ctx, l.cfg)
	if err == nil {
		s.Close()
		t.Fatalf("Start with MinIO identity %q: got a server, want an error", bad)
	}
	if s != nil {
		t.Errorf("Start failed but returned a non-nil *Server")
	}
	if !strings.Contains(err.Error(), bad) {
		t.Errorf("Start with MinIO identity %q: got %q, want it to name the identity", bad, err)
	}

	if ln, err := net.Listen("tcp", addr); err != nil {
		t.Errorf("failed Start left %s bound: %v", addr, err)
	} else {
		ln.Close()
	}
}
