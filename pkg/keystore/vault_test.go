package keystore

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sselab/sselab/internal/fsutil"
	"github.com/sselab/sselab/internal/testtools"
	"github.com/sselab/sselab/pkg/labdir"
	"github.com/sselab/sselab/pkg/vault"
)

func TestVaultSecret(t *testing.T) {
	dir := t.TempDir()
	layout := labdir.Layout{Root: dir}
	t.Setenv(vault.SecretEnv, "")
	var warn bytes.Buffer

	if s, err := vaultSecret(layout, "", Env{Log: &warn}); err != nil || s != "" {
		t.Fatalf("nothing anywhere: %q, %v", s, err)
	}
	testtools.WriteFile(t, layout.VaultSecretFile(), "remembered\n")
	if s, _ := vaultSecret(layout, "", Env{Log: &warn}); s != "remembered" {
		t.Errorf("remembered secret: got %q", s)
	}
	t.Setenv(vault.SecretEnv, " from-env ")
	if s, _ := vaultSecret(layout, "", Env{Log: &warn}); s != "from-env" {
		t.Errorf("environment: got %q", s)
	}
	file := filepath.Join(t.TempDir(), "secret-id")
	testtools.WriteFile(t, file, "from-file\n")
	if s, _ := vaultSecret(layout, file, Env{Log: &warn}); s != "from-file" {
		t.Errorf("file: got %q", s)
	}
	if warn.Len() != 0 {
		t.Errorf("a 0600 file drew a warning: %s", warn.String())
	}
	if fsutil.UnixModes {
		os.Chmod(file, 0o644)
		if s, err := vaultSecret(layout, file, Env{Log: &warn}); s != "from-file" || err != nil {
			t.Errorf("readable file: %q, %v; want it used with a warning", s, err)
		}
		if !strings.Contains(warn.String(), "chmod 600") || strings.Count(warn.String(), "\n") != 1 {
			t.Errorf("warning for a readable secret file: %q", warn.String())
		}
	}
	testtools.WriteFile(t, file, "\n")
	_, err := vaultSecret(layout, file, Env{Log: &warn})
	testtools.WantErrContains(t, err, "--vault-approle-secret-file", "is empty")
	_, err = vaultSecret(layout, filepath.Join(dir, "missing"), Env{Log: &warn})
	testtools.WantErrContains(t, err, "--vault-approle-secret-file")
}

func TestSaveVaultSecret(t *testing.T) {
	dir := t.TempDir()
	layout := labdir.Layout{Root: dir}
	store := &vaultStore{cfg: &vault.Config{AppRole: &vault.AppRole{ID: "r", Secret: "s3cret"}}, env: Env{Layout: layout}}
	if err := store.Keep(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(layout.VaultSecretFile())
	if err != nil {
		t.Fatal(err)
	}
	if fsutil.UnixModes && fi.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode %v, want 0600", fi.Mode().Perm())
	}
	if data, _ := os.ReadFile(layout.VaultSecretFile()); strings.TrimSpace(string(data)) != "s3cret" {
		t.Errorf("secret file holds %q", data)
	}
	if err := Forget(layout, &fsKind{}); err != nil {
		t.Fatal(err)
	}
	if testtools.Exists(t, layout.VaultSecretFile()) {
		t.Error("the secret stays after going back to the fs keystore")
	}
}

// TestTokenWarning: tokens that live less than the outage KES's cache
// rides out get a warning that names the settings; longer ones none.
func TestTokenWarning(t *testing.T) {
	for _, tc := range []struct {
		token vault.TokenInfo
		want  []string // nil: no warning
	}{
		{vault.TokenInfo{TTL: 40 * time.Second, MaxTTL: 90 * time.Second, Renewable: true},
			[]string{"live 40s (renewable up to 1m30s, the max TTL)", "up to 1h", "secret_id_ttl", "token_ttl=1h or more"}},
		{vault.TokenInfo{TTL: time.Minute, Period: time.Minute, Renewable: true}, []string{"live 1m (renewable for ever)"}},
		{vault.TokenInfo{TTL: 10 * time.Minute}, []string{"live 10m (not renewable)"}},
		{vault.TokenInfo{TTL: time.Hour, MaxTTL: 24 * time.Hour, Renewable: true}, nil},
		{vault.TokenInfo{}, nil}, // the token may not look itself up
	} {
		got := tokenWarning(tc.token)
		if (got == "") != (tc.want == nil) {
			t.Errorf("%+v: warning %q, want one: %v", tc.token, got, tc.want != nil)
		}
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%+v: warning %q lacks %q", tc.token, got, w)
			}
		}
	}
}
