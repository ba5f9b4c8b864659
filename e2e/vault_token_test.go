package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/sselab/sselab/internal/fakevault"
	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/labdir"
)

// TestVaultTokenLifetimes runs a Vault lab with short-lived tokens and
// uses its keys every second: key create, describe and list through KES,
// and an encrypted PUT and GET through MinIO. Nothing may fail, and the
// lab may log in only once per max TTL. The first case is in the band
// where KES v0.24.0's own renewal leaves 48 s of 403s in every 78 s; the
// second is under KES's fixed 30 s wait, where it logs in every 3 s.
func TestVaultTokenLifetimes(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	for _, tc := range []struct {
		ttl, maxTTL, run time.Duration
	}{
		{ttl: 40 * time.Second, maxTTL: 90 * time.Second, run: 130 * time.Second},
		{ttl: 10 * time.Second, maxTTL: 25 * time.Second, run: 60 * time.Second},
	} {
		t.Run(fmt.Sprintf("ttl %s max %s", tc.ttl, tc.maxTTL), func(t *testing.T) {
			if testing.Short() {
				t.Skipf("runs for %s", tc.run)
			}
			t.Parallel()
			vl := startFakeVault(t, fakevault.Options{Mounts: map[string]int{"kv": 2}, TokenTTL: tc.ttl, TokenMaxTTL: tc.maxTTL})
			dir := filepath.Join(t.TempDir(), "lab")
			up := mustRun(t, append(append([]string{"up", "--detach", "--dir", dir}, freePorts...), vl.args...)...)
			t.Cleanup(func() { stopLab(t, dir) })
			// Vault counts the max TTL in whole seconds from the login:
			// a second may have passed by the time preflight asks.
			warned := false
			for _, max := range []time.Duration{tc.maxTTL, tc.maxTTL - time.Second} {
				warned = warned || strings.Contains(up.stderr, fmt.Sprintf("warning: the login's Vault tokens live %s (renewable up to %s, the max TTL)", tc.ttl, max))
			}
			if !warned {
				t.Errorf("up does not warn about the short tokens; stderr:\n%s", up.stderr)
			}
			h, err := lab.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			s3, err := h.S3()
			if err != nil {
				t.Fatal(err)
			}
			atStart := vl.v.Logins() // preflight's and the keystore's

			var failures []string
			fail := func(format string, args ...any) {
				failures = append(failures, fmt.Sprintf(format, args...))
			}
			body := []byte("an object whose key lives in Vault")
			start := time.Now()
			for i := 0; time.Since(start) < tc.run; i++ {
				at := time.Since(start).Round(time.Second)
				name := fmt.Sprintf("key-%d", i)
				if err := h.CreateKey(ctx, name); err != nil {
					fail("%s: key create %s: %v", at, name, err)
				} else if _, err := h.DescribeKey(ctx, name); err != nil {
					fail("%s: key describe %s: %v", at, name, err)
				}
				if _, _, err := h.KES().ListKeys(ctx, "*", -1); err != nil {
					fail("%s: key list: %v", at, err)
				}
				if i%5 == 0 {
					object := fmt.Sprintf("o-%d", i)
					if _, err := s3.PutObject(ctx, labdir.DefaultBucket, object, bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
						fail("%s: PUT %s: %v", at, object, err)
					} else if got, err := getObject(ctx, s3, labdir.DefaultBucket, object, minio.GetObjectOptions{}); err != nil || !bytes.Equal(got, body) {
						fail("%s: GET %s: %q, %v", at, object, got, err)
					}
				}
				time.Sleep(time.Second - time.Since(start)%time.Second)
			}
			elapsed := time.Since(start)
			if len(failures) > 0 {
				t.Errorf("%d failures in %s, the first:\n%s", len(failures), elapsed.Round(time.Second), strings.Join(failures[:min(5, len(failures))], "\n"))
			}

			// A login when each max TTL runs out, and no more.
			logins := vl.v.Logins() - atStart
			if most := int(elapsed/tc.maxTTL) + 1; logins < 1 || logins > most {
				t.Errorf("%d logins in %s with a max TTL of %s; want 1 to %d", logins, elapsed.Round(time.Second), tc.maxTTL, most)
			}
			renewals := 0
			for _, r := range vl.v.Requests() {
				if strings.HasSuffix(r.Path, "/auth/token/renew-self") && r.Status == 200 {
					renewals++
				}
			}
			if renewals == 0 {
				t.Error("the lab never renewed its token")
			}

			// status shows the login: it works, the token has time left,
			// and the count matches Vault's (less preflight's login).
			st, r := statusJSON(t, dir)
			if r.code != 0 || st.Vault == nil || st.Vault.Auth == nil {
				t.Fatalf("status: exit %d, vault %+v\n%s", r.code, st.Vault, r.stderr)
			}
			a := st.Vault.Auth
			if a.Error != "" || a.Method != "approle" || a.Logins != vl.v.Logins()-1 || !a.Expires.After(time.Now()) || a.LastRenewal.IsZero() {
				t.Errorf("status auth = %+v; want no error, %d logins, a token with time left, a renewal", a, vl.v.Logins()-1)
			}
			table := mustRun(t, "status", "--dir", dir).stdout
			if !strings.Contains(table, "token expires in") || !strings.Contains(table, fmt.Sprintf("(%d logins)", a.Logins)) {
				t.Errorf("status table does not show the token:\n%s", table)
			}
			if log, _ := os.ReadFile(h.Layout.SelfLog()); bytes.Contains(log, []byte("permission denied")) || bytes.Contains(log, []byte("login")) {
				t.Errorf("the lab's log reports login trouble:\n%s", log)
			}
			if log, _ := os.ReadFile(h.Layout.KESErrorLog()); bytes.Contains(log, []byte("permission denied")) {
				t.Errorf("KES's error log has 403s:\n%s", log)
			}
			t.Logf("%s: %d rounds, %d renewals, %d logins after start", elapsed.Round(time.Second), int(elapsed/time.Second), renewals, logins)
		})
	}
}

