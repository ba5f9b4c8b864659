package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/sselab/sselab/pkg/lab"
)

const envUsage = `Usage: sselab env [--dir DIR] [--shell sh|fish|powershell|cmd] [--json] [--s3cmd]

Prints shell commands that point mc (alias "sselab"), rclone (remote
"sselab"), the AWS CLI and SDKs, and the kes CLI (as the operator
identity) at the running lab. Apply them in the current shell with:

  sh, bash, zsh:  eval "$(sselab env)"
  fish:           sselab env --shell fish | source
  PowerShell:     sselab env --shell powershell | Invoke-Expression
  cmd.exe:        for /f "delims=" %i in ('sselab env --shell cmd') do %i
                  (in a batch file, write %%i for %i)

{{flags}}

SSL_CERT_FILE, REQUESTS_CA_BUNDLE (the AWS CLI, Python) and RCLONE_CA_CERT
make programs in that shell trust the lab CA, and only it. AWS_CA_BUNDLE
is not set: rclone 1.60 fails when it is.

rclone's remote uploads with SSE-KMS and the lab's default key (without it
rclone takes an SSE-KMS object for corrupted); for a bucket with another
default encryption, 'sselab bucket encryption NAME' prints the rclone path
that keeps it.

--s3cmd prints an s3cmd configuration file instead:
  sselab env --s3cmd > sselab.s3cfg && s3cmd -c sselab.s3cfg ls

In a lab of several MinIO nodes, S3 is node 1, and SSELAB_S3_ENDPOINTS
lists the S3 endpoints of every node, comma-separated.
`

// Shells 'sselab env' writes for.
const (
	shellSh         = "sh"
	shellFish       = "fish"
	shellPowerShell = "powershell"
	shellCmd        = "cmd"
)

// shellNames maps every accepted --shell value to its shell.
var shellNames = map[string]string{
	"sh": shellSh, "bash": shellSh, "zsh": shellSh,
	"fish":       shellFish,
	"powershell": shellPowerShell, "pwsh": shellPowerShell,
	"cmd": shellCmd,
}

// defaultShell is the shell 'sselab env' writes for without --shell.
func defaultShell(goos string) string {
	if goos == "windows" {
		return shellPowerShell
	}
	return shellSh
}

func runEnv(_ context.Context, args []string, stdout, _ io.Writer) error {
	var (
		dir     string
		shell   string
		jsonOut bool
		s3cmd   bool
	)
	fs := newFlags("env", &dir)
	fs.StringVar(&shell, "shell", "", "the `SHELL` to write for: sh (also bash, zsh), fish, powershell (also pwsh) or cmd; default sh, on Windows powershell")
	fs.BoolVar(&jsonOut, "json", false, "print the variables as JSON instead")
	fs.BoolVar(&s3cmd, "s3cmd", false, "print an s3cmd configuration file instead")
	if err := parse(fs, args, &dir); err != nil {
		return err
	}
	if n := btoi(jsonOut) + btoi(shell != "") + btoi(s3cmd); n > 1 {
		return usageError{errors.New("--json, --shell and --s3cmd exclude each other")}
	}
	if shell == "" {
		shell = defaultShell(runtime.GOOS)
	}
	sh, ok := shellNames[strings.ToLower(shell)]
	if !ok {
		return usageError{fmt.Errorf("unknown shell %q, want sh, fish, powershell or cmd", shell)}
	}
	h, err := lab.Open(dir)
	if err != nil {
		return err
	}
	if s3cmd {
		cfg, err := h.S3cmdConfig()
		if err != nil {
			return err
		}
		_, err = io.WriteString(stdout, cfg)
		return err
	}
	vars, err := h.Env()
	if err != nil {
		return err
	}
	if jsonOut {
		return writeJSON(stdout, vars)
	}
	return writeEnv(stdout, vars, sh)
}

