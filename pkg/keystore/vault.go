package keystore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/minio/kes"
	"github.com/spf13/pflag"

	"github.com/sselab/sselab/internal/fsutil"
	"github.com/sselab/sselab/pkg/labdir"
	"github.com/sselab/sselab/pkg/vault"
)

// KindVault is the kind of a keystore in Vault or OpenBao.
const KindVault = "vault"

// VaultCache is KES's key cache when the keys live in Vault. A key stays
// in memory for up to 15 minutes while Vault is reachable (5 if nobody
// uses it), so KES asks Vault rarely. When Vault is sealed or down, KES
// notices within 10 seconds, stops evicting, and serves the keys it holds
// for up to an hour: reads and writes of recently used keys go on through
// a short Vault outage. Keys KES has not cached fail until Vault is back.
var VaultCache = kes.CacheConfig{
	Expiry:        15 * time.Minute,
	ExpiryUnused:  5 * time.Minute,
	ExpiryOffline: time.Hour,
}

// vaultWatchEvery is how often a running lab asks Vault whether it can
// still serve the keys.
const vaultWatchEvery = 2 * time.Second

// vaultKind keeps the keys in a KV engine of HashiCorp Vault or OpenBao,
// through vault.KeyStore, which stores them exactly as KES's own Vault
// keystore does and keeps its token alive for any token lifetime.
type vaultKind struct {
	flags vault.Config
	// approle and k8s collect their flags; a login is given when any of
	// its flags is.
	approle vault.AppRole
	k8s     vault.Kubernetes
	// secretFile is --vault-approle-secret-file.
	secretFile string
}

func (*vaultKind) Name() string { return KindVault }

func (*vaultKind) Usage() string {
	return "Vault (with --kms vault; remembered, so a later 'up' needs none of them)"
}

func (k *vaultKind) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&k.flags.Endpoint, "vault-endpoint", "", "Vault's address, a `URL` such as https://127.0.0.1:8200")
	fs.StringVar(&k.flags.Engine, "vault-engine", "", "mount `PATH` of the KV secrets engine (default "+vault.DefaultEngine+")")
	fs.StringVar(&k.flags.KVVersion, "vault-kv-version", "", "the engine's version, `v1|v2` (default: as mounted)")
	fs.StringVar(&k.flags.Prefix, "vault-prefix", "", "`PATH` under the engine that holds the keys (default none)")
	fs.StringVar(&k.flags.Namespace, "vault-namespace", "", "Vault Enterprise / OpenBao namespace `NS`")
	fs.StringVar(&k.flags.CAFile, "vault-ca", "", "`FILE` with the CA certificate(s) of Vault's TLS certificate (default: system roots)")
	fs.StringVar(&k.approle.ID, "vault-approle-id", "", "AppRole role_id `ID` KES logs in with")
	fs.StringVar(&k.secretFile, "vault-approle-secret-file", "", "`FILE` with the AppRole secret_id (or set $"+vault.SecretEnv+"); sselab keeps a copy in DIR/vault/secret-id (0600)")
	fs.StringVar(&k.k8s.Role, "vault-k8s-role", "", "log in with Kubernetes auth instead, as this Vault `ROLE`")
	fs.StringVar(&k.k8s.JWTFile, "vault-k8s-jwt", "", "service account token `FILE` (default the pod's token)")
}

// given returns the Vault settings the flags give; empty fields were not
// given.
func (k *vaultKind) given() vault.Config {
	c := k.flags
	if k.approle != (vault.AppRole{}) || k.secretFile != "" {
		a := k.approle
		c.AppRole = &a
	}
	if k.k8s != (vault.Kubernetes{}) {
		k8s := k.k8s
		c.Kubernetes = &k8s
	}
	return c
}

func (k *vaultKind) Merge(ks *labdir.Keystore) error {
	ks.KMS = KindVault
	if ks.Vault == nil {
		ks.Vault = &vault.Config{}
	}
	given := k.given()
	mergeVault(ks.Vault, &given)
	ks.Vault.Normalize()
	for _, p := range []*string{&ks.Vault.CAFile, kubernetesJWT(ks.Vault)} {
		if p != nil && *p != "" {
			abs, err := filepath.Abs(*p)
			if err != nil {
				return fmt.Errorf("keystore: %s: %w", *p, err)
			}
			*p = abs
		}
	}
	return nil
}

