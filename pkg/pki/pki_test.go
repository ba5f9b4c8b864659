package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io/fs"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sselab/sselab/internal/testtools"
)

// newPKI creates a fresh PKI in a new temporary directory. opts.Dir is
// filled in if empty.
func newPKI(t *testing.T, opts Options) *PKI {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = filepath.Join(t.TempDir(), "certs")
	}
	p, err := LoadOrCreate(opts)
	if err != nil {
		t.Fatalf("LoadOrCreate: %v", err)
	}
	return p
}

func certs(p *PKI) []*Cert {
	return p.All()
}

func identities(p *PKI) map[string]string {
	ids := make(map[string]string)
	for _, c := range certs(p) {
		ids[c.Role] = c.Identity()
	}
	return ids
}

func sameIdentities(t *testing.T, got, want *PKI) {
	t.Helper()
	g, w := identities(got), identities(want)
	for role := range w {
		if g[role] != w[role] {
			t.Errorf("identity of %s: got %s, want %s", role, g[role], w[role])
		}
	}
}

type fileState struct {
	data []byte
	mod  time.Time
	mode fs.FileMode
}

// snapshot records every file and directory below dir.
func snapshot(t *testing.T, dir string) map[string]fileState {
	t.Helper()
	files := make(map[string]fileState)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		var data []byte
		if !d.IsDir() {
			if data, err = os.ReadFile(path); err != nil {
				return err
			}
		}
		rel, _ := filepath.Rel(dir, path)
		files[filepath.ToSlash(rel)] = fileState{data, fi.ModTime(), fi.Mode()}
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	return files
}

