package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/sselab/sselab/internal/fakevault"
	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/labdir"
)

// tokenLab is a Vault lab whose role issues tokens with a short TTL and
// max TTL, and what using it found.
type tokenLab struct {
	ttl, maxTTL time.Duration
	vl          *vaultLab
	dir         string
	h           *lab.Handle
	s3          *minio.Client
	logins      int      // Vault's count once the lab was up
	failures    []string // of the key and object operations
}

// startTokenLab starts a lab on a fake Vault whose tokens live ttl,
// renewable up to maxTTL, and checks that up warns about them.
func startTokenLab(t *testing.T, ttl, maxTTL time.Duration) *tokenLab {
	t.Helper()
	l := &tokenLab{ttl: ttl, maxTTL: maxTTL, dir: filepath.Join(t.TempDir(), "lab")}
	l.vl = startFakeVault(t, fakevault.Options{Mounts: map[string]int{"kv": 2}, TokenTTL: ttl, TokenMaxTTL: maxTTL})
	up := mustRun(t, append(append([]string{"up", "--detach", "--dir", l.dir}, freePorts...), l.vl.args...)...)
	t.Cleanup(func() { stopLab(t, l.dir) })
	// Vault counts the max TTL in whole seconds from the login: a second
	// may have passed by the time preflight asks.
	warned := false
	for _, max := range []time.Duration{maxTTL, maxTTL - time.Second} {
		warned = warned || strings.Contains(up.stderr, fmt.Sprintf("warning: the login's Vault tokens live %s (renewable up to %s, the max TTL)", ttl, max))
	}
	if !warned {
		t.Errorf("ttl %s: up does not warn about the short tokens; stderr:\n%s", ttl, up.stderr)
	}
	var err error
	if l.h, err = lab.Open(l.dir); err != nil {
		t.Fatal(err)
	}
	if l.s3, err = l.h.S3(); err != nil {
		t.Fatal(err)
	}
	l.logins = l.vl.v.Logins() // preflight's and the keystore's
	return l
}

// use creates, describes and lists a key every second until end, and
// writes and reads an object every fifth, recording what fails.
func (l *tokenLab) use(ctx context.Context, start, end time.Time) {
	fail := func(format string, args ...any) { l.failures = append(l.failures, fmt.Sprintf(format, args...)) }
	body := []byte("an object whose key lives in Vault")
	for i := 0; time.Now().Before(end); i++ {
		at := time.Since(start).Round(time.Second)
		name := fmt.Sprintf("key-%d", i)
		if err := l.h.CreateKey(ctx, name); err != nil {
			fail("%s: key create %s: %v", at, name, err)
		} else if _, err := l.h.DescribeKey(ctx, name); err != nil {
			fail("%s: key describe %s: %v", at, name, err)
		}
		if _, _, err := l.h.KES().ListKeys(ctx, "*", -1); err != nil {
			fail("%s: key list: %v", at, err)
		}
		if i%5 == 0 {
			object := fmt.Sprintf("o-%d", i)
			if _, err := l.s3.PutObject(ctx, labdir.DefaultBucket, object, bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
				fail("%s: PUT %s: %v", at, object, err)
			} else if got, err := getObject(ctx, l.s3, labdir.DefaultBucket, object, minio.GetObjectOptions{}); err != nil || !bytes.Equal(got, body) {
				fail("%s: GET %s: %q, %v", at, object, got, err)
			}
		}
		time.Sleep(time.Second - time.Since(start)%time.Second)
	}
}

// check asserts what the run of elapsed should leave: no failures, one
// login per max TTL, renewals, and status and logs that agree.
func (l *tokenLab) check(t *testing.T, elapsed time.Duration) {
	if len(l.failures) > 0 {
		t.Errorf("%d failures in %s, the first:\n%s", len(l.failures), elapsed.Round(time.Second), strings.Join(l.failures[:min(5, len(l.failures))], "\n"))
	}
	v := l.vl.v
	logins := v.Logins() - l.logins
	if most := int(elapsed/l.maxTTL) + 1; logins < 1 || logins > most {
		t.Errorf("%d logins in %s with a max TTL of %s; want 1 to %d", logins, elapsed.Round(time.Second), l.maxTTL, most)
	}
	renewals := 0
	for _, r := range v.Requests() {
		if strings.HasSuffix(r.Path, "/auth/token/renew-self") && r.Status == 200 {
			renewals++
		}
	}
	if renewals < 2 { // preflight's, and at least one of the lab's
		t.Errorf("%d renewals: the lab never renewed its token", renewals)
	}

	// status shows the login: it works, the token has time left, and the
	// count matches Vault's (less preflight's login).
	st, r := statusJSON(t, l.dir)
	if r.code != 0 || st.Vault == nil || st.Vault.Auth == nil {
		t.Fatalf("status: exit %d, vault %+v\n%s", r.code, st.Vault, r.stderr)
	}
	a := st.Vault.Auth
	if a.Error != "" || a.Method != "approle" || a.Logins != v.Logins()-1 || !a.Expires.After(time.Now()) || a.LastRenewal.IsZero() {
		t.Errorf("status auth = %+v; want no error, %d logins, a token with time left, a renewal", a, v.Logins()-1)
	}
	table := mustRun(t, "status", "--dir", l.dir).stdout
	if !strings.Contains(table, "token expires in") || !strings.Contains(table, fmt.Sprintf("(%d logins)", a.Logins)) {
		t.Errorf("status table does not show the token:\n%s", table)
	}
	if log, _ := os.ReadFile(l.h.Layout.SelfLog()); bytes.Contains(log, []byte("permission denied")) || bytes.Contains(log, []byte("login")) {
		t.Errorf("the lab's log reports login trouble:\n%s", log)
	}
	if log, _ := os.ReadFile(l.h.Layout.KESErrorLog()); bytes.Contains(log, []byte("permission denied")) {
		t.Errorf("KES's error log has 403s:\n%s", log)
	}
	t.Logf("%s: %d renewals, %d logins after start", elapsed.Round(time.Second), renewals, logins)
}

// TestVaultTokenLifetimes runs two Vault labs side by side for 100 s with
// short-lived tokens and uses their keys every second: key create,
// describe and list through KES, and an encrypted PUT and GET through
// MinIO. Nothing may fail, and each lab may log in only once per max TTL.
// The first lab's tokens are in the band where KES v0.24.0's own renewal
// leaves 48 s of 403s in every 78 s; the second's are under KES's fixed
// 30 s wait, where it logs in every 3 s.
func TestVaultTokenLifetimes(t *testing.T) {
	requireLinux(t)
	const run = 100 * time.Second
	if testing.Short() {
		t.Skipf("runs for %s", run)
	}
	t.Parallel()
	labs := []*tokenLab{startTokenLab(t, 40*time.Second, 90*time.Second), startTokenLab(t, 10*time.Second, 25*time.Second)}
	start := time.Now()
	var wg sync.WaitGroup
	for _, l := range labs {
		wg.Go(func() { l.use(t.Context(), start, start.Add(run)) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	for _, l := range labs {
		t.Run(fmt.Sprintf("ttl %s max %s", l.ttl, l.maxTTL), func(t *testing.T) { l.check(t, elapsed) })
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
		if r.code != 1 || st.Vault == nil || st.Vault.State() != "login failing" {
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
