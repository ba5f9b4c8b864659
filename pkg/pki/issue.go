package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/sselab/sselab/internal/fsutil"
)

const (
	caValidityYears = 10
	organization    = "sselab"
	caCommonName    = "sselab lab CA"
	// backdate covers small clock differences between the lab's processes.
	backdate = time.Hour
	certPerm = fs.FileMode(0o644)
)

// serialLimit bounds serial numbers to 128 random bits.
var serialLimit = new(big.Int).Lsh(big.NewInt(1), 128)

// writeFile writes one PKI file: straight into the staging directory of a
// new PKI, else atomically in place.
func (l *loader) writeFile(path string, data []byte, perm fs.FileMode) error {
	if !l.staging {
		if err := fsutil.WriteFile(path, data, perm); err != nil {
			return fmt.Errorf("pki: %w", err)
		}
		return nil
	}
	if err := fsutil.WriteStaged(path, data, perm); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	l.staged = append(l.staged, path)
	return nil
}

// newKey generates an ECDSA P-256 key for c and writes it to c.KeyFile.
func (l *loader) newKey(c *Cert) (crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), l.rand)
	if err != nil {
		return nil, fmt.Errorf("pki: generate %s key: %w", c.Role, err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	if err := l.writeFile(c.KeyFile, keyPEM, fsutil.PrivatePerm); err != nil {
		return nil, err
	}
	return key, nil
}

func (l *loader) serial() (*big.Int, error) {
	n, err := rand.Int(l.rand, serialLimit)
	if err != nil {
		return nil, fmt.Errorf("pki: generate serial number: %w", err)
	}
	return n, nil
}

// issueCA returns a new self-signed CA certificate for key.
func (l *loader) issueCA(key crypto.Signer) (*x509.Certificate, error) {
	serial, err := l.serial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: caCommonName, Organization: []string{organization}},
		NotBefore:             l.now.Add(-backdate),
		NotAfter:              l.now.AddDate(caValidityYears, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	return l.sign(tmpl, tmpl, key.Public(), key, RoleCA)
}

// leafNotAfter is the end of a leaf issued now: l.validity from now, but
// not beyond the CA's end.
func (l *loader) leafNotAfter(ca *Cert) time.Time {
	end := l.now.Add(l.validity)
	if end.After(ca.Cert.NotAfter) {
		return ca.Cert.NotAfter
	}
	return end
}

// issueLeaf issues a certificate for c.Key as described by s, sets c.Cert
// and writes it to c.CertFile.
func (l *loader) issueLeaf(ca, c *Cert, s leafSpec) error {
	cert, err := l.leafCert(ca, c, s)
	if err != nil {
		return err
	}
	if err := l.writeFile(c.CertFile, encodeCert(cert), certPerm); err != nil {
		return err
	}
	c.Cert = cert
	return nil
}

// leafCert returns a certificate for c.Key as described by s, issued by
// ca, with l's names if it is a server certificate.
func (l *loader) leafCert(ca, c *Cert, s leafSpec) (*x509.Certificate, error) {
	serial, err := l.serial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: s.cn, Organization: []string{organization}},
		NotBefore:             l.now.Add(-backdate),
		NotAfter:              l.leafNotAfter(ca),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{s.usage},
		BasicConstraintsValid: true,
	}
	if s.server() {
		tmpl.DNSNames = l.sans.dns
		tmpl.IPAddresses = l.sans.ips
	}
	return l.sign(tmpl, ca.Cert, c.Key.Public(), ca.Key, s.role)
}

func (l *loader) sign(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer, role string) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(l.rand, tmpl, parent, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("pki: issue %s certificate: %w", role, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: issue %s certificate: %w", role, err)
	}
	return cert, nil
}

// sans are the subject alternative names of the server certificates.
type sans struct {
	dns []string
	ips []net.IP
}

var defaultHosts = []string{"localhost", "127.0.0.1", "::1"}

// newSANs returns the default hosts plus extra, without duplicates.
func newSANs(extra []string) (sans, error) {
	var s sans
	for _, h := range append(slices.Clone(defaultHosts), extra...) {
		if ip := net.ParseIP(h); ip != nil {
			if !slices.ContainsFunc(s.ips, ip.Equal) {
				s.ips = append(s.ips, ip)
			}
			continue
		}
		name := strings.ToLower(strings.TrimSuffix(h, "."))
		if !validDNSName(name) {
			return sans{}, fmt.Errorf("pki: host %q is neither an IP address nor a DNS name", h)
		}
		if !slices.Contains(s.dns, name) {
			s.dns = append(s.dns, name)
		}
	}
	return s, nil
}

// missing returns a host of s that cert does not cover, or "".
func (s sans) missing(cert *x509.Certificate) string {
	for _, ip := range s.ips {
		if !slices.ContainsFunc(cert.IPAddresses, ip.Equal) {
			return ip.String()
		}
	}
	for _, name := range s.dns {
		if !slices.ContainsFunc(cert.DNSNames, func(n string) bool { return strings.EqualFold(n, name) }) {
			return name
		}
	}
	return ""
}

// validDNSName reports whether name (lower case) is a host name: dot
// separated labels of letters, digits and inner hyphens; the first label
// may be the wildcard "*".
func validDNSName(name string) bool {
	if name == "" || len(name) > 253 {
		return false
	}
	for i, label := range strings.Split(name, ".") {
		if i == 0 && label == "*" && strings.Contains(name, ".") {
			continue
		}
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
				return false
			}
		}
	}
	return true
}
