package pki

import (
	"crypto/x509"
	"path/filepath"
	"slices"
	"testing"
)

func TestServerCertFor(t *testing.T) {
	p, err := LoadOrCreate(Options{Dir: filepath.Join(t.TempDir(), "certs")})
	if err != nil {
		t.Fatal(err)
	}
	data, err := p.ServerCertFor(p.KESServer, []string{"kes.example.org", "10.0.0.7"})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ParseCertificatePEM(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"localhost", "kes.example.org"} {
		if err := cert.VerifyHostname(name); err != nil {
			t.Errorf("VerifyHostname(%s): %v", name, err)
		}
	}
	if err := cert.VerifyHostname("10.0.0.7"); err != nil {
		t.Errorf("IP SAN: %v", err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: p.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Errorf("not issued by the lab CA: %v", err)
	}
	if Identity(cert) != p.KESServer.Identity() {
		t.Error("the key changed: the identity differs")
	}
	if cert.NotAfter.After(p.KESServer.Cert.NotAfter) {
		t.Errorf("outlives the lab certificate: %v > %v", cert.NotAfter, p.KESServer.Cert.NotAfter)
	}
	if !slices.Contains(cert.DNSNames, "localhost") {
		t.Errorf("lost the lab's names: %v", cert.DNSNames)
	}
	if _, err := p.ServerCertFor(p.MinIOClient, nil); err == nil {
		t.Error("a client certificate reissued as a server certificate: no error")
	}
	for host, ok := range map[string]bool{"kes": true, "a.b-c.d": true, "::1": true, "bad_name": false, "-x": false, "": false} {
		if err := CheckHost(host); (err == nil) != ok {
			t.Errorf("CheckHost(%q): %v, want ok=%v", host, err, ok)
		}
	}
}
