package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/sselab/sselab/internal/testtools"
	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/labdir"
	"github.com/sselab/sselab/pkg/verify"
)

// runVerify runs `sselab verify --json` with args and parses the report.
func runVerify(t *testing.T, args ...string) (verify.Report, result) {
	t.Helper()
	r := sselab(t, append([]string{"verify", "--json"}, args...)...)
	var rep verify.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("verify --json: %v\nstdout:\n%s\nstderr:\n%s", err, r.stdout, r.stderr)
	}
	return rep, r
}

// checksNamed returns the checks whose name starts with prefix.
func checksNamed(rep verify.Report, prefix string) []verify.Check {
	var cs []verify.Check
	for _, c := range rep.Checks {
		if strings.HasPrefix(c.Name, prefix) {
			cs = append(cs, c)
		}
	}
	return cs
}

// requireClean fails the test if verify left a scratch key in KES or an
// object in bucket.
func requireClean(t *testing.T, h *lab.Handle, bucket string) {
	t.Helper()
	ctx := t.Context()
	keys, _, err := h.KES().ListKeys(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(keys, h.State.Key) {
		t.Errorf("KES keys: got %v, want the default key %s among them", keys, h.State.Key)
	}
	for _, k := range keys {
		if strings.HasPrefix(k, verify.KeyPrefix) {
			t.Errorf("scratch key left in KES: %s", k)
		}
	}
	s3, err := h.S3()
	if err != nil {
		t.Fatal(err)
	}
	for obj := range s3.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: verify.Prefix, Recursive: true, WithVersions: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		t.Errorf("object left in %s: %s (version %q)", bucket, obj.Key, obj.VersionID)
	}
}

func TestVerify(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "lab")
	h := upDetached(t, dir)
	ctx := t.Context()

	t.Run("all checks pass", func(t *testing.T) {
		rep, r := runVerify(t, "--dir", dir)
		if r.code != 0 || !rep.OK {
			t.Errorf("verify: exit %d, ok %v, stderr %q; want exit 0, ok", r.code, rep.OK, r.stderr)
		}
		if rep.Bucket != labdir.DefaultBucket {
			t.Errorf("bucket: got %q, want %q", rep.Bucket, labdir.DefaultBucket)
		}
		for _, c := range rep.Checks {
			if !c.OK || c.Skipped {
				t.Errorf("check %q: ok %v, skipped %v, evidence %q; want it passed", c.Name, c.OK, c.Skipped, c.Evidence)
			}
		}
		for _, want := range []string{"bucket default encryption", "SSE-S3: headers", "SSE-KMS (default key): no plaintext on the drive",
			"SSE-C: read without the key refused", "SSE-KMS (scratch key): unreadable once its key is deleted", "cleanup"} {
			if len(checksNamed(rep, want)) != 1 {
				t.Errorf("no check %q in %+v", want, rep.Checks)
			}
		}
		if c := checksNamed(rep, "SSE-KMS (default key): headers"); len(c) == 1 && !strings.Contains(c[0].Evidence, "arn:aws:kms:"+labdir.DefaultKey) {
			t.Errorf("default key headers evidence: got %q, want arn:aws:kms:%s", c[0].Evidence, labdir.DefaultKey)
		}
		requireClean(t, h, labdir.DefaultBucket)
	})

	t.Run("human output", func(t *testing.T) {
		r := mustRun(t, "verify", "--dir", dir)
		if !strings.Contains(r.stdout, "PASS  SSE-S3: headers") || strings.Contains(r.stdout, "FAIL") {
			t.Errorf("verify: got\n%s\nwant an aligned table of PASS rows", r.stdout)
		}
		requireClean(t, h, labdir.DefaultBucket)
	})

	t.Run("bucket without default encryption", func(t *testing.T) {
		s3, err := h.S3()
		if err != nil {
			t.Fatal(err)
		}
		const bucket = "no-default"
		if err := s3.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
			t.Fatal(err)
		}
		rep, r := runVerify(t, "--dir", dir, "--bucket", bucket)
		if r.code != 1 || rep.OK {
			t.Errorf("verify --bucket %s: exit %d, ok %v; want exit 1, not ok", bucket, r.code, rep.OK)
		}
		if !strings.Contains(r.stderr, "verify: 1 of ") || !strings.Contains(r.stderr, "checks failed") {
			t.Errorf("stderr: got %q, want 'verify: 1 of N checks failed'", r.stderr)
		}
		for _, c := range rep.Checks {
			isDefault := c.Name == "bucket default encryption"
			switch {
			case isDefault && (c.OK || !strings.Contains(c.Evidence, "plaintext")):
				t.Errorf("bucket default check: ok %v, evidence %q; want a failure saying plaintext", c.OK, c.Evidence)
			case !isDefault && !c.OK:
				t.Errorf("check %q failed (%s); want only the bucket default check to fail", c.Name, c.Evidence)
			}
		}
		requireClean(t, h, bucket)
	})

	t.Run("missing bucket", func(t *testing.T) {
		r := sselab(t, "verify", "--dir", dir, "--bucket", "does-not-exist")
		if r.code != 1 || !strings.Contains(r.stderr, "does not exist") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("verify --bucket does-not-exist: exit %d, stderr %q; want exit 1 and one line", r.code, r.stderr)
		}
	})
}

