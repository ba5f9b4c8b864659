package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/labdir"
)

// TestSealedKeystore: a lab whose keys are encrypted at rest under a
// passphrase. Sealing it stops every SSE request (and nothing else),
// status says so; unsealing brings SSE back without restarting MinIO; a
// wrong or missing passphrase changes nothing; a restart needs the
// passphrase again and finds every object.
func TestSealedKeystore(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "lab")
	pass := []string{"SSELAB_PASSPHRASE=correct horse battery staple"}
	wrong := []string{"SSELAB_PASSPHRASE=wrong horse battery staple"}
	up := append([]string{"up", "--detach", "--dir", dir, "--sealed"}, freePorts...)
	if r := sselabEnv(t, pass, up...); r.code != 0 {
		t.Fatalf("up --sealed: exit %d\n%s", r.code, r.stderr)
	}
	t.Cleanup(func() { stopLab(t, dir) })
	h, err := lab.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	layout := labdir.Layout{Root: dir}
	if _, err := os.Stat(layout.KeyStoreDir()); err == nil {
		t.Errorf("a sealed lab has a plaintext keystore %s", layout.KeyStoreDir())
	}

	bucket := h.State.Buckets[0]
	secret := bytes.Repeat([]byte("sealed lab secret "), 100)
	if _, err := h.PutObject(ctx, bucket, "secret.txt", bytes.NewReader(secret), int64(len(secret)), ""); err != nil {
		t.Fatal(err)
	}
	if err := h.CreateBucket(ctx, "plain", lab.BucketMode{Mode: lab.ModeNone}); err != nil {
		t.Fatal(err)
	}

	// At rest, no entry is KES's key encoding (base64) in clear, and
	// verify says so.
	entries, _ := os.ReadDir(layout.SealedKeyStoreDir())
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(layout.SealedKeyStoreDir(), e.Name()))
		if _, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(data))); e.Name() != "keystore.json" && err == nil {
			t.Errorf("%s holds a key in clear: %q", e.Name(), data)
		}
	}
	if r := mustRun(t, "verify", "--dir", dir); !strings.Contains(r.stdout, "keys at rest: none in clear in the state directory") {
		t.Errorf("verify on a sealed lab has no keys-at-rest check:\n%s", r.stdout)
	}

	mustRun(t, "seal", "--dir", dir)
	r := sselab(t, "status", "--dir", dir)
	if r.code != 1 || !strings.Contains(r.stdout, "sealed") || !strings.Contains(r.stderr, "sselab unseal") {
		t.Errorf("status while sealed: exit %d\n%s%s\nwant exit 1, the keystore sealed, and how to unseal", r.code, r.stdout, r.stderr)
	}
	_, err = h.PutObject(ctx, bucket, "while-sealed.txt", strings.NewReader("x"), 1, "")
	if resp := (minio.ErrorResponse{}); !errors.As(err, &resp) || resp.Code != "kms:KeyGenerationFailed" {
		t.Errorf("SSE-KMS PUT while sealed: %v; want MinIO's kms:KeyGenerationFailed", err)
	}
	if _, err := readAll(h, bucket, "secret.txt"); err == nil {
		t.Error("SSE-KMS GET while sealed: got the object")
	}
	if _, err := h.PutObject(ctx, "plain", "p.txt", strings.NewReader("plain"), 5, ""); err != nil {
		t.Errorf("unencrypted PUT while sealed: %v", err)
	}
	if got, err := readAll(h, "plain", "p.txt"); err != nil || string(got) != "plain" {
		t.Errorf("unencrypted GET while sealed: %q, %v", got, err)
	}
	if r := sselab(t, "seal", "--dir", dir); r.code != 1 || !strings.Contains(r.stderr, "sealed already") {
		t.Errorf("seal when sealed: exit %d %q", r.code, r.stderr)
	}
	if r := sselabEnv(t, wrong, "unseal", "--dir", dir); r.code != 1 || !strings.Contains(r.stderr, "wrong passphrase") {
		t.Errorf("unseal with a wrong passphrase: exit %d %q", r.code, r.stderr)
	}
	if r := sselab(t, "status", "--dir", dir); r.code != 1 {
		t.Errorf("status after a wrong unseal: exit %d, want 1 (still sealed)", r.code)
	}

	start := time.Now()
	if r := sselabEnv(t, pass, "unseal", "--dir", dir); r.code != 0 {
		t.Fatalf("unseal: exit %d %q", r.code, r.stderr)
	}
	eventually(t, "SSE-KMS PUT after unseal", 10*time.Second, func() error {
		_, err := h.PutObject(ctx, bucket, "after-unseal.txt", strings.NewReader("y"), 1, "")
		return err
	})
	t.Logf("unseal to SSE working again: %v (MinIO pid %d, not restarted)", time.Since(start).Round(time.Millisecond), h.State.MinIOPID)
	if got, err := readAll(h, bucket, "secret.txt"); err != nil || !bytes.Equal(got, secret) {
		t.Errorf("GET after unseal: %v", err)
	}
	if r := sselabEnv(t, pass, "unseal", "--dir", dir); r.code != 1 || !strings.Contains(r.stderr, "not sealed") {
		t.Errorf("unseal when not sealed: exit %d %q", r.code, r.stderr)
	}
	info, err := h.Info(ctx)
	if err != nil || info.MinIORestarts != 0 {
		t.Errorf("MinIO restarts: %+v, %v; want none", info, err)
	}

	// A restart needs the passphrase; a wrong or missing one changes
	// nothing.
	mustRun(t, "down", "--dir", dir)
	before := treeHash(t, dir)
	for _, tt := range []struct {
		name string
		env  []string
		want string
	}{
		{"wrong passphrase", wrong, "wrong passphrase"},
		{"no passphrase", []string{"SSELAB_PASSPHRASE="}, "no passphrase given"},
	} {
		r := sselabEnv(t, tt.env, "up", "--detach", "--dir", dir)
		if r.code != 1 || !strings.Contains(r.stderr, tt.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("up with %s: exit %d %q; want exit 1 and one line saying %q", tt.name, r.code, r.stderr, tt.want)
		}
		if after := treeHash(t, dir); after != before {
			t.Errorf("up with %s changed the state directory", tt.name)
		}
	}
	if r := sselabEnv(t, pass, "up", "--detach", "--dir", dir); r.code != 0 {
		t.Fatalf("up again: exit %d %q", r.code, r.stderr)
	}
	h, err = lab.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := readAll(h, bucket, "secret.txt"); err != nil || !bytes.Equal(got, secret) {
		t.Errorf("GET after a restart: %v", err)
	}
}

