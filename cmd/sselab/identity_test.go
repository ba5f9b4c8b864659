package main

import (
	"bytes"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	kesapi "github.com/minio/kms-go/kes"

	"github.com/sselab/sselab/internal/testtools"
	"github.com/sselab/sselab/pkg/pki"
)

// newTestPKI creates a lab PKI in a temporary directory.
func newTestPKI(t *testing.T) *pki.PKI {
	t.Helper()
	p, err := pki.LoadOrCreate(pki.Options{Dir: filepath.Join(t.TempDir(), "certs")})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestIdentityOfMatchesKESCLI(t *testing.T) {
	t.Parallel()
	kes := testtools.KESCLI(t)
	p := newTestPKI(t)

	// A chain: kes takes the first certificate.
	chain := concat(t, p.Operator.CertFile, p.CA.CertFile)
	apiKey, err := kesapi.GenerateAPIKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	args := map[string]string{
		"ca":           p.CA.CertFile,
		"kes-server":   p.KESServer.CertFile,
		"minio client": p.MinIOClient.CertFile,
		"operator":     p.Operator.CertFile,
		"minio-tls":    p.MinIOTLS.CertFile,
		"chain":        chain,
		"api key":      apiKey.String(),
	}
	for name, arg := range args {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			want, err := exec.Command(kes, "identity", "of", arg).Output()
			if err != nil {
				t.Fatalf("kes identity of %s: %v", arg, err)
			}
			var stdout, stderr bytes.Buffer
			if code := run(t.Context(), []string{"identity", "of", arg}, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			// kes prints no newline when stdout is not a terminal; sselab does.
			if got, want := stdout.String(), strings.TrimSpace(string(want))+"\n"; got != want {
				t.Errorf("got %q, want %q (from kes)", got, want)
			}
		})
	}
	var stdout bytes.Buffer
	run(t.Context(), []string{"identity", "of", p.Operator.CertFile}, &stdout, new(bytes.Buffer))
	if got, want := strings.TrimSpace(stdout.String()), p.Operator.Identity(); got != want {
		t.Errorf("operator: got %q, want pki's %q", got, want)
	}
}

// concat writes the files one after another into a new file.
func concat(t *testing.T, files ...string) string {
	t.Helper()
	var data []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, b...)
	}
	path := filepath.Join(t.TempDir(), "concat.pem")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestIdentityOfRefusesLikeKESCLI checks that files kes refuses are
// refused, with one line.
func TestIdentityOfRefusesLikeKESCLI(t *testing.T) {
	t.Parallel()
	kes := testtools.KESCLI(t)
	p := newTestPKI(t)
	files := map[string]string{
		"cert then key": concat(t, p.Operator.CertFile, p.Operator.KeyFile),
		"key then cert": concat(t, p.Operator.KeyFile, p.Operator.CertFile),
		"key only":      p.Operator.KeyFile,
	}
	for name, path := range files {
		if err := exec.Command(kes, "identity", "of", path).Run(); err == nil {
			t.Errorf("%s: kes identity of accepts it", name)
		}
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), []string{"identity", "of", path}, &stdout, &stderr); code != 1 || strings.Count(stderr.String(), "\n") != 1 || stdout.Len() != 0 {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 1, nothing and one line", name, code, stdout.String(), stderr.String())
		}
	}
}

func TestIdentityOfErrors(t *testing.T) {
	t.Parallel()
	p := newTestPKI(t)
	dir := t.TempDir()
	write := func(name, data string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	missing := filepath.Join(dir, "missing.crt")
	text := write("text.crt", "hello\n")
	empty := write("empty.crt", "\n")
	certPEM, err := os.ReadFile(p.CA.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	junk := write("junk.crt", string(certPEM)+"junk\n")
	badDER := write("bad.crt", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")

	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"missing file", []string{"of", missing}, 1, "sselab: no certificate at " + missing},
		{"not PEM", []string{"of", text}, 1, "sselab: " + text + " is not a PEM certificate: no PEM CERTIFICATE block"},
		{"empty", []string{"of", empty}, 1, "sselab: " + empty + " is not a PEM certificate: empty file, want a PEM CERTIFICATE block"},
		{"key only", []string{"of", p.Operator.KeyFile}, 1, "sselab: " + p.Operator.KeyFile + ` is not a PEM certificate: it holds a PEM block of type "PRIVATE KEY", want only CERTIFICATE blocks`},
		{"trailing junk", []string{"of", junk}, 1, "sselab: " + junk + " is not a PEM certificate: data after the PEM blocks"},
		{"bad DER", []string{"of", badDER}, 1, "sselab: " + badDER + " is not a PEM certificate: invalid certificate: "},
		{"bad API key", []string{"of", "kes:v1:xyz"}, 1, "sselab: not a valid KES API key: "},
		{"no argument", []string{"of"}, 2, "sselab: 'identity of' takes 1 argument (a certificate file or an API key), got 0; see 'sselab identity --help'"},
		{"two arguments", []string{"of", "a", "b"}, 2, "sselab: 'identity of' takes 1 argument (a certificate file or an API key), got 2; see 'sselab identity --help'"},
		{"unknown subcommand", []string{"off", "x"}, 2, "sselab: unknown command 'identity off'; see 'sselab identity --help'"},
		{"unknown flag", []string{"of", "--json", "x"}, 2, "sselab: unknown flag: --json; see 'sselab identity --help'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), append([]string{"identity"}, tt.args...), &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit code: got %d, want %d", code, tt.code)
			}
			got := stderr.String()
			if !strings.HasPrefix(got, tt.stderr) || strings.Count(got, "\n") != 1 {
				t.Errorf("stderr: got %q, want one line starting with %q", got, tt.stderr)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout: got %q, want nothing", stdout.String())
			}
		})
	}
}

func TestIdentityHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"identity"}, {"identity", "--help"}, {"identity", "of", "--help"}} {
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), args, &stdout, &stderr); code != 0 || !strings.HasPrefix(stdout.String(), "Usage: sselab identity of") {
			t.Errorf("%q: exit %d, stdout %q", args, code, stdout.String())
		}
	}
}
