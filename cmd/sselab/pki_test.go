package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sselab/sselab/pkg/labdir"
	"github.com/sselab/sselab/pkg/pki"
)

// newLabPKI creates a lab directory with a PKI issued at now with leaf
// certificates valid for validity (0: the default), and returns the lab
// directory.
func newLabPKI(t *testing.T, now time.Time, validity time.Duration) string {
	t.Helper()
	dir := t.TempDir()
	_, err := pki.LoadOrCreate(pki.Options{
		Dir:      labdir.Layout{Root: dir}.CertsDir(),
		Now:      func() time.Time { return now },
		Validity: validity,
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

const day = 24 * time.Hour

var allRoles = []string{pki.RoleCA, pki.RoleKESServer, pki.RoleMinIOClient, pki.RoleOperator, pki.RoleMinIOTLS, pki.RoleConsole}

// pkiShow runs 'sselab pki show' with args on dir.
func pkiShow(t *testing.T, dir string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(t.Context(), append([]string{"pki", "show", "--dir", dir}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

// marks returns the role and mark of every certificate in the human output.
func marks(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 2 && !strings.HasPrefix(line, " ") && slices.Contains(allRoles, fields[0]) {
			m[fields[0]] = fields[1]
		}
	}
	return m
}

func TestPKIShowFresh(t *testing.T) {
	t.Parallel()
	dir := newLabPKI(t, time.Now(), 0)
	code, out, errOut := pkiShow(t, dir)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q; want 0 and nothing", code, errOut)
	}
	got := marks(out)
	for _, role := range allRoles {
		if got[role] != "OK" {
			t.Errorf("%s: got mark %q, want OK\n%s", role, got[role], out)
		}
	}
	p, err := pki.Load(labdir.Layout{Root: dir}.CertsDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"identity  " + p.Operator.Identity(),
		"subject   CN=sselab-operator",
		"SANs      localhost, 127.0.0.1, ::1",
		"path      " + p.MinIOTLS.CertFile,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Errorf("colour codes in output to a buffer: %q", out)
	}
}

func TestPKIShowExpiresSoon(t *testing.T) {
	t.Parallel()
	// Issued 80 days ago for 90 days: 10 days left.
	dir := newLabPKI(t, time.Now().Add(-80*day), 90*day)
	code, out, errOut := pkiShow(t, dir)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q; want 0 and nothing", code, errOut)
	}
	got := marks(out)
	if got[pki.RoleCA] != "OK" {
		t.Errorf("ca: got mark %q, want OK", got[pki.RoleCA])
	}
	for _, role := range allRoles[1:] {
		if got[role] != "WARN" {
			t.Errorf("%s: got mark %q, want WARN\n%s", role, got[role], out)
		}
	}
	if !strings.Contains(out, "the next 'sselab up' renews it") || !strings.Contains(out, "(9 days left)") {
		t.Errorf("output lacks the renewal note or the days left:\n%s", out)
	}
}

func TestPKIShowExpired(t *testing.T) {
	t.Parallel()
	// Issued 100 days ago for 90 days: expired 10 days ago. pki.Load
	// refuses such a PKI; 'pki show' still shows it.
	dir := newLabPKI(t, time.Now().Add(-100*day), 90*day)
	code, out, errOut := pkiShow(t, dir)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	got := marks(out)
	for _, role := range allRoles[1:] {
		if got[role] != "EXPIRED" {
			t.Errorf("%s: got mark %q, want EXPIRED\n%s", role, got[role], out)
		}
	}
	want := "sselab: expired: kes-server, minio-kes-client, operator, minio-tls, console; 'sselab up --dir " + dir + "' renews expired leaf certificates"
	if !strings.HasPrefix(errOut, want) || strings.Count(errOut, "\n") != 1 {
		t.Errorf("stderr: got %q, want one line starting with %q", errOut, want)
	}

	// JSON is printed too, and the command still fails.
	code, out, _ = pkiShow(t, dir, "--json")
	var r pkiReport
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 1 {
		t.Fatalf("--json: exit %d, %v: %s", code, err, out)
	}
	if c := r.Certificates[1]; c.Status != "expired" || c.DaysLeft != -10 {
		t.Errorf("--json: %s: status %q, days_left %d; want expired, -10", c.Role, c.Status, c.DaysLeft)
	}
}

func TestPKIShowExpiredCA(t *testing.T) {
	t.Parallel()
	dir := newLabPKI(t, time.Now().AddDate(-11, 0, 0), 0)
	code, out, errOut := pkiShow(t, dir)
	if code != 1 || marks(out)[pki.RoleCA] != "EXPIRED" {
		t.Errorf("exit %d, ca mark %q; want 1 and EXPIRED", code, marks(out)[pki.RoleCA])
	}
	want := "a lab CA is never renewed: move " + filepath.Join(dir, "certs") + " aside and run 'sselab up' again"
	if !strings.Contains(errOut, want) || strings.Count(errOut, "\n") != 1 {
		t.Errorf("stderr: got %q, want one line containing %q", errOut, want)
	}
}

func TestPKIShowJSON(t *testing.T) {
	t.Parallel()
	dir := newLabPKI(t, time.Now(), 0)
	code, out, errOut := pkiShow(t, dir, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.HasPrefix(out, "{\n  \"dir\": ") {
		t.Errorf("not indented JSON: %q", out)
	}
	var raw struct {
		Dir          string           `json:"dir"`
		Certificates []map[string]any `json:"certificates"`
	}
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatal(err)
	}
	if want := (labdir.Layout{Root: dir}).CertsDir(); raw.Dir != want {
		t.Errorf("dir: got %q, want %q", raw.Dir, want)
	}
	wantKeys := []string{"days_left", "dns_names", "identity", "ip_addresses", "not_after", "not_before", "path", "role", "status", "subject_cn"}
	var roles []string
	for _, c := range raw.Certificates {
		var keys []string
		for k := range c {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, wantKeys) {
			t.Errorf("%v: got keys %q, want %q", c["role"], keys, wantKeys)
		}
		if c["status"] != "ok" {
			t.Errorf("%v: status %v, want ok", c["role"], c["status"])
		}
		if _, ok := c["dns_names"].([]any); !ok {
			t.Errorf("%v: dns_names is %v, want a list (never null)", c["role"], c["dns_names"])
		}
		roles = append(roles, c["role"].(string))
	}
	if !slices.Equal(roles, allRoles) {
		t.Errorf("roles: got %q, want %q", roles, allRoles)
	}
}

func TestPKIShowErrors(t *testing.T) {
	t.Parallel()
	empty := t.TempDir()
	broken := newLabPKI(t, time.Now(), 0)
	brokenFile := filepath.Join(labdir.Layout{Root: broken}.CertsDir(), "operator.crt")
	if err := os.WriteFile(brokenFile, []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no PKI", []string{"show", "--dir", empty}, 1,
			"sselab: no PKI in " + filepath.Join(empty, "certs") + " yet; run 'sselab up --dir " + empty + "' first, it creates one"},
		{"broken file", []string{"show", "--dir", broken}, 1, "sselab: pki: " + brokenFile + ": data before the PEM block; remove " + brokenFile + " and run 'sselab up' again: it issues a new certificate for the same key and identity"},
		{"unknown subcommand", []string{"list"}, 2, "sselab: unknown command 'pki list'; see 'sselab pki --help'"},
		{"stray argument", []string{"show", "--dir", empty, "x"}, 2, `sselab: unexpected argument "x"; see 'sselab pki --help'`},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), append([]string{"pki"}, tt.args...), &stdout, &stderr)
		if code != tt.code || stderr.String() != tt.stderr+"\n" {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q", tt.name, code, stderr.String(), tt.code, tt.stderr)
		}
	}
}

func TestDescribeCertBoundaries(t *testing.T) {
	t.Parallel()
	p, err := pki.LoadOrCreate(pki.Options{Dir: filepath.Join(t.TempDir(), "certs")})
	if err != nil {
		t.Fatal(err)
	}
	end := p.Operator.Cert.NotAfter
	tests := []struct {
		now    time.Time
		status string
		days   int
	}{
		{end.Add(-30*day - time.Second), certOK, 30},
		{end.Add(-30*day + time.Second), certWarn, 29},
		{end.Add(-time.Second), certWarn, 0},
		{end, certExpired, 0},
		{end.Add(time.Second), certExpired, 0},
		{end.Add(day + time.Second), certExpired, -1},
		{p.Operator.Cert.NotBefore.Add(-time.Second), certNotYetValid, 825},
	}
	for _, tt := range tests {
		got := describeCert(p.Operator, tt.now)
		if got.Status != tt.status || got.DaysLeft != tt.days {
			t.Errorf("at NotAfter%+v: got %s, %d days; want %s, %d", tt.now.Sub(end), got.Status, got.DaysLeft, tt.status, tt.days)
		}
	}
}
