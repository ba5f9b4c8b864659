package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/labdir"
)

// TestKeysAndBuckets drives 'sselab key' and 'sselab bucket' as a user
// would, including the refusals that protect data.
func TestKeysAndBuckets(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "lab")
	h := upDetached(t, dir)
	d := []string{"--dir", dir}
	run := func(args ...string) result { return sselab(t, append(args, d...)...) }
	must := func(args ...string) string { return mustRun(t, append(args, d...)...).stdout }
	fails := func(want string, args ...string) {
		t.Helper()
		r := run(args...)
		first, _, _ := strings.Cut(r.stderr, "\n")
		if r.code == 0 || !strings.HasPrefix(first, "sselab: ") || !strings.Contains(r.stderr, want) {
			t.Errorf("sselab %s: exit %d, stderr %q; want a one-line failure mentioning %q", strings.Join(args, " "), r.code, r.stderr, want)
		}
	}

	must("key", "create", "photos-key")
	fails("already exists", "key", "create", "photos-key")
	fails("invalid key name", "key", "create", "a/b")
	keyFile := filepath.Join(t.TempDir(), "key.b64")
	material := make([]byte, 32)
	rand.Read(material)
	os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(material)), 0o600)
	must("key", "import", "imported", "--file", keyFile)
	os.WriteFile(keyFile, []byte("too short"), 0o600)
	fails("must be 32 bytes", "key", "import", "short", "--file", keyFile)

	var keys []lab.KeyInfo
	if err := json.Unmarshal([]byte(must("key", "list", "--json")), &keys); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, k := range keys {
		names = append(names, k.Name)
	}
	if got, want := strings.Join(names, ","), "imported,photos-key,"+labdir.DefaultKey; got != want {
		t.Errorf("key list: got %s, want %s", got, want)
	}
	for _, prefix := range []string{"photo*", "photos-"} {
		if out := must("key", "list", prefix); !strings.Contains(out, "photos-key") || strings.Contains(out, "imported") {
			t.Errorf("key list %s: got\n%s\nwant only photos-key", prefix, out)
		}
	}
	fails("does not exist", "key", "describe", "nope")

	must("bucket", "create", "photos", "--sse-kms", "photos-key")
	fails("key missing does not exist", "bucket", "create", "other", "--sse-kms", "missing")
	fails("invalid bucket name", "bucket", "create", "No_Such")
	fails("already exists", "bucket", "create", "photos")
	if out := must("bucket", "encryption", "photos"); !strings.Contains(out, "SSE-KMS with key photos-key") {
		t.Errorf("bucket encryption photos: got %q", out)
	}
	must("bucket", "create", "plain", "--no-encryption")
	if out := must("bucket", "encryption", "plain"); !strings.Contains(out, "plaintext") {
		t.Errorf("bucket encryption plain: got %q, want it to say objects are stored in plaintext", out)
	}
	buckets, err := h.S3()
	if err != nil {
		t.Fatal(err)
	}
	list, err := buckets.ListBuckets(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range list {
		got = append(got, b.Name)
	}
	if want := "encrypted,photos,plain"; strings.Join(got, ",") != want {
		t.Errorf("buckets after the refused creates: got %v, want %s", got, want)
	}
	must("bucket", "encryption", "plain", "--sse-s3")
	var enc lab.BucketEncryption
	json.Unmarshal([]byte(must("bucket", "encryption", "plain", "--json")), &enc)
	if enc.Algorithm != "AES256" {
		t.Errorf("after --sse-s3: got %+v, want AES256", enc)
	}

	// A key in use is protected; the default key is never deleted.
	s3, err := h.S3()
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("photo")
	if _, err := s3.PutObject(t.Context(), "photos", "p.jpg", bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	fails("would become unreadable forever", "key", "delete", "photos-key")
	fails("default key", "key", "delete", labdir.DefaultKey)
	if got := readObject(t, s3, "photos", "p.jpg", minio.GetObjectOptions{}); !bytes.Equal(got, body) {
		t.Fatal("the object is unreadable after refused deletes")
	}
	must("key", "delete", "imported")
	must("key", "delete", "photos-key", "--force")
	obj, err := s3.GetObject(t.Context(), "photos", "p.jpg", minio.GetObjectOptions{})
	if err == nil {
		_, err = io.ReadAll(obj)
	}
	if err == nil {
		t.Error("an object whose key was deleted is still readable")
	}
}

// TestExpiredOperatorCertificate replaces the operator certificate of a
// running lab with an expired one (same key): commands that act as the
// operator fail with one line that says how to renew, and change nothing.
func TestExpiredOperatorCertificate(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "lab")
	h := upDetached(t, dir)
	ca, op := h.PKI.CA, h.PKI.Operator
	tmpl := *op.Cert
	tmpl.NotBefore = time.Now().Add(-48 * time.Hour)
	tmpl.NotAfter = time.Now().Add(-24 * time.Hour)
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, ca.Cert, op.Cert.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(op.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	before := treeHashExcept(t, dir)
	for _, args := range [][]string{{"key", "create", "k2"}, {"key", "list"}, {"bucket", "create", "b2"}, {"status"}} {
		r := sselab(t, append(args, "--dir", dir)...)
		first, _, _ := strings.Cut(r.stderr, "\n")
		if r.code == 0 || !strings.Contains(first, "operator.crt: certificate expired") || !strings.Contains(first, "sselab up") {
			t.Errorf("sselab %s with an expired operator certificate: exit %d, stderr %q; want one line saying it expired and how to renew", strings.Join(args, " "), r.code, r.stderr)
		}
	}
	if after := treeHashExcept(t, dir); after != before {
		t.Error("the refused commands changed the state directory")
	}
	keys, _, err := h.KES().ListKeys(t.Context(), "*", -1)
	if err != nil || strings.Join(keys, ",") != labdir.DefaultKey {
		t.Errorf("keys after the refused commands: got %v, %v; want only %s", keys, err, labdir.DefaultKey)
	}

	// What the message says works: stopping needs no certificate, and the
	// next up renews the operator's with the same key and identity.
	info, err := h.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, "down", "--dir", dir)
	waitGone(t, info.PID)
	waitGone(t, info.MinIOPID)
	h2 := upDetached(t, dir)
	if h2.PKI.Operator.Identity() != op.Identity() {
		t.Errorf("the renewed operator certificate has another identity")
	}
	mustRun(t, "key", "create", "k2", "--dir", dir)
}
