package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/encrypt"

	"github.com/sselab/sselab/pkg/lab"
)

// TestKeyInUseByOlderVersion: in a versioned bucket an older version
// needs its key as much as the latest one does; 'key delete' refuses the
// key and names the version.
func TestKeyInUseByOlderVersion(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "lab")
	h := upDetached(t, dir)
	mustRun(t, "key", "create", "old-key", "--dir", dir)
	mustRun(t, "key", "create", "new-key", "--dir", dir)
	if err := h.CreateBucket(ctx, "versioned", lab.BucketMode{Mode: lab.ModeNone}); err != nil {
		t.Fatal(err)
	}
	s3, err := h.S3()
	if err != nil {
		t.Fatal(err)
	}
	if err := s3.EnableVersioning(ctx, "versioned"); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"old-key", "new-key"} {
		sse, _ := encrypt.NewSSEKMS(key, nil)
		if _, err := s3.PutObject(ctx, "versioned", "doc.txt", strings.NewReader(key), int64(len(key)), minio.PutObjectOptions{ServerSideEncryption: sse}); err != nil {
			t.Fatal(err)
		}
	}
	r := sselab(t, "key", "delete", "old-key", "--dir", dir)
	if r.code != 1 || !strings.Contains(r.stderr, "versioned/doc.txt (older version") {
		t.Errorf("key delete of the key of an older version: exit %d %q; want it refused, naming the version", r.code, r.stderr)
	}
	if _, err := h.DescribeKey(ctx, "old-key"); err != nil {
		t.Errorf("old-key after the refusal: %v", err)
	}
}
