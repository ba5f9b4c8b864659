package main

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
)

func TestWatchdogCommand(t *testing.T) {
	t.Parallel()
	if strings.Contains(topUsage(), watchdogCommand) {
		t.Errorf("the usage text lists the hidden %s command", watchdogCommand)
	}
	refusal := "sselab: supervisor: watchdog: refusing to signal process group 1"
	if runtime.GOOS == "windows" {
		refusal = "sselab: supervisor: there is no watchdog on Windows: a job object ties the child to the supervisor"
	}
	tests := []struct {
		args       []string
		code       int
		stdout     string
		stderrLine string
	}{
		{[]string{watchdogCommand, "--help"}, 0, "Usage: sselab __watchdog PGID", ""},
		{[]string{watchdogCommand}, 2, "", "sselab: '__watchdog' takes 1 argument (a process group id), got 0; see 'sselab __watchdog --help'"},
		{[]string{watchdogCommand, "abc"}, 2, "", `sselab: process group id "abc" is not a number; see 'sselab __watchdog --help'`},
		{[]string{watchdogCommand, "1"}, 1, "", refusal},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), tt.args, &stdout, &stderr); code != tt.code {
			t.Errorf("%q: exit code: got %d, want %d (stderr %q)", tt.args, code, tt.code, stderr.String())
		}
		if !strings.Contains(stdout.String(), tt.stdout) {
			t.Errorf("%q: stdout: got %q, want it to contain %q", tt.args, stdout.String(), tt.stdout)
		}
		if first, _, _ := strings.Cut(stderr.String(), "\n"); first != tt.stderrLine {
			t.Errorf("%q: stderr: got %q, want %q", tt.args, first, tt.stderrLine)
		}
	}
}