// changed lists the paths that differ between two snapshots.
func changed(before, after map[string]fileState) []string {
	var diff []string
	for name, b := range before {
		a, ok := after[name]
		// A directory's mtime changes with every file replaced in it.
		sameTime := a.mod.Equal(b.mod) || b.mode.IsDir()
		if !ok || !bytes.Equal(a.data, b.data) || !sameTime || a.mode != b.mode {
			diff = append(diff, name)
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok {
			diff = append(diff, name)
		}
	}
	slices.Sort(diff)
	return diff
}

func wantUnchanged(t *testing.T, before, after map[string]fileState) {
	t.Helper()
	if diff := changed(before, after); len(diff) != 0 {
		t.Errorf("files changed: got %v, want none", diff)
	}
}

func wantErrNaming(t *testing.T, err error, path string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one naming %s", path)
	}
	if !strings.HasPrefix(err.Error(), "pki: ") || !strings.Contains(err.Error(), path) {
		t.Errorf("got error %q, want one starting with \"pki: \" and naming %s", err, path)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func writeTestFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestLoadOrCreateFresh(t *testing.T) {
	t.Parallel()
	parent := filepath.Join(t.TempDir(), "state")
	dir := filepath.Join(parent, "certs")
	p := newPKI(t, Options{Dir: dir, Hosts: []string{"sselab.test", "192.0.2.10", "Localhost"}})

	if p.Dir != dir {
		t.Errorf("Dir: got %s, want %s", p.Dir, dir)
	}
	if got, want := p.CAFile(), filepath.Join(dir, "ca.crt"); got != want {
		t.Errorf("CAFile: got %s, want %s", got, want)
	}
	if got, want := p.MinIOCertsDir(), filepath.Join(dir, "minio-tls"); got != want {
		t.Errorf("MinIOCertsDir: got %s, want %s", got, want)
	}
	const dirMode = fs.ModeDir | 0o700
	files := map[string]fs.FileMode{
		".":                     dirMode,
		"ca.crt":                0o644,
		"ca.key":                0o600,
		"kes-server.crt":        0o644,
		"kes-server.key":        0o600,
		"minio-kes-client.crt":  0o644,
		"minio-kes-client.key":  0o600,
		"operator.crt":          0o644,
		"operator.key":          0o600,
		"minio-tls":             dirMode,
		"minio-tls/public.crt":  0o644,
		"minio-tls/private.key": 0o600,
		"minio-tls/CAs":         dirMode,
		"minio-tls/CAs/ca.crt":  0o644,
		"console.crt":           0o644,
		"console.key":           0o600,
	}
	snap := snapshot(t, dir)
	for name, mode := range files {
		fi, ok := snap[name]
		if !ok {
			t.Errorf("%s: missing", name)
			continue
		}
		if runtime.GOOS != "windows" && fi.mode != mode {
			t.Errorf("%s: got mode %v, want %v", name, fi.mode, mode)
		}
	}
	if len(snap) != len(files) {
		t.Errorf("got %d files and directories, want %d: %v", len(snap), len(files), slices.Sorted(maps.Keys(snap)))
	}
	if !bytes.Equal(snap["minio-tls/CAs/ca.crt"].data, snap["ca.crt"].data) {
		t.Error("minio-tls/CAs/ca.crt differs from ca.crt")
	}
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("got %d entries in %s, want only certs", len(entries), parent)
	}

	ca := p.CA.Cert
	if !ca.IsCA || !ca.BasicConstraintsValid || ca.KeyUsage&x509.KeyUsageCertSign == 0 || !ca.MaxPathLenZero {
		t.Errorf("CA: got IsCA=%v BasicConstraintsValid=%v KeyUsage=%v MaxPathLenZero=%v, want a CA with CertSign and path length 0",
			ca.IsCA, ca.BasicConstraintsValid, ca.KeyUsage, ca.MaxPathLenZero)
	}
	if ca.Subject.CommonName != "sselab lab CA" || !slices.Equal(ca.Subject.Organization, []string{"sselab"}) {
		t.Errorf("CA subject: got %v, want CN=sselab lab CA,O=sselab", ca.Subject)
	}
	if years := ca.NotAfter.Sub(ca.NotBefore).Hours() / 24 / 365; years < 9.9 || years > 10.1 {
		t.Errorf("CA validity: got %.2f years, want 10", years)
	}

	tests := []struct {
		c     *Cert
		role  string
		cn    string
		usage x509.ExtKeyUsage
	}{
		{p.KESServer, RoleKESServer, "", x509.ExtKeyUsageServerAuth},
		{p.MinIOClient, RoleMinIOClient, "minio", x509.ExtKeyUsageClientAuth},
		{p.Operator, RoleOperator, "sselab-operator", x509.ExtKeyUsageClientAuth},
		{p.MinIOTLS, RoleMinIOTLS, "", x509.ExtKeyUsageServerAuth},
		{p.Console, RoleConsole, "", x509.ExtKeyUsageServerAuth},
	}
	for _, tt := range tests {
		t.Run(tt.role, func(t *testing.T) {
			c := tt.c
			if c.Role != tt.role {
				t.Errorf("Role: got %s, want %s", c.Role, tt.role)
			}
			if _, ok := c.Key.(*ecdsa.PrivateKey); !ok || c.Cert.PublicKeyAlgorithm != x509.ECDSA {
				t.Errorf("key: got %T, want an ECDSA key", c.Key)
			}
			if pub, ok := c.Cert.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
				t.Errorf("public key: got %T, want ECDSA P-256", c.Cert.PublicKey)
			}
			if tt.cn != "" && c.Cert.Subject.CommonName != tt.cn {
				t.Errorf("CN: got %q, want %q", c.Cert.Subject.CommonName, tt.cn)
			}
			if c.Cert.SerialNumber.BitLen() < 64 {
				t.Errorf("serial number: got %d bits, want about 128", c.Cert.SerialNumber.BitLen())
			}
			days := c.Cert.NotAfter.Sub(time.Now()).Hours() / 24
			if days < 824 || days > 826 {
				t.Errorf("validity: got %.1f days left, want 825", days)
			}
			opts := x509.VerifyOptions{Roots: p.Pool(), KeyUsages: []x509.ExtKeyUsage{tt.usage}}
			if _, err := c.Cert.Verify(opts); err != nil {
				t.Errorf("Verify for %v: %v", tt.usage, err)
			}
			other := x509.ExtKeyUsageClientAuth + x509.ExtKeyUsageServerAuth - tt.usage
			opts.KeyUsages = []x509.ExtKeyUsage{other}
			if _, err := c.Cert.Verify(opts); err == nil {
				t.Errorf("Verify for %v: got no error, want the certificate to be limited to %v", other, tt.usage)
			}
			onDisk, err := IdentityOfFile(c.CertFile)
			if err != nil {
				t.Fatal(err)
			}
			if onDisk != c.Identity() {
				t.Errorf("identity: got %s on disk, want %s", onDisk, c.Identity())
			}
			if tt.usage != x509.ExtKeyUsageServerAuth {
				if len(c.Cert.DNSNames)+len(c.Cert.IPAddresses) != 0 {
					t.Errorf("SANs: got %v %v, want none", c.Cert.DNSNames, c.Cert.IPAddresses)
				}
				return
			}
			if want := []string{"localhost", "sselab.test"}; !slices.Equal(c.Cert.DNSNames, want) {
				t.Errorf("DNS SANs: got %v, want %v", c.Cert.DNSNames, want)
			}
			var ips []string
			for _, ip := range c.Cert.IPAddresses {
				ips = append(ips, ip.String())
			}
			if want := []string{"127.0.0.1", "::1", "192.0.2.10"}; !slices.Equal(ips, want) {
				t.Errorf("IP SANs: got %v, want %v", ips, want)
			}
			for _, host := range []string{"localhost", "sselab.test", "127.0.0.1", "::1", "192.0.2.10"} {
				if err := c.Cert.VerifyHostname(host); err != nil {
					t.Errorf("VerifyHostname(%s): %v", host, err)
				}
			}
		})
	}

	t.Run("Load", func(t *testing.T) {
		loaded, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		sameIdentities(t, loaded, p)
		if loaded.Operator.CertFile != p.Operator.CertFile || loaded.MinIOTLS.KeyFile != p.MinIOTLS.KeyFile {
			t.Errorf("paths: got %s %s, want %s %s", loaded.Operator.CertFile, loaded.MinIOTLS.KeyFile,
				p.Operator.CertFile, p.MinIOTLS.KeyFile)
		}
	})

	t.Run("TLS", func(t *testing.T) {
		client := p.ClientTLS(p.Operator)
		client.ServerName = "localhost"
		peer, err := handshake(t, p.ServerTLS(p.KESServer), client)
		if err != nil {
			t.Fatalf("mTLS handshake: %v", err)
		}
		if got, want := Identity(peer), p.Operator.Identity(); got != want {
			t.Errorf("client identity seen by the server: got %s, want %s", got, want)
		}

		client = p.ClientTLS(nil)
		client.ServerName = "localhost"
		if _, err := handshake(t, p.ServerTLS(p.KESServer), client); err == nil {
			t.Error("handshake without a client certificate: got no error, want one")
		}

		s3 := p.ServerTLS(p.MinIOTLS)
		s3.ClientAuth = tls.NoClientCert
		client = p.ClientTLS(nil)
		client.ServerName = "sselab.test"
		if _, err := handshake(t, s3, client); err != nil {
			t.Errorf("TLS handshake with MinIO's certificate: %v", err)
		}
	})
}

