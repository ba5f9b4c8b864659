package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/sselab/sselab/pkg/lab"
)

// awkward are values that need quoting in every shell.
var awkward = []string{
	"plain",
	"",
	"with space",
	"it's",
	`dq"uote`,
	"$HOME and ${PATH}",
	"`id` $(id)",
	"50% %PATH% !bang!",
	`back\slash\\ \'`,
	"semi;colon & amp | pipe < > ^caret",
	"tab\tand*glob?[x]~",
	"new\nline",
	"unicode é ‘curly’ ✓",
	"'",
	"''",
}

func TestEnvShRoundTrip(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	for _, v := range awkward {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			if err := writeEnv(&out, []lab.EnvVar{{Name: "SSELAB_TEST_V", Value: v}}, shellSh); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("/bin/sh", "-c", `eval "$OUT"; printf %s "$SSELAB_TEST_V"`)
			cmd.Env = append(os.Environ(), "OUT="+out.String())
			got, err := cmd.Output()
			if err != nil {
				t.Fatalf("sh: %v (script %q)", err, out.String())
			}
			if string(got) != v {
				t.Errorf("got %q, want %q (script %q)", got, v, out.String())
			}
		})
	}
}

func TestEnvShellText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		shell, value, want string
	}{
		{shellSh, "plain", "export V=plain\n"},
		{shellSh, "it's $x", `export V='it'\''s $x'` + "\n"},
		{shellFish, "plain", "set -gx V 'plain';\n"},
		{shellFish, "it's", `set -gx V 'it\'s';` + "\n"},
		{shellFish, `a\b`, `set -gx V 'a\\b';` + "\n"},
		{shellFish, "$HOME `id` 50% \"q\"", "set -gx V '$HOME `id` 50% \"q\"';\n"},
		{shellFish, "new\nline", "set -gx V 'new\nline';\n"},
		{shellPowerShell, "plain", "$env:V = 'plain'\n"},
		{shellPowerShell, "it's", "$env:V = 'it''s'\n"},
		{shellPowerShell, "$HOME `id` 50% \"q\" a\\b", "$env:V = '$HOME `id` 50% \"q\" a\\b'\n"},
		{shellPowerShell, "‘curly’ ‚low‛", "$env:V = '‘‘curly’’ ‚‚low‛‛'\n"},
		{shellPowerShell, "", "$env:V = ''\n"},
		{shellCmd, "plain", "set \"V=plain\"\n"},
		{shellCmd, "50% %PATH% it's $x `id` a\\b & | < > ^ !", "set \"V=50% %PATH% it's $x `id` a\\b & | < > ^ !\"\n"},
		{shellCmd, "", "set \"V=\"\n"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		if err := writeEnv(&out, []lab.EnvVar{{Name: "V", Value: tt.value}}, tt.shell); err != nil {
			t.Errorf("%s %q: %v", tt.shell, tt.value, err)
			continue
		}
		if out.String() != tt.want {
			t.Errorf("%s %q: got %q, want %q", tt.shell, tt.value, out.String(), tt.want)
		}
	}
}

func TestEnvRefusesWhatAShellCannotTake(t *testing.T) {
	t.Parallel()
	tests := []struct {
		shell, value, wantErr string
	}{
		{shellCmd, `pa"ss`, `AWS_SECRET_ACCESS_KEY contains a double quote (")`},
		{shellCmd, "a\nb", "AWS_SECRET_ACCESS_KEY contains a line break"},
		{shellPowerShell, "a\r\nb", "AWS_SECRET_ACCESS_KEY contains a line break"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		vars := []lab.EnvVar{{Name: "AWS_ACCESS_KEY_ID", Value: "ok"}, {Name: "AWS_SECRET_ACCESS_KEY", Value: tt.value}}
		err := writeEnv(&out, vars, tt.shell)
		if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s %q: got error %v, want one line starting with %q", tt.shell, tt.value, err, tt.wantErr)
		}
		if out.Len() != 0 {
			t.Errorf("%s %q: wrote %q before failing, want nothing", tt.shell, tt.value, out.String())
		}
	}
}

func TestEnvCertComment(t *testing.T) {
	t.Parallel()
	vars := []lab.EnvVar{{Name: "AWS_REGION", Value: "us-east-1"}, {Name: "SSL_CERT_FILE", Value: "/d/certs/ca.crt"}}
	tests := []struct{ shell, prefix, undo, set string }{
		{shellSh, "# ", "'unset SSL_CERT_FILE REQUESTS_CA_BUNDLE RCLONE_CA_CERT'", "export SSL_CERT_FILE=/d/certs/ca.crt"},
		{shellFish, "# ", "'set -e SSL_CERT_FILE REQUESTS_CA_BUNDLE RCLONE_CA_CERT'", "set -gx SSL_CERT_FILE '/d/certs/ca.crt';"},
		{shellPowerShell, "# ", "'Remove-Item Env:SSL_CERT_FILE, Env:REQUESTS_CA_BUNDLE, Env:RCLONE_CA_CERT'", "$env:SSL_CERT_FILE = '/d/certs/ca.crt'"},
		{shellCmd, "rem ", "'set SSL_CERT_FILE='", `set "SSL_CERT_FILE=/d/certs/ca.crt"`},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		if err := writeEnv(&out, vars, tt.shell); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if len(lines) != 3 {
			t.Fatalf("%s: got %d lines, want 3: %q", tt.shell, len(lines), out.String())
		}
		if c := lines[1]; !strings.HasPrefix(c, tt.prefix+"Go and OpenSSL programs, the AWS CLI") || !strings.Contains(c, tt.undo) {
			t.Errorf("%s: comment %q, want it to start with %q and contain %q", tt.shell, c, tt.prefix, tt.undo)
		}
		if lines[2] != tt.set {
			t.Errorf("%s: got %q, want %q", tt.shell, lines[2], tt.set)
		}
	}
}

func TestEnvDefaultShell(t *testing.T) {
	t.Parallel()
	for goos, want := range map[string]string{"linux": shellSh, "darwin": shellSh, "windows": shellPowerShell} {
		if got := defaultShell(goos); got != want {
			t.Errorf("defaultShell(%q): got %q, want %q", goos, got, want)
		}
	}
}

func TestEnvFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		args       []string
		code       int
		stderrLine string
	}{
		{[]string{"env", "--dir", dir, "--shell", "tcsh"}, 2, `sselab: unknown shell "tcsh", want sh, fish, powershell or cmd; see 'sselab env --help'`},
		{[]string{"env", "--dir", dir, "--shell", "fish", "--json"}, 2, "sselab: --json, --shell and --s3cmd exclude each other; see 'sselab env --help'"},
		{[]string{"env", "--dir", dir, "--s3cmd", "--json"}, 2, "sselab: --json, --shell and --s3cmd exclude each other; see 'sselab env --help'"},
		{[]string{"env", "--dir", dir, "--shell", "PWSH"}, 1, "sselab: lab: no lab is running on " + dir + "; start it with 'sselab up --dir " + dir + "'"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), tt.args, &stdout, &stderr)
		if code != tt.code || stderr.String() != tt.stderrLine+"\n" {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", tt.args, code, stderr.String(), tt.code, tt.stderrLine)
		}
	}
}

func TestEnvUsageShowsEveryShell(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"env", "--help"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{
		`eval "$(sselab env)"`,
		"sselab env --shell fish | source",
		"sselab env --shell powershell | Invoke-Expression",
		`for /f "delims=" %i in ('sselab env --shell cmd') do %i`,
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("usage lacks %q", want)
		}
	}
}
