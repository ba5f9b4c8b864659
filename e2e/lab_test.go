package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	kesapi "github.com/minio/kms-go/kes"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/encrypt"

	"github.com/sselab/sselab/internal/testtools"
	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/labdir"
	"github.com/sselab/sselab/pkg/pki"
)

// TestLab walks the user's path: up, write through S3, prove the drive
// holds no plaintext, use mc and the kes CLI, down, up again, and read
// the same objects back.
func TestLab(t *testing.T) {
	requireLinux(t)
	dir := filepath.Join(t.TempDir(), "lab")
	h := upDetached(t, dir)
	started := time.Now()
	ctx := t.Context()

	s3, err := h.S3()
	if err != nil {
		t.Fatal(err)
	}
	marker := "sselab-marker-" + rand.Text()
	body := []byte("secret payload " + marker + "\n")

	t.Run("status", func(t *testing.T) {
		r := mustRun(t, "status", "--dir", dir, "--json")
		var st lab.Status
		if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
			t.Fatalf("status --json: %v\n%s", err, r.stdout)
		}
		if !st.Ready || !st.KES.Up || !st.MinIO.Ready || !st.Key.Present || st.Key.Name != labdir.DefaultKey {
			t.Errorf("status: got %+v, want a ready lab with key %s", st, labdir.DefaultKey)
		}
		if len(st.Buckets) != 1 || st.Buckets[0].Encryption.Algorithm != "aws:kms" || st.Buckets[0].Encryption.KeyID != labdir.DefaultKey {
			t.Errorf("status buckets: got %+v, want %s with aws:kms %s", st.Buckets, labdir.DefaultBucket, labdir.DefaultKey)
		}
		if strings.Contains(r.stdout, h.Credentials.RootPassword) {
			t.Error("status --json prints the root password")
		}
	})

	t.Run("second up refused", func(t *testing.T) {
		before := treeHashExcept(t, dir)
		r := sselab(t, append([]string{"up", "--dir", dir}, freePorts...)...)
		if r.code == 0 || !strings.Contains(r.stderr, "already running") || !strings.Contains(r.stderr, "sselab down") {
			t.Errorf("second up: exit %d, stderr %q; want a refusal naming 'sselab down'", r.code, r.stderr)
		}
		if after := treeHashExcept(t, dir); after != before {
			t.Error("second up changed the state directory")
		}
	})

	t.Run("SSE-KMS bucket default", func(t *testing.T) {
		_, err := s3.PutObject(ctx, labdir.DefaultBucket, "object.txt", bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		info, err := s3.StatObject(ctx, labdir.DefaultBucket, "object.txt", minio.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Metadata.Get("X-Amz-Server-Side-Encryption"); got != "aws:kms" {
			t.Errorf("X-Amz-Server-Side-Encryption: got %q, want aws:kms", got)
		}
		if got, want := info.Metadata.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"), "arn:aws:kms:"+labdir.DefaultKey; got != want {
			t.Errorf("key id: got %q, want %q", got, want)
		}
		if got := readObject(t, s3, labdir.DefaultBucket, "object.txt", minio.GetObjectOptions{}); !bytes.Equal(got, body) {
			t.Errorf("read back: got %q, want %q", got, body)
		}
	})

	t.Run("no plaintext on the drive", func(t *testing.T) {
		if containsBytes(t, h.Layout.MinIODataDir(), []byte(marker)) {
			t.Fatalf("the marker %s is readable on MinIO's drive: the object is not encrypted at rest", marker)
		}
		// The control: the same scan finds a marker MinIO stored in
		// plaintext, so a clean scan above means something.
		if err := s3.MakeBucket(ctx, "plaintext", minio.MakeBucketOptions{}); err != nil {
			t.Fatal(err)
		}
		plain := []byte("plaintext-marker-" + rand.Text())
		if _, err := s3.PutObject(ctx, "plaintext", "p.txt", bytes.NewReader(plain), int64(len(plain)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		if !containsBytes(t, h.Layout.MinIODataDir(), plain) {
			t.Fatal("the scan does not find an unencrypted object's marker: it cannot prove anything")
		}
	})

	t.Run("SSE-C over TLS", func(t *testing.T) {
		key, err := encrypt.NewSSEC(bytes.Repeat([]byte{7}, 32))
		if err != nil {
			t.Fatal(err)
		}
		_, err = s3.PutObject(ctx, labdir.DefaultBucket, "ssec.txt", bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{ServerSideEncryption: key})
		if err != nil {
			t.Fatal(err)
		}
		if got := readObject(t, s3, labdir.DefaultBucket, "ssec.txt", minio.GetObjectOptions{ServerSideEncryption: key}); !bytes.Equal(got, body) {
			t.Errorf("SSE-C read back: got %q, want %q", got, body)
		}
		obj, err := s3.GetObject(ctx, labdir.DefaultBucket, "ssec.txt", minio.GetObjectOptions{})
		if err == nil {
			_, err = io.ReadAll(obj)
		}
		if err == nil {
			t.Error("reading an SSE-C object without its key succeeded")
		}
	})

	env := parseExports(t, mustRun(t, "env", "--dir", dir).stdout)
	t.Run("mc", func(t *testing.T) {
		mc := testtools.MC(t)
		cfg := t.TempDir()
		run := func(args ...string) string {
			cmd := exec.CommandContext(ctx, mc, append([]string{"--config-dir", cfg, "--no-color"}, args...)...)
			cmd.Env = withEnv(env)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("mc %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			return string(out)
		}
		src := filepath.Join(t.TempDir(), "mc.txt")
		os.WriteFile(src, body, 0o600)
		run("cp", src, lab.MCAlias+"/"+labdir.DefaultBucket+"/mc.txt")
		if out := run("stat", lab.MCAlias+"/"+labdir.DefaultBucket+"/mc.txt"); !strings.Contains(out, "SSE-KMS") || !strings.Contains(out, "arn:aws:kms:"+labdir.DefaultKey) {
			t.Errorf("mc stat: got\n%s\nwant SSE-KMS with arn:aws:kms:%s", out, labdir.DefaultKey)
		}
		run("mb", lab.MCAlias+"/mc-bucket")
		run("encrypt", "set", "sse-kms", labdir.DefaultKey, lab.MCAlias+"/mc-bucket")
		if out := run("encrypt", "info", lab.MCAlias+"/mc-bucket"); !strings.Contains(out, labdir.DefaultKey) {
			t.Errorf("mc encrypt info: got\n%s\nwant SSE-KMS with %s", out, labdir.DefaultKey)
		}
		if out := mustRun(t, "bucket", "encryption", "mc-bucket", "--dir", dir).stdout; !strings.Contains(out, "SSE-KMS with key "+labdir.DefaultKey) {
			t.Errorf("sselab bucket encryption of a bucket mc set up: got %q", out)
		}
		if out := run("admin", "kms", "key", "status", lab.MCAlias); strings.Count(out, "✔") != 2 {
			t.Errorf("mc admin kms key status: got\n%s\nwant encryption and decryption OK", out)
		}
	})

	t.Run("kes CLI", func(t *testing.T) {
		kes := testtools.KESCLI(t)
		cmd := exec.CommandContext(ctx, kes, "key", "ls")
		cmd.Env = withEnv(env)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), labdir.DefaultKey) {
			t.Errorf("kes key ls: %v\n%s\nwant %s listed", err, out, labdir.DefaultKey)
		}
		cmd = exec.CommandContext(ctx, kes, "status")
		cmd.Env = withEnv(env)
		out, err = cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), strings.TrimPrefix(h.State.KESEndpoint, "https://")) {
			t.Errorf("kes status: %v\n%s\nwant it to answer for %s", err, out, h.State.KESEndpoint)
		}
	})

	t.Run("MinIO's KES requests are all allowed", func(t *testing.T) {
		// MinIO describes its default key every 10 s: run past that.
		if wait := 12*time.Second - time.Since(started); wait > 0 {
			time.Sleep(wait)
		}
		audit, err := os.ReadFile(h.Layout.KESAuditLog())
		if err != nil {
			t.Fatal(err)
		}
		if n := bytes.Count(audit, []byte("access denied")); n > 0 {
			t.Errorf("KES refused %d requests:\n%s", n, audit)
		}

		// The control: a refused request does reach this audit log.
		minioID := kesapi.NewClientWithConfig(h.State.KESEndpoint, h.PKI.ClientTLS(h.PKI.MinIOClient))
		if err := minioID.DeleteKey(ctx, labdir.DefaultKey); err == nil {
			t.Fatal("the MinIO identity deleted the default key")
		}
		audit, _ = os.ReadFile(h.Layout.KESAuditLog())
		if !bytes.Contains(audit, []byte("/v1/key/delete/"+labdir.DefaultKey)) {
			t.Errorf("a refused delete is missing from the audit log:\n%s", audit)
		}
	})

	// Down, then up again: same identities, credentials and objects.
	before, err := pki.Load(h.Layout.CertsDir())
	if err != nil {
		t.Fatal(err)
	}
	info, _ := h.Info(ctx)
	mustRun(t, "down", "--dir", dir)
	waitGone(t, info.MinIOPID)
	for _, f := range []string{h.Layout.StateFile(), h.Layout.LockFile()} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s still exists after down", f)
		}
	}
	if r := sselab(t, "status", "--dir", dir); r.code == 0 || !strings.Contains(r.stderr, "sselab up") {
		t.Errorf("status of a stopped lab: exit %d, stderr %q; want non-zero and how to start it", r.code, r.stderr)
	}

	h2 := upDetached(t, dir)
	s3, err = h2.S3()
	if err != nil {
		t.Fatal(err)
	}
	if got := readObject(t, s3, labdir.DefaultBucket, "object.txt", minio.GetObjectOptions{}); !bytes.Equal(got, body) {
		t.Errorf("after down and up: got %q, want %q", got, body)
	}
	if h2.Credentials != h.Credentials {
		t.Error("root credentials changed across down and up")
	}
	after, err := pki.Load(h2.Layout.CertsDir())
	if err != nil {
		t.Fatal(err)
	}
	if before.MinIOClient.Identity() != after.MinIOClient.Identity() || before.Operator.Identity() != after.Operator.Identity() || !before.CA.Cert.Equal(after.CA.Cert) {
		t.Error("the CA or the client identities changed across down and up")
	}
}