// handshake runs a TLS handshake over loopback TCP and returns the client
// certificate the server saw, if any.
func handshake(t *testing.T, server, client *tls.Config) (*x509.Certificate, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	deadline := time.Now().Add(10 * time.Second)
	type result struct {
		peer *x509.Certificate
		err  error
	}
	done := make(chan result, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			done <- result{nil, err}
			return
		}
		conn.SetDeadline(deadline)
		srv := tls.Server(conn, server)
		defer srv.Close()
		if err := srv.Handshake(); err != nil {
			done <- result{nil, err}
			return
		}
		var peer *x509.Certificate
		if peers := srv.ConnectionState().PeerCertificates; len(peers) > 0 {
			peer = peers[0]
		}
		_, err = srv.Write([]byte{1})
		done <- result{peer, err}
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(deadline)
	cli := tls.Client(conn, client)
	defer cli.Close()
	err = cli.Handshake()
	if err == nil {
		// With TLS 1.3 the client learns that the server refused its
		// certificate only when it reads.
		_, err = cli.Read(make([]byte, 1))
	}
	res := <-done
	if res.err != nil {
		return nil, res.err
	}
	return res.peer, err
}

func TestLoadOrCreateTwice(t *testing.T) {
	t.Parallel()
	opts := Options{Dir: filepath.Join(t.TempDir(), "certs"), Hosts: []string{"sselab.test"}}
	first := newPKI(t, opts)
	before := snapshot(t, opts.Dir)
	second, err := LoadOrCreate(opts)
	if err != nil {
		t.Fatal(err)
	}
	sameIdentities(t, second, first)
	wantUnchanged(t, before, snapshot(t, opts.Dir))
}

func TestLoadOrCreateEmptyDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p, err := LoadOrCreate(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err != nil {
		t.Fatal(err)
	}
	if p.Dir != dir {
		t.Errorf("Dir: got %s, want %s", p.Dir, dir)
	}
}

func TestLoadOrCreateNotADirectory(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "certs")
	writeTestFile(t, path, []byte("x"))
	_, err := LoadOrCreate(Options{Dir: path})
	wantErrNaming(t, err, path)
}

func TestIdentity(t *testing.T) {
	t.Parallel()
	p := newPKI(t, Options{})
	for _, c := range certs(p) {
		block, _ := pem.Decode(readFile(t, c.CertFile))
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
		want := hex.EncodeToString(sum[:])
		if got := c.Identity(); got != want {
			t.Errorf("%s: Identity: got %s, want %s", c.Role, got, want)
		}
		got, err := IdentityOfFile(c.CertFile)
		if err != nil || got != want {
			t.Errorf("%s: IdentityOfFile: got %s, %v, want %s", c.Role, got, err, want)
		}
	}
	if _, err := IdentityOfFile(p.Operator.KeyFile); err == nil {
		t.Error("IdentityOfFile of a key: got no error, want one")
	}
}

func TestIdentityMatchesKESCLI(t *testing.T) {
	t.Parallel()
	kes := testtools.KESCLI(t)
	p := newPKI(t, Options{})
	for _, c := range certs(p) {
		// Its stdout is not a terminal, so kes prints the bare identity.
		out, err := exec.CommandContext(t.Context(), kes, "identity", "of", c.CertFile).Output()
		if err != nil {
			t.Fatalf("%s identity of %s: %v", kes, c.CertFile, err)
		}
		if got, want := strings.TrimSpace(string(out)), c.Identity(); got != want {
			t.Errorf("%s: kes identity of: got %q, want %q", c.Role, got, want)
		}
	}
}

// limitedReader returns n bytes from crypto/rand and then fails.
type limitedReader struct{ n int }

var errRand = errors.New("random source exhausted")

func (r *limitedReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errRand
	}
	if len(p) > r.n {
		p = p[:r.n]
	}
	n, err := rand.Read(p)
	r.n -= n
	return n, err
}

// countingReader counts the bytes read from crypto/rand.
type countingReader struct{ n int }

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := rand.Read(p)
	r.n += n
	return n, err
}

