package vault

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/kes"
	"github.com/minio/kes/kesconf"
	kesapi "github.com/minio/kms-go/kes"

	"github.com/sselab/sselab/internal/fakevault"
)

// kesStore connects KES's own Vault keystore (kesconf, linked into this
// test only) with the settings of c.
func kesStore(t *testing.T, c *Config) kes.KeyStore {
	t.Helper()
	ks := &kesconf.VaultKeyStore{
		Endpoint: c.Endpoint, Engine: c.Engine, APIVersion: c.KVVersion, Prefix: c.Prefix,
		Namespace: c.Namespace, CAPath: c.CAFile, StatusPing: c.StatusPing,
		AppRole: &kesconf.VaultAppRoleAuth{Engine: c.AppRole.Engine, ID: c.AppRole.ID, Secret: c.AppRole.Secret},
	}
	store, err := ks.Connect(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

// TestKeyStoreSameEntriesAsKES writes keys with KeyStore and with the
// Vault keystore of 'kes server' under one prefix, in KV v1 and v2, and
// reads, lists and deletes each with the other: a lab and a 'kes server'
// share their keys in Vault.
func TestKeyStoreSameEntriesAsKES(t *testing.T) {
	for _, kv := range []int{1, 2} {
		t.Run("KV v"+string(rune('0'+kv)), func(t *testing.T) {
			v, c := startVault(t, fakevault.Options{TLS: true, Mounts: map[string]int{"kv": kv}})
			if _, err := Preflight(ctx(t), c); err != nil {
				t.Fatal(err)
			}
			ours, err := Connect(ctx(t), c, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer ours.Close()
			stores := map[string]kes.KeyStore{"sselab": ours, "kes": kesStore(t, c)}
			for writer, w := range stores {
				for reader, r := range stores {
					name := writer + "-to-" + reader
					value := []byte("key material of " + name)
					if err := w.Create(ctx(t), name, value); err != nil {
						t.Fatalf("%s Create %s: %v", writer, name, err)
					}
					if got, err := r.Get(ctx(t), name); err != nil || !bytes.Equal(got, value) {
						t.Errorf("%s Get of %s's key: %q, %v; want %q", reader, writer, got, err, value)
					}
					if err := r.Create(ctx(t), name, []byte("other")); !errors.Is(err, kesapi.ErrKeyExists) {
						t.Errorf("%s Create over %s's key: %v, want ErrKeyExists", reader, writer, err)
					}
				}
			}
			if data, ok := v.Secret("kv", "lab/sselab-to-kes"); !ok || data["sselab-to-kes"] != "key material of sselab-to-kes" {
				t.Errorf("Vault holds %v (%v) at kv/lab/sselab-to-kes", data, ok)
			}
			for name, s := range stores {
				names, next, err := s.List(ctx(t), "sselab-", 0)
				if err != nil || next != "" || !slices.Equal(names, []string{"sselab-to-kes", "sselab-to-sselab"}) {
					t.Errorf("%s List sselab-: %q, %q, %v", name, names, next, err)
				}
			}
			if err := ours.Delete(ctx(t), "kes-to-sselab"); err != nil {
				t.Fatal(err)
			}
			for name, s := range stores {
				if _, err := s.Get(ctx(t), "kes-to-sselab"); !errors.Is(err, kesapi.ErrKeyNotFound) {
					t.Errorf("%s Get after Delete: %v, want ErrKeyNotFound", name, err)
				}
			}
		})
	}
}

// kvVault starts a fake Vault with a KV v2 engine and returns it with a
// Config that uses it.
func kvVault(t *testing.T, o fakevault.Options) (*fakevault.Server, *Config) {
	t.Helper()
	o.Mounts = map[string]int{"kv": 2}
	v, c := startVault(t, o)
	c.KVVersion = KVv2
	return v, c
}

// storeWithKey starts a fake Vault with a KV v2 engine, connects a
// KeyStore that asks for the seal state every ping (default if 0), and
// creates the key "k" with the value "v". The store closes with the test.
func storeWithKey(t *testing.T, o fakevault.Options, ping time.Duration) (*fakevault.Server, *KeyStore) {
	t.Helper()
	v, c := kvVault(t, o)
	if ping > 0 {
		c.StatusPing = ping
	}
	s, _ := connect(t, c)
	return v, s
}

// TestKeyStoreSealed: while Vault is sealed the keystore fails at once,
// so that KES serves what it has cached; unsealed, it works again.
func TestKeyStoreSealed(t *testing.T) {
	v, s := storeWithKey(t, fakevault.Options{}, 50*time.Millisecond)
	v.Seal()
	if _, err := s.Status(ctx(t)); err == nil || !strings.Contains(err.Error(), "sealed") {
		t.Errorf("Status while sealed: %v, want sealed", err)
	}
	if _, err := s.Get(ctx(t), "k"); !errors.Is(err, errSealed) {
		t.Errorf("Get while sealed: %v, want %v", err, errSealed)
	}
	v.Unseal()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := s.Get(ctx(t), "k")
		if err == nil && string(got) == "v" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Get 10s after unsealing: %q, %v", got, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := s.Status(ctx(t)); err != nil {
		t.Errorf("Status after unsealing: %v", err)
	}
}

// TestKeyStoreOutlivesItsToken gives the keystore tokens that expire
// after 2 s and uses it for three times as long: it renews its token in
// time (KES v0.24.0's own keystore does not, minio/kes #504).
func TestKeyStoreOutlivesItsToken(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 6 seconds")
	}
	v, s := storeWithKey(t, fakevault.Options{TokenTTL: 2 * time.Second}, 0)
	for end := time.Now().Add(6 * time.Second); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		if got, err := s.Get(ctx(t), "k"); err != nil || string(got) != "v" {
			t.Fatalf("Get with 2s tokens: %q, %v", got, err)
		}
	}
	renewals := 0
	for _, r := range v.Requests() {
		if strings.HasSuffix(r.Path, "/auth/token/renew-self") && r.Status == 200 {
			renewals++
		}
	}
	if renewals < 2 {
		t.Errorf("%d token renewals in 6s of 2s tokens, want at least 2", renewals)
	}
}

