package main

import (
	"bytes"
	"os"
	"runtime"
	"testing"
)

func TestUseColor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		terminal bool
		noColor  string
		want     bool
	}{
		{true, "", true},
		{true, "1", false},
		{true, "0", false}, // any non-empty value disables colour
		{true, "false", false},
		{false, "", false},
		{false, "1", false},
	}
	for _, tt := range tests {
		if got := useColor(tt.terminal, tt.noColor); got != tt.want {
			t.Errorf("useColor(%v, %q): got %v, want %v", tt.terminal, tt.noColor, got, tt.want)
		}
	}
}

func TestColorizePlainWhenNotATerminal(t *testing.T) {
	t.Parallel()
	if got := colorize(new(bytes.Buffer), "WARN", colorYellow); got != "WARN" {
		t.Errorf("got %q, want %q", got, "WARN")
	}
}

// TestColorizeNoColor uses /dev/null, which isTerminal takes for a
// terminal (it is a character device), to check that NO_COLOR is read.
func TestColorizeNoColor(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no /dev/null")
	}
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	if !isTerminal(f) {
		t.Skip("isTerminal does not take /dev/null for a terminal")
	}
	t.Setenv("NO_COLOR", "")
	if got, want := colorize(f, "WARN", colorYellow), colorYellow+"WARN"+colorReset; got != want {
		t.Errorf("NO_COLOR empty: got %q, want %q", got, want)
	}
	t.Setenv("NO_COLOR", "1")
	if got := colorize(f, "WARN", colorYellow); got != "WARN" {
		t.Errorf("NO_COLOR=1: got %q, want %q", got, "WARN")
	}
}

func TestWriteJSON(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := writeJSON(&b, struct {
		SubjectCN string `json:"subject_cn"`
	}{"x"}); err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"subject_cn\": \"x\"\n}\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 300 << 10: "300.0 KiB",
		5 << 20: "5.0 MiB", 5400000000: "5.0 GiB", 3 << 40: "3.0 TiB", 2048 << 40: "2048.0 TiB",
	} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
