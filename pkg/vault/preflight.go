package vault

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
)

// Report is what Preflight learned about Vault.
type Report struct {
	// Version is Vault's (or OpenBao's) version.
	Version string
	// KVVersion is the version of the KV engine at the configured path.
	KVVersion string
	// Standby is set when the endpoint is a standby node that forwards to
	// a reachable active node.
	Standby bool
	// Token is what the test login's token says about the tokens the
	// login issues.
	Token TokenInfo
	// Notes are things worth telling the user that are not failures.
	Notes []string
}

// TokenInfo is the lifetime of the tokens a login issues, as the role's
// token settings (token_ttl, token_max_ttl, token_period) make it.
type TokenInfo struct {
	// TTL is the lifetime of a new token: the role's token_ttl, or its
	// period for a periodic token. Zero: the token does not expire.
	TTL time.Duration
	// MaxTTL is how long renewals can keep a token alive, counted from
	// the login; zero for a periodic token without an explicit max TTL,
	// which renewals keep alive for ever.
	MaxTTL time.Duration
	// Period is the role's token_period; zero for a token that is not
	// periodic.
	Period time.Duration
	// Renewable reports whether the token can be renewed at all.
	Renewable bool
}

// Lifetime is how long one token can serve: its max TTL when renewals
// can stretch it that far, else its TTL; zero for no limit.
func (t TokenInfo) Lifetime() time.Duration {
	switch {
	case !t.Renewable:
		return t.TTL
	case t.Period > 0 && t.MaxTTL == 0:
		return 0
	}
	return t.MaxTTL
}

// newClient returns a Vault API client for c, configured as KES
// configures its own (same TLS roots, same namespace), without retries:
// preflight answers at once.
func newClient(c *Config, timeout time.Duration) (*vaultapi.Client, error) {
	conf := vaultapi.DefaultConfig()
	if conf.Error != nil {
		return nil, fmt.Errorf("vault: %w", conf.Error)
	}
	conf.Address = c.Endpoint
	conf.MaxRetries = 0
	conf.Timeout = timeout
	if err := conf.ConfigureTLS(&vaultapi.TLSConfig{CACert: c.CAFile, ClientCert: c.ClientCert, ClientKey: c.ClientKey}); err != nil {
		return nil, fmt.Errorf("vault: --vault-ca %s: %w", c.CAFile, err)
	}
	client, err := vaultapi.NewClient(conf)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	client.ClearToken() // never a stray $VAULT_TOKEN: KES logs in itself
	if c.Namespace != "" {
		// Without one, $VAULT_NAMESPACE applies, as it does to KES.
		client.SetNamespace(c.Namespace)
	}
	return client, nil
}

// Preflight checks, before anything starts, that KES will be able to keep
// the lab's keys in Vault: Vault answers and is trusted, initialized,
// unsealed and active (or forwards to an active node); the login works;
// the KV engine is mounted with the right version; and the policy allows
// create, read, list and delete under the prefix, which it proves with a
// scratch entry that it removes again.
//
// If c.KVVersion is empty it is set to the mounted version. Each error is
// one line that says what to do.
func Preflight(ctx context.Context, c *Config) (*Report, error) {
	client, err := newClient(c, 10*time.Second)
	if err != nil {
		return nil, err
	}
	r := &Report{}
	if err := checkHealth(ctx, c, client, r); err != nil {
		return nil, err
	}
	if _, err := login(ctx, c, client); err != nil {
		return nil, err
	}
	// The test login's token is not the keystore's: it goes once the
	// checks are done, whatever they found.
	defer client.Auth().Token().RevokeSelfWithContext(context.WithoutCancel(ctx), "") //nolint:errcheck // it expires anyway
	if err := checkToken(ctx, c, client, r); err != nil {
		return nil, err
	}
	if err := checkMount(ctx, c, client, r); err != nil {
		return nil, err
	}
	if err := probePolicy(ctx, c, client); err != nil {
		return nil, err
	}
	return r, nil
}

