package embedded

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/minio/kes"
	kesapi "github.com/minio/kms-go/kes"
)

// Defaults used by DefaultConfig.
const (
	// DefaultAddress is where KES listens unless told otherwise.
	DefaultAddress = "127.0.0.1:7373"

	// DefaultCacheExpiry is how long a key stays in KES's memory cache.
	DefaultCacheExpiry = 5 * time.Minute

	// DefaultCacheExpiryUnused evicts keys nobody used for this long.
	DefaultCacheExpiryUnused = 30 * time.Second

	// DefaultCacheExpiryOffline keeps cached keys usable for this long
	// while the keystore is unreachable (relevant with Vault behind KES).
	DefaultCacheExpiryOffline = 5 * time.Minute

	// DefaultReadyTimeout bounds how long Start waits for KES to serve.
	DefaultReadyTimeout = 10 * time.Second
)

// Policy names bound to the lab's two client identities.
const (
	PolicyMinIO    = "minio"
	PolicyOperator = "operator"
)

// MinIORoutes are exactly the KES API routes a MinIO server calls: key
// creation and description at start, generate/decrypt for every object,
// encrypt for its IAM and config data, HMAC to derive secrets, list for
// `mc admin kms key list`, and status/API/metrics for health and
// `mc admin kms key status`. Delete and import are missing on purpose:
// those are operator actions, and a compromised MinIO must not be able to
// destroy keys.
var MinIORoutes = []string{
	"/version",
	"/v1/status",
	"/v1/api",
	"/v1/metrics",
	"/v1/key/create/*",
	"/v1/key/describe/*",
	"/v1/key/generate/*",
	"/v1/key/decrypt/*",
	"/v1/key/encrypt/*",
	"/v1/key/hmac/*",
	"/v1/key/list/*",
}

// OperatorRoutes are the routes sselab's own commands use: every key
// operation, status, and read access to policies, identities and logs.
var OperatorRoutes = []string{
	"/version",
	"/v1/status",
	"/v1/ready",
	"/v1/api",
	"/v1/metrics",
	"/v1/key/*",
	"/v1/policy/describe/*",
	"/v1/policy/read/*",
	"/v1/policy/list/*",
	"/v1/identity/describe/*",
	"/v1/identity/list/*",
	"/v1/log/error",
	"/v1/log/audit",
}

// Config configures an embedded KES server. Build one with DefaultConfig
// and change what you need; Validate reports what is missing.
type Config struct {
	// Address is the TCP address to listen on when Listener is nil.
	// Port 0 picks a free port. Default: DefaultAddress.
	Address string

	// Listener, if set, is used instead of listening on Address. The
	// server takes ownership and closes it.
	Listener net.Listener

	// TLS is the server's TLS configuration: its certificate, and the
	// CA pool client certificates must chain to. ClientAuth is forced to
	// tls.RequireAndVerifyClientCert and MinVersion to TLS 1.2. Required.
	TLS *tls.Config

	// KeyStoreDir is the directory of the persistent file keystore. It is
	// created with mode 0700 if missing. Required unless KeyStore is set.
	KeyStoreDir string

	// KeyStore, if set, replaces the file keystore (for example a Vault
	// keystore built through kesconf). The server closes it on Close.
	KeyStore kes.KeyStore

	// MinIOIdentity is the identity (hex SHA-256 of the public key) of
	// MinIO's KES client certificate; it gets the PolicyMinIO policy.
	MinIOIdentity kes.Identity

	// OperatorIdentity is the identity of sselab's operator certificate;
	// it gets the PolicyOperator policy.
	OperatorIdentity kes.Identity

	// Cache controls KES's in-memory key cache. Default: expiry
	// DefaultCacheExpiry, unused DefaultCacheExpiryUnused, offline
	// DefaultCacheExpiryOffline.
	Cache kes.CacheConfig

	// ErrorLogFile and AuditLogFile receive KES's error log (text) and
	// audit log (one JSON object per request). Empty discards them.
	ErrorLogFile string
	AuditLogFile string

	// ReadyTimeout bounds how long Start waits until the server accepts
	// requests. Default: DefaultReadyTimeout.
	ReadyTimeout time.Duration
}

// DefaultConfig returns a Config with every default filled in. The caller
// still sets TLS, the keystore and the two identities.
func DefaultConfig() Config {
	return Config{
		Address: DefaultAddress,
		Cache: kes.CacheConfig{
			Expiry:        DefaultCacheExpiry,
			ExpiryUnused:  DefaultCacheExpiryUnused,
			ExpiryOffline: DefaultCacheExpiryOffline,
		},
		ReadyTimeout: DefaultReadyTimeout,
	}
}

// Validate reports the first problem that would stop the server.
func (c *Config) Validate() error {
	switch {
	case c.TLS == nil || (len(c.TLS.Certificates) == 0 && c.TLS.GetCertificate == nil):
		return errors.New("embedded: no TLS server certificate configured")
	case c.TLS.ClientCAs == nil:
		return errors.New("embedded: no client CA pool configured: every client must present a certificate of the lab CA")
	case c.KeyStore == nil && c.KeyStoreDir == "":
		return errors.New("embedded: no keystore configured")
	case !isIdentity(c.MinIOIdentity):
		return fmt.Errorf("embedded: MinIO identity %q is not a KES identity (64 hex digits: the SHA-256 of a certificate's public key)", c.MinIOIdentity)
	case !isIdentity(c.OperatorIdentity):
		return fmt.Errorf("embedded: operator identity %q is not a KES identity (64 hex digits: the SHA-256 of a certificate's public key)", c.OperatorIdentity)
	case c.MinIOIdentity == c.OperatorIdentity:
		return errors.New("embedded: the MinIO and operator identities must differ")
	case c.Listener == nil && c.Address == "":
		return errors.New("embedded: no listen address")
	}
	return nil
}

// policies maps the two lab identities to their policies.
func (c *Config) policies() map[string]kes.Policy {
	allow := func(routes []string) map[string]kesapi.Rule {
		m := make(map[string]kesapi.Rule, len(routes))
		for _, r := range routes {
			m[r] = kesapi.Rule{}
		}
		return m
	}
	return map[string]kes.Policy{
		PolicyMinIO: {
			Allow:      allow(MinIORoutes),
			Identities: []kes.Identity{c.MinIOIdentity},
		},
		PolicyOperator: {
			Allow:      allow(OperatorRoutes),
			Identities: []kes.Identity{c.OperatorIdentity},
		},
	}
}

// serverTLS returns a copy of c.TLS with the lab's security floor applied.
func (c *Config) serverTLS() *tls.Config {
	t := c.TLS.Clone()
	t.ClientAuth = tls.RequireAndVerifyClientCert
	if t.MinVersion < tls.VersionTLS12 {
		t.MinVersion = tls.VersionTLS12
	}
	// Offer HTTP/2, as 'kes server' does: MinIO's KES client then
	// multiplexes every KMS call over one connection. Over HTTP/1.1 it
	// keeps only two idle connections and pays a mutual-TLS handshake for
	// most concurrent calls.
	if len(t.NextProtos) == 0 {
		t.NextProtos = []string{"h2", "http/1.1"}
	}
	return t
}

// isIdentity reports whether id has the form of a KES identity: the hex
// SHA-256 of a certificate's public key.
func isIdentity(id kesapi.Identity) bool {
	b, err := hex.DecodeString(id.String())
	return err == nil && len(b) == sha256.Size
}
