package vault

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func validConfig() Config {
	c := Config{Endpoint: "https://127.0.0.1:8200/", Engine: "/kv/", Prefix: "sselab/keys/", AppRole: &AppRole{ID: "role", Secret: "secret"}}
	c.Normalize()
	return c
}

func TestNormalize(t *testing.T) {
	c := validConfig()
	if c.Endpoint != "https://127.0.0.1:8200" || c.Engine != "kv" || c.Prefix != "sselab/keys" || c.AppRole.Engine != "approle" || c.StatusPing == 0 {
		t.Errorf("Normalize gave %+v", c)
	}
	k := Config{Kubernetes: &Kubernetes{Role: "r"}}
	k.Normalize()
	if k.Engine != DefaultEngine || k.Kubernetes.Engine != "kubernetes" || k.Kubernetes.JWTFile != DefaultK8sJWT {
		t.Errorf("Normalize (kubernetes) gave %+v %+v", k, k.Kubernetes)
	}
}

func TestValidate(t *testing.T) {
	if err := func() error { c := validConfig(); return c.Validate() }(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	jwt := filepath.Join(dir, "token")
	os.WriteFile(jwt, []byte("eyJ..."), 0o600)

	for _, tc := range []struct {
		name   string
		change func(c *Config)
		want   string // in the error; "" means valid
	}{
		{"no endpoint", func(c *Config) { c.Endpoint = "" }, "needs --vault-endpoint"},
		{"no scheme", func(c *Config) { c.Endpoint = "127.0.0.1:8200" }, "not an http:// or https:// URL"},
		{"wrong scheme", func(c *Config) { c.Endpoint = "tcp://127.0.0.1:8200" }, "not an http:// or https:// URL"},
		{"path", func(c *Config) { c.Endpoint = "https://vault:8200/v1" }, "has a path"},
		{"kv version", func(c *Config) { c.KVVersion = "2" }, "use v1 or v2"},
		{"kv v2", func(c *Config) { c.KVVersion = KVv2 }, ""},
		{"glob in prefix", func(c *Config) { c.Prefix = "keys/*" }, "--vault-prefix"},
		{"dotdot in engine", func(c *Config) { c.Engine = "kv/.." }, "--vault-engine"},
		{"empty segment", func(c *Config) { c.Prefix = "a//b" }, "--vault-prefix"},
		{"no login", func(c *Config) { c.AppRole = nil }, "needs a login"},
		{"two logins", func(c *Config) { c.Kubernetes = &Kubernetes{Role: "r", JWTFile: jwt} }, "not both"},
		{"no role id", func(c *Config) { c.AppRole.ID = "" }, "--vault-approle-id is empty"},
		{"no secret", func(c *Config) { c.AppRole.Secret = "" }, "never on the command line"},
		{"kubernetes", func(c *Config) { c.AppRole = nil; c.Kubernetes = &Kubernetes{Role: "r", JWTFile: jwt} }, ""},
		{"kubernetes without token", func(c *Config) {
			c.AppRole = nil
			c.Kubernetes = &Kubernetes{Role: "r", JWTFile: filepath.Join(dir, "none")}
		}, "--vault-k8s-jwt"},
		{"kubernetes without role", func(c *Config) { c.AppRole = nil; c.Kubernetes = &Kubernetes{JWTFile: jwt} }, "--vault-k8s-role is empty"},
		{"missing CA", func(c *Config) { c.CAFile = filepath.Join(dir, "none.pem") }, "--vault-ca"},
		{"CA not PEM", func(c *Config) { c.CAFile = notPEM }, "holds no PEM certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.change(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("want valid, got %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("want an error with %q, got %v", tc.want, err)
			case err != nil && (strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "vault: ")):
				t.Fatalf("error is not one line prefixed vault: %q", err)
			}
		})
	}
}

func TestPolicyHint(t *testing.T) {
	c := validConfig()
	c.KVVersion = KVv1
	if got := PolicyHint(&c); !strings.Contains(got, `"kv/sselab/keys/*"`) || strings.Contains(got, "data/") {
		t.Errorf("v1 hint: %s", got)
	}
	c.KVVersion = KVv2
	got := PolicyHint(&c)
	if !strings.Contains(got, `"kv/data/sselab/keys/*"`) || !strings.Contains(got, `"kv/metadata/sselab/keys/*"`) {
		t.Errorf("v2 hint: %s", got)
	}
	c.Prefix = ""
	if got := PolicyHint(&c); !strings.Contains(got, `"kv/data/*"`) {
		t.Errorf("v2 hint without prefix: %s", got)
	}
}