// mergeVault sets each field of dst that src gives.
func mergeVault(dst, src *vault.Config) {
	pick := func(dst *string, given string) {
		if given != "" {
			*dst = given
		}
	}
	pick(&dst.Endpoint, src.Endpoint)
	pick(&dst.Engine, src.Engine)
	pick(&dst.KVVersion, src.KVVersion)
	pick(&dst.Prefix, src.Prefix)
	pick(&dst.Namespace, src.Namespace)
	pick(&dst.CAFile, src.CAFile)
	switch {
	case src.AppRole != nil:
		if dst.AppRole == nil {
			dst.AppRole = &vault.AppRole{}
		}
		pick(&dst.AppRole.ID, src.AppRole.ID)
		pick(&dst.AppRole.Engine, src.AppRole.Engine)
		dst.Kubernetes = nil
	case src.Kubernetes != nil:
		if dst.Kubernetes == nil {
			dst.Kubernetes = &vault.Kubernetes{}
		}
		pick(&dst.Kubernetes.Role, src.Kubernetes.Role)
		pick(&dst.Kubernetes.JWTFile, src.Kubernetes.JWTFile)
		pick(&dst.Kubernetes.Engine, src.Kubernetes.Engine)
		dst.AppRole = nil
	}
}

func kubernetesJWT(c *vault.Config) *string {
	if c.Kubernetes == nil {
		return nil
	}
	return &c.Kubernetes.JWTFile
}

func (*vaultKind) Where(_ labdir.Layout, ks labdir.Keystore) string {
	v := ks.Vault
	if v == nil {
		return "Vault (not configured)"
	}
	return fmt.Sprintf("Vault %s %s/%s (namespace %q)", v.Endpoint, v.Engine, v.Prefix, v.Namespace)
}

// Open completes the settings with the AppRole secret and checks Vault
// thoroughly (vault.Preflight): each failure is one line that says what to
// fix. It sets the mounted KV version when none was given.
func (k *vaultKind) Open(ctx context.Context, ks *labdir.Keystore, env Env) (Store, error) {
	v := ks.Vault
	if v.AppRole != nil {
		secret, err := vaultSecret(env.Layout, k.secretFile, env)
		if err != nil {
			return nil, err
		}
		v.AppRole.Secret = secret
	}
	if err := v.Validate(); err != nil {
		return nil, err
	}
	report, err := vault.Preflight(ctx, v)
	if err != nil {
		return nil, err
	}
	for _, n := range report.Notes {
		fmt.Fprintln(env.Log, "sselab: note:", n)
	}
	if w := tokenWarning(report.Token); w != "" {
		fmt.Fprintln(env.Log, "sselab: warning:", w)
	}
	return &vaultStore{cfg: v, where: k.Where(env.Layout, *ks), env: env}, nil
}

// tokenWarning says what a token lifetime shorter than the outage KES's
// cache rides out (VaultCache.ExpiryOffline) means; "" if it is not.
// The lab renews and replaces its tokens itself: what a short lifetime
// risks is a login that no longer works when Vault is back.
func tokenWarning(t vault.TokenInfo) string {
	if t.TTL == 0 || t.TTL >= VaultCache.ExpiryOffline {
		return ""
	}
	life := "not renewable"
	switch l := t.Lifetime(); {
	case t.Renewable && l > 0:
		life = "renewable up to " + shortDuration(l) + ", the max TTL"
	case t.Renewable:
		life = "renewable for ever"
	}
	outage, ttl := shortDuration(VaultCache.ExpiryOffline), shortDuration(t.TTL)
	return fmt.Sprintf("the login's Vault tokens live %s (%s). KES serves cached keys through a Vault outage of up to %s, but a token expires in an outage longer than %s, and the lab must then log in again when Vault is back: keep the secret_id valid (secret_id_ttl, secret_id_num_uses), or give the role token_ttl=%s or more",
		ttl, life, outage, ttl, outage)
}

// shortDuration writes d without zero minutes and seconds: 1h, not 1h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// vaultSecret finds the AppRole secret_id: the --vault-approle-secret-file,
// else $SSELAB_VAULT_APPROLE_SECRET, else the copy remembered in DIR. A
// secret file others can read is used, with a warning.
func vaultSecret(l labdir.Layout, file string, env Env) (string, error) {
	read := func(p string) (string, error) {
		data, err := os.ReadFile(p)
		if err != nil {
			return "", err
		}
		secret := strings.TrimSpace(string(data))
		if secret == "" {
			return "", fmt.Errorf("%s is empty", p)
		}
		return secret, nil
	}
	if file != "" {
		secret, err := read(file)
		if err != nil {
			return "", fmt.Errorf("keystore: --vault-approle-secret-file: %w", err)
		}
		if fi, err := os.Stat(file); err == nil && !fsutil.Private(fi) {
			fmt.Fprintf(env.Log, "sselab: warning: %s (the AppRole secret_id) can be read by other users; chmod 600 it\n", file)
		}
		return secret, nil
	}
	if secret := strings.TrimSpace(os.Getenv(vault.SecretEnv)); secret != "" {
		return secret, nil
	}
	secret, err := read(l.VaultSecretFile())
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("keystore: %w", err)
	}
	return secret, nil
}

