package fakevault

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	vault "github.com/hashicorp/vault/api"
)

// TestMain keeps the environment from steering the Vault clients: the
// vault/api client (and so KES) reads VAULT_* variables. Retries are
// switched off so that 5xx answers and refused connections surface at
// once instead of after the client's back-off.
func TestMain(m *testing.M) {
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "VAULT_") {
			os.Unsetenv(name)
		}
	}
	os.Setenv("VAULT_MAX_RETRIES", "0")
	os.Exit(m.Run())
}

func start(t *testing.T, o Options) *Server {
	t.Helper()
	s, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// client returns a vault/api client for s using token (may be "").
func client(t *testing.T, s *Server, token string) *vault.Client {
	t.Helper()
	cfg := vault.DefaultConfig()
	cfg.Address = s.URL()
	cfg.MaxRetries = 0
	if ca := s.CAPEM(); ca != nil {
		if err := cfg.ConfigureTLS(&vault.TLSConfig{CACertBytes: ca}); err != nil {
			t.Fatal(err)
		}
	}
	c, err := vault.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(token)
	return c
}

// login logs in with the server's AppRole credentials and returns a
// client carrying the token.
func login(t *testing.T, s *Server) *vault.Client {
	t.Helper()
	c := client(t, s, "")
	secret, err := c.Logical().Write("auth/approle/login", map[string]any{"role_id": s.RoleID(), "secret_id": s.SecretID()})
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	c.SetToken(secret.Auth.ClientToken)
	return c
}

// responseError asserts that err is a Vault API error with status and
// exactly the given error strings.
func responseError(t *testing.T, err error, status int, errs ...string) {
	t.Helper()
	var re *vault.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("want a Vault response error %d %q, got %v", status, errs, err)
	}
	if re.StatusCode != status {
		t.Errorf("status = %d, want %d (errors %q)", re.StatusCode, status, re.Errors)
	}
	if errs == nil {
		errs = []string{}
	}
	if re.Errors == nil {
		re.Errors = []string{}
	}
	if !reflect.DeepEqual(re.Errors, errs) {
		t.Errorf("errors = %q, want %q", re.Errors, errs)
	}
}

// rawDo sends one HTTP request to s and returns status, decoded JSON body
// (nil when empty) and headers.
func rawDo(t *testing.T, s *Server, method, path, token string, header map[string]string, body string) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	hc := http.DefaultClient
	if ca := s.CAPEM(); ca != nil {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(ca)
		hc = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: body %q is not a JSON object: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, out, resp.Header
}

// assertRaw sends a request and checks status and error list. The API
// client turns 404s into (nil, nil), so their bodies are checked this way.
func assertRaw(t *testing.T, s *Server, method, path, token string, header map[string]string, status int, errs ...string) {
	t.Helper()
	got, body, _ := rawDo(t, s, method, path, token, header, "")
	if errs == nil {
		errs = []string{}
	}
	if got != status || !reflect.DeepEqual(errorsOf(body), errs) {
		t.Errorf("%s %s: %d %v, want %d %q", method, path, got, body, status, errs)
	}
}

func errorsOf(body map[string]any) []string {
	list, ok := body["errors"].([]any)
	if !ok {
		return nil
	}
	out := []string{}
	for _, e := range list {
		out = append(out, e.(string))
	}
	return out
}

func TestHealth(t *testing.T) {
	s := start(t, Options{})
	c := client(t, s, "")

	h, err := c.Sys().Health()
	if err != nil {
		t.Fatal(err)
	}
	if !h.Initialized || h.Sealed || h.Standby || h.Version != Version || h.ClusterID == "" || h.ClusterName == "" ||
		h.ReplicationDRMode != "disabled" || h.ReplicationPerformanceMode != "disabled" || h.ServerTimeUTC == 0 {
		t.Errorf("active health = %+v", h)
	}

	cases := []struct {
		name  string
		setup func()
		query string
		want  int
	}{
		{"active", func() {}, "", 200},
		{"active activecode", func() {}, "?activecode=204", 204},
		{"bad code", func() {}, "?sealedcode=x", 400},
		{"bad standbyok", func() {}, "?standbyok=maybe", 400},
		{"standby", func() { s.SetStandby(true, "https://10.0.0.9:8200") }, "", 429},
		{"standbyok", func() {}, "?standbyok=true", 200},
		{"standbycode", func() {}, "?standbycode=299", 299},
		{"sealed", func() { s.SetStandby(false, ""); s.Seal() }, "", 503},
		{"sealedcode", func() {}, "?sealedcode=299", 299},
		{"uninitialized", func() { s.SetInitialized(false) }, "", 501},
		{"uninitcode", func() {}, "?uninitcode=299&sealedcode=298", 299},
	}
	for _, tc := range cases {
		tc.setup()
		status, body, hdr := rawDo(t, s, "GET", "/v1/sys/health"+tc.query, "", nil, "")
		if status != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, status, tc.want)
		}
		if hdr.Get("Cache-Control") != "no-store" || hdr.Get("Content-Type") != "application/json" {
			t.Errorf("%s: headers %v", tc.name, hdr)
		}
		if status == 400 && !reflect.DeepEqual(errorsOf(body), []string{}) {
			t.Errorf("%s: 400 body %v, want {\"errors\":[]}", tc.name, body)
		}
	}

	// The API client forces 299 for every non-active state, so these
	// decode; Vault reports a sealed node as a standby and hides the
	// cluster identity while sealed.
	h, err = c.Sys().Health()
	if err != nil {
		t.Fatal(err)
	}
	if h.Initialized || !h.Sealed || !h.Standby || h.ClusterID != "" {
		t.Errorf("uninitialized health = %+v", h)
	}
	s.SetInitialized(true)
	h, err = c.Sys().Health()
	if err != nil {
		t.Fatal(err)
	}
	if !h.Initialized || !h.Sealed || !h.Standby {
		t.Errorf("sealed health = %+v", h)
	}
	s.Unseal()
	s.SetStandby(true, "https://10.0.0.9:8200")
	if h, err = c.Sys().Health(); err != nil || !h.Standby || h.Sealed || h.ClusterID == "" {
		t.Errorf("standby health = %+v, %v", h, err)
	}
	s.SetStandby(false, "")

	// HEAD answers with the status only.
	req, _ := http.NewRequest(http.MethodHead, s.URL()+"/v1/sys/health?activecode=202", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Errorf("HEAD status %d, want 202", resp.StatusCode)
	}
	if status, _, _ := rawDo(t, s, "POST", "/v1/sys/health", "", nil, ""); status != 405 {
		t.Errorf("POST sys/health: %d, want 405", status)
	}
	// OpenBao refuses root-only endpoints with a namespace header.
	status, body, hdr := rawDo(t, s, "GET", "/v1/sys/health", "", map[string]string{"X-Vault-Namespace": "team"}, "")
	if status != 400 || !reflect.DeepEqual(errorsOf(body), []string{"operation unavailable in namespaces"}) || hdr.Get("X-Vault-Namespace") != "team" {
		t.Errorf("health in a namespace: %d %v %v", status, body, hdr)
	}
}

