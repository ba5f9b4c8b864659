package labdir

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStateJSONNames(t *testing.T) {
	t.Parallel()
	// Other sselab processes read these files: the names are a format.
	data, err := json.Marshal(State{PID: 1, S3Endpoint: "e", ControlToken: "t"})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{`"pid":1`, `"s3_endpoint":"e"`, `"control_token":"t"`, `"kes_endpoint"`, `"control_address"`} {
		if !strings.Contains(string(data), name) {
			t.Errorf("State JSON %s: missing %s", data, name)
		}
	}
}

func TestLayoutPaths(t *testing.T) {
	t.Parallel()
	root := filepath.Join(t.TempDir(), "lab")
	l := Layout{Root: root}
	paths := []string{
		l.SettingsFile(), l.CredentialsFile(), l.StateFile(), l.LockFile(), l.CertsDir(),
		l.KeyStoreDir(), l.KESAuditLog(), l.KESErrorLog(), l.MinIODataDir(),
		l.MinIOPlainCertsDir(), l.LogsDir(), l.MinIOLog(), l.SelfLog(),
	}
	seen := make(map[string]bool)
	for _, p := range paths {
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
			t.Errorf("%s: got a path outside %s", p, root)
		}
		if seen[p] {
			t.Errorf("%s: named twice", p)
		}
		seen[p] = true
	}
	// MinIO's drive must not be inside the keystore or the other way round.
	if strings.HasPrefix(l.KeyStoreDir(), l.MinIODataDir()) || strings.HasPrefix(l.MinIODataDir(), l.KeyStoreDir()) {
		t.Errorf("keystore %s and MinIO drive %s overlap", l.KeyStoreDir(), l.MinIODataDir())
	}
}

func TestDefaultDir(t *testing.T) {
	// Not parallel: it sets an environment variable.
	want := filepath.Join(t.TempDir(), "elsewhere")
	t.Setenv("SSELAB_DIR", want)
	if got, err := DefaultDir(); err != nil || got != want {
		t.Errorf("DefaultDir with SSELAB_DIR set: got %q, %v, want %q", got, err, want)
	}
	t.Setenv("SSELAB_DIR", "")
	base, err := os.UserConfigDir()
	if err != nil {
		t.Skipf("no user config dir here: %v", err)
	}
	if got, err := DefaultDir(); err != nil || got != filepath.Join(base, "sselab") {
		t.Errorf("DefaultDir: got %q, %v, want %q", got, err, filepath.Join(base, "sselab"))
	}
}
