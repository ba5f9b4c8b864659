package runner

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
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	kesapi "github.com/minio/kms-go/kes"

	"github.com/sselab/sselab/internal/testtools"
	"github.com/sselab/sselab/pkg/pki"
)

// isErr reports whether err is the KES API error want (same status, same
// message).
func isErr(err error, want kesapi.Error) bool {
	var e kesapi.Error
	return errors.As(err, &e) && e.Status() == want.Status() && e.Error() == want.Error()
}

// isForbidden reports whether err is kes.ErrNotAllowed or another KES API
// error with status 403.
func isForbidden(err error) bool {
	var e kesapi.Error
	return errors.Is(err, kesapi.ErrNotAllowed) || errors.As(err, &e) && e.Status() == http.StatusForbidden
}

func TestOperatorPolicy(t *testing.T) {
	t.Parallel()
	ctx := testtools.Context(t)
	l := newLab(t)
	s := start(t, ctx, l.cfg)
	c := l.client(t, s, l.pki.Operator)
	operator := kesapi.Identity(l.pki.Operator.Identity())

	t.Run("Status", func(t *testing.T) {
		st, err := c.Status(ctx)
		if err != nil {
			t.Fatalf("Status: got %v, want nil", err)
		}
		if !st.KeyStoreReachable {
			t.Errorf("Status: keystore reachable: got false, want true")
		}
	})
	t.Run("CreateKey", func(t *testing.T) {
		if err := c.CreateKey(ctx, "op-created"); err != nil {
			t.Fatalf("CreateKey: got %v, want nil", err)
		}
		if err := c.CreateKey(ctx, "op-created"); !isErr(err, kesapi.ErrKeyExists) {
			t.Errorf("CreateKey twice: got %v, want %v", err, kesapi.ErrKeyExists)
		}
	})
	key := bytes.Repeat([]byte{0x5a}, 32)
	t.Run("ImportKey", func(t *testing.T) {
		if err := c.ImportKey(ctx, "op-imported", &kesapi.ImportKeyRequest{Key: key, Cipher: kesapi.AES256}); err != nil {
			t.Fatalf("ImportKey: got %v, want nil", err)
		}
	})
	t.Run("DescribeKey", func(t *testing.T) {
		for _, name := range []string{"op-created", "op-imported"} {
			info, err := c.DescribeKey(ctx, name)
			if err != nil {
				t.Fatalf("DescribeKey %s: got %v, want nil", name, err)
			}
			if info.Name != name || info.CreatedBy != operator {
				t.Errorf("DescribeKey %s: got name %q created by %s, want %q created by %s", name, info.Name, info.CreatedBy, name, operator)
			}
		}
	})
	t.Run("ListKeys", func(t *testing.T) {
		names, _, err := c.ListKeys(ctx, "op", -1)
		if err != nil {
			t.Fatalf("ListKeys: got %v, want nil", err)
		}
		slices.Sort(names)
		if want := []string{"op-created", "op-imported"}; !slices.Equal(names, want) {
			t.Errorf("ListKeys op: got %q, want %q", names, want)
		}
	})
	t.Run("DeleteKey", func(t *testing.T) {
		if err := c.DeleteKey(ctx, "op-imported"); err != nil {
			t.Fatalf("DeleteKey: got %v, want nil", err)
		}
		if _, err := c.DescribeKey(ctx, "op-imported"); !isErr(err, kesapi.ErrKeyNotFound) {
			t.Errorf("DescribeKey after DeleteKey: got %v, want %v", err, kesapi.ErrKeyNotFound)
		}
	})
	t.Run("ReadPolicies", func(t *testing.T) {
		names, _, err := c.ListPolicies(ctx, "*", -1)
		if err != nil {
			t.Fatalf("ListPolicies: got %v, want nil", err)
		}
		slices.Sort(names)
		if want := []string{PolicyMinIO, PolicyOperator}; !slices.Equal(names, want) {
			t.Errorf("ListPolicies: got %q, want %q", names, want)
		}
		p, err := c.GetPolicy(ctx, PolicyMinIO)
		if err != nil {
			t.Fatalf("GetPolicy %s: got %v, want nil", PolicyMinIO, err)
		}
		var got []string
		for r := range p.Allow {
			got = append(got, r)
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(MinIORoutes))
		if !slices.Equal(got, want) || len(p.Deny) != 0 {
			t.Errorf("policy %s: got allow %q deny %v, want allow %q and no deny", PolicyMinIO, got, p.Deny, want)
		}
		info, err := c.DescribeIdentity(ctx, kesapi.Identity(l.pki.MinIOClient.Identity()))
		if err != nil {
			t.Fatalf("DescribeIdentity of MinIO: got %v, want nil", err)
		}
		if info.Policy != PolicyMinIO || info.IsAdmin {
			t.Errorf("DescribeIdentity of MinIO: got policy %q admin %v, want %q and not admin", info.Policy, info.IsAdmin, PolicyMinIO)
		}
	})
}

