package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	kesapi "github.com/minio/kms-go/kes"
	"github.com/minio/minio-go/v7"

	"github.com/sselab/sselab/internal/testtools"
	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/labdir"
	"github.com/sselab/sselab/pkg/pki"
)

// TestLogs writes and reads an object and asks KES for a key with an
// identity the lab never made, then finds in 'sselab logs' MinIO's
// generate and decrypt on the bucket's key and the refusal.
func TestLogs(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	h := upDetached(t, dir)
	s3, err := h.S3()
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("logs-test-object")
	if _, err := s3.PutObject(ctx, labdir.DefaultBucket, "logs.txt", bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := readObject(t, s3, labdir.DefaultBucket, "logs.txt", minio.GetObjectOptions{}); !bytes.Equal(got, body) {
		t.Fatalf("read back %q, want %q", got, body)
	}

	// An identity the lab CA signed but no policy names: KES refuses it.
	stranger := strangerTLS(t, h.PKI)
	strangerID := pki.Identity(stranger.Certificates[0].Leaf)
	client := kesapi.NewClientWithConfig(h.State.KESEndpoint, stranger)
	if _, err := client.GenerateKey(ctx, labdir.DefaultKey, nil); err == nil {
		t.Fatal("KES generated a key for an identity without a policy")
	}

	// MinIO's generate (the PUT) and decrypt (the GET) on the default key.
	out := mustRun(t, "logs", "--dir", dir, "--identity", "minio", "--key", labdir.DefaultKey).stdout
	for _, op := range []string{"generate", "decrypt"} {
		re := regexp.MustCompile(`(?m)^\S+ \S+\s+minio\s+` + op + `\s+` + regexp.QuoteMeta(labdir.DefaultKey) + `\s+ok\s+\S+$`)
		if !re.MatchString(out) {
			t.Errorf("sselab logs --identity minio: no %s on %s in\n%s", op, labdir.DefaultKey, out)
		}
	}
	if strings.Contains(out, "operator") || strings.Contains(out, strangerID[:12]) {
		t.Errorf("--identity minio shows other identities:\n%s", out)
	}

	out = mustRun(t, "logs", "--dir", dir, "--refused").stdout
	re := regexp.MustCompile(`(?m)^\S+ \S+\s+` + strangerID[:12] + `\s+generate\s+` + regexp.QuoteMeta(labdir.DefaultKey) + `\s+refused\s+-$`)
	if !re.MatchString(out) {
		t.Errorf("sselab logs --refused: no refused generate by %s in\n%s", strangerID[:12], out)
	}
	if strings.Contains(out, " ok ") {
		t.Errorf("--refused shows allowed requests:\n%s", out)
	}

	// --json: one object per line, with the full identity.
	out = mustRun(t, "logs", "--dir", dir, "--json", "--identity", strangerID[:20]).stdout
	var recs []lab.AuditRecord
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r lab.AuditRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("--json line %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	if len(recs) != 1 || recs[0].Identity != strangerID || recs[0].Code != 403 || recs[0].Operation != "generate" {
		t.Errorf("--json --identity PREFIX: got %+v, want the one refused generate of %s", recs, strangerID)
	}

	// --since: a time after everything selects nothing.
	if out := mustRun(t, "logs", "--dir", dir, "--since", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)).stdout; out != "" {
		t.Errorf("--since an hour ahead: got\n%s\nwant nothing", out)
	}
	if out := mustRun(t, "logs", "--dir", dir, "--since", "1h", "--key", labdir.DefaultKey).stdout; !strings.Contains(out, "generate") {
		t.Errorf("--since 1h: got\n%s\nwant the last hour's generate", out)
	}

	t.Run("follow", func(t *testing.T) {
		fctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		cmd := exec.CommandContext(fctx, testtools.Sselab(t), "logs", "--dir", dir, "--follow", "--key", "followed-key")
		var stdout testtools.SyncBuffer
		cmd.Stdout = &stdout
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cancel(); cmd.Wait() }()
		mustRun(t, "key", "create", "followed-key", "--dir", dir)
		eventually(t, "sselab logs --follow shows the new key", 20*time.Second, func() error {
			if !regexp.MustCompile(`operator\s+create\s+followed-key\s+ok`).MatchString(stdout.String()) {
				return fmt.Errorf("got %q", stdout.String())
			}
			return nil
		})
	})

	t.Run("stopped lab, truncated and missing log", func(t *testing.T) {
		stopLab(t, dir)
		log := h.Layout.KESAuditLog()
		f, err := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(`{"time":"2026-12-01T08:00:00Z","level":"INFO","msg":"secret key 'x' cre`)
		f.Close()
		r := sselab(t, "logs", "--dir", dir, "--key", labdir.DefaultKey)
		if r.code != 0 || !strings.Contains(r.stdout, "generate") || !strings.Contains(r.stderr, "skipped the last line of "+log+": it is incomplete") {
			t.Errorf("logs with a truncated last line: exit %d, stdout %q, stderr %q; want the records and a note", r.code, r.stdout, r.stderr)
		}
		empty := t.TempDir()
		r = sselab(t, "logs", "--dir", empty)
		if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "no KES audit log at "+filepath.Join(empty, "kes", "audit.log")) {
			t.Errorf("logs without an audit log: exit %d, stdout %q, stderr %q; want 0 and a note", r.code, r.stdout, r.stderr)
		}
		r = sselab(t, "logs", "--dir", dir, "--since", "yesterday")
		if r.code != 2 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, `--since "yesterday" is neither a duration`) {
			t.Errorf("--since yesterday: exit %d, stderr %q; want 2 and one line", r.code, r.stderr)
		}
	})
}

// strangerTLS is a client TLS config with a certificate the lab CA signed
// for an identity the lab's KES has no policy for.
func strangerTLS(t *testing.T, p *pki.PKI) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "stranger"},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.CA.Cert, key.Public(), p.CA.Key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	cfg := p.ClientTLS(nil)
	cfg.Certificates = []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}}
	return cfg
}