// TestSealAtRest: seal and unseal say what to do on a lab whose keys are
// in clear; 'keystore seal-at-rest' converts it (not while it runs), and
// the lab comes back sealed with every object readable.
func TestSealAtRest(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "lab")
	h := upDetached(t, dir)
	layout := labdir.Layout{Root: dir}
	pass := []string{"SSELAB_PASSPHRASE=correct horse battery staple"}
	data := []byte("written before the conversion")
	if _, err := h.PutObject(t.Context(), h.State.Buckets[0], "before.txt", bytes.NewReader(data), int64(len(data)), ""); err != nil {
		t.Fatal(err)
	}
	before := treeHash(t, layout.KeyStoreDir())
	for _, cmd := range []string{"seal", "unseal"} {
		r := sselabEnv(t, pass, cmd, "--dir", dir)
		if r.code != 1 || !strings.Contains(r.stderr, "not sealed at rest: convert it with 'sselab keystore seal-at-rest") {
			t.Errorf("%s on the plaintext keystore: exit %d %q", cmd, r.code, r.stderr)
		}
	}
	if r := sselabEnv(t, pass, "keystore", "seal-at-rest", "--dir", dir); r.code != 1 || !strings.Contains(r.stderr, "already running") {
		t.Errorf("seal-at-rest on a running lab: exit %d %q", r.code, r.stderr)
	}
	if treeHash(t, layout.KeyStoreDir()) != before {
		t.Error("the keystore changed")
	}

	mustRun(t, "down", "--dir", dir)
	if r := sselabEnv(t, []string{"SSELAB_PASSPHRASE=short"}, "keystore", "seal-at-rest", "--dir", dir); r.code != 1 || !strings.Contains(r.stderr, "use at least 8") {
		t.Errorf("seal-at-rest with a short passphrase: exit %d %q", r.code, r.stderr)
	}
	if r := sselabEnv(t, pass, "keystore", "seal-at-rest", "--dir", dir); r.code != 0 {
		t.Fatalf("seal-at-rest: exit %d %q", r.code, r.stderr)
	}
	if _, err := os.Stat(layout.KeyStoreDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the plaintext keystore is still there after the conversion: %v", err)
	}
	if r := sselabEnv(t, pass, "up", "--detach", "--dir", dir); r.code != 0 {
		t.Fatalf("up after the conversion: exit %d %q", r.code, r.stderr)
	}
	h, err := lab.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := readAll(h, h.State.Buckets[0], "before.txt"); err != nil || !bytes.Equal(got, data) {
		t.Errorf("the object written before the conversion: %q, %v", got, err)
	}
	mustRun(t, "seal", "--dir", dir)
	if _, err := readAll(h, h.State.Buckets[0], "before.txt"); err == nil {
		t.Error("read the object while sealed")
	}
	if r := sselabEnv(t, pass, "unseal", "--dir", dir); r.code != 0 {
		t.Errorf("unseal: exit %d %q", r.code, r.stderr)
	}
}

// readAll reads an object through the lab's client.
func readAll(h *lab.Handle, bucket, key string) ([]byte, error) {
	s3, err := h.S3()
	if err != nil {
		return nil, err
	}
	return getObject(context.Background(), s3, bucket, key, minio.GetObjectOptions{})
}