// checkHealth asks sys/health whether Vault can serve requests.
func checkHealth(ctx context.Context, c *Config, client *vaultapi.Client, r *Report) error {
	h, err := rootClient(client).Sys().HealthWithContext(ctx)
	if err != nil {
		return reachError(c, err)
	}
	r.Version = h.Version
	switch {
	case !h.Initialized:
		return fmt.Errorf("vault: Vault at %s is not initialized; initialize it with 'vault operator init' (or 'bao operator init'), unseal it, and run again", c.Endpoint)
	case h.Sealed:
		return sealedError(c.Endpoint)
	case h.Standby && !h.PerformanceStandby:
		leader, err := rootClient(client).Sys().LeaderWithContext(ctx)
		if err != nil {
			return fmt.Errorf("vault: Vault at %s is a standby node and cannot name its active node (%s); point --vault-endpoint at the active node", c.Endpoint, short(err))
		}
		if err := checkActive(ctx, c, leader.LeaderAddress); err != nil {
			return err
		}
		r.Standby = true
		r.Notes = append(r.Notes, fmt.Sprintf("%s is a standby node; it forwards to the active node %s", c.Endpoint, leader.LeaderAddress))
	}
	return nil
}

// sealedError says that Vault is sealed and how to unseal it.
func sealedError(endpoint string) error {
	return fmt.Errorf("vault: Vault at %s is sealed; unseal it with 'vault operator unseal' / 'bao operator unseal' and run again", endpoint)
}

// checkActive checks that the active node a standby names answers as an
// unsealed active node.
func checkActive(ctx context.Context, c *Config, leader string) error {
	if leader == "" {
		return fmt.Errorf("vault: Vault at %s is a standby node and knows no active node; unseal or start the active node, or point --vault-endpoint at it", c.Endpoint)
	}
	lc := *c
	lc.Endpoint = leader
	client, err := newClient(&lc, 5*time.Second)
	if err != nil {
		return err
	}
	h, err := rootClient(client).Sys().HealthWithContext(ctx)
	if err == nil && (h.Sealed || h.Standby) {
		err = errors.New("it is sealed or a standby itself")
	}
	if err != nil {
		return fmt.Errorf("vault: Vault at %s is a standby node and its active node %s does not answer (%s); point --vault-endpoint at a working active node", c.Endpoint, leader, short(err))
	}
	return nil
}

// reachError explains why Vault could not be asked at all: TLS trust, the
// wrong scheme, or no answer.
func reachError(c *Config, err error) error {
	var (
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		invalid   x509.CertificateInvalidError
		verifyErr *tls.CertificateVerificationError
		recordErr tls.RecordHeaderError
		respErr   *vaultapi.ResponseError
		caHint    = "pass --vault-ca FILE with the CA certificate that signed it"
	)
	if c.CAFile != "" {
		caHint = "check that --vault-ca " + c.CAFile + " holds the CA that signed it"
	}
	switch {
	case errors.As(err, &hostErr):
		return fmt.Errorf("vault: Vault's TLS certificate at %s does not name that host (%s); use a host name the certificate names in --vault-endpoint", c.Endpoint, hostErr.Error())
	case errors.As(err, &unknownCA), errors.As(err, &verifyErr), errors.As(err, &invalid):
		return fmt.Errorf("vault: Vault's TLS certificate at %s is not trusted (%s); %s", c.Endpoint, short(err), caHint)
	case errors.As(err, &recordErr), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return fmt.Errorf("vault: %s speaks plain HTTP, not TLS; use --vault-endpoint http://%s", c.Endpoint, strings.TrimPrefix(c.Endpoint, "https://"))
	case errors.As(err, &respErr) && respErr.StatusCode == http.StatusBadRequest && strings.Contains(strings.Join(respErr.Errors, " "), "HTTPS"):
		return fmt.Errorf("vault: %s speaks TLS; use --vault-endpoint https://%s", c.Endpoint, strings.TrimPrefix(c.Endpoint, "http://"))
	case errors.As(err, &respErr):
		return fmt.Errorf("vault: %s answered sys/health with HTTP %d (%s); is --vault-endpoint a Vault or OpenBao server?", c.Endpoint, respErr.StatusCode, firstError(respErr))
	}
	return fmt.Errorf("vault: cannot reach Vault at %s (%s); check --vault-endpoint and that Vault is running", c.Endpoint, short(err))
}

