package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/labdir"
	"github.com/sselab/sselab/pkg/pki"
)

// TestUpDownCycles runs 20 up/down cycles on one directory: the
// identities, the keys, the credentials and the objects stay the same.
func TestUpDownCycles(t *testing.T) {
	requireLinux(t)
	if testing.Short() {
		t.Skip("20 cycles take a while; run without -short")
	}
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "lab")
	h := upDetached(t, dir)
	body := putMarker(t, h, labdir.DefaultBucket, "kept")
	first, err := pki.Load(h.Layout.CertsDir())
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(h.Layout.KeyStoreDir(), labdir.DefaultKey)
	keyBytes, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		mustRun(t, "down", "--dir", dir)
		mustRun(t, append([]string{"up", "--detach", "--dir", dir}, freePorts...)...)
		h2, err := lab.Open(dir)
		if err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		p, err := pki.Load(h2.Layout.CertsDir())
		if err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		if !p.CA.Cert.Equal(first.CA.Cert) || p.MinIOClient.Identity() != first.MinIOClient.Identity() || p.Operator.Identity() != first.Operator.Identity() {
			t.Fatalf("cycle %d: the CA or an identity changed", i)
		}
		if h2.Credentials != h.Credentials {
			t.Fatalf("cycle %d: the root credentials changed", i)
		}
		if now, _ := os.ReadFile(keyFile); !bytes.Equal(now, keyBytes) {
			t.Fatalf("cycle %d: the default key's stored form changed", i)
		}
		s3, _ := h2.S3()
		if got := readObject(t, s3, labdir.DefaultBucket, "kept", minio.GetObjectOptions{}); !bytes.Equal(got, body) {
			t.Fatalf("cycle %d: got %q, want %q", i, got, body)
		}
	}
}
