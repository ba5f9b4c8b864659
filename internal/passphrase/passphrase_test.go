package passphrase

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// typed returns a file that stands in for a terminal on which lines were
// typed.
func typed(t *testing.T, lines ...string) *os.File {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tty")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestRead(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "pass")
	os.WriteFile(file, []byte("from the file\n"), 0o600)
	open := filepath.Join(dir, "open")
	os.WriteFile(open, []byte("readable by all"), 0o644)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)

	for _, tt := range []struct {
		name string
		src  Source
		want string
		err  string
	}{
		{"file first", Source{File: file, Getenv: env(map[string]string{EnvVar: "from env"}), Terminal: typed(t, "typed")}, "from the file", ""},
		{"then the environment", Source{Getenv: env(map[string]string{EnvVar: "from env"}), Terminal: typed(t, "typed")}, "from env", ""},
		{"then the terminal", Source{Getenv: env(nil), Terminal: typed(t, "typed"), Prompt: &bytes.Buffer{}}, "typed", ""},
		{"empty at the terminal", Source{Getenv: env(nil), Terminal: typed(t, ""), Prompt: &bytes.Buffer{}}, "", "the passphrase is empty"},
		{"empty file", Source{File: empty}, "", "is empty"},
		{"missing file", Source{File: filepath.Join(dir, "missing")}, "", "--passphrase-file"},
	} {
		got, err := tt.src.Read("Passphrase: ")
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: got %q, %v; want an error saying %q", tt.name, got, err, tt.err)
			}
			continue
		}
		if err != nil || string(got) != tt.want {
			t.Errorf("%s: got %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
	if runtime.GOOS != "windows" {
		if _, err := (Source{File: open}).Read(""); err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("a file others can read: %v", err)
		}
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	p := &bytes.Buffer{}
	got, err := Source{Getenv: env(nil), Terminal: typed(t, "long enough", "long enough"), Prompt: p}.New("New: ")
	if err != nil || string(got) != "long enough" || !strings.Contains(p.String(), "Repeat it") {
		t.Errorf("typed twice: %q, %v, prompts %q", got, err, p.String())
	}
	if _, err := (Source{Getenv: env(nil), Terminal: typed(t, "long enough", "different"), Prompt: p}).New("New: "); err == nil || !strings.Contains(err.Error(), "differ") {
		t.Errorf("typed differently: %v", err)
	}
	if _, err := (Source{Getenv: env(map[string]string{EnvVar: "short"})}).New("New: "); err == nil || !strings.Contains(err.Error(), "at least 8") {
		t.Errorf("too short: %v", err)
	}
}

func TestTry(t *testing.T) {
	t.Parallel()
	errWrong := errors.New("wrong passphrase")
	use := func(want string, tries *int) func([]byte) error {
		return func(p []byte) error {
			*tries++
			if string(p) != want {
				return errWrong
			}
			return nil
		}
	}
	wrong := func(err error) bool { return errors.Is(err, errWrong) }

	var n int
	p := &bytes.Buffer{}
	err := Source{Getenv: env(nil), Terminal: typed(t, "a", "b", "right"), Prompt: p}.Try("P: ", use("right", &n), wrong)
	if err != nil || n != 3 || strings.Count(p.String(), "try again") != 2 {
		t.Errorf("right at the third try: %v after %d tries, prompts %q", err, n, p.String())
	}
	n = 0
	err = Source{Getenv: env(nil), Terminal: typed(t, "a", "b", "c", "right"), Prompt: p}.Try("P: ", use("right", &n), wrong)
	if !errors.Is(err, errWrong) || n != Tries {
		t.Errorf("wrong three times: %v after %d tries, want the error after %d", err, n, Tries)
	}
	n = 0
	err = Source{Getenv: env(map[string]string{EnvVar: "a"})}.Try("P: ", use("right", &n), wrong)
	if !errors.Is(err, errWrong) || n != 1 {
		t.Errorf("wrong from the environment: %v after %d tries, want one try", err, n)
	}
}