// login logs in with the configured method, sets the client's token and
// returns the login's answer, whose Auth holds the token's lease.
func login(ctx context.Context, c *Config, client *vaultapi.Client) (*vaultapi.Secret, error) {
	var (
		mount, what, fix string
		body             map[string]any
	)
	switch {
	case c.AppRole != nil:
		mount, what = c.AppRole.Engine, "AppRole"
		fix = "check --vault-approle-id and the secret_id (--vault-approle-secret-file or $" + SecretEnv + ")"
		body = map[string]any{"role_id": c.AppRole.ID, "secret_id": c.AppRole.Secret}
	case c.Kubernetes != nil:
		jwt, err := os.ReadFile(c.Kubernetes.JWTFile)
		if err != nil {
			return nil, fmt.Errorf("vault: the Kubernetes service account token: %w; pass --vault-k8s-jwt FILE", err)
		}
		mount, what = c.Kubernetes.Engine, "Kubernetes"
		fix = "check --vault-k8s-role and that the role is bound to this service account"
		body = map[string]any{"role": c.Kubernetes.Role, "jwt": strings.TrimSpace(string(jwt))}
	}
	secret, err := client.Logical().WriteWithContext(ctx, path.Join("auth", mount, "login"), body)
	var respErr *vaultapi.ResponseError
	switch {
	case errors.As(err, &respErr) && isNoRoute(respErr):
		return nil, fmt.Errorf("vault: Vault at %s has no %s login at auth/%s; enable it ('vault auth enable %s') or fix the mount path", c.Endpoint, what, mount, strings.ToLower(what))
	case errors.As(err, &respErr) && respErr.StatusCode == http.StatusServiceUnavailable:
		return nil, sealedOr(c, respErr)
	case err != nil && respErr == nil:
		return nil, reachError(c, err)
	case err != nil:
		return nil, refusedError{fmt.Errorf("vault: Vault refused the %s login at auth/%s (%s); %s, and that %s auth is enabled at auth/%s", what, mount, short(err), fix, what, mount)}
	case secret == nil || secret.Auth == nil || secret.Auth.ClientToken == "":
		return nil, fmt.Errorf("vault: the %s login at %s returned no token; %s", what, c.Endpoint, fix)
	}
	client.SetToken(secret.Auth.ClientToken)
	return secret, nil
}

// refusedError is a login Vault answered with a refusal (wrong or expired
// credentials), as opposed to one that did not reach Vault.
type refusedError struct{ error }

func (e refusedError) Unwrap() error { return e.error }

// foreverIncrement asks a renewal for more than any Vault grants
// (50 years, in seconds; it must fit a 32-bit int): the answer is the
// time the token's max TTL leaves.
const foreverIncrement = 50 * 365 * 24 * 60 * 60

// checkToken reads the test login's token: its TTL and period, and its
// max TTL by asking a renewal for more than Vault grants. A token with a
// use limit is refused: KES spends one use per request.
func checkToken(ctx context.Context, c *Config, client *vaultapi.Client, r *Report) error {
	noDefault := func(what string) {
		r.Notes = append(r.Notes, fmt.Sprintf("the login's token may not %s (its policies lack Vault's default policy): sselab cannot tell its lifetime and logs in again whenever it expires", what))
	}
	self, err := client.Auth().Token().LookupSelfWithContext(ctx)
	if isForbidden(err) {
		noDefault("look itself up")
		return nil
	}
	if err != nil {
		return fmt.Errorf("vault: looking up the login's token on Vault at %s: %s", c.Endpoint, short(err))
	}
	// Vault shows the uses left, or -1 when this lookup used the last.
	if uses, _ := self.TokenRemainingUses(); self.Data["num_uses"] != nil && uses != 0 {
		return fmt.Errorf("vault: the login's tokens at %s have a use limit (token_num_uses), and KES spends a use on every request; set token_num_uses=0 on the role ('vault write auth/%s/role/ROLE token_num_uses=0') and run again", c.Endpoint, loginMount(c))
	}
	seconds := func(field string) time.Duration {
		n, _ := self.Data[field].(json.Number) // absent: 0
		v, _ := n.Int64()
		return time.Duration(v) * time.Second
	}
	renewable, _ := self.TokenIsRenewable()
	t := TokenInfo{TTL: seconds("creation_ttl"), Period: seconds("period"), Renewable: renewable}
	if t.Period > 0 {
		t.TTL = t.Period
	}
	if renewable && t.TTL > 0 {
		renewed, err := client.Auth().Token().RenewSelfWithContext(ctx, foreverIncrement)
		switch {
		case isForbidden(err):
			noDefault("renew itself")
			t.Renewable = false
		case err != nil:
			return fmt.Errorf("vault: renewing the login's token on Vault at %s: %s", c.Endpoint, short(err))
		case renewed.Auth == nil:
			return fmt.Errorf("vault: Vault at %s renewed the login's token without saying for how long", c.Endpoint)
		}
		if t.Renewable {
			t.MaxTTL = time.Duration(renewed.Auth.LeaseDuration) * time.Second
		}
		if t.Period > 0 && t.MaxTTL == t.Period {
			t.MaxTTL = 0 // a periodic token renews to its period, for ever
		}
	}
	r.Token = t
	return nil
}