// Forget removes the AppRole secret kept in DIR: the lab no longer uses
// Vault.
func (*vaultKind) Forget(l labdir.Layout) error { return removeVaultSecret(l) }

// removeVaultSecret removes DIR/vault/secret-id, if it is there.
func removeVaultSecret(l labdir.Layout) error {
	if err := os.Remove(l.VaultSecretFile()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("keystore: %w", err)
	}
	return nil
}

// vaultStore is the Vault keystore of one lab. While the lab runs it
// watches Vault and says in the lab's log when Vault stops or starts
// serving the keys.
type vaultStore struct {
	cfg   *vault.Config
	where string
	env   Env

	mu    sync.Mutex
	watch *vault.Watcher  // nil until Connect
	keys  *vault.KeyStore // nil until Connect
}

// Connect logs in to Vault (vault.Connect). The keystore watches the
// seal state and keeps its token alive until KES closes it, for the
// lab's lifetime, not ctx's.
func (s *vaultStore) Connect(ctx context.Context) (kes.KeyStore, error) {
	if s.cfg.AppRole != nil {
		s.cfg.SecretFile = s.env.Layout.VaultSecretFile()
	}
	logf := func(format string, args ...any) {
		fmt.Fprintf(s.env.Log, time.Now().Format(time.DateTime)+" "+format+"\n", args...)
	}
	ks, err := vault.Connect(ctx, s.cfg, logf)
	if err != nil {
		return nil, fmt.Errorf("keystore: KES cannot use Vault at %s: %w", s.cfg.Endpoint, err)
	}
	s.env.Step("KES keeps its keys in Vault: %s", s.cfg.Where())
	w := vault.Watch(s.cfg, vaultWatchEvery, s.logChange)
	s.mu.Lock()
	s.watch, s.keys = w, ks
	s.mu.Unlock()
	return &closeHook{KeyStore: ks, close: w.Stop}, nil
}

// logChange says in the lab's log that Vault stopped or started serving.
func (s *vaultStore) logChange(_, cur vault.Health) {
	stamp := time.Now().Format(time.DateTime)
	if cur.OK() {
		fmt.Fprintf(s.env.Log, "%s vault: Vault at %s is %s again; KES reads and writes keys there again\n", stamp, s.cfg.Endpoint, cur.State())
		return
	}
	fmt.Fprintf(s.env.Log, "%s %s; KES serves only the keys it has cached (for up to %s) until it is back\n", stamp, cur.Error, VaultCache.ExpiryOffline)
}

func (s *vaultStore) Cache() kes.CacheConfig { return VaultCache }
func (s *vaultStore) Keys() []string         { return nil }

func (s *vaultStore) Summary() labdir.Summary {
	return labdir.Summary{Phrase: "keys in Vault", Rows: [][2]string{{"Vault", s.cfg.Where()}}}
}

// Keep keeps the AppRole secret_id in DIR (0600) so that a later `up`
// needs no flags; with Kubernetes login it removes it.
func (s *vaultStore) Keep() error {
	l := s.env.Layout
	if s.cfg.AppRole == nil {
		return removeVaultSecret(l)
	}
	if err := fsutil.MkdirPrivate(filepath.Dir(l.VaultSecretFile())); err != nil {
		return err
	}
	return fsutil.WriteFile(l.VaultSecretFile(), []byte(s.cfg.AppRole.Secret+"\n"), fsutil.PrivatePerm)
}

// Health asks Vault now and adds how the keystore's login stands: a
// failing login fails the check. The last error seen while the lab ran
// stays in the report after Vault recovered.
func (s *vaultStore) Health(ctx context.Context) labdir.KeystoreHealth {
	h := vault.Check(ctx, s.cfg)
	s.mu.Lock()
	w, keys := s.watch, s.keys
	s.mu.Unlock()
	if w != nil {
		last := w.Health()
		h.LastError, h.LastErrorAt = last.LastError, last.LastErrorAt
	}
	if keys != nil {
		h = h.WithAuth(keys.Auth())
	}
	return labdir.KeystoreHealth{
		Kind: KindVault, Where: s.where, OK: h.OK(), State: h.State(),
		Error: strings.TrimPrefix(h.Error, "vault: "), Vault: &h,
	}
}

// closeHook is a keystore that also runs close when KES closes it.
type closeHook struct {
	kes.KeyStore
	close func()
}

func (c *closeHook) Close() error {
	c.close()
	return c.KeyStore.Close()
}
