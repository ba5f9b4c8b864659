package kesserver

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/minio/kes"
	kesapi "github.com/minio/kms-go/kes"
)

// Defaults used by DefaultConfig.
const (
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

// Policy lets the identities named in it call the API routes in Allow.
// An identity in no policy may call nothing: the server has no admin.
type Policy struct {
	// Name names the policy, as 'kes policy ls' shows it.
	Name string

	// Allow are the routes the policy allows, as KES policy patterns
	// ("/v1/key/generate/*").
	Allow []string

	// Identities are the KES identities (hex SHA-256 of a certificate's
	// public key, as 'kes identity of' prints it) bound to the policy.
	Identities []kes.Identity
}

// Config configures an embedded KES server. Build one with DefaultConfig
// and change what you need; Validate reports what is missing.
type Config struct {
	// Address is the TCP address to listen on when Listener is nil, as
	// host:port; port 0 picks a free port.
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
	// keystore). The server closes it on Close.
	KeyStore kes.KeyStore

	// Policies say which client identities may call which routes; each
	// identity is in at most one policy. Required.
	Policies []Policy

	// Cache controls KES's in-memory key cache. Default: expiry
	// DefaultCacheExpiry, unused DefaultCacheExpiryUnused, offline
	// DefaultCacheExpiryOffline.
	Cache kes.CacheConfig

	// ErrorLogFile and AuditLogFile receive KES's error log (text) and
	// audit log (one JSON object per record: each key created, imported,
	// deleted or used, and each refused request; see keyUseRecorder and
	// logRouter). Empty discards them.
	ErrorLogFile string
	AuditLogFile string

	// ReadyTimeout bounds how long Start waits until the server accepts
	// requests. Default: DefaultReadyTimeout.
	ReadyTimeout time.Duration
}

// DefaultConfig returns a Config with every default filled in. The caller
// still sets the address, TLS, the keystore and the policies.
func DefaultConfig() Config {
	return Config{
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
		return errors.New("kesserver: no TLS server certificate configured")
	case c.TLS.ClientCAs == nil:
		return errors.New("kesserver: no client CA pool configured: every client must present a certificate of the lab CA")
	case c.KeyStore == nil && c.KeyStoreDir == "":
		return errors.New("kesserver: no keystore configured")
	case len(c.Policies) == 0:
		return errors.New("kesserver: no policy configured: no client could use the server")
	case c.Listener == nil && c.Address == "":
		return errors.New("kesserver: no listen address")
	}
	seen := make(map[kes.Identity]string)
	for _, p := range c.Policies {
		for _, id := range p.Identities {
			if !isIdentity(id) {
				return fmt.Errorf("kesserver: policy %s: identity %q is not a KES identity (64 hex digits: the SHA-256 of a certificate's public key)", p.Name, id)
			}
			if other, ok := seen[id]; ok {
				return fmt.Errorf("kesserver: identity %s is in the policies %s and %s; an identity can have only one", id, other, p.Name)
			}
			seen[id] = p.Name
		}
	}
	return nil
}

// policies returns c.Policies in the form KES takes.
func (c *Config) policies() map[string]kes.Policy {
	m := make(map[string]kes.Policy, len(c.Policies))
	for _, p := range c.Policies {
		allow := make(map[string]kesapi.Rule, len(p.Allow))
		for _, r := range p.Allow {
			allow[r] = kesapi.Rule{}
		}
		m[p.Name] = kes.Policy{Allow: allow, Identities: slices.Clone(p.Identities)}
	}
	return m
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
