package runner

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/minio/kes"
	kesapi "github.com/minio/kms-go/kes"

	"github.com/sselab/sselab/internal/testtools"
	"github.com/sselab/sselab/pkg/kesserver"
	"github.com/sselab/sselab/pkg/pki"
)

// kesLab is a lab PKI and the configuration of a KES that serves it with
// the lab's policies, a file keystore and the audit log, all in a
// temporary directory.
type kesLab struct {
	pki *pki.PKI
	cfg kesserver.Config
}

func newLab(t *testing.T) *kesLab {
	t.Helper()
	dir := t.TempDir()
	p, err := pki.LoadOrCreate(pki.Options{Dir: filepath.Join(dir, "certs")})
	if err != nil {
		t.Fatalf("pki.LoadOrCreate: %v", err)
	}
	cfg := kesserver.DefaultConfig()
	cfg.Address = "127.0.0.1:0"
	cfg.TLS = p.ServerTLS(p.KESServer)
	cfg.KeyStoreDir = filepath.Join(dir, "keys")
	cfg.Policies = Policies(kes.Identity(p.MinIOClient.Identity()), kes.Identity(p.Operator.Identity()))
	cfg.AuditLogFile = filepath.Join(dir, "log", "audit.log")
	return &kesLab{pki: p, cfg: cfg}
}

// start starts a server with cfg and closes it when the test ends.
func start(t *testing.T, ctx context.Context, cfg kesserver.Config) *kesserver.Server {
	t.Helper()
	s, err := kesserver.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("kesserver.Start: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// client returns a KES client of s that presents c and trusts the lab CA.
func (l *kesLab) client(t *testing.T, s *kesserver.Server, c *pki.Cert) *kesapi.Client {
	t.Helper()
	kc := kesapi.NewClientWithConfig(s.Endpoint(), l.pki.ClientTLS(c))
	t.Cleanup(kc.HTTPClient.CloseIdleConnections)
	return kc
}

// do sends one request without a body to s and returns the response
// status.
func do(ctx context.Context, c *http.Client, s *kesserver.Server, method, path string) (int, error) {
	return testtools.StatusOf(ctx, c, method, s.Endpoint()+path)
}