func TestSealStatusAndLeader(t *testing.T) {
	s := start(t, Options{})
	c := client(t, s, "")

	st, err := c.Sys().SealStatus()
	if err != nil {
		t.Fatal(err)
	}
	if st.Type != "shamir" || !st.Initialized || st.Sealed || st.T != 1 || st.N != 1 || st.Version != Version ||
		st.BuildDate == "" || st.ClusterID == "" || st.StorageType != "raft" {
		t.Errorf("unsealed seal-status = %+v", st)
	}
	l, err := c.Sys().Leader()
	if err != nil {
		t.Fatal(err)
	}
	if !l.HAEnabled || !l.IsSelf || l.LeaderAddress != s.URL() || l.LeaderClusterAddress == "" || l.ActiveTime.IsZero() {
		t.Errorf("active leader = %+v", l)
	}

	s.SetStandby(true, "https://vault-0.example:8200")
	l, err = c.Sys().Leader()
	if err != nil {
		t.Fatal(err)
	}
	if l.IsSelf || l.LeaderAddress != "https://vault-0.example:8200" || l.LeaderClusterAddress != "https://vault-0.example:8201" {
		t.Errorf("standby leader = %+v", l)
	}
	// A standby forwards to the active node: requests are answered.
	if _, err := login(t, s).Logical().Read("auth/token/lookup-self"); err != nil {
		t.Errorf("request on a standby: %v", err)
	}
	s.SetStandby(true, "")
	_, err = client(t, s, s.RootToken()).Logical().Read("auth/token/lookup-self")
	responseError(t, err, 500, "local node not active but active cluster node not found")
	s.SetStandby(false, "")

	s.Seal()
	st, err = c.Sys().SealStatus()
	if err != nil {
		t.Fatal(err)
	}
	if !st.Sealed || !st.Initialized || st.ClusterID != "" {
		t.Errorf("sealed seal-status = %+v", st)
	}
	_, err = c.Sys().Leader()
	responseError(t, err, 503, "Vault is sealed")

	s.SetInitialized(false)
	st, err = c.Sys().SealStatus()
	if err != nil {
		t.Fatal(err)
	}
	if st.Initialized || !st.Sealed || st.T != 0 || st.N != 0 {
		t.Errorf("uninitialized seal-status = %+v", st)
	}
	status, body, _ := rawDo(t, s, "GET", "/v1/sys/init", "", nil, "")
	if status != 200 || body["initialized"] != false {
		t.Errorf("sys/init = %d %v", status, body)
	}
}

func TestSealedRequests(t *testing.T) {
	s := start(t, Options{})
	c := login(t, s)
	s.Seal()
	_, err := c.Logical().Read("kv/data/x")
	responseError(t, err, 503, "Vault is sealed")
	_, err = client(t, s, "").Logical().Write("auth/approle/login", map[string]any{"role_id": s.RoleID(), "secret_id": s.SecretID()})
	responseError(t, err, 503, "Vault is sealed")
	s.Unseal()
	// Tokens survive a seal.
	if _, err := c.Auth().Token().LookupSelf(); err != nil {
		t.Errorf("token after unseal: %v", err)
	}
}

func TestAppRoleLogin(t *testing.T) {
	s := start(t, Options{RoleID: "role-1", SecretID: "secret-1", TokenTTL: 90 * time.Second})
	if s.RoleID() != "role-1" || s.SecretID() != "secret-1" {
		t.Fatalf("credentials %q %q", s.RoleID(), s.SecretID())
	}
	c := client(t, s, "")
	secret, err := c.Logical().Write("auth/approle/login", map[string]any{"role_id": "role-1", "secret_id": "secret-1"})
	if err != nil {
		t.Fatal(err)
	}
	a := secret.Auth
	if !strings.HasPrefix(a.ClientToken, "hvs.") || a.Accessor == "" || a.LeaseDuration != 90 || !a.Renewable ||
		!reflect.DeepEqual(a.Policies, []string{"default", "fakevault"}) || !reflect.DeepEqual(a.TokenPolicies, a.Policies) ||
		a.Metadata["role_name"] != "fakevault" || a.EntityID == "" || !a.Orphan {
		t.Errorf("login auth = %+v", a)
	}
	if ttl, _ := secret.TokenTTL(); ttl != 90*time.Second {
		t.Errorf("TokenTTL = %v", ttl)
	}

	_, err = c.Logical().Write("auth/approle/login", map[string]any{"role_id": "nope", "secret_id": "secret-1"})
	responseError(t, err, 400, "invalid role or secret ID")
	_, err = c.Logical().Write("auth/approle/login", map[string]any{"secret_id": "secret-1"})
	responseError(t, err, 400, "missing role_id")
	_, err = c.Logical().Write("auth/approle/login", map[string]any{"role_id": "role-1"})
	responseError(t, err, 400, "missing secret_id")
	_, err = c.Logical().Read("auth/approle/login")
	responseError(t, err, 405, "1 error occurred:\n\t* unsupported operation\n\n")

	// Vault's user lockout: after 5 bad secret IDs for a role, even the
	// right one is refused with a bare 403 for 15 minutes.
	for i := 0; i < 5; i++ {
		_, err = c.Logical().Write("auth/approle/login", map[string]any{"role_id": "role-1", "secret_id": "wrong"})
		responseError(t, err, 400, "invalid role or secret ID")
	}
	_, err = c.Logical().Write("auth/approle/login", map[string]any{"role_id": "role-1", "secret_id": "secret-1"})
	responseError(t, err, 403, "permission denied")
}