// btoi is 1 for true.
func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// envNotes are the comments written before the variables they name;
// undo is how each shell takes the variables away again (none if empty).
var envNotes = map[string]struct {
	text string
	undo map[string]string
}{
	"SSL_CERT_FILE": {
		text: "Go and OpenSSL programs, the AWS CLI (REQUESTS_CA_BUNDLE) and rclone (RCLONE_CA_CERT) in this shell now trust only the lab CA; ",
		undo: map[string]string{
			shellSh:         "'unset SSL_CERT_FILE REQUESTS_CA_BUNDLE RCLONE_CA_CERT'",
			shellFish:       "'set -e SSL_CERT_FILE REQUESTS_CA_BUNDLE RCLONE_CA_CERT'",
			shellPowerShell: "'Remove-Item Env:SSL_CERT_FILE, Env:REQUESTS_CA_BUNDLE, Env:RCLONE_CA_CERT'",
			shellCmd:        "'set SSL_CERT_FILE=' (and REQUESTS_CA_BUNDLE=, RCLONE_CA_CERT=)",
		},
	},
	"AWS_CA_BUNDLE": {
		text: "AWS_CA_BUNDLE would make rclone 1.60 fail and the AWS CLI ignore REQUESTS_CA_BUNDLE.",
	},
	"RCLONE_CONFIG_" + strings.ToUpper(lab.RcloneRemote) + "_TYPE": {
		text: "rclone remote '" + lab.RcloneRemote + "': uploads use SSE-KMS with the lab's default key; 'sselab bucket encryption NAME' prints the path for a bucket with another default encryption",
	},
}

// envComment is the note on variable name for shell, or "".
func envComment(name, shell string) string {
	n, ok := envNotes[name]
	if !ok {
		return ""
	}
	text := n.text
	if undo := n.undo[shell]; undo != "" {
		text += undo + " before reaching other HTTPS sites."
	}
	if shell == shellCmd {
		return "rem " + strings.ReplaceAll(text, "shell", "window") + "\n"
	}
	return "# " + text + "\n"
}

// writeEnv writes vars as commands for shell. It checks every value first,
// so that nothing is written if one cannot be expressed in that shell.
func writeEnv(w io.Writer, vars []lab.EnvVar, shell string) error {
	for _, v := range vars {
		if err := checkEnvValue(v, shell); err != nil {
			return err
		}
	}
	var b strings.Builder
	for _, v := range vars {
		b.WriteString(envComment(v.Name, shell))
		if v.Unset {
			b.WriteString(unsetLine(v.Name, shell))
			continue
		}
		switch shell {
		case shellSh:
			fmt.Fprintf(&b, "export %s=%s\n", v.Name, shellQuote(v.Value))
		case shellFish:
			fmt.Fprintf(&b, "set -gx %s %s;\n", v.Name, fishQuote(v.Value))
		case shellPowerShell:
			fmt.Fprintf(&b, "$env:%s = %s\n", v.Name, powerShellQuote(v.Value))
		case shellCmd:
			fmt.Fprintf(&b, "set \"%s=%s\"\n", v.Name, v.Value)
		default:
			return fmt.Errorf("unknown shell %q", shell)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// unsetLine removes variable name in shell, quietly when it is not set.
func unsetLine(name, shell string) string {
	switch shell {
	case shellFish:
		return "set -e " + name + ";\n"
	case shellPowerShell:
		return "Remove-Item Env:" + name + " -ErrorAction SilentlyContinue\n"
	case shellCmd:
		return "set \"" + name + "=\"\n"
	}
	return "unset " + name + "\n"
}

// checkEnvValue reports a variable that shell cannot be given safely.
// PowerShell and cmd.exe read the output line by line, so no value may
// span lines there; cmd.exe has no way to quote a double quote inside
// set "NAME=value".
func checkEnvValue(v lab.EnvVar, shell string) error {
	if shell != shellPowerShell && shell != shellCmd {
		return nil
	}
	if strings.ContainsAny(v.Value, "\r\n") {
		return fmt.Errorf("%s contains a line break, which %s cannot take through 'sselab env'; use --shell sh or --json", v.Name, shell)
	}
	if shell == shellCmd && strings.Contains(v.Value, `"`) {
		return fmt.Errorf(`%s contains a double quote ("), which cmd.exe cannot take in set "NAME=value"; use --shell powershell or --json`, v.Name)
	}
	return nil
}

// fishQuote quotes s for fish: in single quotes only \ and ' are special,
// and both are escaped with a backslash.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// powerShellQuote quotes s as a PowerShell verbatim string. PowerShell
// also takes the typographic single quotes (U+2018 to U+201B) as quote
// marks, so those are doubled as well.
func powerShellQuote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		switch r {
		case '\'', '\u2018', '\u2019', '\u201a', '\u201b':
			b.WriteRune(r)
		}
		b.WriteRune(r)
	}
	b.WriteByte('\'')
	return b.String()
}
