// Package vault puts HashiCorp Vault or OpenBao behind the lab's KES: it
// keeps the lab's keys in Vault as KES's own Vault keystore does, with a
// token that stays valid through renewals and max TTLs (Connect); checks
// before anything starts that Vault can hold the lab's keys and that its
// tokens suit KES (Preflight); and watches Vault's seal state while the
// lab runs.
//
// KES stores each key as one entry of a KV secrets engine: with KV v1 at
// ENGINE/PREFIX/NAME, with KV v2 at ENGINE/data/PREFIX/NAME (listed
// through ENGINE/metadata/PREFIX). The policy of the identity KES logs in
// with must allow create, read, delete and list there.
package vault

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"
)

// KV secrets engine versions, as --vault-kv-version takes them.
const (
	KVv1 = "v1"
	KVv2 = "v2"
)

// Defaults of a Config.
const (
	DefaultEngine        = "kv"
	DefaultAppRoleEngine = "approle"
	DefaultK8sEngine     = "kubernetes"
	// DefaultK8sJWT is where Kubernetes mounts a pod's service account
	// token.
	DefaultK8sJWT = "/var/run/secrets/kubernetes.io/serviceaccount/token"
)

// SecretEnv is the environment variable that can carry the AppRole secret
// ID instead of a file. Secrets never travel on the command line.
const SecretEnv = "SSELAB_VAULT_APPROLE_SECRET"

// Config says where and how KES keeps the lab's keys in Vault. Its JSON
// form is what the lab remembers; the AppRole secret is kept apart, in a
// 0600 file, and never serialized.
type Config struct {
	// Endpoint is Vault's address, http:// or https://.
	Endpoint string `json:"endpoint"`
	// Engine is the path the KV secrets engine is mounted at.
	Engine string `json:"engine"`
	// KVVersion is KVv1 or KVv2; empty means "as mounted".
	KVVersion string `json:"kv_version,omitempty"`
	// Prefix is the path under the engine that holds the keys.
	Prefix string `json:"prefix,omitempty"`
	// Namespace is the Vault Enterprise / OpenBao namespace.
	Namespace string `json:"namespace,omitempty"`
	// CAFile is a PEM file with the CA certificates that Vault's TLS
	// certificate chains to; empty means the system's roots.
	CAFile string `json:"ca_file,omitempty"`

	// ClientCert and ClientKey are a client certificate and its key, PEM
	// files, for a Vault that wants one (only from a --kes-config file).
	ClientCert string `json:"client_cert,omitempty"`
	ClientKey  string `json:"client_key,omitempty"`

	// AppRole logs in with role_id and secret_id.
	AppRole *AppRole `json:"approle,omitempty"`
	// Kubernetes logs in with a service account token.
	Kubernetes *Kubernetes `json:"kubernetes,omitempty"`

	// SecretFile, if set, holds the AppRole secret_id: the keystore reads
	// it at every login, so that a new secret_id written there is taken
	// without a restart.
	SecretFile string `json:"-"`

	// StatusPing is how often KES asks Vault whether it is sealed.
	StatusPing time.Duration `json:"-"`
}

// AppRole is Vault's AppRole login.
type AppRole struct {
	// Engine is the auth mount path (default "approle").
	Engine string `json:"engine,omitempty"`
	// ID is the role_id.
	ID string `json:"role_id"`
	// Secret is the secret_id. It is read from a file or the environment
	// and never written to settings.
	Secret string `json:"-"`
}

// Kubernetes is Vault's Kubernetes login, for a lab that runs in a pod.
type Kubernetes struct {
	// Engine is the auth mount path (default "kubernetes").
	Engine string `json:"engine,omitempty"`
	// Role is the Vault role bound to the service account.
	Role string `json:"role"`
	// JWTFile holds the service account token.
	JWTFile string `json:"jwt_file"`
}

