package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sselab/sselab/internal/testtools"
)

// TestHints: a hint names the command as the user can type it. The binary
// on PATH is "sselab"; another binary is named by its absolute path; under
// 'go run' it is 'go run ./cmd/sselab', with a go install suggestion.
func TestHints(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "nolab")
	bin := testtools.Sselab(t)
	// A copy outside PATH. Whatever sselab PATH may find is another file.
	other := filepath.Join(t.TempDir(), "my tools", filepath.Base(bin))
	os.MkdirAll(filepath.Dir(other), 0o700)
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, data, 0o700); err != nil {
		t.Fatal(err)
	}
	path := os.Getenv("PATH") // all of it: 'go run' without a C compiler would rebuild everything
	tests := []struct {
		name string
		cmd  []string
		path string
		want string
	}{
		{"on PATH", []string{bin}, filepath.Dir(bin), "start it with 'sselab up --dir " + dir + "'"},
		{"not on PATH", []string{other}, path, `start it with '"` + other + `" up --dir ` + dir + "'"},
		{"go run", []string{"go", "run", "./cmd/sselab"}, path, "start it with 'go run ./cmd/sselab up --dir " + dir + "'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), tt.cmd[0], append(tt.cmd[1:], "status", "--dir", dir)...)
			cmd.Dir = testtools.ModuleRoot(t)
			cmd.Env = append(os.Environ(), "PATH="+tt.path)
			out, _ := cmd.CombinedOutput()
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("got %q, want it to contain %q", out, tt.want)
			}
		})
	}
}
