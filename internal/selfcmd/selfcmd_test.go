package selfcmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNameFor(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin", "sselab")
	other := filepath.Join(dir, "other", "sselab")
	spaced := filepath.Join(dir, "my tools", "sselab")
	for _, f := range []string{bin, other, spaced} {
		os.MkdirAll(filepath.Dir(f), 0o700)
		os.WriteFile(f, []byte("x"), 0o700)
	}
	link := filepath.Join(dir, "link")
	os.Symlink(bin, link)
	tmp := filepath.Join(dir, "tmp")
	tests := []struct {
		name, exe, onPath, want string
	}{
		{"the one on PATH", bin, bin, "sselab"},
		{"PATH has a symlink to it", bin, link, "sselab"},
		{"PATH has another", other, bin, other},
		{"nothing on PATH", other, "", other},
		{"go run (temporary directory)", filepath.Join(tmp, "go-build123", "b001", "exe", "sselab"), bin, GoRun},
		{"go run (build cache)", filepath.Join(dir, "cache", "af", strings.Repeat("0a", 32)+"-d", "sselab"), bin, GoRun},
		{"a directory that only ends in -d", filepath.Join(dir, "build-d", "sselab"), "", filepath.Join(dir, "build-d", "sselab")},
		{"a path with a space", spaced, "", `"` + spaced + `"`},
		{"a Go test binary", filepath.Join(tmp, "go-build1", "b001", "sselab.test"), "", "sselab"},
	}
	for _, tt := range tests {
		if got := nameFor(tt.exe, tt.onPath); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestRewrite(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"start it with 'sselab up --dir /d'", "start it with '/x/sselab up --dir /d'"},
		{`eval "$(sselab env --dir /d)"`, `eval "$(/x/sselab env --dir /d)"`},
		{"run `sselab down`", "run `/x/sselab down`"},
		{"key 'sselab' created", "key 'sselab' created"},
		{`"name": "sselab"`, `"name": "sselab"`},
		{"sselab: the lab is ready", "sselab: the lab is ready"},
		{"Usage: sselab env", "Usage: sselab env"},
		{"the sselab-key key; 'sselab-key'", "the sselab-key key; 'sselab-key'"},
		{"cost $1", "cost $1"},
	}
	for _, tt := range tests {
		if got := rewriteWith(tt.in, "/x/sselab"); got != tt.want {
			t.Errorf("rewrite %q: got %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := rewriteWith("'sselab up'", "sselab"); got != "'sselab up'" {
		t.Errorf("with sselab on PATH: got %q", got)
	}
	if got := rewriteWith("'sselab up'", `C:\a$1\sselab.exe`); got != `'C:\a$1\sselab.exe up'` {
		t.Errorf("a name with $: got %q", got)
	}
}