// isForbidden reports Vault's 403.
func isForbidden(err error) bool {
	var respErr *vaultapi.ResponseError
	return errors.As(err, &respErr) && respErr.StatusCode == http.StatusForbidden
}

// loginMount is the mount path of the configured login.
func loginMount(c *Config) string {
	if c.Kubernetes != nil {
		return c.Kubernetes.Engine
	}
	return c.AppRole.Engine
}

// checkMount finds the KV engine at c.Engine and its version, the way the
// vault CLI does (sys/internal/ui/mounts works for any token with access
// below the mount).
func checkMount(ctx context.Context, c *Config, client *vaultapi.Client, r *Report) error {
	enable := fmt.Sprintf("'vault secrets enable -path=%s -version=2 kv'", c.Engine)
	secret, err := client.Logical().ReadWithContext(ctx, "sys/internal/ui/mounts/"+c.Engine)
	var respErr *vaultapi.ResponseError
	switch {
	case errors.As(err, &respErr) && respErr.StatusCode == http.StatusForbidden:
		return fmt.Errorf("vault: Vault at %s shows no secrets engine at %s/ to this login: either nothing is mounted there or the policy grants nothing below it; check --vault-engine, 'vault secrets list', and the policy (see README: Vault and OpenBao)", c.Endpoint, c.Engine)
	case errors.As(err, &respErr) && (respErr.StatusCode == http.StatusNotFound || respErr.StatusCode == http.StatusBadRequest):
		return fmt.Errorf("vault: no secrets engine is mounted at %s/ on Vault at %s; enable one with %s or pass --vault-engine", c.Engine, c.Endpoint, enable)
	case err != nil:
		return fmt.Errorf("vault: cannot look up the mount %s/ on Vault at %s (%s)", c.Engine, c.Endpoint, short(err))
	case secret == nil || secret.Data == nil:
		return fmt.Errorf("vault: no secrets engine is mounted at %s/ on Vault at %s; enable one with %s or pass --vault-engine", c.Engine, c.Endpoint, enable)
	}
	typ, _ := secret.Data["type"].(string)
	mountPath, _ := secret.Data["path"].(string)
	if mountPath != "" && strings.Trim(mountPath, "/") != c.Engine {
		return fmt.Errorf("vault: %s/ is inside the engine mounted at %s on Vault at %s; pass --vault-engine %s and the rest as --vault-prefix", c.Engine, mountPath, c.Endpoint, strings.Trim(mountPath, "/"))
	}
	if typ != "kv" && typ != "generic" {
		return fmt.Errorf("vault: the engine at %s/ on Vault at %s is %q, not kv; pass --vault-engine with a KV mount or enable one with %s", c.Engine, c.Endpoint, typ, enable)
	}
	mounted := KVv1
	if opts, ok := secret.Data["options"].(map[string]any); ok && fmt.Sprint(opts["version"]) == "2" {
		mounted = KVv2
	}
	if c.KVVersion != "" && c.KVVersion != mounted {
		return fmt.Errorf("vault: the KV engine at %s/ on Vault at %s is version %s, but --vault-kv-version is %s; pass --vault-kv-version %s", c.Engine, c.Endpoint, mounted[1:], c.KVVersion, mounted)
	}
	c.KVVersion, r.KVVersion = mounted, mounted
	return nil
}

