package pki

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/sselab/sselab/internal/fsutil"
)

// Files and directories, relative to the PKI directory, slash-separated.
const (
	caCertFile    = "ca.crt"
	caKeyFile     = "ca.key"
	minioCertsDir = "minio-tls"
	minioCAsCopy  = "minio-tls/CAs/ca.crt"
)

// leafSpec describes one leaf certificate of the PKI.
type leafSpec struct {
	role     string
	certFile string
	keyFile  string
	cn       string
	usage    x509.ExtKeyUsage
	field    func(*PKI) **Cert
}

// server reports whether the certificate carries the host names.
func (s leafSpec) server() bool { return s.usage == x509.ExtKeyUsageServerAuth }

var leafSpecs = []leafSpec{
	{RoleKESServer, "kes-server.crt", "kes-server.key", "sselab kes-server",
		x509.ExtKeyUsageServerAuth, func(p *PKI) **Cert { return &p.KESServer }},
	{RoleMinIOClient, "minio-kes-client.crt", "minio-kes-client.key", "minio",
		x509.ExtKeyUsageClientAuth, func(p *PKI) **Cert { return &p.MinIOClient }},
	{RoleOperator, "operator.crt", "operator.key", "sselab-operator",
		x509.ExtKeyUsageClientAuth, func(p *PKI) **Cert { return &p.Operator }},
	{RoleMinIOTLS, "minio-tls/public.crt", "minio-tls/private.key", "sselab minio",
		x509.ExtKeyUsageServerAuth, func(p *PKI) **Cert { return &p.MinIOTLS }},
	{RoleConsole, "console.crt", "console.key", "sselab console",
		x509.ExtKeyUsageServerAuth, func(p *PKI) **Cert { return &p.Console }},
}

// maxRenewBefore is how long before expiry a leaf certificate is renewed.
const maxRenewBefore = 30 * 24 * time.Hour

// loader loads, checks and (unless readOnly) repairs a PKI directory.
type loader struct {
	dir      string // where files are read and written
	now      time.Time
	validity time.Duration
	rand     io.Reader
	sans     sans
	readOnly bool
	staging  bool     // l.dir is a new PKI's staging directory, not yet visible
	staged   []string // files written to it, synced before it is published
}

func newLoader(opts Options) (*loader, error) {
	if opts.Dir == "" {
		return nil, errors.New("pki: Options.Dir is empty")
	}
	l := &loader{
		dir:      filepath.Clean(opts.Dir),
		now:      time.Now(),
		validity: opts.Validity,
		rand:     opts.Rand,
	}
	if opts.Now != nil {
		l.now = opts.Now()
	}
	if l.validity <= 0 {
		l.validity = DefaultValidity
	}
	if l.rand == nil {
		l.rand = rand.Reader
	}
	var err error
	if l.sans, err = newSANs(opts.Hosts); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *loader) path(rel string) string {
	return filepath.Join(l.dir, filepath.FromSlash(rel))
}

// create generates a complete PKI in a temporary sibling of l.dir and
// renames it into place. On failure nothing is left behind.
func (l *loader) create() (p *PKI, err error) {
	final := l.dir
	parent := filepath.Dir(final)
	if err := fsutil.MkdirPrivate(parent); err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, ".tmp-"+filepath.Base(final)+"-")
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	l.dir, l.staging = tmp, true
	if p, err = l.load(true); err != nil {
		return nil, err
	}
	l.staging = false
	if err = fsutil.SyncFiles(l.staged...); err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	for _, d := range []string{filepath.Dir(l.path(minioCAsCopy)), l.path(minioCertsDir), tmp} {
		if err = fsutil.SyncDir(d); err != nil {
			return nil, fmt.Errorf("pki: %w", err)
		}
	}
	if err = fsutil.RenameDir(tmp, final); err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	l.dir = final
	p.Dir = final
	p.CA.CertFile, p.CA.KeyFile = l.path(caCertFile), l.path(caKeyFile)
	for _, s := range leafSpecs {
		c := *s.field(p)
		c.CertFile, c.KeyFile = l.path(s.certFile), l.path(s.keyFile)
	}
	return p, nil
}

// load loads the PKI in l.dir; newCA says the directory is fresh and a CA
// is to be created.
func (l *loader) load(newCA bool) (*PKI, error) {
	p := &PKI{Dir: l.dir}
	var caPEM []byte
	var err error
	if newCA {
		p.CA, caPEM, err = l.createCA()
	} else {
		p.CA, caPEM, err = l.loadCA()
	}
	if err != nil {
		return nil, err
	}
	if !l.readOnly {
		if err := fsutil.MkdirPrivate(filepath.Dir(l.path(minioCAsCopy))); err != nil {
			return nil, fmt.Errorf("pki: %w", err)
		}
	}
	for _, s := range leafSpecs {
		c, err := l.leaf(p.CA, s)
		if err != nil {
			return nil, err
		}
		*s.field(p) = c
	}
	if err := l.syncCACopy(caPEM); err != nil {
		return nil, err
	}
	return p, nil
}

