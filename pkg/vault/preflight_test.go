package vault

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sselab/sselab/internal/fakevault"
	"github.com/sselab/sselab/internal/testtools"
)

// startVault starts a fake Vault and returns it with a Config that logs in
// to it.
func startVault(t *testing.T, o fakevault.Options) (*fakevault.Server, *Config) {
	t.Helper()
	v, err := fakevault.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	c := &Config{Endpoint: v.URL(), Prefix: "lab", AppRole: &AppRole{ID: v.RoleID(), Secret: v.SecretID()}}
	if o.TLS {
		c.CAFile = filepath.Join(t.TempDir(), "vault-ca.pem")
		if err := v.WriteCAFile(c.CAFile); err != nil {
			t.Fatal(err)
		}
	}
	c.Normalize()
	return v, c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// wantOneLine fails unless err is one line starting "vault: " and holding
// every one of subs.
func wantOneLine(t *testing.T, err error, subs ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one with %q", subs)
	}
	msg := err.Error()
	t.Log(msg)
	if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "vault: ") {
		t.Errorf("not one line starting 'vault: ': %q", msg)
	}
	for _, s := range subs {
		if !strings.Contains(msg, s) {
			t.Errorf("error %q does not contain %q", msg, s)
		}
	}
}

// noScratch fails if a preflight entry is left in Vault.
func noScratch(t *testing.T, v *fakevault.Server, mount, prefix string) {
	t.Helper()
	for _, name := range v.List(mount, prefix) {
		if strings.Contains(name, "sselab-preflight") {
			t.Errorf("preflight left %s/%s/%s behind", mount, prefix, name)
		}
	}
}

func TestPreflightOK(t *testing.T) {
	for _, version := range []int{1, 2} {
		t.Run(map[int]string{1: "kv v1", 2: "kv v2"}[version], func(t *testing.T) {
			v, c := startVault(t, fakevault.Options{TLS: true, Mounts: map[string]int{"kv": version}})
			r, err := Preflight(ctx(t), c)
			if err != nil {
				t.Fatal(err)
			}
			want := map[int]string{1: KVv1, 2: KVv2}[version]
			if c.KVVersion != want || r.KVVersion != want {
				t.Errorf("KV version: config %q, report %q; want %q (as mounted)", c.KVVersion, r.KVVersion, want)
			}
			noScratch(t, v, "kv", "lab")
			var wrote bool
			for _, req := range v.Requests() {
				if strings.Contains(req.Path, "sselab-preflight") && (req.Method == "PUT" || req.Method == "POST") {
					wrote = true
				}
			}
			if !wrote {
				t.Error("preflight never wrote its scratch entry: the policy was not probed")
			}
		})
	}
}

// TestPreflightToken: preflight reads the lifetime of the login's tokens
// as the role's settings make it, and revokes its test token.
func TestPreflightToken(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts fakevault.Options
		want TokenInfo
	}{
		{"ttl and max ttl", fakevault.Options{TokenTTL: 40 * time.Second, TokenMaxTTL: 90 * time.Second},
			TokenInfo{TTL: 40 * time.Second, MaxTTL: 90 * time.Second, Renewable: true}},
		{"system max ttl", fakevault.Options{TokenTTL: time.Hour},
			TokenInfo{TTL: time.Hour, MaxTTL: 768 * time.Hour, Renewable: true}},
		{"periodic", fakevault.Options{TokenPeriod: time.Minute},
			TokenInfo{TTL: time.Minute, Period: time.Minute, Renewable: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, c := startVault(t, tc.opts)
			r, err := Preflight(ctx(t), c)
			if err != nil {
				t.Fatal(err)
			}
			got := r.Token
			// The max TTL counts from the login, a moment before.
			if got.MaxTTL < tc.want.MaxTTL && got.MaxTTL >= tc.want.MaxTTL-time.Second {
				got.MaxTTL = tc.want.MaxTTL
			}
			if got != tc.want {
				t.Errorf("Token = %+v, want %+v", r.Token, tc.want)
			}
			var revoked bool
			for _, req := range v.Requests() {
				revoked = revoked || (strings.HasSuffix(req.Path, "/auth/token/revoke-self") && req.Status == 204)
			}
			if !revoked {
				t.Error("preflight left its test token alive")
			}
		})
	}
}

func TestPreflightFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   fakevault.Options
		change func(t *testing.T, v *fakevault.Server, c *Config)
		want   []string
	}{
		{"unreachable", fakevault.Options{}, func(t *testing.T, v *fakevault.Server, c *Config) {
			c.Endpoint = "http://" + testtools.FreeAddr(t)
		}, []string{"cannot reach Vault", "--vault-endpoint"}},
		{"down", fakevault.Options{}, func(t *testing.T, v *fakevault.Server, c *Config) {
			v.SetDown(true)
		}, []string{"cannot reach Vault", "running"}},
		{"https to an http server", fakevault.Options{}, func(t *testing.T, v *fakevault.Server, c *Config) {
			c.Endpoint = strings.Replace(c.Endpoint, "http://", "https://", 1)
		}, []string{"speaks plain HTTP, not TLS", "--vault-endpoint http://"}},
		{"http to an https server", fakevault.Options{TLS: true}, func(t *testing.T, v *fakevault.Server, c *Config) {
			c.Endpoint = strings.Replace(c.Endpoint, "https://", "http://", 1)
		}, []string{"--vault-endpoint https://"}},
		{"untrusted TLS", fakevault.Options{TLS: true}, func(t *testing.T, v *fakevault.Server, c *Config) {
			c.CAFile = ""
		}, []string{"not trusted", "--vault-ca FILE"}},
		{"not initialized", fakevault.Options{}, func(t *testing.T, v *fakevault.Server, c *Config) {
			v.SetInitialized(false)
		}, []string{"is not initialized", "operator init"}},
		{"sealed", fakevault.Options{}, func(t *testing.T, v *fakevault.Server, c *Config) {
			v.Seal()
		}, []string{"is sealed; unseal it with 'vault operator unseal' / 'bao operator unseal' and run again"}},
		{"standby without active node", fakevault.Options{}, func(t *testing.T, v *fakevault.Server, c *Config) {
			v.SetStandby(true, "https://"+testtools.FreeAddr(t))
		}, []string{"standby", "active node", "--vault-endpoint"}},
		{"approle refused", fakevault.Options{}, func(t *testing.T, v *fakevault.Server, c *Config) {
			c.AppRole.Secret = "wrong"
		}, []string{"refused the AppRole login", "--vault-approle-id"}},
		{"tokens with a use limit", fakevault.Options{TokenNumUses: 10}, nil,
			[]string{"use limit (token_num_uses)", "token_num_uses=0", "auth/approle/role/ROLE"}},
		{"tokens with one use", fakevault.Options{TokenNumUses: 1}, nil, []string{"token_num_uses=0"}},
		{"kv not mounted", fakevault.Options{}, func(t *testing.T, v *fakevault.Server, c *Config) {
			c.Engine = "nothing-here"
		}, []string{"nothing-here/", "--vault-engine"}},
		{"kv v2 configured as v1", fakevault.Options{Mounts: map[string]int{"kv": 2}}, func(t *testing.T, v *fakevault.Server, c *Config) {
			c.KVVersion = KVv1
		}, []string{"is version 2", "--vault-kv-version v2"}},
		{"kv v1 configured as v2", fakevault.Options{Mounts: map[string]int{"kv": 1}}, func(t *testing.T, v *fakevault.Server, c *Config) {
			c.KVVersion = KVv2
		}, []string{"is version 1", "--vault-kv-version v1"}},
		{"policy without list", fakevault.Options{Policy: map[string][]string{
			"kv/data/lab/*": {"create", "read", "update", "delete"}, "kv/metadata/lab/*": {"delete"}}},
			nil, []string{"does not allow list", "kv/metadata/lab", `"kv/metadata/lab/*"`}},
		{"policy without create", fakevault.Options{Policy: map[string][]string{
			"kv/data/lab/*": {"read"}, "kv/metadata/lab/*": {"list", "delete"}}},
			nil, []string{"does not allow create", "kv/data/lab/sselab-preflight-"}},
		{"policy for another prefix", fakevault.Options{Policy: map[string][]string{
			"kv/data/other/*": {"create", "read", "update", "delete", "list"}, "kv/metadata/other/*": {"create", "read", "update", "delete", "list"}}},
			nil, []string{"does not allow read", "kv/data/lab/"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, c := startVault(t, tc.opts)
			if tc.change != nil {
				tc.change(t, v, c)
			}
			_, err := Preflight(ctx(t), c)
			wantOneLine(t, err, tc.want...)
			noScratch(t, v, "kv", "lab")
		})
	}
}