func TestMinIOPolicy(t *testing.T) {
	t.Parallel()
	ctx := testtools.Context(t)
	l := newLab(t)
	s := start(t, ctx, l.cfg)
	c := l.client(t, s, l.pki.MinIOClient)
	minio := l.pki.MinIOClient.Identity()
	const name = "minio-key"

	t.Run("Status", func(t *testing.T) {
		if _, err := c.Status(ctx); err != nil {
			t.Fatalf("Status: got %v, want nil", err)
		}
	})
	t.Run("CreateKey", func(t *testing.T) {
		if err := c.CreateKey(ctx, name); err != nil {
			t.Fatalf("CreateKey: got %v, want nil", err)
		}
		path := "/v1/key/create/" + name
		line := waitAudit(t, ctx, l.cfg.AuditLogFile, "the accepted create", func(a auditLine) bool {
			return a.Req.Path == path && a.Req.Identity == minio
		})
		if !strings.Contains(line.Msg, "created") || line.Res == nil || line.Res.Code != http.StatusOK {
			t.Errorf("audit line of the create: got msg %q res %+v, want a \"created\" message with code 200", line.Msg, line.Res)
		}
	})
	t.Run("DescribeKey", func(t *testing.T) {
		info, err := c.DescribeKey(ctx, name)
		if err != nil {
			t.Fatalf("DescribeKey: got %v, want nil", err)
		}
		if info.CreatedBy.String() != minio {
			t.Errorf("DescribeKey: created by %s, want the MinIO identity %s", info.CreatedBy, minio)
		}
	})
	t.Run("ListKeys", func(t *testing.T) {
		names, _, err := c.ListKeys(ctx, "*", -1)
		if err != nil {
			t.Fatalf("ListKeys: got %v, want nil", err)
		}
		if !slices.Equal(names, []string{name}) {
			t.Errorf("ListKeys: got %q, want [%q]", names, name)
		}
	})
	t.Run("GenerateDecrypt", func(t *testing.T) {
		assoc := []byte("bucket/object")
		dek, err := c.GenerateKey(ctx, name, assoc)
		if err != nil {
			t.Fatalf("GenerateKey: got %v, want nil", err)
		}
		plain, err := c.Decrypt(ctx, name, dek.Ciphertext, assoc)
		if err != nil {
			t.Fatalf("Decrypt: got %v, want nil", err)
		}
		if !bytes.Equal(plain, dek.Plaintext) || len(plain) != 32 {
			t.Errorf("Decrypt: got %x, want the generated 32-byte key %x", plain, dek.Plaintext)
		}
	})

	refusals := []struct {
		name, path string
		call       func() error
	}{
		{"DeleteKey", "/v1/key/delete/" + name, func() error { return c.DeleteKey(ctx, name) }},
		{"ImportKey", "/v1/key/import/minio-import", func() error {
			return c.ImportKey(ctx, "minio-import", &kesapi.ImportKeyRequest{Key: make([]byte, 32), Cipher: kesapi.AES256})
		}},
	}
	for _, r := range refusals {
		t.Run(r.name+"Refused", func(t *testing.T) {
			if err := r.call(); !isForbidden(err) {
				t.Fatalf("%s as MinIO: got %v, want %v (403)", r.name, err, kesapi.ErrNotAllowed)
			}
			line := waitAudit(t, ctx, l.cfg.AuditLogFile, "the refused "+r.path, func(a auditLine) bool {
				return a.Req.Path == r.path
			})
			if !strings.HasPrefix(line.Msg, "access denied") {
				t.Errorf("audit line of %s: got msg %q, want it to start with \"access denied\"", r.path, line.Msg)
			}
			if line.Req.Identity != minio {
				t.Errorf("audit line of %s: got identity %q, want the MinIO identity %s", r.path, line.Req.Identity, minio)
			}
		})
	}
	t.Run("KeySurvivesRefusedDelete", func(t *testing.T) {
		if _, err := c.DescribeKey(ctx, name); err != nil {
			t.Errorf("DescribeKey after the refused delete: got %v, want nil", err)
		}
	})

	// Every KES route the MinIO policy does not allow is refused.
	t.Run("OtherRoutesRefused", func(t *testing.T) {
		hc := testtools.HTTPSClient(t, l.pki.ClientTLS(l.pki.MinIOClient))
		for _, r := range kesRoutes {
			if r.path == "/version" || r.path == "/v1/identity/self/describe" || allows(MinIORoutes, r.request()) {
				continue // see TestStrangerRefused for the two exceptions
			}
			code, err := do(ctx, hc, s, r.method, r.request())
			if err != nil || code != http.StatusForbidden {
				t.Errorf("%s %s as MinIO: got status %d, error %v, want %d", r.method, r.request(), code, err, http.StatusForbidden)
			}
		}
	})
}