// readOptional reads path; a missing file is not an error but ok == false.
func readOptional(path string) (data []byte, ok bool, err error) {
	data, err = os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("pki: %w", err)
	}
	return data, true, nil
}

// loadCA reads and checks the CA. It never creates one.
func (l *loader) loadCA() (*Cert, []byte, error) {
	ca := &Cert{Role: RoleCA, CertFile: l.path(caCertFile), KeyFile: l.path(caKeyFile)}
	certPEM, haveCert, err := readOptional(ca.CertFile)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, haveKey, err := readOptional(ca.KeyFile)
	if err != nil {
		return nil, nil, err
	}
	if !haveCert || !haveKey {
		missing := ca.CertFile
		switch {
		case !haveCert && !haveKey:
			missing = ca.CertFile + " and " + ca.KeyFile + " are"
		case !haveCert:
			missing += " is"
		default:
			missing = ca.KeyFile + " is"
		}
		if l.readOnly {
			return nil, nil, fmt.Errorf("pki: no usable lab PKI in %s: %s missing", l.dir, missing)
		}
		return nil, nil, fmt.Errorf("pki: inconsistent PKI in %s: %s missing; "+
			"refusing to create a new CA next to existing files: move the directory aside to start over", l.dir, missing)
	}
	if ca.Cert, err = parseCertFile(ca.CertFile, certPEM); err != nil {
		return nil, nil, l.newCAHint(err)
	}
	if ca.Key, err = parseKeyFile(ca.KeyFile, keyPEM); err != nil {
		return nil, nil, l.newCAHint(err)
	}
	if err := checkKeyMatches(ca); err != nil {
		return nil, nil, l.newCAHint(err)
	}
	c := ca.Cert
	if !c.IsCA || !c.BasicConstraintsValid || c.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, nil, l.newCAHint(fmt.Errorf("pki: %s: not a CA certificate", ca.CertFile))
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		return nil, nil, l.newCAHint(fmt.Errorf("pki: %s: not a self-signed CA", ca.CertFile))
	}
	if !l.now.Before(c.NotAfter) || l.now.Before(c.NotBefore) {
		return nil, nil, l.newCAHint(fmt.Errorf("pki: %s: the lab CA is valid from %s to %s only",
			ca.CertFile, c.NotBefore.Format(time.RFC3339), c.NotAfter.Format(time.RFC3339)))
	}
	return ca, certPEM, nil
}

// createCA generates a new CA and writes it.
func (l *loader) createCA() (*Cert, []byte, error) {
	ca := &Cert{Role: RoleCA, CertFile: l.path(caCertFile), KeyFile: l.path(caKeyFile)}
	var err error
	if ca.Key, err = l.newKey(ca); err != nil {
		return nil, nil, err
	}
	if ca.Cert, err = l.issueCA(ca.Key); err != nil {
		return nil, nil, err
	}
	certPEM := encodeCert(ca.Cert)
	if err := l.writeFile(ca.CertFile, certPEM, certPerm); err != nil {
		return nil, nil, err
	}
	return ca, certPEM, nil
}

// leaf loads, checks and, where needed and allowed, issues or renews one
// leaf certificate.
func (l *loader) leaf(ca *Cert, s leafSpec) (*Cert, error) {
	c := &Cert{Role: s.role, CertFile: l.path(s.certFile), KeyFile: l.path(s.keyFile)}
	keyPEM, haveKey, err := readOptional(c.KeyFile)
	if err != nil {
		return nil, err
	}
	certPEM, haveCert, err := readOptional(c.CertFile)
	if err != nil {
		return nil, err
	}
	switch {
	case haveCert && !haveKey:
		return nil, fmt.Errorf("pki: %s is missing but its certificate %s exists; "+
			"the %s identity cannot be recovered: remove the certificate to create a new one",
			c.KeyFile, c.CertFile, s.role)
	case l.readOnly && !haveKey:
		return nil, fmt.Errorf("pki: %s and %s are missing", c.CertFile, c.KeyFile)
	case l.readOnly && !haveCert:
		return nil, fmt.Errorf("pki: %s is missing", c.CertFile)
	case !haveKey:
		// Write the key first: after a crash before the certificate is
		// written, the next run issues a certificate for this key.
		if c.Key, err = l.newKey(c); err != nil {
			return nil, err
		}
		return c, l.issueLeaf(ca, c, s)
	}
	if c.Key, err = parseKeyFile(c.KeyFile, keyPEM); err != nil {
		return nil, fmt.Errorf("%w; restore it from a backup, or remove it and %s: the next 'sselab up' makes a new %s identity", err, c.CertFile, s.role)
	}
	if !haveCert {
		return c, l.issueLeaf(ca, c, s)
	}
	if c.Cert, err = parseCertFile(c.CertFile, certPEM); err != nil {
		return nil, reissueHint(err, c)
	}
	if err := checkLeaf(ca, c, s); err != nil {
		return nil, reissueHint(err, c)
	}
	reason, usable := l.renewal(ca, c, s)
	switch {
	case reason == "":
		return c, nil
	case l.readOnly && usable:
		return c, nil
	case l.readOnly:
		return nil, fmt.Errorf("pki: %s: %s; restart the lab ('sselab down', then 'sselab up') to renew it with the same key and identity", c.CertFile, reason)
	}
	return c, l.issueLeaf(ca, c, s)
}

