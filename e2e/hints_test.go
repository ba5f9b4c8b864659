package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sselab/sselab/internal/testtools"
	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/miniobin"
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

// TestSecurityNotice: the summary of 'up' names the advisories that
// affect the MinIO build, once; 'minio list' shows them once too.
func TestSecurityNotice(t *testing.T) {
	t.Parallel()
	cache := []string{"SSELAB_CACHE_DIR=" + t.TempDir()}
	dir := t.TempDir()
	up := append([]string{"up", "--detach", "--dir", dir}, freePorts...)
	t.Cleanup(func() { stopLab(t, dir) })
	r := sselabEnv(t, cache, up...)
	if r.code != 0 {
		t.Fatalf("up: exit %d: %s", r.code, r.stderr)
	}
	h, err := lab.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(miniobin.Advisories(h.State.MinIOVersion, h.State.MinIOPath)) == 0 {
		if !strings.Contains(r.stdout, "CVE-") {
			return // a MinIO build with the fixes: nothing to say
		}
		t.Fatalf("a notice for a build no advisory affects:\n%s", r.stdout)
	}
	for _, want := range []string{"CVE-2026-41145", "CVE-2026-40344", "'sselab up --minio PATH'", "'sselab minio fetch --url URL --sha256 HEX'", "loopback"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("first up: summary lacks %q:\n%s", want, r.stdout)
		}
	}
	stopLab(t, dir)
	if r := sselabEnv(t, cache, up...); r.code != 0 || strings.Contains(r.stdout, "CVE-") {
		t.Errorf("second up: exit %d; want no notice again:\n%s", r.code, r.stdout)
	}
	stopLab(t, dir)

	// 'minio list' in a fresh cache that holds the same build.
	list := []string{"SSELAB_CACHE_DIR=" + t.TempDir()}
	if r := sselabEnv(t, list, "minio", "use", testtools.MinIO(t)); r.code != 0 {
		t.Fatalf("minio use: exit %d: %s", r.code, r.stderr)
	}
	if r := sselabEnv(t, list, "minio", "list"); r.code != 0 || !strings.Contains(r.stdout, "CVE-2026-41145") {
		t.Errorf("first minio list: exit %d, want the notice:\n%s", r.code, r.stdout)
	}
	if r := sselabEnv(t, list, "minio", "list"); r.code != 0 || strings.Contains(r.stdout, "CVE-") {
		t.Errorf("second minio list: exit %d, want no notice again:\n%s", r.code, r.stdout)
	}
}
