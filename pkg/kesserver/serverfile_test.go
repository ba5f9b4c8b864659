package kesserver_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/kes"
	"github.com/minio/kes/kesconf"

	"github.com/sselab/sselab/pkg/kesserver"
)

// TestServerFileParsesAsKES checks that what Marshal writes is read back
// by KES's own parser with every value in place.
func TestServerFileParsesAsKES(t *testing.T) {
	id := kes.Identity(strings.Repeat("ab", 32))
	routes := []string{"/version", "/v1/key/generate/*"}
	cache := kes.CacheConfig{Expiry: 5 * time.Minute, ExpiryUnused: 30 * time.Second, ExpiryOffline: time.Hour}
	for _, tc := range []struct {
		name string
		f    kesserver.ServerFile
	}{
		{"fs", kesserver.ServerFile{FSPath: "/data/keys"}},
		{"vault", kesserver.ServerFile{Vault: &kesserver.VaultKeyStore{
			Endpoint: "https://vault:8200", Engine: "kv", KVVersion: "v2", Prefix: "lab",
			AppRoleEngine: "approle", AppRoleID: "role-1", AppRoleSecret: "${KES_VAULT_SECRET}",
			CAFile: "/certs/vault-ca.cert", Ping: 10 * time.Second,
		}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("KES_VAULT_SECRET", "s3cret")
			f := tc.f
			f.Address, f.KeyFile, f.CertFile, f.CAFile = "0.0.0.0:7373", "/certs/k.key", "/certs/k.cert", "/certs/CAs"
			f.Policies = []kesserver.Policy{{Name: "minio", Allow: routes, Identities: []kes.Identity{id}}}
			f.Cache = cache
			data, err := f.Marshal("made by a test")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(data), `auth: "on"`) {
				t.Errorf("tls.auth not quoted:\n%s", data)
			}
			if !strings.HasPrefix(string(data), "# made by a test\n") {
				t.Errorf("header missing:\n%s", data)
			}
			path := filepath.Join(t.TempDir(), "config.yml")
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			file, err := kesconf.ReadFile(path)
			if err != nil {
				t.Fatalf("kesconf.ReadFile: %v\n%s", err, data)
			}
			if file.Addr != f.Address || file.Admin != "disabled" {
				t.Errorf("address/admin: got %q %q", file.Addr, file.Admin)
			}
			if file.TLS == nil || file.TLS.PrivateKey != f.KeyFile || file.TLS.Certificate != f.CertFile || file.TLS.CAPath != f.CAFile {
				t.Errorf("tls: got %+v", file.TLS)
			}
			p := file.Policies["minio"]
			if !slices.Equal(p.Allow, routes) || !slices.Equal(p.Identities, []kes.Identity{id}) {
				t.Errorf("policy: got %+v", p)
			}
			if file.Cache == nil || file.Cache.Expiry != cache.Expiry || file.Cache.ExpiryUnused != cache.ExpiryUnused || file.Cache.ExpiryOffline != cache.ExpiryOffline {
				t.Errorf("cache: got %+v, want %+v", file.Cache, cache)
			}
			switch ks := file.KeyStore.(type) {
			case *kesconf.FSKeyStore:
				if ks.Path != f.FSPath {
					t.Errorf("fs path: got %q", ks.Path)
				}
			case *kesconf.VaultKeyStore:
				if ks.Endpoint != "https://vault:8200" || ks.AppRole == nil || ks.AppRole.Secret != "s3cret" || ks.AppRole.ID != "role-1" || ks.Prefix != "lab" {
					t.Errorf("vault: got %+v approle %+v", ks, ks.AppRole)
				}
			default:
				t.Errorf("keystore: got %T", ks)
			}
		})
	}
	if _, err := (kesserver.ServerFile{}).Marshal(); err == nil {
		t.Error("a server file without a keystore: no error")
	}
}