// probePolicy does what KES does with a key, on a scratch entry under the
// prefix: read (absent), create, read back, list, delete. The entry is
// removed again whatever fails after it was created.
func probePolicy(ctx context.Context, c *Config, client *vaultapi.Client) (err error) {
	name := "sselab-preflight-" + strings.ToLower(rand.Text()[:10])
	value := "sselab preflight entry; safe to delete"
	entry, list := path.Join(c.Engine, c.Prefix, name), path.Join(c.Engine, c.Prefix)
	data := map[string]any{name: value}
	if c.KVVersion == KVv2 {
		entry = path.Join(c.Engine, "data", c.Prefix, name)
		list = path.Join(c.Engine, "metadata", c.Prefix)
		data = map[string]any{"options": map[string]any{"cas": 0}, "data": data}
	}
	denied := func(op, p string, err error) error {
		var respErr *vaultapi.ResponseError
		if errors.As(err, &respErr) && respErr.StatusCode == http.StatusForbidden {
			return fmt.Errorf("vault: Vault's policy for this login does not allow %s on %s; grant %s (see README: Vault and OpenBao)", op, p, PolicyHint(c))
		}
		if errors.As(err, &respErr) && respErr.StatusCode == http.StatusServiceUnavailable {
			return sealedOr(c, respErr)
		}
		return fmt.Errorf("vault: trying %s on %s on Vault at %s: %s", op, p, c.Endpoint, short(err))
	}

	if _, err := client.Logical().ReadWithContext(ctx, entry); err != nil {
		return denied("read", entry, err)
	}
	if _, err := client.Logical().WriteWithContext(ctx, entry, data); err != nil {
		return denied("create", entry, err)
	}
	defer func() {
		del := entry
		if c.KVVersion == KVv2 {
			del = path.Join(c.Engine, "metadata", c.Prefix, name)
		}
		if _, derr := client.Logical().DeleteWithContext(ctx, del); derr != nil && err == nil {
			err = fmt.Errorf("%w (the scratch entry %s stays; remove it by hand)", denied("delete", del, derr), del)
		}
	}()
	got, err := client.Logical().ReadWithContext(ctx, entry)
	if err != nil {
		return denied("read", entry, err)
	}
	if got == nil || !strings.Contains(fmt.Sprint(got.Data), value) {
		return fmt.Errorf("vault: an entry written to %s on Vault at %s cannot be read back; check --vault-kv-version", entry, c.Endpoint)
	}
	listed, err := client.Logical().ListWithContext(ctx, list)
	if err != nil {
		return denied("list", list, err)
	}
	var names []string
	if listed != nil {
		if keys, ok := listed.Data["keys"].([]any); ok {
			for _, k := range keys {
				names = append(names, fmt.Sprint(k))
			}
		}
	}
	if !slices.Contains(names, name) {
		return fmt.Errorf("vault: listing %s on Vault at %s does not show the entry just written; check --vault-prefix and --vault-kv-version", list, c.Endpoint)
	}
	return nil
}

// PolicyHint names the capabilities the policy must grant, with the paths
// for the configured KV version.
func PolicyHint(c *Config) string {
	below := func(p string) string { return path.Join(c.Engine, p, c.Prefix) + "/*" }
	if c.KVVersion == KVv2 {
		return fmt.Sprintf(`["create", "read", "update", "delete", "list"] on %q and %q`, below("data"), below("metadata"))
	}
	return fmt.Sprintf(`["create", "read", "update", "delete", "list"] on %q`, below(""))
}

// sealedOr turns a 503 into the sealed message when Vault says it is
// sealed.
func sealedOr(c *Config, e *vaultapi.ResponseError) error {
	if strings.Contains(strings.ToLower(strings.Join(e.Errors, " ")), "sealed") {
		return sealedError(c.Endpoint)
	}
	return fmt.Errorf("vault: Vault at %s is unavailable (HTTP 503: %s); check it and run again", c.Endpoint, firstError(e))
}

// isNoRoute reports Vault's answer for a path no mount serves.
func isNoRoute(e *vaultapi.ResponseError) bool {
	msg := strings.Join(e.Errors, " ")
	return strings.Contains(msg, "no handler for route") || (e.StatusCode == http.StatusNotFound && strings.Contains(msg, "unsupported path"))
}

// rootClient returns the client without a namespace: sys/health and
// sys/leader live in the root namespace only.
func rootClient(c *vaultapi.Client) *vaultapi.Client {
	return c.WithNamespace("")
}

// firstError is the first of Vault's error strings, or the status text.
func firstError(e *vaultapi.ResponseError) string {
	for _, s := range e.Errors {
		if s = strings.TrimSpace(s); s != "" {
			return oneLine(s)
		}
	}
	return http.StatusText(e.StatusCode)
}

// short makes an error from the Vault client fit on one line: Vault's own
// message instead of the client's multi-line dump, the network cause
// instead of the whole URL error.
func short(err error) string {
	var respErr *vaultapi.ResponseError
	if errors.As(err, &respErr) {
		return fmt.Sprintf("HTTP %d: %s", respErr.StatusCode, firstError(respErr))
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = urlErr.Err
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Err != nil {
		return oneLine(opErr.Err.Error())
	}
	return oneLine(err.Error())
}

// oneLine joins the lines of s.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "*", "")), " ")
}
