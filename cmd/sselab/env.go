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

const envUsage = `Usage: sselab env [--dir DIR] [--shell sh|fish|powershell|cmd] [--json]

Prints shell commands that point mc (alias "sselab"), the AWS CLI and SDKs,
and the kes CLI (as the operator identity) at the running lab. Apply them
in the current shell with:

  sh, bash, zsh:  eval "$(sselab env)"
  fish:           sselab env --shell fish | source
  PowerShell:     sselab env --shell powershell | Invoke-Expression
  cmd.exe:        for /f "delims=" %i in ('sselab env --shell cmd') do %i
                  (in a batch file, write %%i for %i)

{{flags}}

In a lab of several MinIO nodes, S3 is node 1, and SSELAB_S3_ENDPOINTS
lists the S3 endpoints of every node, comma-separated.

SSL_CERT_FILE makes programs in that shell that use Go's or OpenSSL's
trust store trust the lab CA, and only it.
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
	)
	fs := newFlags("env", &dir)
	fs.StringVar(&shell, "shell", "", "the `SHELL` to write for: sh (also bash, zsh), fish, powershell (also pwsh) or cmd; default sh, on Windows powershell")
	fs.BoolVar(&jsonOut, "json", false, "print the variables as JSON instead")
	if err := parse(fs, args, &dir); err != nil {
		return err
	}
	if jsonOut && shell != "" {
		return usageError{errors.New("--json and --shell exclude each other")}
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
	vars, err := h.Env()
	if err != nil {
		return err
	}
	if jsonOut {
		return writeJSON(stdout, vars)
	}
	return writeEnv(stdout, vars, sh)
}

// certNote explains SSL_CERT_FILE; each shell adds how to undo it.
const certNote = "Go and OpenSSL programs in this shell now trust only the lab CA; "

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
		switch shell {
		case shellSh:
			if v.Name == "SSL_CERT_FILE" {
				b.WriteString("# " + certNote + "'unset SSL_CERT_FILE' before reaching other HTTPS sites.\n")
			}
			fmt.Fprintf(&b, "export %s=%s\n", v.Name, shellQuote(v.Value))
		case shellFish:
			if v.Name == "SSL_CERT_FILE" {
				b.WriteString("# " + certNote + "'set -e SSL_CERT_FILE' before reaching other HTTPS sites.\n")
			}
			fmt.Fprintf(&b, "set -gx %s %s;\n", v.Name, fishQuote(v.Value))
		case shellPowerShell:
			if v.Name == "SSL_CERT_FILE" {
				b.WriteString("# " + certNote + "'Remove-Item Env:SSL_CERT_FILE' before reaching other HTTPS sites.\n")
			}
			fmt.Fprintf(&b, "$env:%s = %s\n", v.Name, powerShellQuote(v.Value))
		case shellCmd:
			if v.Name == "SSL_CERT_FILE" {
				b.WriteString("rem " + strings.Replace(certNote, "shell", "window", 1) + "'set SSL_CERT_FILE=' before reaching other HTTPS sites.\n")
			}
			fmt.Fprintf(&b, "set \"%s=%s\"\n", v.Name, v.Value)
		default:
			return fmt.Errorf("unknown shell %q", shell)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
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
