package fakevault

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/minio/kes"
	"github.com/minio/kes/kesconf"
	kesdk "github.com/minio/kms-go/kes"
)

// These tests run KES's own Vault key store (kesconf.VaultKeyStore, the
// code a KES server runs) against the fake.

type kesOpts struct {
	apiVersion string
	namespace  string
	ping       time.Duration
}

func connectKES(t *testing.T, s *Server, o kesOpts) kes.KeyStore {
	t.Helper()
	caPath := ""
	if s.CAPEM() != nil {
		caPath = filepath.Join(t.TempDir(), "vault-ca.pem")
		if err := s.WriteCAFile(caPath); err != nil {
			t.Fatal(err)
		}
	}
	if o.ping == 0 {
		o.ping = time.Second
	}
	// KES runs its seal check and token renewal until the context given to
	// Connect ends, so it must live as long as the store, not just the
	// connect call.
	ctx, cancel := context.WithCancel(context.Background())
	store, err := (&kesconf.VaultKeyStore{
		Endpoint:   s.URL(),
		Engine:     "kv",
		APIVersion: o.apiVersion,
		Namespace:  o.namespace,
		Prefix:     "lab",
		AppRole:    &kesconf.VaultAppRoleAuth{ID: s.RoleID(), Secret: s.SecretID()},
		CAPath:     caPath,
		StatusPing: o.ping,
	}).Connect(ctx)
	if err != nil {
		cancel()
		t.Fatalf("KES connect: %v", err)
	}
	t.Cleanup(func() { store.Close(); cancel() })
	return store
}

// eventually polls f every 50ms until it returns nil or the deadline
// passes, and returns the last error.
func eventually(d time.Duration, f func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestKESKeyStore(t *testing.T) {
	for _, tc := range []struct {
		name       string
		kvVersion  int
		apiVersion string
		tls        bool
		createPath string // request path KES writes a key to
		deletePath string
	}{
		{"v2-tls", 2, "v2", true, "/v1/kv/data/lab/k1", "/v1/kv/metadata/lab/k1"},
		{"v1-http", 1, "v1", false, "/v1/kv/lab/k1", "/v1/kv/lab/k1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, Options{TLS: tc.tls, Mounts: map[string]int{"kv": tc.kvVersion}})
			store := connectKES(t, s, kesOpts{apiVersion: tc.apiVersion})
			ctx := context.Background()

			// Real Vault answers a LIST of an empty folder with 404, and
			// KES's List passes that on as an error.
			if _, _, err := store.List(ctx, "", -1); err == nil || !strings.Contains(err.Error(), "Code: 404") {
				t.Errorf("List on an empty key store: %v, want the 404 error KES gets from Vault", err)
			}

			if err := store.Create(ctx, "k1", []byte(`{"bytes":"c2VjcmV0"}`)); err != nil {
				t.Fatalf("Create: %v", err)
			}
			if err := store.Create(ctx, "k2", []byte("two")); err != nil {
				t.Fatalf("Create: %v", err)
			}
			if err := store.Create(ctx, "k1", []byte("other")); !errors.Is(err, kesdk.ErrKeyExists) {
				t.Errorf("second Create: %v, want ErrKeyExists", err)
			}
			// Stored where Vault would hold it: <mount> / <prefix>/<name>,
			// one field named after the key.
			if d, ok := s.Secret("kv", "lab/k1"); !ok || !reflect.DeepEqual(d, map[string]any{"k1": `{"bytes":"c2VjcmV0"}`}) {
				t.Errorf("Secret(kv, lab/k1) = %v, %v", d, ok)
			}
			v, err := store.Get(ctx, "k1")
			if err != nil || string(v) != `{"bytes":"c2VjcmV0"}` {
				t.Errorf("Get = %q, %v", v, err)
			}
			names, next, err := store.List(ctx, "", -1)
			if err != nil || !reflect.DeepEqual(names, []string{"k1", "k2"}) || next != "" {
				t.Errorf("List = %v %q %v", names, next, err)
			}
			if st, err := store.Status(ctx); err != nil || st.Latency <= 0 {
				t.Errorf("Status = %+v, %v", st, err)
			}
			if err := store.Delete(ctx, "k1"); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if _, err := store.Get(ctx, "k1"); !errors.Is(err, kesdk.ErrKeyNotFound) {
				t.Errorf("Get after Delete: %v, want ErrKeyNotFound", err)
			}
			if _, ok := s.Secret("kv", "lab/k1"); ok {
				t.Error("entry still stored after Delete")
			}
			if got := s.List("kv", "lab"); !reflect.DeepEqual(got, []string{"k2"}) {
				t.Errorf("Server.List after Delete = %v", got)
			}

			var login, create, del bool
			for _, r := range s.Requests() {
				switch {
				case r.Method == "PUT" && r.Path == "/v1/auth/approle/login" && r.Status == 200 && !r.TokenPresent:
					login = true
				case r.Method == "PUT" && r.Path == tc.createPath && r.TokenPresent && (r.Status == 200 || r.Status == 204):
					create = true
				case r.Method == "DELETE" && r.Path == tc.deletePath && r.Status == 204:
					del = true
				}
			}
			if !login || !create || !del {
				t.Errorf("requests: login %v, create %v, delete %v; log %+v", login, create, del, s.Requests())
			}
		})
	}
}

