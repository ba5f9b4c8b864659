package e2e

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/sselab/sselab/pkg/lab"
)

// TestRekeyOnlyPlaintext: 'bucket rekey NAME --only-plaintext' without a
// target encrypts the objects written before the bucket had default
// encryption, as that default says; without one it says what to pass.
func TestRekeyOnlyPlaintext(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "lab")
	h := upDetached(t, dir)
	d := []string{"--dir", dir}
	const bucket = "legacy"
	if err := h.CreateBucket(ctx, bucket, lab.BucketMode{Mode: lab.ModeNone}); err != nil {
		t.Fatal(err)
	}
	s3, err := h.S3()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]rekeyObj{}
	put := func(name string) {
		data := bytes.Repeat([]byte(name), 50)
		if _, err := s3.PutObject(ctx, bucket, name, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		want[name] = rekeyObj{sum: sha256.Sum256(data), contentType: "application/octet-stream"}
	}
	for i := range 20 {
		put(fmt.Sprintf("old%02d", i))
	}
	r := sselab(t, append([]string{"bucket", "rekey", bucket, "--only-plaintext"}, d...)...)
	if r.code != 1 || !strings.Contains(r.stderr, "has no default encryption to apply to its plaintext objects; pass --to KEY or --sse-s3") {
		t.Errorf("--only-plaintext on a bucket without default encryption: exit %d %q", r.code, r.stderr)
	}
	mustRun(t, append([]string{"bucket", "encryption", bucket, "--sse-kms", h.State.Key}, d...)...)
	for i := range 5 {
		put(fmt.Sprintf("new%02d", i)) // under the default already
	}
	mustRun(t, append([]string{"bucket", "rekey", bucket, "--only-plaintext"}, d...)...)
	if n := underKey(t, h, bucket, h.State.Key); n != 25 {
		t.Errorf("after rekey --only-plaintext %d of 25 objects are under %s", n, h.State.Key)
	}
	checkContent(t, s3, bucket, want)
}