// readObject reads a whole object.
func readObject(t *testing.T, s3 *minio.Client, bucket, name string, opts minio.GetObjectOptions) []byte {
	t.Helper()
	data, err := getObject(t.Context(), s3, bucket, name, opts)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// getObject reads an object whole.
func getObject(ctx context.Context, s3 *minio.Client, bucket, name string, opts minio.GetObjectOptions) ([]byte, error) {
	obj, err := s3.GetObject(ctx, bucket, name, opts)
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	data, err := io.ReadAll(obj)
	if err != nil {
		return nil, fmt.Errorf("reading %s/%s: %w", bucket, name, err)
	}
	return data, nil
}

// treeHashExcept hashes the parts of a running lab's directory that no
// running process writes to (certificates, keys, settings, credentials).
func treeHashExcept(t *testing.T, dir string) string {
	t.Helper()
	l := labdir.Layout{Root: dir}
	var parts []string
	for _, p := range []string{l.CertsDir(), l.KeyStoreDir(), l.SettingsFile(), l.CredentialsFile(), l.StateFile(), l.LockFile()} {
		parts = append(parts, treeHashPath(t, p))
	}
	return strings.Join(parts, ",")
}

// treeHashPath hashes one file or directory.
func treeHashPath(t *testing.T, path string) string {
	t.Helper()
	if fi, err := os.Stat(path); err == nil && !fi.IsDir() {
		data, _ := os.ReadFile(path)
		return string(data)
	}
	return treeHash(t, path)
}