func TestTokens(t *testing.T) {
	s := start(t, Options{TokenTTL: time.Hour})
	c := login(t, s)

	self, err := c.Auth().Token().LookupSelf()
	if err != nil {
		t.Fatal(err)
	}
	d := self.Data
	if d["id"] != c.Token() || d["path"] != "auth/approle/login" || d["display_name"] != "approle" ||
		d["renewable"] != true || d["type"] != "service" || d["expire_time"] == nil {
		t.Errorf("lookup-self = %v", d)
	}
	if ttl, _ := self.TokenTTL(); ttl < 59*time.Minute || ttl > time.Hour {
		t.Errorf("lookup-self ttl = %v", ttl)
	}
	if pol, _ := self.TokenPolicies(); !reflect.DeepEqual(pol, []string{"default", "fakevault"}) {
		t.Errorf("policies = %v", pol)
	}

	renewed, err := c.Auth().Token().RenewSelf(600)
	if err != nil {
		t.Fatal(err)
	}
	if renewed.Auth.ClientToken != c.Token() || renewed.Auth.LeaseDuration != 600 || !renewed.Auth.Renewable {
		t.Errorf("renew-self auth = %+v", renewed.Auth)
	}
	self, _ = c.Auth().Token().LookupSelf()
	if ttl, _ := self.TokenTTL(); ttl > 600*time.Second || ttl < 590*time.Second {
		t.Errorf("ttl after renew = %v", ttl)
	}
	if self.Data["last_renewal_time"] == nil {
		t.Errorf("lookup-self after renew lacks last_renewal_time: %v", self.Data)
	}
	// Without an increment the role's TTL applies again.
	if renewed, err = c.Auth().Token().RenewSelf(0); err != nil || renewed.Auth.LeaseDuration != 3600 {
		t.Errorf("renew-self without increment: %+v %v", renewed, err)
	}

	root := client(t, s, s.RootToken())
	self, err = root.Auth().Token().LookupSelf()
	if err != nil {
		t.Fatal(err)
	}
	if self.Data["display_name"] != "root" || self.Data["expire_time"] != nil || self.Data["path"] != "auth/token/root" {
		t.Errorf("root lookup-self = %v", self.Data)
	}
	_, err = root.Auth().Token().RenewSelf(0)
	responseError(t, err, 400, "lease is not renewable")

	// Missing and unknown tokens: a plain "permission denied".
	_, err = client(t, s, "").Auth().Token().LookupSelf()
	responseError(t, err, 403, "permission denied")
	_, err = client(t, s, "hvs.nope").Auth().Token().LookupSelf()
	responseError(t, err, 403, "permission denied")

	// The token also works as a Bearer token.
	status, body, _ := rawDo(t, s, "GET", "/v1/auth/token/lookup-self", "", map[string]string{"Authorization": "Bearer " + c.Token()}, "")
	if status != 200 || body["data"].(map[string]any)["id"] != c.Token() {
		t.Errorf("bearer lookup-self: %d %v", status, body)
	}
	// The default policy grants read on lookup-self, not update.
	_, err = c.Logical().Write("auth/token/lookup-self", nil)
	responseError(t, err, 403, "1 error occurred:\n\t* permission denied\n\n")

	if err := c.Auth().Token().RevokeSelf(""); err != nil {
		t.Fatal(err)
	}
	_, err = c.Auth().Token().LookupSelf()
	responseError(t, err, 403, "permission denied")
}

