package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/minio/kes"

	"github.com/sselab/sselab/embedded"
	"github.com/sselab/sselab/internal/fsutil"
	"github.com/sselab/sselab/pkg/vault"
)

// Keystores KES can keep the lab's keys in (--kms).
const (
	// KMSFS is the persistent file keystore in DIR/kes/keys, the default.
	KMSFS = "fs"
	// KMSVault is a KV engine of HashiCorp Vault or OpenBao.
	KMSVault = "vault"
)

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

// VaultOptions are the --vault-* flags of `up`. Empty fields mean "as last
// time on this directory".
type VaultOptions struct {
	vault.Config
	// SecretFile holds the AppRole secret_id. If empty, $SSELAB_VAULT_APPROLE_SECRET
	// or the secret remembered in DIR is used.
	SecretFile string
}

// mergeKMS applies the --kms, --kes-config and --vault-* options to the
// remembered settings s.
func mergeKMS(s *Settings, o Options) error {
	switch o.KMS {
	case "", KMSFS, KMSVault:
	default:
		return fmt.Errorf("lab: --kms %q: use fs (the keystore in DIR) or vault", o.KMS)
	}
	if o.KMS != "" && o.KESConfig != "" && o.KESConfig != "-" {
		return errors.New("lab: --kms and --kes-config both choose KES's keystore; pass one of them")
	}
	switch o.KESConfig {
	case "":
	case "-":
		s.KESConfig = ""
	default:
		abs, err := filepath.Abs(o.KESConfig)
		if err != nil {
			return fmt.Errorf("lab: --kes-config: %w", err)
		}
		s.KESConfig, s.KMS, s.Vault = abs, "", nil
	}
	if o.KMS != "" {
		s.KMS, s.KESConfig = o.KMS, ""
		if o.KMS == KMSFS {
			s.KMS, s.Vault = "", nil
		}
	}
	given := o.Vault != nil && (o.Vault.Config != vault.Config{} || o.Vault.SecretFile != "")
	if s.KMS != KMSVault {
		if given {
			return errors.New("lab: --vault-* flags need --kms vault")
		}
		return nil
	}
	if s.Vault == nil {
		s.Vault = &vault.Config{}
	}
	if o.Vault != nil {
		mergeVault(s.Vault, &o.Vault.Config)
	}
	s.Vault.Normalize()
	for _, p := range []*string{&s.Vault.CAFile, kubernetesJWT(s.Vault)} {
		if p != nil && *p != "" {
			abs, err := filepath.Abs(*p)
			if err != nil {
				return fmt.Errorf("lab: %s: %w", *p, err)
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

// keystoreName says where a lab with settings s keeps its keys.
func keystoreName(layout Layout, s Settings) string {
	switch {
	case s.KMS == KMSVault && s.Vault != nil:
		v := s.Vault
		return fmt.Sprintf("Vault %s %s/%s (namespace %q)", v.Endpoint, v.Engine, v.Prefix, v.Namespace)
	case s.KESConfig != "":
		return "the keystore of --kes-config " + s.KESConfig
	}
	return "the keystore in " + layout.KeyStoreDir()
}

// checkKeystoreKept refuses to start MinIO data with keys from another
// keystore than the one that encrypted it: MinIO would find its own
// configuration and every object unreadable. The keys themselves are not
// touched either way.
func checkKeystoreKept(layout Layout, old, cur Settings) error {
	was, now := keystoreName(layout, old), keystoreName(layout, cur)
	if was == now {
		return nil
	}
	if _, err := os.Stat(filepath.Join(layout.MinIODataDir(), ".minio.sys")); err != nil {
		return nil // no MinIO data yet: any keystore will do
	}
	return fmt.Errorf("lab: %s has MinIO data encrypted with keys in %s; starting it with %s would leave that data unreadable: use a new --dir for the new keystore, or start this one as before", layout.Root, was, now)
}

// vaultSecret finds the AppRole secret_id: the --vault-approle-secret-file,
// else $SSELAB_VAULT_APPROLE_SECRET, else the copy remembered in DIR. A
// secret file others can read is used, with a warning.
func vaultSecret(layout Layout, file string, warn io.Writer) (string, error) {
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
			return "", fmt.Errorf("lab: --vault-approle-secret-file: %w", err)
		}
		if fi, err := os.Stat(file); err == nil && !privateMode(fi) {
			fmt.Fprintf(warn, "sselab: warning: %s (the AppRole secret_id) can be read by other users; chmod 600 it\n", file)
		}
		return secret, nil
	}
	if secret := strings.TrimSpace(os.Getenv(vault.SecretEnv)); secret != "" {
		return secret, nil
	}
	secret, err := read(layout.VaultSecretFile())
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("lab: %w", err)
	}
	return secret, nil
}

// prepareVault completes the Vault settings with the secret and checks
// Vault before anything starts. It sets the mounted KV version when none
// was given.
func prepareVault(ctx context.Context, layout Layout, s *Settings, secretFile string, warn io.Writer) (*vault.Report, error) {
	v := s.Vault
	if v.AppRole != nil {
		secret, err := vaultSecret(layout, secretFile, warn)
		if err != nil {
			return nil, err
		}
		v.AppRole.Secret = secret
	}
	if err := v.Validate(); err != nil {
		return nil, err
	}
	return vault.Preflight(ctx, v)
}

// saveVaultSecret keeps the AppRole secret_id in DIR (0600) so that a later
// `up` needs no flags; with Kubernetes login, or none, it removes it.
func saveVaultSecret(layout Layout, s Settings) error {
	if s.KMS != KMSVault || s.Vault == nil || s.Vault.AppRole == nil {
		if err := os.Remove(layout.VaultSecretFile()); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("lab: %w", err)
		}
		return nil
	}
	if err := fsutil.MkdirPrivate(filepath.Dir(layout.VaultSecretFile())); err != nil {
		return err
	}
	return fsutil.WriteFile(layout.VaultSecretFile(), []byte(s.Vault.AppRole.Secret+"\n"), fsutil.PrivatePerm)
}

// vaultKES configures the embedded KES for the keys in Vault.
func (l *Lab) vaultKES(ctx context.Context, cfg *embedded.Config) error {
	v := l.settings.Vault
	// KES's Vault client watches the seal state and renews its token for
	// as long as this context lives: the lab's lifetime, not Up's. Stop
	// closes the keystore, which ends both.
	ks, err := v.KeyStore().Connect(context.WithoutCancel(ctx))
	if err != nil {
		return fmt.Errorf("lab: KES cannot use Vault at %s: %w", v.Endpoint, err)
	}
	l.vaultStore = ks
	cfg.KeyStore, cfg.Cache = ks, VaultCache
	l.step("KES keeps its keys in Vault: %s", v.Where())
	return nil
}

// watchVault reports in log when Vault stops or starts serving the lab.
func (l *Lab) watchVault(log io.Writer) {
	v := l.settings.Vault
	l.vaultWatch = vault.Watch(v, 2*time.Second, func(prev, cur vault.Health) {
		stamp := time.Now().Format(time.DateTime)
		if cur.OK() {
			fmt.Fprintf(log, "%s vault: Vault at %s is %s again; KES reads and writes keys there again\n", stamp, v.Endpoint, cur.State())
			return
		}
		fmt.Fprintf(log, "%s %s; KES serves only the keys it has cached (for up to %s) until it is back\n", stamp, cur.Error, VaultCache.ExpiryOffline)
	})
}
