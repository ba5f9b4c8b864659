package pki

import (
	"fmt"
	"net"
	"slices"
	"time"
)

// ServerCertFor returns c, one of p's server certificates, issued again
// by p's CA for the same key with the host names hosts added to its own,
// as PEM; nothing is written. It is for a deployment that reaches the
// server by other names than the lab does (a pod, a service).
func (p *PKI) ServerCertFor(c *Cert, hosts []string) ([]byte, error) {
	var spec *leafSpec
	for i := range leafSpecs {
		if *leafSpecs[i].field(p) == c && leafSpecs[i].server() {
			spec = &leafSpecs[i]
		}
	}
	if spec == nil {
		return nil, fmt.Errorf("pki: %s is not a server certificate of the lab", c.Role)
	}
	names := slices.Clone(c.Cert.DNSNames)
	for _, ip := range c.Cert.IPAddresses {
		names = append(names, ip.String())
	}
	l, err := newLoader(Options{Dir: p.Dir, Hosts: append(names, hosts...)})
	if err != nil {
		return nil, err
	}
	// Keep the lab certificate's lifetime: the export is the lab's PKI.
	l.validity = time.Until(c.Cert.NotAfter)
	cert, err := l.leafCert(p.CA, c, *spec)
	if err != nil {
		return nil, err
	}
	return encodeCert(cert), nil
}

// CheckHost reports whether host is an IP address or a DNS name a
// certificate can carry.
func CheckHost(host string) error {
	if net.ParseIP(host) != nil {
		return nil
	}
	_, err := newSANs([]string{host})
	return err
}