func TestPreflightStandbyWithActiveNode(t *testing.T) {
	active, _ := startVault(t, fakevault.Options{})
	v, c := startVault(t, fakevault.Options{})
	v.SetStandby(true, active.URL())
	r, err := Preflight(ctx(t), c)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Standby || len(r.Notes) == 0 || !strings.Contains(r.Notes[0], active.URL()) {
		t.Errorf("report %+v: want a standby note naming %s", r, active.URL())
	}
}

func TestPreflightNamespace(t *testing.T) {
	v, c := startVault(t, fakevault.Options{Namespace: "team"})
	if _, err := Preflight(ctx(t), c); err == nil {
		t.Fatal("preflight without the namespace passed against a Vault that needs it")
	}
	noScratch(t, v, "kv", "lab")
	c.Namespace = "team"
	if _, err := Preflight(ctx(t), c); err != nil {
		t.Fatalf("with --vault-namespace team: %v", err)
	}
}

func TestWatch(t *testing.T) {
	v, c := startVault(t, fakevault.Options{})
	changes := make(chan Health, 10)
	w := Watch(c, 50*time.Millisecond, func(prev, cur Health) { changes <- cur })
	defer w.Stop()
	if h := w.Health(); !h.OK() || h.State() != "unsealed" {
		t.Fatalf("first check: %+v", h)
	}
	next := func(want string) Health {
		t.Helper()
		select {
		case h := <-changes:
			if h.State() != want {
				t.Fatalf("change to %q (%s), want %q", h.State(), h.Error, want)
			}
			return h
		case <-time.After(10 * time.Second):
			t.Fatalf("no change to %q reported", want)
		}
		return Health{}
	}
	v.Seal()
	h := next("sealed")
	if h.OK() || !strings.Contains(h.Error, "unseal") || h.LastError != h.Error {
		t.Errorf("sealed: %+v", h)
	}
	v.Unseal()
	h = next("unsealed")
	if !h.OK() || !strings.Contains(h.LastError, "sealed") || h.LastErrorAt.IsZero() {
		t.Errorf("after unseal, the last error should stay: %+v", h)
	}
	v.SetDown(true)
	next("unreachable")
	v.SetDown(false)
	next("unsealed")
}

// TestPreflightKubernetesNotEnabled: Kubernetes login against a Vault
// without that auth method names the fix.
func TestPreflightKubernetesNotEnabled(t *testing.T) {
	_, c := startVault(t, fakevault.Options{})
	jwt := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(jwt, []byte("eyJhbGciOiJSUzI1NiJ9.e30.c2ln"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.AppRole, c.Kubernetes = nil, &Kubernetes{Role: "sselab", JWTFile: jwt}
	c.Normalize()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	_, err := Preflight(ctx(t), c)
	wantOneLine(t, err, "Kubernetes login", "auth/kubernetes")
}

// TestPreflightSlow: a Vault that answers slowly, but within the timeout,
// passes.
func TestPreflightSlow(t *testing.T) {
	v, c := startVault(t, fakevault.Options{})
	v.SetLatency(300 * time.Millisecond)
	if _, err := Preflight(ctx(t), c); err != nil {
		t.Fatalf("slow Vault: %v", err)
	}
}
