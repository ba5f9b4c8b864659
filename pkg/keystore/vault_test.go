package keystore

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