func TestKESSealAndOutage(t *testing.T) {
	s := start(t, Options{})
	store := connectKES(t, s, kesOpts{apiVersion: "v2", ping: time.Second})
	ctx := context.Background()
	if err := store.Create(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}

	s.Seal()
	_, err := store.Status(ctx)
	if err == nil || !strings.Contains(err.Error(), "keystore unreachable") || !strings.Contains(err.Error(), "sealed") {
		t.Errorf("Status while sealed: %v", err)
	}
	// Once KES's status ping has seen the seal, it refuses without asking.
	err = eventually(3*time.Second, func() error {
		_, err := store.Get(ctx, "k")
		if err == nil || err.Error() != "vault: key store is sealed" {
			return errors.New("Get did not report the seal: " + errString(err))
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}

	s.Unseal()
	err = eventually(3*time.Second, func() error {
		v, err := store.Get(ctx, "k")
		if err != nil {
			return err
		}
		if string(v) != "v" {
			return errors.New("wrong value " + string(v))
		}
		return nil
	})
	if err != nil {
		t.Errorf("Get after Unseal: %v", err)
	}
	if _, err := store.Status(ctx); err != nil {
		t.Errorf("Status after Unseal: %v", err)
	}

	s.SetInitialized(false)
	if _, err := store.Status(ctx); err == nil || !strings.Contains(err.Error(), "keystore unreachable: vault: not initialized") {
		t.Errorf("Status while uninitialized: %v", err)
	}
	s.SetInitialized(true)

	// KES passes the transport error on as is (not as "unreachable").
	s.SetDown(true)
	if _, err := store.Status(ctx); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Status while down: %v", err)
	}
	if _, err := store.Get(ctx, "k"); err == nil {
		t.Error("Get while down succeeded")
	}
	s.SetDown(false)
	if _, err := store.Status(ctx); err != nil {
		t.Errorf("Status after SetDown(false): %v", err)
	}
	if v, err := store.Get(ctx, "k"); err != nil || string(v) != "v" {
		t.Errorf("Get after SetDown(false): %q %v", v, err)
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// TestKESWrongKVVersion shows what KES meets when its api_version does
// not match the mount, as it would on a real Vault.
func TestKESWrongKVVersion(t *testing.T) {
	ctx := context.Background()

	// v1 configured, v2 mounted: the read before the create gets the KV v2
	// "invalid path" warning back as a secret, so KES thinks the entry
	// exists in a format it does not understand.
	s := start(t, Options{Mounts: map[string]int{"kv": 2}})
	store := connectKES(t, s, kesOpts{apiVersion: "v1"})
	err := store.Create(ctx, "k", []byte("v"))
	if err == nil || !strings.Contains(err.Error(), "invalid K/V v1 format") {
		t.Errorf("Create with v1 on a v2 mount: %v", err)
	}
	if _, ok := s.Secret("kv", "lab/k"); ok {
		t.Error("something was stored")
	}

	// v2 configured, v1 mounted: "data/..." is a plain v1 key, so create
	// and get work, but the entries land under data/ and listing fails.
	s = start(t, Options{Mounts: map[string]int{"kv": 1}})
	store = connectKES(t, s, kesOpts{apiVersion: "v2"})
	if err := store.Create(ctx, "k", []byte("v")); err != nil {
		t.Fatalf("Create with v2 on a v1 mount: %v", err)
	}
	if v, err := store.Get(ctx, "k"); err != nil || string(v) != "v" {
		t.Errorf("Get with v2 on a v1 mount: %q %v", v, err)
	}
	if d, ok := s.Secret("kv", "data/lab/k"); !ok || d["data"] == nil || d["options"] == nil {
		t.Errorf("Secret(kv, data/lab/k) = %v %v", d, ok)
	}
	if _, _, err := store.List(ctx, "", -1); err == nil {
		t.Error("List with v2 on a v1 mount succeeded")
	}

	// Mount missing: the AppRole token's policy covers only existing
	// mounts, so Vault refuses before routing.
	s = start(t, Options{Mounts: map[string]int{"secret": 2}})
	store = connectKES(t, s, kesOpts{apiVersion: "v2"})
	if err := store.Create(ctx, "k", []byte("v")); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("Create without a kv mount: %v", err)
	}
}

func TestKESNamespace(t *testing.T) {
	s := start(t, Options{Namespace: "team"})
	store := connectKES(t, s, kesOpts{apiVersion: "v2", namespace: "team"})
	ctx := context.Background()
	if err := store.Create(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if v, err := store.Get(ctx, "k"); err != nil || string(v) != "v" {
		t.Errorf("Get: %q %v", v, err)
	}
	if _, ok := s.Secret("kv", "lab/k"); !ok {
		t.Error("entry not stored in the namespace")
	}
	// Status clears the namespace for sys/health ...
	if _, err := store.Status(ctx); err != nil {
		t.Errorf("Status: %v", err)
	}
	// ... but the background seal check does not, and OpenBao refuses
	// sys/health in a namespace, so KES cannot notice a seal there.
	err := eventually(3*time.Second, func() error {
		for _, r := range s.Requests() {
			if r.Path == "/v1/sys/health" && r.Namespace == "team" && r.Status == 400 {
				return nil
			}
		}
		return errors.New("no namespaced sys/health ping seen")
	})
	if err != nil {
		t.Error(err)
	}
	for _, r := range s.Requests() {
		if r.Path == "/v1/auth/approle/login" && r.Namespace != "team" {
			t.Errorf("login without the namespace: %+v", r)
		}
	}
}

func TestKESPolicy(t *testing.T) {
	s := start(t, Options{Policy: map[string][]string{
		"kv/data/lab/*":     {"create", "read"},
		"kv/metadata/lab/*": {"list"},
	}})
	store := connectKES(t, s, kesOpts{apiVersion: "v2"})
	ctx := context.Background()
	if err := store.Create(ctx, "k", []byte("v")); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := store.Get(ctx, "k"); err != nil {
		t.Errorf("Get: %v", err)
	}
	if names, _, err := store.List(ctx, "", -1); err != nil || len(names) != 1 {
		t.Errorf("List: %v %v", names, err)
	}
	err := store.Delete(ctx, "k")
	if err == nil || !strings.Contains(err.Error(), "Code: 403") || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("Delete without the delete capability: %v", err)
	}
}

// TestKESReauthentication: with a token TTL under 30s KES logs in again
// every 3 seconds instead of renewing.
func TestKESReauthentication(t *testing.T) {
	s := start(t, Options{TokenTTL: 20 * time.Second})
	connectKES(t, s, kesOpts{apiVersion: "v2"})
	err := eventually(5*time.Second, func() error {
		n := 0
		for _, r := range s.Requests() {
			if r.Path == "/v1/auth/approle/login" && r.Status == 200 {
				n++
			}
		}
		if n < 2 {
			return errors.New("KES logged in only once")
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}