// TestVaultSecretIDExpires: the role's secret_id expires, so the login at
// the token's max TTL fails. status fails (exit 1) with the command that
// issues a new secret_id and where to put it, the lab's log says so, and
// a new secret_id written there brings the lab back without a restart.
func TestVaultSecretIDExpires(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	vl := startFakeVault(t, fakevault.Options{Mounts: map[string]int{"kv": 2}, TokenTTL: 4 * time.Second, TokenMaxTTL: 6 * time.Second, SecretIDTTL: 4 * time.Second})
	dir := filepath.Join(t.TempDir(), "lab")
	h := upDetached(t, dir, vl.args...)
	secretFile := h.Layout.VaultSecretFile()

	eventually(t, "status fails once the login fails", 20*time.Second, func() error {
		st, r := statusJSON(t, dir)
		if r.code == 0 || st.Vault == nil || st.Vault.State() != "login failing" {
			return fmt.Errorf("exit %d, vault %+v", r.code, st.Vault)
		}
		msg := strings.TrimSpace(r.stderr)
		for _, want := range []string{"refused the AppRole login", "secret_id_ttl", "vault write -f -field=secret_id auth/approle/role/ROLE/secret-id", secretFile} {
			if !strings.Contains(msg, want) || strings.Contains(msg, "\n") {
				return fmt.Errorf("status says %q; want one line with %q", msg, want)
			}
		}
		return nil
	})
	if log, _ := os.ReadFile(h.Layout.SelfLog()); !bytes.Contains(log, []byte("secret_id_ttl")) {
		t.Errorf("the lab's log does not say the login failed:\n%s", log)
	}
	if err := os.WriteFile(secretFile, []byte(vl.v.NewSecretID()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	eventually(t, "status ok with the new secret_id", 20*time.Second, func() error {
		if st, r := statusJSON(t, dir); r.code != 0 {
			return fmt.Errorf("exit %d: %s (auth %+v)", r.code, r.stderr, st.Vault.Auth)
		}
		return nil
	})
	if err := h.CreateKey(t.Context(), "after-new-secret"); err != nil {
		t.Errorf("key create with the new secret_id: %v", err)
	}
	if log, _ := os.ReadFile(h.Layout.SelfLog()); !bytes.Contains(log, []byte("works again")) {
		t.Errorf("the lab's log does not say the login works again:\n%s", log)
	}
}