func TestVerifyHTTP(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "lab")
	h := upDetached(t, dir, "--http")
	rep, r := runVerify(t, "--dir", dir)
	if r.code != 0 || !rep.OK {
		t.Errorf("verify on an --http lab: exit %d, ok %v, stderr %q; want exit 0", r.code, rep.OK, r.stderr)
	}
	ssec := checksNamed(rep, "SSE-C:")
	if len(ssec) == 0 {
		t.Fatal("no SSE-C checks in the report")
	}
	for _, c := range ssec {
		if !c.Skipped || !strings.Contains(c.Evidence, "needs TLS") {
			t.Errorf("check %q: skipped %v, evidence %q; want skipped, needs TLS", c.Name, c.Skipped, c.Evidence)
		}
	}
	for _, c := range rep.Checks {
		if !c.OK {
			t.Errorf("check %q failed: %s", c.Name, c.Evidence)
		}
	}
	requireClean(t, h, labdir.DefaultBucket)
}

func TestVerifyNotRunning(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "lab")
	r := sselab(t, "verify", "--dir", dir)
	if r.code != 1 || !strings.Contains(r.stderr, "sselab up --dir "+dir) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("verify without a lab: exit %d, stderr %q; want exit 1 and one line saying how to start it", r.code, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("verify without a lab printed %q", r.stdout)
	}
}

// TestVerifyStopsOnSignal stops verify with SIGTERM and with Ctrl-C while
// it works: it says it was interrupted, exits 1 and removes what it
// created, its scratch key included.
func TestVerifyStopsOnSignal(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "lab")
	h := upDetached(t, dir)
	for _, sig := range []os.Signal{syscall.SIGTERM, os.Interrupt} {
		t.Run(sig.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, testtools.Sselab(t), "verify", "--dir", dir)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Signal it once its scratch key exists: it is working then.
			kc := h.KES()
			for {
				keys, _, err := kc.ListKeys(ctx, "*", 0) // KES v0.24.0 takes no other pattern
				if err == nil && slices.ContainsFunc(keys, func(k string) bool { return strings.HasPrefix(k, verify.KeyPrefix) }) {
					break
				}
				if ctx.Err() != nil {
					t.Fatalf("verify made no scratch key in time; stderr %q", stderr.String())
				}
				time.Sleep(time.Millisecond)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Errorf("verify after %v: %v (stderr %q), want exit 1", sig, err, stderr.String())
			}
			if !strings.HasPrefix(stderr.String(), "sselab: verify: interrupted;") || !strings.Contains(stderr.String(), "cleaned up") {
				t.Errorf("stderr: got %q, want it to say verify was interrupted and cleaned up", stderr.String())
			}
			requireClean(t, h, h.State.Buckets[0])
		})
	}
}