// Normalize fills in defaults and trims what Vault does not want: slashes
// around the engine and prefix, a trailing slash of the endpoint.
func (c *Config) Normalize() {
	c.Endpoint = strings.TrimRight(strings.TrimSpace(c.Endpoint), "/")
	c.Engine = strings.Trim(c.Engine, "/")
	if c.Engine == "" {
		c.Engine = DefaultEngine
	}
	c.Prefix = strings.Trim(c.Prefix, "/")
	c.Namespace = strings.Trim(c.Namespace, "/")
	if c.AppRole != nil && c.AppRole.Engine == "" {
		c.AppRole.Engine = DefaultAppRoleEngine
	}
	if c.Kubernetes != nil {
		if c.Kubernetes.Engine == "" {
			c.Kubernetes.Engine = DefaultK8sEngine
		}
		if c.Kubernetes.JWTFile == "" {
			c.Kubernetes.JWTFile = DefaultK8sJWT
		}
	}
	if c.StatusPing == 0 {
		c.StatusPing = 3 * time.Second
	}
}

// Validate checks the settings without talking to Vault. Each error names
// the flag that fixes it.
func (c *Config) Validate() error {
	if c.Endpoint == "" {
		return errors.New("vault: --kms vault needs --vault-endpoint, for example --vault-endpoint https://127.0.0.1:8200")
	}
	u, err := url.Parse(c.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("vault: --vault-endpoint %q is not an http:// or https:// URL; pass one like https://127.0.0.1:8200", c.Endpoint)
	}
	if u.Path != "" || u.RawQuery != "" {
		return fmt.Errorf("vault: --vault-endpoint %q has a path; pass only scheme, host and port, like %s://%s", c.Endpoint, u.Scheme, u.Host)
	}
	switch c.KVVersion {
	case "", KVv1, KVv2:
	default:
		return fmt.Errorf("vault: --vault-kv-version %q: use v1 or v2", c.KVVersion)
	}
	for _, p := range []struct{ flag, v string }{{"--vault-engine", c.Engine}, {"--vault-prefix", c.Prefix}} {
		for _, seg := range strings.Split(p.v, "/") {
			if seg == "." || seg == ".." || (seg == "" && p.v != "") || strings.ContainsAny(seg, "*+?#% ") {
				return fmt.Errorf("vault: %s %q is not a plain Vault path; use names like kv or sselab/keys", p.flag, p.v)
			}
		}
	}
	switch {
	case c.AppRole == nil && c.Kubernetes == nil:
		return errors.New("vault: --kms vault needs a login: --vault-approle-id with --vault-approle-secret-file FILE (or $" + SecretEnv + "), or --vault-k8s-role")
	case c.AppRole != nil && c.Kubernetes != nil:
		return errors.New("vault: pass either --vault-approle-id or --vault-k8s-role, not both")
	case c.AppRole != nil && c.AppRole.ID == "":
		return errors.New("vault: --vault-approle-id is empty; pass the role_id of the AppRole KES logs in with")
	case c.AppRole != nil && c.AppRole.Secret == "":
		return errors.New("vault: no AppRole secret_id: pass --vault-approle-secret-file FILE or set $" + SecretEnv + " (never on the command line)")
	case c.Kubernetes != nil && c.Kubernetes.Role == "":
		return errors.New("vault: --vault-k8s-role is empty; pass the Vault role bound to the service account")
	}
	if c.Kubernetes != nil {
		if _, err := os.Stat(c.Kubernetes.JWTFile); err != nil {
			return fmt.Errorf("vault: the Kubernetes service account token: %w; pass --vault-k8s-jwt FILE", err)
		}
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return fmt.Errorf("vault: --vault-ca: %w", err)
		}
		if !x509.NewCertPool().AppendCertsFromPEM(pem) {
			return fmt.Errorf("vault: --vault-ca %s holds no PEM certificate; pass the CA certificate that signed Vault's TLS certificate", c.CAFile)
		}
	}
	return nil
}

// Where describes where the keys live, for the summary and status.
func (c *Config) Where() string {
	s := c.Endpoint + " " + c.Engine + "/"
	if c.KVVersion == KVv2 {
		s += "data/"
	}
	if c.Prefix != "" {
		s += c.Prefix + "/"
	}
	s += " (KV " + c.KVVersion
	if c.Namespace != "" {
		s += ", namespace " + c.Namespace
	}
	return s + ")"
}