func TestLoadOrCreateRandomFailure(t *testing.T) {
	t.Parallel()
	counter := &countingReader{}
	newPKI(t, Options{Rand: counter})
	if counter.n == 0 {
		t.Fatal("LoadOrCreate read nothing from Options.Rand")
	}
	for _, n := range []int{0, 1, counter.n / 2, counter.n - 1} {
		parent := t.TempDir()
		dir := filepath.Join(parent, "certs")
		_, err := LoadOrCreate(Options{Dir: dir, Rand: &limitedReader{n}})
		if !errors.Is(err, errRand) {
			t.Errorf("failing after %d of %d bytes: got error %v, want %v", n, counter.n, err, errRand)
		}
		entries, err := os.ReadDir(parent)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 0 {
			t.Errorf("failing after %d of %d bytes: got %v left in %s, want nothing", n, counter.n, entries, parent)
		}
	}
}

func TestParseCertificatePEM(t *testing.T) {
	t.Parallel()
	p := newPKI(t, Options{})
	cert := readFile(t, p.Operator.CertFile)
	key := readFile(t, p.Operator.KeyFile)
	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{"valid", cert, ""},
		{"surrounding whitespace", append(append([]byte("\n \r\n"), cert...), "\n\n  \t"...), ""},
		{"empty", nil, "empty"},
		{"only whitespace", []byte(" \n"), "empty"},
		{"garbage", []byte("hello"), "before the PEM block"},
		{"leading garbage", append([]byte("x\n"), cert...), "before the PEM block"},
		{"trailing garbage", append(slices.Clone(cert), "junk"...), "after the PEM block"},
		{"two blocks", append(slices.Clone(cert), cert...), "more than one"},
		{"wrong type", key, `"PRIVATE KEY"`},
		{"truncated", cert[:len(cert)/2], "no valid PEM block"},
		{"bad DER", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}}), "not a valid X.509 certificate"},
		{"headers", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Headers: map[string]string{"A": "b"}, Bytes: p.Operator.Cert.Raw}), "headers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCertificatePEM(tt.data)
			if tt.wantErr == "" {
				if err != nil || !got.Equal(p.Operator.Cert) {
					t.Errorf("got %v, %v, want the operator certificate", got, err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), "pki: ") || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got error %v, want one with %q", err, tt.wantErr)
			}
		})
	}
}

func TestParsePrivateKeyPEM(t *testing.T) {
	t.Parallel()
	p := newPKI(t, Options{})
	cert := readFile(t, p.Operator.CertFile)
	key := readFile(t, p.Operator.KeyFile)
	ecKey, err := x509.MarshalECPrivateKey(p.Operator.Key.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{"valid", key, ""},
		{"trailing newlines", append(slices.Clone(key), "\n\n"...), ""},
		{"empty", []byte{}, "empty"},
		{"garbage", []byte("-----BEGIN nothing"), "no valid PEM block"},
		{"two blocks", append(slices.Clone(key), key...), "more than one"},
		{"trailing garbage", append(slices.Clone(key), "x"...), "after the PEM block"},
		{"wrong type", cert, `"CERTIFICATE"`},
		{"SEC 1 key", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecKey}), `"EC PRIVATE KEY"`},
		{"SEC 1 key labelled PKCS#8", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecKey}), "not a valid PKCS #8 private key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePrivateKeyPEM(tt.data)
			if tt.wantErr == "" {
				if err != nil || !p.Operator.Key.(*ecdsa.PrivateKey).Equal(got) {
					t.Errorf("got %v, want the operator key", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), "pki: ") || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got error %v, want one with %q", err, tt.wantErr)
			}
		})
	}
}

