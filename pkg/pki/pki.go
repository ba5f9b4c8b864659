// Package pki is the lab's certificate authority: it creates, loads,
// checks and renews the CA and the leaf certificates that KES, MinIO and
// sselab itself use for mutual TLS, and computes KES identities.
//
// Everything lives in one directory:
//
//	ca.crt, ca.key                          the lab CA
//	kes-server.crt, kes-server.key          KES's server certificate
//	minio-kes-client.crt, .key              MinIO's client identity towards KES
//	operator.crt, operator.key              sselab's own identity towards KES
//	minio-tls/public.crt, private.key       MinIO's S3 TLS certificate
//	minio-tls/CAs/ca.crt                    a copy of ca.crt
//	console.crt, console.key                the lab console's HTTPS certificate
//
// minio-tls is MinIO's --certs-dir. Private keys are PKCS#8 PEM files with
// mode 0600, directories have mode 0700.
package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Roles of the certificates in a PKI, as found in Cert.Role.
const (
	RoleCA          = "ca"
	RoleKESServer   = "kes-server"
	RoleMinIOClient = "minio-kes-client"
	RoleOperator    = "operator"
	RoleMinIOTLS    = "minio-tls"
	RoleConsole     = "console"
)

// DefaultValidity is the lifetime of a leaf certificate unless
// Options.Validity says otherwise.
const DefaultValidity = 825 * 24 * time.Hour

// Options configures LoadOrCreate.
type Options struct {
	// Dir is the PKI directory. Required. Its parent is created if missing.
	Dir string

	// Hosts are extra names for the server certificates (kes-server,
	// minio-tls and console), each an IP address or a DNS name. localhost, 127.0.0.1
	// and ::1 are always included.
	Hosts []string

	// Validity is the lifetime of newly issued leaf certificates.
	// Default: DefaultValidity (825 days). The CA is valid for 10 years.
	Validity time.Duration

	// Now returns the current time. Default: time.Now.
	Now func() time.Time

	// Rand is the source of serial numbers and is handed to the crypto
	// functions. Default: crypto/rand.Reader. Since Go 1.26 key generation
	// and signing ignore it and always use the system's secure source.
	Rand io.Reader
}

// Cert is one certificate of the PKI with its private key.
type Cert struct {
	// Role is one of the Role* constants.
	Role string
	// Cert is the parsed certificate.
	Cert *x509.Certificate
	// Key is the certificate's private key (an *ecdsa.PrivateKey for
	// everything this package creates).
	Key crypto.Signer
	// CertFile and KeyFile are the PEM files Cert and Key were loaded from
	// or written to.
	CertFile, KeyFile string
}

// Identity returns the KES identity of the certificate.
func (c *Cert) Identity() string { return Identity(c.Cert) }

// TLSCertificate returns the certificate and key for a tls.Config.
func (c *Cert) TLSCertificate() tls.Certificate {
	return tls.Certificate{
		Certificate: [][]byte{c.Cert.Raw},
		PrivateKey:  c.Key,
		Leaf:        c.Cert,
	}
}

// PKI is a loaded, checked lab PKI.
type PKI struct {
	// Dir is the PKI directory.
	Dir string
	// CA is the lab CA; every other certificate is issued by it.
	CA *Cert
	// KESServer is KES's server certificate.
	KESServer *Cert
	// MinIOClient is MinIO's client certificate towards KES (CN "minio").
	MinIOClient *Cert
	// Operator is sselab's own client certificate towards KES
	// (CN "sselab-operator").
	Operator *Cert
	// MinIOTLS is MinIO's S3 server certificate, in MinIOCertsDir.
	MinIOTLS *Cert
	// Console is the lab console's HTTPS server certificate.
	Console *Cert
}

// All returns the CA and then every leaf certificate, in the order
// Certificates reads them.
func (p *PKI) All() []*Cert {
	all := []*Cert{p.CA}
	for _, s := range leafSpecs {
		all = append(all, *s.field(p))
	}
	return all
}

// CAFile returns the path of the lab CA certificate, for example for
// MINIO_KMS_KES_CAPATH or an S3 client's trusted CAs.
func (p *PKI) CAFile() string { return filepath.Join(p.Dir, caCertFile) }