// TestStrangerRefused checks that a certificate of the lab CA that is in
// no policy gets nothing: the admin identity is disabled, so no identity
// outside the two policies may use the API.
func TestStrangerRefused(t *testing.T) {
	t.Parallel()
	ctx := testtools.Context(t)
	l := newLab(t)
	s := start(t, ctx, l.cfg)
	stranger := issueClientCert(t, l.pki.CA, "stranger")
	conf := l.pki.ClientTLS(nil)
	conf.Certificates = []tls.Certificate{stranger}
	hc := testtools.HTTPSClient(t, conf)

	for _, r := range kesRoutes {
		t.Run(r.method+" "+r.request(), func(t *testing.T) {
			code, err := do(ctx, hc, s, r.method, r.request())
			if err != nil {
				t.Fatalf("got %v, want an HTTP response", err)
			}
			switch r.path {
			case "/version":
				// KES serves its version to any client certificate the
				// TLS layer accepts (api.InsecureSkipVerify).
				if code != http.StatusOK {
					t.Errorf("got status %d, want %d", code, http.StatusOK)
				}
			case "/v1/identity/self/describe":
				// KES identifies but does not authorize this route; an
				// identity without policy has nothing to describe.
				if code == http.StatusOK {
					t.Errorf("got status %d, want an error", code)
				}
			default:
				if code != http.StatusForbidden {
					t.Errorf("got status %d, want %d", code, http.StatusForbidden)
				}
			}
		})
	}

	strangerID := pki.Identity(stranger.Leaf)
	line := waitAudit(t, ctx, l.cfg.AuditLogFile, "the stranger's key list", func(a auditLine) bool {
		return a.Req.Path == "/v1/key/list/*"
	})
	if !strings.HasPrefix(line.Msg, "access denied") || line.Req.Identity != strangerID {
		t.Errorf("audit line of the stranger's key list: got msg %q identity %q, want \"access denied...\" by %s", line.Msg, line.Req.Identity, strangerID)
	}

	// The MinIO identity may not read policies either: only the operator
	// policy grants that.
	mc := l.client(t, s, l.pki.MinIOClient)
	if _, err := mc.GetPolicy(ctx, PolicyOperator); !isForbidden(err) {
		t.Errorf("GetPolicy as MinIO: got %v, want %v", err, kesapi.ErrNotAllowed)
	}
	if _, _, err := mc.ListIdentities(ctx, "*", -1); !isForbidden(err) {
		t.Errorf("ListIdentities as MinIO: got %v, want %v", err, kesapi.ErrNotAllowed)
	}
}

// issueClientCert issues a client certificate signed by ca that is in no
// policy: an identity of the lab CA that KES does not know.
func issueClientCert(t *testing.T, ca *pki.Cert, cn string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatalf("x509.CreateCertificate: %v", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// readAudit parses the audit log at path; every line must be JSON.
func readAudit(t *testing.T, path string) []auditLine {
	t.Helper()
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var lines []auditLine
	for i, raw := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if raw == "" {
			continue
		}
		var l auditLine
		if err := json.Unmarshal([]byte(raw), &l); err != nil {
			t.Fatalf("audit log %s line %d is not JSON: %v: %q", path, i+1, err, raw)
		}
		lines = append(lines, l)
	}
	return lines
}

// waitAudit polls the audit log until a line satisfies match.
func waitAudit(t *testing.T, ctx context.Context, path, what string, match func(auditLine) bool) auditLine {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, auditWait)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		lines := readAudit(t, path)
		for _, l := range lines {
			if match(l) {
				return l
			}
		}
		select {
		case <-ctx.Done():
			var b strings.Builder
			for _, l := range lines {
				fmt.Fprintf(&b, "\n  %+v", l)
			}
			t.Fatalf("audit log has no line for %s after %v; lines:%s", what, auditWait, b.String())
		case <-tick.C:
		}
	}
}

// auditLine is one JSON record of the audit log.
type auditLine struct {
	Msg   string `json:"msg"`
	Level string `json:"level"`
	Req   struct {
		Method   string `json:"method"`
		Path     string `json:"path"`
		IP       string `json:"ip"`
		Identity string `json:"identity"`
	} `json:"req"`
	Res *struct {
		Code int `json:"code"`
	} `json:"res"`
}

// auditWait bounds the wait for a line of the audit log.
const auditWait = 5 * time.Second
