package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunDispatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     string // substring, "" for none expected
		stderrLine string // first line of stderr, "" for none
	}{
		{"no arguments prints usage", nil, 0, "Usage:\n  sselab <command>", ""},
		{"help", []string{"--help"}, 0, "Commands:", ""},
		{"unknown command", []string{"upp"}, 2, "", `sselab: unknown command "upp"; see 'sselab --help'`},
		{"command help", []string{"up", "--help"}, 0, "Usage: sselab up [flags]", ""},
		{"unknown flag", []string{"status", "--jsn"}, 2, "", "sselab: unknown flag: --jsn; see 'sselab status --help'"},
		{"stray argument", []string{"down", "now"}, 2, "", `sselab: unexpected argument "now"; see 'sselab down --help'`},
		{"version", []string{"version"}, 0, "kes    v0.24.0 (embedded)", ""},
		{"minio help", []string{"minio"}, 0, "Usage: sselab minio <command>", ""},
		{"minio unknown command", []string{"minio", "fetchh"}, 2, "", "sselab: unknown command 'minio fetchh'; see 'sselab minio --help'"},
		{"minio use without argument", []string{"minio", "use"}, 2, "", "sselab: 'minio use' takes 1 argument(s), got 0; see 'sselab minio --help'"},
		{"minio fetch bad flag", []string{"minio", "fetch", "--relase", "x"}, 2, "", "sselab: unknown flag: --relase; see 'sselab minio --help'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			if code := run(t.Context(), tt.args, &stdout, &stderr); code != tt.code {
				t.Errorf("exit code: got %d, want %d (stderr %q)", code, tt.code, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.stdout) {
				t.Errorf("stdout: got %q, want it to contain %q", stdout.String(), tt.stdout)
			}
			first, _, _ := strings.Cut(stderr.String(), "\n")
			if first != tt.stderrLine {
				t.Errorf("stderr: got %q, want %q", first, tt.stderrLine)
			}
		})
	}
}

func TestNotRunningIsOneLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, cmd := range []string{"status", "env", "down"} {
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), []string{cmd, "--dir", dir}, &stdout, &stderr)
		want := "sselab: lab: no lab is running on " + dir + "; start it with 'sselab up --dir " + dir + "'\n"
		if code != 1 || stderr.String() != want {
			t.Errorf("%s on an empty dir: exit %d, stderr %q; want 1 and %q", cmd, code, stderr.String(), want)
		}
	}
}

func TestOneLine(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"lab: minio exited; last output:\nFATAL x\nFATAL y\n", "lab: minio exited; last output:\n  FATAL x\n  FATAL y"},
	}
	for _, tt := range tests {
		if got := oneLine(errors.New(tt.in)); got != tt.want {
			t.Errorf("oneLine(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestShellQuote(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"/home/u/.config/sselab", "/home/u/.config/sselab"},
		{"https://user:PASS@127.0.0.1:9000", "https://user:PASS@127.0.0.1:9000"},
		{"", "''"},
		{"/tmp/my lab", "'/tmp/my lab'"},
		{"it's", `'it'\''s'`},
		{"$(rm -rf ~)", "'$(rm -rf ~)'"},
	}
	for _, tt := range tests {
		if got := shellQuote(tt.in); got != tt.want {
			t.Errorf("shellQuote(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMinIOListEmptyCache(t *testing.T) {
	t.Setenv("SSELAB_CACHE_DIR", t.TempDir())
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"minio", "list"}, "no MinIO binary is cached; get one with 'sselab minio fetch' or 'sselab minio build'\n"},
		{[]string{"minio", "list", "--json"}, "[]\n"},
		{[]string{"minio", "prune"}, "nothing to remove\n"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), tt.args, &stdout, &stderr); code != 0 || stdout.String() != tt.want {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 0 and %q", tt.args, code, stdout.String(), stderr.String(), tt.want)
		}
	}
}

// TestResolveDirAbsolute: a relative --dir becomes absolute, since MinIO
// runs inside DIR and gets paths in it.
func TestResolveDirAbsolute(t *testing.T) {
	dir := "relative/lab"
	if err := resolveDir(&dir); err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if want := filepath.Join(wd, "relative", "lab"); dir != want {
		t.Errorf("resolveDir(relative/lab) = %q, want %q", dir, want)
	}
}