func TestLoadCorrupt(t *testing.T) {
	t.Parallel()
	other := newPKI(t, Options{})
	tests := []struct {
		name    string
		corrupt func(t *testing.T, dir string)
		badFile string // relative to the PKI directory
	}{
		{"key with two blocks", func(t *testing.T, dir string) {
			key := readFile(t, filepath.Join(dir, "operator.key"))
			writeTestFile(t, filepath.Join(dir, "operator.key"), append(key, key...))
		}, "operator.key"},
		{"certificate of the wrong type", func(t *testing.T, dir string) {
			writeTestFile(t, filepath.Join(dir, "kes-server.crt"), readFile(t, filepath.Join(dir, "kes-server.key")))
		}, "kes-server.crt"},
		{"garbage key", func(t *testing.T, dir string) {
			writeTestFile(t, filepath.Join(dir, "minio-tls", "private.key"), []byte("garbage\n"))
		}, filepath.Join("minio-tls", "private.key")},
		{"trailing garbage", func(t *testing.T, dir string) {
			cert := readFile(t, filepath.Join(dir, "minio-kes-client.crt"))
			writeTestFile(t, filepath.Join(dir, "minio-kes-client.crt"), append(cert, "junk"...))
		}, "minio-kes-client.crt"},
		{"key not matching", func(t *testing.T, dir string) {
			writeTestFile(t, filepath.Join(dir, "operator.key"), readFile(t, filepath.Join(dir, "minio-kes-client.key")))
		}, "operator.key"},
		{"CA key not matching", func(t *testing.T, dir string) {
			writeTestFile(t, filepath.Join(dir, "ca.key"), readFile(t, filepath.Join(dir, "operator.key")))
		}, "ca.key"},
		{"CA not a CA", func(t *testing.T, dir string) {
			writeTestFile(t, filepath.Join(dir, "ca.crt"), readFile(t, filepath.Join(dir, "operator.crt")))
			writeTestFile(t, filepath.Join(dir, "ca.key"), readFile(t, filepath.Join(dir, "operator.key")))
		}, "ca.crt"},
		{"issued by another CA", func(t *testing.T, dir string) {
			writeTestFile(t, filepath.Join(dir, "operator.crt"), readFile(t, other.Operator.CertFile))
			writeTestFile(t, filepath.Join(dir, "operator.key"), readFile(t, other.Operator.KeyFile))
		}, "operator.crt"},
		{"wrong extended key usage", func(t *testing.T, dir string) {
			writeTestFile(t, filepath.Join(dir, "operator.crt"), readFile(t, filepath.Join(dir, "kes-server.crt")))
			writeTestFile(t, filepath.Join(dir, "operator.key"), readFile(t, filepath.Join(dir, "kes-server.key")))
		}, "operator.crt"},
		{"certificate without key", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "operator.key"))
		}, "operator.key"},
		{"CA key missing", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "ca.key"))
		}, "ca.key"},
		{"CA missing", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "ca.key"))
			os.Remove(filepath.Join(dir, "ca.crt"))
		}, "ca.crt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newPKI(t, Options{})
			tt.corrupt(t, p.Dir)
			before := snapshot(t, p.Dir)
			badFile := filepath.Join(p.Dir, tt.badFile)

			_, err := Load(p.Dir)
			wantErrNaming(t, err, badFile)
			wantUnchanged(t, before, snapshot(t, p.Dir))

			_, err = LoadOrCreate(Options{Dir: p.Dir})
			wantErrNaming(t, err, badFile)
			wantUnchanged(t, before, snapshot(t, p.Dir))
		})
	}
}

func TestLoadMissing(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "certs")
	if _, err := Load(dir); err == nil {
		t.Error("Load of a missing directory: got no error, want one")
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after Load: got %v, want %s not to exist", err, dir)
	}
	if _, err := Load(""); err == nil {
		t.Error("Load(\"\"): got no error, want one")
	}
	if _, err := LoadOrCreate(Options{}); err == nil {
		t.Error("LoadOrCreate without Dir: got no error, want one")
	}
}

