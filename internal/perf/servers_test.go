package perf

import (
	"path/filepath"
	"runtime"
	"testing"

	kesapi "github.com/minio/kms-go/kes"

	"github.com/sselab/sselab/internal/testtools"
	"github.com/sselab/sselab/pkg/pki"
)

// TestStartKES runs the standalone kes server on the configuration
// StartKES writes (kesserver.ServerFile) and uses the key as MinIO would.
func TestStartKES(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the kes CLI runs as a Unix session here")
	}
	dir := t.TempDir()
	p, err := pki.LoadOrCreate(pki.Options{Dir: filepath.Join(dir, "certs")})
	if err != nil {
		t.Fatal(err)
	}
	k, err := StartKES(t.Context(), testtools.KESCLI(t), filepath.Join(dir, "kes"), p, "perf-key")
	if err != nil {
		t.Fatal(err)
	}
	defer k.Stop()
	c := kesapi.NewClientWithConfig(k.Target.Endpoint, k.Target.TLS.Clone())
	if _, err := c.GenerateKey(t.Context(), "perf-key", nil); err != nil {
		t.Errorf("generate as MinIO: %v", err)
	}
	if err := c.DeleteKey(t.Context(), "perf-key"); err == nil {
		t.Error("MinIO's identity deleted a key: the policy allows more than MinIO's routes")
	}
}