// checkKeyMatches reports an error if c.Key is not the key of c.Cert.
func checkKeyMatches(c *Cert) error {
	pub, ok := c.Cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(c.Key.Public()) {
		return fmt.Errorf("pki: %s: private key does not match the certificate %s", c.KeyFile, c.CertFile)
	}
	return nil
}

// checkLeaf reports what is wrong with a leaf beyond repair: a key that
// does not match, another issuer, the wrong purpose.
func checkLeaf(ca, c *Cert, s leafSpec) error {
	if err := checkKeyMatches(c); err != nil {
		return err
	}
	if err := c.Cert.CheckSignatureFrom(ca.Cert); err != nil {
		return fmt.Errorf("pki: %s: not issued by the lab CA %s: %w", c.CertFile, ca.CertFile, err)
	}
	if !slices.Contains(c.Cert.ExtKeyUsage, s.usage) {
		return fmt.Errorf("pki: %s: certificate lacks the extended key usage %s", c.CertFile, usageName(s.usage))
	}
	return nil
}

func usageName(u x509.ExtKeyUsage) string {
	if u == x509.ExtKeyUsageServerAuth {
		return "server auth"
	}
	return "client auth"
}

// renewal says why c needs a new certificate, or "" if it does not.
// usable means the current certificate still works meanwhile.
func (l *loader) renewal(ca, c *Cert, s leafSpec) (reason string, usable bool) {
	cert := c.Cert
	switch {
	case l.now.Before(cert.NotBefore):
		return "certificate is not valid before " + cert.NotBefore.Format(time.RFC3339), false
	case !l.now.Before(cert.NotAfter):
		return "certificate expired at " + cert.NotAfter.Format(time.RFC3339), false
	}
	if s.server() {
		if host := l.sans.missing(cert); host != "" {
			return "certificate does not cover host " + host, false
		}
	}
	renewBefore := min(maxRenewBefore, l.validity/3)
	// Renew only if a new certificate would last longer: near the end of
	// the CA's life it would not, and renewing on every run helps nobody.
	if l.now.Add(renewBefore).After(cert.NotAfter) && l.leafNotAfter(ca).After(cert.NotAfter) {
		return "certificate expires at " + cert.NotAfter.Format(time.RFC3339), true
	}
	return "", false
}

// syncCACopy makes minio-tls/CAs/ca.crt a copy of ca.crt.
func (l *loader) syncCACopy(caPEM []byte) error {
	path := l.path(minioCAsCopy)
	data, ok, err := readOptional(path)
	if err != nil {
		return err
	}
	if ok && bytes.Equal(data, caPEM) {
		return nil
	}
	if l.readOnly {
		if !ok {
			return fmt.Errorf("pki: %s is missing", path)
		}
		return fmt.Errorf("pki: %s differs from %s", path, l.path(caCertFile))
	}
	return l.writeFile(path, caPEM, certPerm)
}

// newCAHint adds what to do about a lab CA that cannot be used: a new CA
// means new certificates, but the keys in the keystore and MinIO's data do
// not depend on them.
func (l *loader) newCAHint(err error) error {
	return fmt.Errorf("%w; restore it from a backup, or move %s aside and run 'sselab up' again: it makes a new lab CA and certificates, and keeps the keys and data (clients must then trust the new ca.crt)", err, l.dir)
}

// reissueHint adds what to do about a leaf certificate that cannot be
// used while its key can: a new certificate for the same key keeps the
// identity.
func reissueHint(err error, c *Cert) error {
	return fmt.Errorf("%w; remove %s and run 'sselab up' again: it issues a new certificate for the same key and identity", err, c.CertFile)
}