// logged collects what a KeyStore says in the lab's log.
type logged struct {
	mu    sync.Mutex
	lines []string
}

func (l *logged) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

// has reports whether a line holds every one of subs.
func (l *logged) has(subs ...string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if !slices.ContainsFunc(subs, func(s string) bool { return !strings.Contains(line, s) }) {
			return true
		}
	}
	return false
}

// connect connects a KeyStore with c, logging to a logged, and
// creates the key "k" with the value "v".
func connect(t *testing.T, c *Config) (*KeyStore, *logged) {
	t.Helper()
	log := &logged{}
	s, err := Connect(ctx(t), c, log.logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Create(ctx(t), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	return s, log
}

// eventually polls cond every 50 ms for up to d and fails with what if
// it never holds.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("after %s: %s", d, what)
		}
	}
}

// TestKeyStoreAcrossMaxTTL uses the keystore every 100 ms for 12 s with
// tokens that live 2 s and can be renewed up to 5 s: no request fails,
// and it logs in again only when a token's max TTL runs out.
func TestKeyStoreAcrossMaxTTL(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 12 seconds")
	}
	const maxTTL, span = 5 * time.Second, 12 * time.Second
	v, c := kvVault(t, fakevault.Options{TokenTTL: 2 * time.Second, TokenMaxTTL: maxTTL})
	s, log := connect(t, c)
	start := time.Now()
	for time.Since(start) < span {
		if got, err := s.Get(ctx(t), "k"); err != nil || string(got) != "v" {
			t.Fatalf("Get %s in: %q, %v", time.Since(start).Round(time.Millisecond), got, err)
		}
		if _, _, err := s.List(ctx(t), "", 0); err != nil {
			t.Fatalf("List %s in: %v", time.Since(start).Round(time.Millisecond), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	a := s.Auth()
	// One login at Connect, then one per max TTL: 3 in 12 s.
	if most := 1 + int(span/maxTTL); v.Logins() < 2 || v.Logins() > most {
		t.Errorf("%d logins in %s of tokens with a max TTL of %s; want 2 to %d", v.Logins(), span, maxTTL, most)
	}
	if a.Logins != v.Logins() || a.Method != "approle" || a.Error != "" || a.LastRenewal.IsZero() || !a.Expires.After(time.Now()) {
		t.Errorf("Auth = %+v; want %d logins, a renewal, a token not expired, no error", a, v.Logins())
	}
	if len(log.lines) > 0 {
		t.Errorf("the keystore logged %q while its login worked", log.lines)
	}
}

// TestKeyStoreRevokedToken: when Vault refuses the token (an admin
// revoked it), the keystore says so, logs in again at once, and the
// request that met the refusal waits for that login and succeeds.
func TestKeyStoreRevokedToken(t *testing.T) {
	v, c := kvVault(t, fakevault.Options{})
	s, log := connect(t, c)
	v.RevokeTokens()
	if got, err := s.Get(ctx(t), "k"); err != nil || string(got) != "v" {
		t.Fatalf("Get with a revoked token: %q, %v; want it to wait for the new login and succeed", got, err)
	}
	a := s.Auth()
	if a.Error != "" || a.Logins != 2 || !strings.Contains(a.LastError, "permission denied") || a.LastErrorAt.IsZero() {
		t.Errorf("Auth after the new login = %+v; want no error, 2 logins, the 403 as last error", a)
	}
	if !log.has("refuses the lab's token") || !log.has("works again") {
		t.Errorf("log %q; want the refusal and the recovery", log.lines)
	}
}

// TestKeyStoreSecretIDExpires: when the secret_id has expired the login
// at the max TTL fails; Auth and the log say how to issue a new one, and
// the keystore takes the new one from the secret file.
func TestKeyStoreSecretIDExpires(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 8 seconds")
	}
	v, c := kvVault(t, fakevault.Options{TokenTTL: 2 * time.Second, TokenMaxTTL: 3 * time.Second, SecretIDTTL: 2 * time.Second})
	c.SecretFile = filepath.Join(t.TempDir(), "secret-id")
	if err := os.WriteFile(c.SecretFile, []byte(c.AppRole.Secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, log := connect(t, c)
	eventually(t, 6*time.Second, "no login failure after the secret_id expired", func() bool { return s.Auth().Error != "" })
	a := s.Auth()
	for _, want := range []string{"refused the AppRole login", "secret_id_ttl", "vault write -f -field=secret_id auth/approle/role/ROLE/secret-id", c.SecretFile} {
		if !strings.Contains(a.Error, want) {
			t.Errorf("Auth().Error = %q; want it to hold %q", a.Error, want)
		}
	}
	if !log.has("secret_id_ttl", c.SecretFile) {
		t.Errorf("log %q; want the failed login and what to do", log.lines)
	}
	if err := os.WriteFile(c.SecretFile, []byte(v.NewSecretID()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the keystore did not log in with the new secret_id", func() bool { return s.Auth().Error == "" })
	if got, err := s.Get(ctx(t), "k"); err != nil || string(got) != "v" {
		t.Errorf("Get with the new secret_id: %q, %v", got, err)
	}
	if !log.has("works again") {
		t.Errorf("log %q; want the recovery", log.lines)
	}
}

// TestKeyStoreUnreachableAtRenewal: Vault goes away until the token has
// expired. Auth says Vault cannot be reached (not "permission denied"),
// and once Vault is back the keystore logs in again by itself.
func TestKeyStoreUnreachableAtRenewal(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 6 seconds")
	}
	v, c := kvVault(t, fakevault.Options{TokenTTL: 2 * time.Second})
	s, _ := connect(t, c)
	v.SetDown(true)
	eventually(t, 6*time.Second, "no login failure while Vault was down past the token's TTL", func() bool { return s.Auth().Error != "" })
	h := Check(ctx(t), c).WithAuth(s.Auth())
	if h.State() != "unreachable" || !strings.Contains(h.Error, "cannot reach Vault") || strings.Contains(s.Auth().Error, "permission denied") {
		t.Errorf("while down: state %q, error %q, auth error %q; want unreachable", h.State(), h.Error, s.Auth().Error)
	}
	v.SetDown(false)
	eventually(t, 10*time.Second, "the keystore did not log in again once Vault was back", func() bool { return s.Auth().Error == "" })
	if got, err := s.Get(ctx(t), "k"); err != nil || string(got) != "v" {
		t.Errorf("Get once Vault was back: %q, %v", got, err)
	}
	if h := Check(ctx(t), c).WithAuth(s.Auth()); !h.OK() || h.State() != "unsealed" {
		t.Errorf("once back: %+v", h)
	}
}

// TestKeyStorePolicyDenies: a 403 for a token that is still valid is the
// policy's doing: the keystore says so and does not log in again.
func TestKeyStorePolicyDenies(t *testing.T) {
	v, c := kvVault(t, fakevault.Options{})
	s, _ := connect(t, c)
	v.Deny("/v1/kv/data/lab/", 403)
	if _, err := s.Get(ctx(t), "k"); err == nil {
		t.Fatal("Get worked against a policy that denies it")
	}
	eventually(t, 5*time.Second, "Auth does not blame the policy", func() bool { return strings.Contains(s.Auth().Error, "the policy must grant") })
	v.Deny("/v1/kv/data/lab/", 0)
	if got, err := s.Get(ctx(t), "k"); err != nil || string(got) != "v" {
		t.Fatalf("Get once the policy allows it: %q, %v", got, err)
	}
	if a := s.Auth(); a.Error != "" || a.Logins != 1 || v.Logins() != 1 {
		t.Errorf("Auth = %+v, %d logins in Vault; want no error and the one login", a, v.Logins())
	}
}