func TestTokenExpiry(t *testing.T) {
	s := start(t, Options{TokenTTL: time.Second})
	c := login(t, s)
	if _, err := c.Auth().Token().LookupSelf(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := c.Auth().Token().LookupSelf()
		if err != nil {
			responseError(t, err, 403, "permission denied")
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("token still valid 5s after a 1s TTL")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTokenLifetimes checks the role's token settings as Vault applies
// them: renewals extend the TTL up to the max TTL counted from the issue
// time; a periodic token gets its period again at every renewal; a token
// with a use limit is revoked by the request that uses it up.
func TestTokenLifetimes(t *testing.T) {
	t.Run("max TTL", func(t *testing.T) {
		s := start(t, Options{TokenTTL: 3 * time.Second, TokenMaxTTL: 4 * time.Second})
		c := login(t, s)
		r, err := c.Auth().Token().RenewSelf(0)
		if err != nil || r.Auth.LeaseDuration != 3 {
			t.Fatalf("first renewal: %+v, %v; want a TTL of 3s", r, err)
		}
		// Vault counts in whole seconds from the truncated issue time: 2 s
		// on, at most 2 s of the max TTL are left.
		time.Sleep(2 * time.Second)
		r, err = c.Auth().Token().RenewSelf(0)
		if err != nil || r.Auth.LeaseDuration < 1 || r.Auth.LeaseDuration > 2 {
			t.Fatalf("renewal 2s before the max TTL: %+v, %v; want 1 or 2 s granted, not the TTL", r.Auth, err)
		}
		time.Sleep(2100 * time.Millisecond)
		_, err = c.Auth().Token().LookupSelf()
		responseError(t, err, 403, "permission denied")
	})
	t.Run("period", func(t *testing.T) {
		s := start(t, Options{TokenPeriod: time.Second})
		c := login(t, s)
		for range 3 { // 2.4s in all: past any first TTL
			time.Sleep(800 * time.Millisecond)
			r, err := c.Auth().Token().RenewSelf(3600)
			if err != nil || r.Auth.LeaseDuration != 1 {
				t.Fatalf("renewal of a periodic token: %+v, %v; want the period, 1s", r, err)
			}
		}
		d, err := c.Auth().Token().LookupSelf()
		if err != nil || fmt.Sprint(d.Data["period"]) != "1" {
			t.Errorf("lookup-self of a periodic token: %v, %v", d, err)
		}
	})
	t.Run("revoked", func(t *testing.T) {
		s := start(t, Options{})
		c := login(t, s)
		root := client(t, s, s.RootToken())
		s.RevokeTokens()
		_, err := c.Auth().Token().LookupSelf()
		responseError(t, err, 403, "permission denied")
		if _, err := root.Auth().Token().LookupSelf(); err != nil {
			t.Errorf("RevokeTokens revoked the root token: %v", err)
		}
	})
	t.Run("num uses", func(t *testing.T) {
		s := start(t, Options{TokenNumUses: 2})
		c := login(t, s)
		d, err := c.Auth().Token().LookupSelf() // use 1 of 2
		if err != nil || fmt.Sprint(d.Data["num_uses"]) != "1" {
			t.Fatalf("lookup-self: %v, %v; want 1 use left", d, err)
		}
		if _, err := c.Auth().Token().LookupSelf(); err != nil { // the last use
			t.Fatal(err)
		}
		_, err = c.Auth().Token().LookupSelf()
		responseError(t, err, 403, "permission denied")
	})
}

// TestSecretIDs: a secret_id stops logging in after its TTL; a new one
// logs in and the old one does not; Logins counts the logins.
func TestSecretIDs(t *testing.T) {
	s := start(t, Options{SecretIDTTL: time.Second})
	c := client(t, s, "")
	creds := func(secret string) map[string]any { return map[string]any{"role_id": s.RoleID(), "secret_id": secret} }
	old := s.SecretID()
	if _, err := c.Logical().Write("auth/approle/login", creds(old)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	_, err := c.Logical().Write("auth/approle/login", creds(old))
	responseError(t, err, 400, "invalid role or secret ID")
	fresh := s.NewSecretID()
	if _, err := c.Logical().Write("auth/approle/login", creds(fresh)); err != nil {
		t.Fatalf("login with a new secret_id: %v", err)
	}
	_, err = c.Logical().Write("auth/approle/login", creds(old))
	responseError(t, err, 400, "invalid role or secret ID")
	if got := s.Logins(); got != 2 {
		t.Errorf("Logins: %d, want 2", got)
	}
}

func TestKVv1(t *testing.T) {
	s := start(t, Options{Mounts: map[string]int{"kv": 1}})
	c := login(t, s)
	kv := c.KVv1("kv")
	ctx := context.Background()

	_, err := kv.Get(ctx, "lab/a")
	if !errors.Is(err, vault.ErrSecretNotFound) {
		t.Errorf("get missing: %v", err)
	}
	list, err := c.Logical().List("kv/lab")
	if err != nil || list != nil {
		t.Errorf("list of empty folder = %v, %v (want nil, nil after a 404)", list, err)
	}
	status, body, _ := rawDo(t, s, "GET", "/v1/kv/lab/a", c.Token(), nil, "")
	if status != 404 || !reflect.DeepEqual(errorsOf(body), []string{}) {
		t.Errorf("raw get missing: %d %v", status, body)
	}

	if err := kv.Put(ctx, "lab/a", map[string]any{"k": "v1"}); err != nil {
		t.Fatal(err)
	}
	if err := kv.Put(ctx, "lab/sub/b", map[string]any{"n": 7}); err != nil {
		t.Fatal(err)
	}
	status, _, _ = rawDo(t, s, "PUT", "/v1/kv/lab/c", c.Token(), nil, `{"x":"y"}`)
	if status != 204 {
		t.Errorf("KV v1 write status %d, want 204", status)
	}
	got, err := kv.Get(ctx, "lab/a")
	if err != nil || got.Data["k"] != "v1" {
		t.Errorf("get = %+v, %v", got, err)
	}
	if got.Raw.LeaseDuration != kvLeaseTTL || got.Raw.Renewable {
		t.Errorf("KV v1 read lease %d renewable %v", got.Raw.LeaseDuration, got.Raw.Renewable)
	}
	if d, ok := s.Secret("kv", "lab/sub/b"); !ok || d["n"] != json.Number("7") {
		t.Errorf("Secret = %v %v", d, ok)
	}

	list, err = c.Logical().List("kv/lab")
	if err != nil {
		t.Fatal(err)
	}
	if keys := list.Data["keys"]; !reflect.DeepEqual(keys, []any{"a", "c", "sub/"}) {
		t.Errorf("list keys = %v", keys)
	}
	// LIST method and ?list=true both list.
	status, body, _ = rawDo(t, s, "LIST", "/v1/kv/", c.Token(), nil, "")
	if status != 200 || !reflect.DeepEqual(body["data"].(map[string]any)["keys"], []any{"lab/"}) {
		t.Errorf("LIST kv/: %d %v", status, body)
	}
	if got := s.List("kv", "lab"); !reflect.DeepEqual(got, []string{"a", "c", "sub/"}) {
		t.Errorf("Server.List = %v", got)
	}

	_, err = c.Logical().Write("kv/lab/empty", map[string]any{})
	responseError(t, err, 400, "missing data fields")
	// (The API client strips trailing slashes, so this needs a raw request.)
	status, body, _ = rawDo(t, s, "PUT", "/v1/kv/lab/dir/", c.Token(), nil, `{"a":1}`)
	if status != 400 || !reflect.DeepEqual(errorsOf(body), []string{"cannot write to a path ending in '/'"}) {
		t.Errorf("write to a folder: %d %v", status, body)
	}

	if err := kv.Delete(ctx, "lab/a"); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Secret("kv", "lab/a"); ok {
		t.Error("entry still there after delete")
	}
	// On a v1 mount "data/..." is a plain key, as KV v2 clients find out.
	if _, err := c.Logical().Write("kv/data/lab/x", map[string]any{"data": map[string]any{"a": "b"}}); err != nil {
		t.Fatal(err)
	}
	if d, ok := s.Secret("kv", "data/lab/x"); !ok || d["data"] == nil {
		t.Errorf("v2-style write on a v1 mount: %v %v", d, ok)
	}
}

func TestKVv2(t *testing.T) {
	s := start(t, Options{})
	c := login(t, s)
	kv := c.KVv2("kv")
	ctx := context.Background()

	_, err := kv.Get(ctx, "lab/a")
	if !errors.Is(err, vault.ErrSecretNotFound) {
		t.Errorf("get missing: %v", err)
	}
	w, err := kv.Put(ctx, "lab/a", map[string]any{"k": "v1"}, vault.WithCheckAndSet(0))
	if err != nil {
		t.Fatal(err)
	}
	if w.VersionMetadata.Version != 1 || w.VersionMetadata.CreatedTime.IsZero() || w.VersionMetadata.Destroyed {
		t.Errorf("put metadata = %+v", w.VersionMetadata)
	}
	_, err = kv.Put(ctx, "lab/a", map[string]any{"k": "again"}, vault.WithCheckAndSet(0))
	responseError(t, errors.Unwrap(err), 400, "check-and-set parameter did not match the current version")
	if _, err := kv.Put(ctx, "lab/a", map[string]any{"k": "v2"}, vault.WithCheckAndSet(1)); err != nil {
		t.Fatal(err)
	}
	got, err := kv.Get(ctx, "lab/a")
	if err != nil || got.Data["k"] != "v2" || got.VersionMetadata.Version != 2 {
		t.Errorf("get latest = %+v, %v", got, err)
	}
	got, err = kv.GetVersion(ctx, "lab/a", 1)
	if err != nil || got.Data["k"] != "v1" || got.VersionMetadata.Version != 1 {
		t.Errorf("get version 1 = %+v, %v", got, err)
	}
	if _, err := kv.GetVersion(ctx, "lab/a", 7); !errors.Is(err, vault.ErrSecretNotFound) {
		t.Errorf("get version 7: %v", err)
	}
	if d, ok := s.Secret("kv", "lab/a"); !ok || d["k"] != "v2" {
		t.Errorf("Secret = %v %v", d, ok)
	}
	patched, err := kv.Patch(ctx, "lab/a", map[string]any{"extra": "x"})
	if err != nil || patched.VersionMetadata.Version != 3 {
		t.Fatalf("patch: %+v %v", patched, err)
	}
	if d, _ := s.Secret("kv", "lab/a"); d["k"] != "v2" || d["extra"] != "x" {
		t.Errorf("after patch = %v", d)
	}

	// Soft delete: the latest version reads as a 404 that still carries
	// its metadata, which the client turns into a secret without data.
	if err := kv.Delete(ctx, "lab/a"); err != nil {
		t.Fatal(err)
	}
	status, body, _ := rawDo(t, s, "GET", "/v1/kv/data/lab/a", c.Token(), nil, "")
	md, _ := body["data"].(map[string]any)["metadata"].(map[string]any)
	if status != 404 || md["deletion_time"] == "" || md["version"] != float64(3) {
		t.Errorf("read soft-deleted: %d %v", status, body)
	}
	got, err = kv.Get(ctx, "lab/a")
	if err != nil || got.Data != nil || got.VersionMetadata.DeletionTime.IsZero() {
		t.Errorf("client get soft-deleted = %+v, %v", got, err)
	}
	if _, ok := s.Secret("kv", "lab/a"); ok {
		t.Error("Secret returns a soft-deleted version")
	}
	if err := kv.Undelete(ctx, "lab/a", []int{3}); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Secret("kv", "lab/a"); !ok {
		t.Error("undelete did not restore the version")
	}
	if err := kv.Destroy(ctx, "lab/a", []int{1}); err != nil {
		t.Fatal(err)
	}
	meta, err := kv.GetMetadata(ctx, "lab/a")
	if err != nil {
		t.Fatal(err)
	}
	if meta.CurrentVersion != 3 || !meta.Versions["1"].Destroyed || meta.Versions["2"].Destroyed || meta.MaxVersions != 0 {
		t.Errorf("metadata = %+v", meta)
	}
	_, err = c.Logical().Write("kv/delete/lab/a", map[string]any{})
	responseError(t, err, 400, "no version number provided")

	if _, err := kv.Put(ctx, "lab/sub/b", map[string]any{"n": 1}); err != nil {
		t.Fatal(err)
	}
	list, err := c.Logical().List("kv/metadata/lab")
	if err != nil {
		t.Fatal(err)
	}
	if keys := list.Data["keys"]; !reflect.DeepEqual(keys, []any{"a", "sub/"}) {
		t.Errorf("metadata list = %v", keys)
	}
	_, err = c.Logical().List("kv/data/lab")
	responseError(t, err, 405, "1 error occurred:\n\t* unsupported operation\n\n")

	if err := kv.DeleteMetadata(ctx, "lab/a"); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.GetMetadata(ctx, "lab/a"); !errors.Is(err, vault.ErrSecretNotFound) {
		t.Errorf("metadata after delete: %v", err)
	}
	if got := s.List("kv", "lab/"); !reflect.DeepEqual(got, []string{"sub/"}) {
		t.Errorf("Server.List after metadata delete = %v", got)
	}

	_, err = c.Logical().Write("kv/data/lab/nodata", map[string]any{"options": map[string]any{}})
	responseError(t, err, 400, "no data provided")

	// KV v1 paths on a v2 mount: a 404 whose body is a response with a
	// warning; the client hands it back as a secret, not an error.
	sec, err := c.Logical().Read("kv/lab/sub/b")
	if err != nil || sec == nil || len(sec.Warnings) != 1 ||
		!strings.Contains(sec.Warnings[0], "Invalid path for a versioned K/V secrets engine") ||
		!strings.Contains(sec.Warnings[0], "'vault kv get'") {
		t.Errorf("v1-style read on v2 = %+v, %v", sec, err)
	}
	status, body, _ = rawDo(t, s, "PUT", "/v1/kv/lab/x", c.Token(), nil, `{"a":"b"}`)
	if status != 404 || !strings.Contains(body["warnings"].([]any)[0].(string), "'vault kv put'") {
		t.Errorf("v1-style write on v2: %d %v", status, body)
	}
	if _, ok := s.Secret("kv", "lab/x"); ok {
		t.Error("v1-style write on a v2 mount stored data")
	}
}

func TestKVv2MaxVersions(t *testing.T) {
	s := start(t, Options{})
	c := client(t, s, s.RootToken())
	kv := c.KVv2("kv")
	ctx := context.Background()
	for i := 0; i < 12; i++ {
		if _, err := kv.Put(ctx, "x", map[string]any{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	meta, err := kv.GetMetadata(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	if meta.CurrentVersion != 12 || meta.OldestVersion != 3 || len(meta.Versions) != 10 {
		t.Errorf("after 12 writes: current %d oldest %d versions %d", meta.CurrentVersion, meta.OldestVersion, len(meta.Versions))
	}
}

func TestPolicy(t *testing.T) {
	s := start(t, Options{
		Mounts: map[string]int{"kv": 2, "other": 2},
		Policy: map[string][]string{
			"kv/data/lab/*":      {"create", "read"},
			"kv/data/lab/secret": {"deny"},
			"kv/metadata/+/keep": {"read", "list"},
			"kv/metadata/lab/*":  {"list"},
		},
	})
	c := login(t, s)
	ctx := context.Background()
	kv := c.KVv2("kv")

	if _, err := kv.Put(ctx, "lab/a", map[string]any{"v": 1}); err != nil {
		t.Fatalf("create allowed by policy: %v", err)
	}
	if _, err := kv.Get(ctx, "lab/a"); err != nil {
		t.Fatalf("read allowed by policy: %v", err)
	}
	// An existing entry makes the write an update, which is not granted.
	_, err := kv.Put(ctx, "lab/a", map[string]any{"v": 2})
	responseError(t, errors.Unwrap(err), 403, "1 error occurred:\n\t* permission denied\n\n")
	_, err = kv.Put(ctx, "lab/secret", map[string]any{"v": 1})
	responseError(t, errors.Unwrap(err), 403, "1 error occurred:\n\t* permission denied\n\n")
	err = kv.DeleteMetadata(ctx, "lab/a")
	responseError(t, errors.Unwrap(err), 403, "1 error occurred:\n\t* permission denied\n\n")
	if _, err := c.Logical().List("kv/metadata/lab"); err != nil {
		t.Errorf("list allowed by policy: %v", err)
	}
	if _, err := c.Logical().Read("kv/metadata/x/keep"); err != nil && !strings.Contains(err.Error(), "404") {
		t.Errorf("read on a '+' rule: %v", err)
	}
	_, err = c.Logical().Read("kv/metadata/x/y/keep")
	responseError(t, err, 403, "1 error occurred:\n\t* permission denied\n\n")
	_, err = c.KVv2("other").Get(ctx, "a")
	responseError(t, errors.Unwrap(err), 403, "1 error occurred:\n\t* permission denied\n\n")

	// Vault checks ACLs before routing: unknown paths are a 403 for this
	// token and a 404 for root.
	_, err = c.Logical().Read("nomount/x")
	responseError(t, err, 403, "1 error occurred:\n\t* permission denied\n\n")
	assertRaw(t, s, "GET", "/v1/nomount/x", s.RootToken(), nil, 404, `no handler for route "nomount/x". route entry not found.`)

	// sys/mounts needs read on sys/mounts.
	_, err = c.Sys().ListMounts()
	responseError(t, err, 403, "1 error occurred:\n\t* permission denied\n\n")

	// sys/internal/ui/mounts/:path: visible with any capability below the
	// mount, the preflight error otherwise.
	sec, err := c.Logical().Read("sys/internal/ui/mounts/kv")
	if err != nil || sec.Data["path"] != "kv/" || sec.Data["type"] != "kv" ||
		sec.Data["options"].(map[string]any)["version"] != "2" {
		t.Errorf("ui mounts kv = %+v, %v", sec, err)
	}
	_, err = c.Logical().Read("sys/internal/ui/mounts/other/data/x")
	responseError(t, err, 403, `preflight capability check returned 403, please ensure client's policies grant access to path "other/data/x/"`)
	_, err = c.Logical().Read("sys/internal/ui/mounts/nomount")
	responseError(t, err, 403, `preflight capability check returned 403, please ensure client's policies grant access to path "nomount/"`)
	_, err = client(t, s, "").Logical().Read("sys/internal/ui/mounts/kv")
	responseError(t, err, 403, "1 error occurred:\n\t* permission denied\n\n")
}

func TestPolicyParsing(t *testing.T) {
	for _, bad := range []map[string][]string{
		{"kv/*/x": {"read"}},
		{"kv/a+/x": {"read"}},
		{"kv/*": {"reed"}},
	} {
		if _, err := Start(Options{Policy: bad}); err == nil || !strings.HasPrefix(err.Error(), "fakevault: ") {
			t.Errorf("policy %v: error %v", bad, err)
		}
	}
	if _, err := Start(Options{Mounts: map[string]int{"kv": 3}}); err == nil {
		t.Error("KV version 3 accepted")
	}
	if _, err := Start(Options{Mounts: map[string]int{"sys": 2}}); err == nil {
		t.Error("mount at sys/ accepted")
	}

	// Priority among non-exact rules, as documented by Vault.
	p, err := parsePolicy(map[string][]string{
		"secret/*":             {"read"},
		"secret/+/bar":         {"list"},
		"secret/foo/*":         {"update"},
		"secret/foo/bar/baz":   {"delete"},
		"secret/+/+/zip":       {"create"},
		"secret/foo/+/zip":     {"patch"},
		"secret/restricted*":   {"deny"},
		"/secret/leading/path": {"sudo", "read"},
	})
	if err != nil {
		t.Fatal(err)
	}
	a := newACL(false, p)
	for path, want := range map[string]capSet{
		"secret/x":             capRead,
		"secret/x/bar":         capList,   // '+' rule beats the earlier glob
		"secret/foo/bar":       capUpdate, // glob at a later position beats '+' at an earlier one
		"secret/foo/bar/baz":   capDelete, // exact
		"secret/foo/a/zip":     capPatch,  // fewer wildcards
		"secret/q/a/zip":       capCreate,
		"secret/restricted/x":  capDeny,
		"secret/leading/path":  capSudo | capRead,
		"unrelated/path":       0,
		"secret/foo/bar/other": capUpdate,
	} {
		if got := a.capabilities(path, false); got != want {
			t.Errorf("capabilities(%q) = %b, want %b", path, got, want)
		}
	}
}

func TestMountsEndpoints(t *testing.T) {
	s := start(t, Options{Mounts: map[string]int{"kv": 2, "legacy": 1}})
	root := client(t, s, s.RootToken())
	mounts, err := root.Sys().ListMounts()
	if err != nil {
		t.Fatal(err)
	}
	if m := mounts["kv/"]; m == nil || m.Type != "kv" || m.Options["version"] != "2" || m.Accessor == "" || m.UUID == "" {
		t.Errorf("kv/ = %+v", m)
	}
	if m := mounts["legacy/"]; m == nil || m.Options["version"] != "1" {
		t.Errorf("legacy/ = %+v", m)
	}
	for _, p := range []string{"sys/", "cubbyhole/", "identity/"} {
		if mounts[p] == nil {
			t.Errorf("sys/mounts lacks %s", p)
		}
	}
	if mounts["auth/approle/"] != nil {
		t.Error("sys/mounts lists an auth method")
	}
	m, err := root.Sys().GetMount("kv")
	if err != nil || m.Type != "kv" || m.Options["version"] != "2" {
		t.Errorf("GetMount(kv) = %+v, %v", m, err)
	}
	_, err = root.Sys().GetMount("nothing")
	responseError(t, err, 400, "No secret engine mount at nothing/")

	// Enabling and disabling KV mounts through sys/mounts.
	if err := root.Sys().Mount("fresh", &vault.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
		t.Fatal(err)
	}
	err = root.Sys().Mount("fresh", &vault.MountInput{Type: "kv"})
	responseError(t, err, 400, "path is already in use at fresh/")
	if _, err := root.KVv2("fresh").Put(context.Background(), "a", map[string]any{"b": "c"}); err != nil {
		t.Errorf("write to an enabled mount: %v", err)
	}
	if err := root.Sys().Unmount("fresh"); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Sys().GetMount("fresh"); err == nil {
		t.Error("mount still there after unmount")
	}

	// Unknown paths, as Vault answers them.
	assertRaw(t, s, "GET", "/v1/sys/nothing-here", s.RootToken(), nil, 404, "1 error occurred:\n\t* unsupported path\n\n")
	assertRaw(t, s, "GET", "/v1/auth/token/nothing-here", s.RootToken(), nil, 404, "1 error occurred:\n\t* unsupported path\n\n")
	if status, body, _ := rawDo(t, s, "GET", "/nothing", "", nil, ""); status != 404 || !reflect.DeepEqual(errorsOf(body), []string{}) {
		t.Errorf("GET /nothing: %d %v", status, body)
	}
	// The mount path without its slash is the mount's root.
	if status, body, _ := rawDo(t, s, "GET", "/v1/kv", s.RootToken(), nil, ""); status != 404 ||
		!strings.Contains(body["warnings"].([]any)[0].(string), "Invalid path for a versioned K/V secrets engine") {
		t.Errorf("GET /v1/kv: %d %v", status, body)
	}
	if status, _, _ := rawDo(t, s, "GET", "/v1/kv/data/x?list=maybe", s.RootToken(), nil, ""); status != 400 {
		t.Errorf("bad list parameter: %d", status)
	}
	if status, _, _ := rawDo(t, s, "PUT", "/v1/kv/data/x", s.RootToken(), nil, "{not json"); status != 400 {
		t.Errorf("bad JSON: %d", status)
	}
	if status, _, _ := rawDo(t, s, "PATCH", "/v1/kv/data/x", s.RootToken(), map[string]string{"Content-Type": "application/json"}, "{}"); status != 415 {
		t.Errorf("PATCH with the wrong content type: %d", status)
	}
}

func TestNamespace(t *testing.T) {
	s := start(t, Options{Namespace: "team"})
	creds := map[string]any{"role_id": s.RoleID(), "secret_id": s.SecretID()}

	// In the root namespace there is no AppRole mount: an unauthenticated
	// request to an unknown path is refused before routing.
	_, err := client(t, s, "").Logical().Write("auth/approle/login", creds)
	responseError(t, err, 403, "permission denied")

	c := client(t, s, "")
	c.SetNamespace("team")
	sec, err := c.Logical().Write("auth/approle/login", creds)
	if err != nil {
		t.Fatal(err)
	}
	tok := sec.Auth.ClientToken
	if !strings.HasPrefix(tok, "hvs.") || strings.Count(tok, ".") != 2 {
		t.Errorf("namespaced token %q lacks the namespace suffix", tok)
	}
	c.SetToken(tok)
	if _, err := c.KVv2("kv").Put(context.Background(), "lab/a", map[string]any{"v": "1"}); err != nil {
		t.Fatal(err)
	}
	if d, ok := s.Secret("kv", "lab/a"); !ok || d["v"] != "1" {
		t.Errorf("Secret in namespace = %v %v", d, ok)
	}
	status, _, hdr := rawDo(t, s, "GET", "/v1/kv/data/lab/a", tok, map[string]string{"X-Vault-Namespace": "team/"}, "")
	if status != 200 || hdr.Get("X-Vault-Namespace") != "team/" {
		t.Errorf("read with namespace header: %d %v", status, hdr)
	}
	// The namespace may also lead the path.
	if status, _, _ := rawDo(t, s, "GET", "/v1/team/kv/data/lab/a", tok, nil, ""); status != 200 {
		t.Errorf("read with the namespace in the path: %d", status)
	}

	// The same token outside its namespace, and a wrong namespace.
	noNS := client(t, s, tok)
	_, err = noNS.Logical().Read("kv/data/lab/a")
	responseError(t, err, 403, "1 error occurred:\n\t* permission denied\n\n")
	assertRaw(t, s, "GET", "/v1/kv/data/lab/a", s.RootToken(), map[string]string{"X-Vault-Namespace": "elsewhere"},
		404, `no handler for route "elsewhere/kv/data/lab/a". route entry not found.`)

	// The root token reaches into the namespace.
	root := client(t, s, s.RootToken())
	root.SetNamespace("team")
	if got, err := root.KVv2("kv").Get(context.Background(), "lab/a"); err != nil || got.Data["v"] != "1" {
		t.Errorf("root token in namespace: %+v %v", got, err)
	}
}

func TestTLS(t *testing.T) {
	s := start(t, Options{TLS: true})
	if !strings.HasPrefix(s.URL(), "https://127.0.0.1:") {
		t.Fatalf("URL %s", s.URL())
	}
	if _, err := client(t, s, "").Sys().Health(); err != nil {
		t.Fatalf("health over TLS with the CA: %v", err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := s.WriteCAFile(caFile); err != nil {
		t.Fatal(err)
	}
	cfg := vault.DefaultConfig()
	cfg.Address = s.URL()
	cfg.MaxRetries = 0
	if err := cfg.ConfigureTLS(&vault.TLSConfig{CACert: caFile}); err != nil {
		t.Fatal(err)
	}
	c, err := vault.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Sys().Health(); err != nil {
		t.Errorf("health with CA file: %v", err)
	}

	// Without the CA the system roots do not trust the server.
	cfg = vault.DefaultConfig()
	cfg.Address = s.URL()
	cfg.MaxRetries = 0
	c, err = vault.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Sys().Health()
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Errorf("health without the CA: %v, want an unknown-authority error", err)
	}

	plain := start(t, Options{})
	if plain.CAPEM() != nil || plain.WriteCAFile(caFile) == nil {
		t.Error("plain HTTP server has a CA")
	}
}

func TestSwitches(t *testing.T) {
	s := start(t, Options{})
	c := login(t, s)
	ctx := context.Background()
	if _, err := c.KVv2("kv").Put(ctx, "a", map[string]any{"x": "y"}); err != nil {
		t.Fatal(err)
	}

	s.Deny("/v1/kv/data/", 403)
	_, err := c.KVv2("kv").Get(ctx, "a")
	responseError(t, errors.Unwrap(err), 403, "permission denied")
	s.Deny("/v1/kv/", 503)
	_, err = c.KVv2("kv").Get(ctx, "a")
	responseError(t, errors.Unwrap(err), 403, "permission denied") // longest prefix wins
	_, err = c.Logical().Read("kv/metadata/a")
	responseError(t, err, 503, "Vault is sealed")
	s.Deny("/v1/kv/data/", 0)
	s.Deny("/v1/kv/", 0)
	if _, err := c.KVv2("kv").Get(ctx, "a"); err != nil {
		t.Errorf("after clearing Deny: %v", err)
	}

	s.SetLatency(200 * time.Millisecond)
	t0 := time.Now()
	if _, err := c.Sys().Health(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d < 200*time.Millisecond {
		t.Errorf("request took %v with 200ms latency", d)
	}
	s.SetLatency(0)

	url := s.URL()
	s.SetDown(true)
	_, err = c.Sys().Health()
	if err == nil || !isConnRefused(err) {
		t.Errorf("health while down: %v, want connection refused", err)
	}
	s.SetDown(false)
	if s.URL() != url {
		t.Errorf("URL changed from %s to %s", url, s.URL())
	}
	if _, err := c.KVv2("kv").Get(ctx, "a"); err != nil {
		t.Errorf("after SetDown(false): %v", err)
	}

	reqs := s.Requests()
	if len(reqs) == 0 {
		t.Fatal("no requests recorded")
	}
	last := reqs[len(reqs)-1]
	if last.Method != "GET" || last.Path != "/v1/kv/data/a" || last.Status != 200 || !last.TokenPresent {
		t.Errorf("last request = %+v", last)
	}
	var sawDenied bool
	for _, r := range reqs {
		if r.Path == "/v1/kv/data/a" && r.Status == 403 {
			sawDenied = true
		}
	}
	if !sawDenied {
		t.Error("denied request not recorded")
	}
}

func isConnRefused(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && strings.Contains(err.Error(), "connection refused")
}

func TestRemount(t *testing.T) {
	s := start(t, Options{Mounts: map[string]int{"kv": 1}})
	c := login(t, s)
	ctx := context.Background()
	if err := c.KVv1("kv").Put(ctx, "lab/a", map[string]any{"v": "1"}); err != nil {
		t.Fatal(err)
	}
	s.Remount("kv", 2) // Vault's v1 -> v2 upgrade keeps the data as version 1
	got, err := c.KVv2("kv").Get(ctx, "lab/a")
	if err != nil || got.Data["v"] != "1" || got.VersionMetadata.Version != 1 {
		t.Errorf("after upgrade: %+v %v", got, err)
	}
	s.Remount("kv", 0)
	// The default policy follows the mounts, so the path is simply denied.
	_, err = c.Logical().Read("kv/data/lab/a")
	responseError(t, err, 403, "1 error occurred:\n\t* permission denied\n\n")
	assertRaw(t, s, "GET", "/v1/kv/data/lab/a", s.RootToken(), nil, 404, `no handler for route "kv/data/lab/a". route entry not found.`)
	s.Remount("kv", 2)
	if _, ok := s.Secret("kv", "lab/a"); ok {
		t.Error("data survived removing the mount")
	}
}
