package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	s3, want := plainBucket(t, ctx, h, bucket, numbered("old", 20)...)
	r := sselab(t, append([]string{"bucket", "rekey", bucket, "--only-plaintext"}, d...)...)
	if r.code != 1 || !strings.Contains(r.stderr, "has no default encryption to apply to its plaintext objects; pass --to KEY or --sse-s3") {
		t.Errorf("--only-plaintext on a bucket without default encryption: exit %d %q", r.code, r.stderr)
	}
	mustRun(t, append([]string{"bucket", "encryption", bucket, "--sse-kms", h.State.Key}, d...)...)
	// MinIO answered GetBucketEncryption without the new configuration
	// for a moment once in CI: wait until it reports it.
	eventually(t, "the bucket's new default encryption", 10*time.Second, func() error {
		if enc, err := h.BucketEncryption(ctx, bucket); err != nil || enc.Algorithm != "aws:kms" {
			return fmt.Errorf("encryption %+v, %v", enc, err)
		}
		return nil
	})
	putPlain(t, ctx, s3, bucket, want, numbered("new", 5)...) // under the default already
	mustRun(t, append([]string{"bucket", "rekey", bucket, "--only-plaintext"}, d...)...)
	if n := underKey(t, h, bucket, h.State.Key); n != 25 {
		t.Errorf("after rekey --only-plaintext %d of 25 objects are under %s", n, h.State.Key)
	}
	checkContent(t, s3, bucket, want)
}