func TestLoadOrCreateRenews(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		age      time.Duration
		loadFail bool // whether Load refuses the old PKI
	}{
		{"expired", 900 * 24 * time.Hour, true},
		{"expires in 15 days", 810 * 24 * time.Hour, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			past := time.Now().Add(-tt.age)
			old := newPKI(t, Options{Now: func() time.Time { return past }})
			before := snapshot(t, old.Dir)

			_, err := Load(old.Dir)
			if tt.loadFail {
				wantErrNaming(t, err, old.KESServer.CertFile)
				if err != nil && !strings.Contains(err.Error(), "expired") {
					t.Errorf("got error %q, want it to say expired", err)
				}
			} else if err != nil {
				t.Errorf("Load: got %v, want the old certificates to be usable", err)
			}
			wantUnchanged(t, before, snapshot(t, old.Dir))

			p, err := LoadOrCreate(Options{Dir: old.Dir})
			if err != nil {
				t.Fatal(err)
			}
			sameIdentities(t, p, old)
			if !p.CA.Cert.Equal(old.CA.Cert) {
				t.Error("CA: got a new certificate, want the old one")
			}
			for _, c := range certs(p)[1:] {
				if left := time.Until(c.Cert.NotAfter); left < 800*24*time.Hour {
					t.Errorf("%s: got %v left, want a renewed certificate", c.Role, left)
				}
				if _, err := c.Cert.Verify(x509.VerifyOptions{Roots: p.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
					t.Errorf("%s: %v", c.Role, err)
				}
			}
			got := changed(before, snapshot(t, p.Dir))
			want := []string{"console.crt", "kes-server.crt", "minio-kes-client.crt", "minio-tls/public.crt", "operator.crt"}
			if !slices.Equal(got, want) {
				t.Errorf("changed files: got %v, want %v", got, want)
			}
			if _, err := Load(p.Dir); err != nil {
				t.Errorf("Load after renewal: %v", err)
			}
		})
	}
}

func TestLoadOrCreateKeyWithoutCert(t *testing.T) {
	t.Parallel()
	old := newPKI(t, Options{})
	os.Remove(old.Operator.CertFile)
	os.Remove(old.MinIOTLS.CertFile)
	before := snapshot(t, old.Dir)

	_, err := Load(old.Dir)
	wantErrNaming(t, err, old.Operator.CertFile)
	wantUnchanged(t, before, snapshot(t, old.Dir))

	p, err := LoadOrCreate(Options{Dir: old.Dir})
	if err != nil {
		t.Fatal(err)
	}
	sameIdentities(t, p, old)
	got := changed(before, snapshot(t, p.Dir))
	if want := []string{"minio-tls/public.crt", "operator.crt"}; !slices.Equal(got, want) {
		t.Errorf("changed files: got %v, want %v", got, want)
	}
}

func TestLoadOrCreateMissingLeaf(t *testing.T) {
	t.Parallel()
	old := newPKI(t, Options{})
	os.Remove(old.Operator.CertFile)
	os.Remove(old.Operator.KeyFile)
	before := snapshot(t, old.Dir)

	p, err := LoadOrCreate(Options{Dir: old.Dir})
	if err != nil {
		t.Fatal(err)
	}
	if p.Operator.Identity() == old.Operator.Identity() {
		t.Error("operator identity: got the old one, want a new one")
	}
	old.Operator = p.Operator
	sameIdentities(t, p, old)
	got := changed(before, snapshot(t, p.Dir))
	if want := []string{"operator.crt", "operator.key"}; !slices.Equal(got, want) {
		t.Errorf("changed files: got %v, want %v", got, want)
	}
	if fi, err := os.Stat(p.Operator.KeyFile); err == nil && runtime.GOOS != "windows" && fi.Mode() != 0o600 {
		t.Errorf("operator.key: got mode %v, want 0600", fi.Mode())
	}
}

func TestLoadOrCreateRestoresCACopy(t *testing.T) {
	t.Parallel()
	for _, damage := range []string{"remove", "replace"} {
		t.Run(damage, func(t *testing.T) {
			t.Parallel()
			p := newPKI(t, Options{})
			other := newPKI(t, Options{})
			path := filepath.Join(p.MinIOCertsDir(), "CAs", "ca.crt")
			if damage == "remove" {
				os.Remove(path)
			} else {
				writeTestFile(t, path, readFile(t, other.CAFile()))
			}
			_, err := Load(p.Dir)
			wantErrNaming(t, err, path)
			if _, err := LoadOrCreate(Options{Dir: p.Dir}); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(readFile(t, path), readFile(t, p.CAFile())) {
				t.Errorf("%s: got different content, want a copy of %s", path, p.CAFile())
			}
		})
	}
}