// MinIOCertsDir returns the directory to pass as MinIO's --certs-dir.
func (p *PKI) MinIOCertsDir() string { return filepath.Join(p.Dir, minioCertsDir) }

// Pool returns a certificate pool that contains only the lab CA.
func (p *PKI) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.CA.Cert)
	return pool
}

// ServerTLS returns a server configuration that presents c and requires
// clients to present a certificate issued by the lab CA.
func (p *PKI) ServerTLS(c *Cert) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{c.TLSCertificate()},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    p.Pool(),
	}
}

// ClientTLS returns a client configuration that trusts only the lab CA
// and presents c. If c is nil, no client certificate is presented.
func (p *PKI) ClientTLS(c *Cert) *tls.Config {
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		RootCAs:    p.Pool(),
	}
	if c != nil {
		cfg.Certificates = []tls.Certificate{c.TLSCertificate()}
	}
	return cfg
}

// Identity returns the KES identity of cert: the hex-encoded SHA-256 of its
// public key (RawSubjectPublicKeyInfo), the same value `kes identity of`
// prints.
func Identity(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(sum[:])
}

// IdentityOfFile returns the KES identity of the PEM certificate at path.
func IdentityOfFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("pki: %w", err)
	}
	cert, err := parseCertFile(path, data)
	if err != nil {
		return "", err
	}
	return Identity(cert), nil
}

// LoadOrCreate returns the PKI in opts.Dir, creating what is missing.
//
// If opts.Dir does not exist (or is an empty directory), the whole PKI is
// generated in a temporary sibling directory and renamed into place, so
// that either all of it exists or nothing does.
//
// If opts.Dir exists, the CA must be there and valid: LoadOrCreate never
// replaces a CA. Missing leaf certificates are issued. A leaf certificate
// that has expired, expires within 30 days (or a third of opts.Validity,
// if shorter), or lacks one of opts.Hosts is re-issued for the same key,
// so its KES identity does not change. A key
// without its certificate gets a new certificate; a certificate without
// its key is an error. Files are replaced atomically.
func LoadOrCreate(opts Options) (*PKI, error) {
	l, err := newLoader(opts)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(l.dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return l.create()
	case err != nil:
		return nil, fmt.Errorf("pki: %w", err)
	case !fi.IsDir():
		return nil, fmt.Errorf("pki: %s is not a directory", l.dir)
	}
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	if len(entries) == 0 {
		// An empty directory holds nothing to lose: replace it with a
		// complete PKI in one step.
		if err := os.Remove(l.dir); err != nil {
			return nil, fmt.Errorf("pki: %w", err)
		}
		return l.create()
	}
	return l.load(false)
}

// Load reads and checks the PKI in dir without writing anything. Missing,
// malformed or mismatching files, certificates not issued by the lab CA
// and expired certificates are errors.
func Load(dir string) (*PKI, error) {
	if dir == "" {
		return nil, errors.New("pki: no PKI directory given")
	}
	l := &loader{
		dir:      filepath.Clean(dir),
		now:      time.Now(),
		validity: DefaultValidity,
		rand:     rand.Reader,
		readOnly: true,
	}
	var err error
	if l.sans, err = newSANs(nil); err != nil {
		return nil, err
	}
	return l.load(false)
}

// Certificates reads the certificates of the PKI in dir, CA first,
// without their keys and without any check of chain or validity. It is
// for showing a PKI that Load refuses, such as one whose certificate has
// expired.
func Certificates(dir string) ([]*Cert, error) {
	files := []struct{ role, file string }{{RoleCA, caCertFile}}
	for _, s := range leafSpecs {
		files = append(files, struct{ role, file string }{s.role, s.certFile})
	}
	certs := make([]*Cert, 0, len(files))
	for _, f := range files {
		path := filepath.Join(dir, filepath.FromSlash(f.file))
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("pki: %w", err)
		}
		cert, err := parseCertFile(path, data)
		if err != nil {
			return nil, err
		}
		certs = append(certs, &Cert{Role: f.role, Cert: cert, CertFile: path})
	}
	return certs, nil
}