func TestLoadOrCreateNewHost(t *testing.T) {
	t.Parallel()
	opts := Options{Dir: filepath.Join(t.TempDir(), "certs"), Hosts: []string{"a.test"}}
	old := newPKI(t, opts)
	before := snapshot(t, opts.Dir)

	opts.Hosts = []string{"a.test", "b.test", "2001:db8::1"}
	p, err := LoadOrCreate(opts)
	if err != nil {
		t.Fatal(err)
	}
	sameIdentities(t, p, old)
	for _, c := range []*Cert{p.KESServer, p.MinIOTLS, p.Console} {
		for _, host := range []string{"localhost", "a.test", "b.test", "2001:db8::1", "::1"} {
			if err := c.Cert.VerifyHostname(host); err != nil {
				t.Errorf("%s: %v", c.Role, err)
			}
		}
	}
	got := changed(before, snapshot(t, opts.Dir))
	if want := []string{"console.crt", "kes-server.crt", "minio-tls/public.crt"}; !slices.Equal(got, want) {
		t.Errorf("changed files: got %v, want %v", got, want)
	}

	// Dropping a host keeps the certificates: they still cover the rest.
	before = snapshot(t, opts.Dir)
	if _, err := LoadOrCreate(Options{Dir: opts.Dir}); err != nil {
		t.Fatal(err)
	}
	wantUnchanged(t, before, snapshot(t, opts.Dir))
}

func TestLoadOrCreateBadHosts(t *testing.T) {
	t.Parallel()
	for _, host := range []string{"", "bad host", "-a.test", "a..test", "a_b.test", "fe80::1%eth0", "[::1]", "http://a.test", strings.Repeat("a", 64) + ".test"} {
		dir := filepath.Join(t.TempDir(), "certs")
		_, err := LoadOrCreate(Options{Dir: dir, Hosts: []string{host}})
		if err == nil || !strings.Contains(err.Error(), "neither an IP address nor a DNS name") {
			t.Errorf("host %q: got error %v, want it refused", host, err)
		}
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("host %q: got %v, want %s not to exist", host, err, dir)
		}
	}
	for _, host := range []string{"A.Test.", "*.lab.test", "10.0.0.1", "2001:db8::2", "xn--bcher-kva.example"} {
		if _, err := newSANs([]string{host}); err != nil {
			t.Errorf("host %q: got %v, want it accepted", host, err)
		}
	}
}

func TestCertificatesReadsAnExpiredPKI(t *testing.T) {
	t.Parallel()
	past := time.Now().Add(-1000 * 24 * time.Hour)
	p := newPKI(t, Options{Now: func() time.Time { return past }, Validity: 24 * time.Hour})
	if _, err := Load(p.Dir); err == nil {
		t.Fatal("Load of a PKI with expired leaves: got nil error")
	}
	certs, err := Certificates(p.Dir)
	if err != nil {
		t.Fatal(err)
	}
	var roles []string
	for _, c := range certs {
		roles = append(roles, c.Role)
		if c.Cert == nil || c.Key != nil {
			t.Errorf("%s: got cert %v, key %v; want a certificate and no key", c.Role, c.Cert != nil, c.Key != nil)
		}
	}
	if want := []string{RoleCA, RoleKESServer, RoleMinIOClient, RoleOperator, RoleMinIOTLS, RoleConsole}; !slices.Equal(roles, want) {
		t.Errorf("roles: got %v, want %v", roles, want)
	}
	os.Remove(p.Operator.CertFile)
	if _, err := Certificates(p.Dir); err == nil || !strings.Contains(err.Error(), "operator.crt") {
		t.Errorf("Certificates with operator.crt missing: got %v, want an error naming it", err)
	}
}
