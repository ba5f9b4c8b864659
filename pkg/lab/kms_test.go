package lab

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sselab/sselab/pkg/vault"
)

func vaultOptions(dir string, v vault.Config) Options {
	return Options{Dir: dir, KMS: KMSVault, Vault: &VaultOptions{Config: v}}
}

func TestMergeKMSVaultRemembered(t *testing.T) {
	dir := t.TempDir()
	layout := Layout{Root: dir}
	ca := filepath.Join(dir, "ca.pem")
	s, err := mergeSettings(layout, vaultOptions(dir, vault.Config{
		Endpoint: "https://vault:8200/", Engine: "secret", Prefix: "/lab/", CAFile: "ca.pem",
		AppRole: &vault.AppRole{ID: "role-1"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	if s.KMS != KMSVault || s.Vault == nil {
		t.Fatalf("settings %+v: want vault", s)
	}
	if v := s.Vault; v.Endpoint != "https://vault:8200" || v.Engine != "secret" || v.Prefix != "lab" || v.AppRole.ID != "role-1" {
		t.Errorf("vault settings %+v", v)
	}
	if s.Vault.CAFile == "ca.pem" || !filepath.IsAbs(s.Vault.CAFile) {
		t.Errorf("CA file %q is not made absolute", s.Vault.CAFile)
	}
	_ = ca
	s.Vault.AppRole.Secret = "very-secret"
	if err := writeJSON(layout.SettingsFile(), s); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(layout.SettingsFile())
	if bytes.Contains(data, []byte("very-secret")) {
		t.Fatalf("settings.json holds the AppRole secret:\n%s", data)
	}

	// No flags: everything as last time. One flag: only that changes.
	again, err := mergeSettings(layout, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if again.KMS != KMSVault || again.Vault.Endpoint != "https://vault:8200" || again.Vault.AppRole.ID != "role-1" || again.Vault.StatusPing == 0 {
		t.Errorf("remembered vault settings: %+v %+v", again, again.Vault)
	}
	changed, err := mergeSettings(layout, Options{Dir: dir, Vault: &VaultOptions{Config: vault.Config{KVVersion: vault.KVv2}}})
	if err != nil {
		t.Fatal(err)
	}
	if changed.Vault.KVVersion != vault.KVv2 || changed.Vault.Engine != "secret" {
		t.Errorf("one flag changed more than itself: %+v", changed.Vault)
	}
}

func TestMergeKMSBad(t *testing.T) {
	dir := t.TempDir()
	layout := Layout{Root: dir}
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"unknown kms", Options{KMS: "aws"}, "use fs"},
		{"kms and kes-config", Options{KMS: KMSVault, KESConfig: "kes.yaml"}, "pass one of them"},
		{"vault flag without kms", Options{Vault: &VaultOptions{Config: vault.Config{Endpoint: "https://v:8200"}}}, "need --kms vault"},
		{"secret file without kms", Options{Vault: &VaultOptions{SecretFile: "s"}}, "need --kms vault"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Dir = dir
			_, err := mergeSettings(layout, tc.o)
			wantErrContains(t, err, tc.want)
		})
	}
	// Empty VaultOptions (what the CLI passes without --vault-* flags)
	// are no flags.
	if _, err := mergeSettings(layout, Options{Dir: dir, Vault: &VaultOptions{}}); err != nil {
		t.Errorf("no vault flags with the fs keystore: %v", err)
	}
}

func TestMergeKMSBackToFS(t *testing.T) {
	dir := t.TempDir()
	layout := Layout{Root: dir}
	s, err := mergeSettings(layout, vaultOptions(dir, vault.Config{Endpoint: "http://v:8200", AppRole: &vault.AppRole{ID: "r"}}))
	if err != nil {
		t.Fatal(err)
	}
	writeJSON(layout.SettingsFile(), s)
	s, err = mergeSettings(layout, Options{Dir: dir, KMS: KMSFS})
	if err != nil {
		t.Fatal(err)
	}
	if s.KMS != "" || s.Vault != nil {
		t.Errorf("--kms fs kept vault settings: %+v", s)
	}
}

func TestCheckKeystoreKept(t *testing.T) {
	dir := t.TempDir()
	layout := Layout{Root: dir}
	fsSettings := Settings{}
	vaultSettings := Settings{KMS: KMSVault, Vault: &vault.Config{Endpoint: "https://v:8200", Engine: "kv"}}
	otherVault := Settings{KMS: KMSVault, Vault: &vault.Config{Endpoint: "https://v:8200", Engine: "kv", Prefix: "other"}}
	if err := checkKeystoreKept(layout, fsSettings, vaultSettings); err != nil {
		t.Errorf("no MinIO data yet: %v", err)
	}
	writeFile(t, filepath.Join(layout.MinIODataDir(), ".minio.sys", "format.json"), "{}")
	err := checkKeystoreKept(layout, fsSettings, vaultSettings)
	wantErrContains(t, err, layout.KeyStoreDir(), "Vault https://v:8200", "use a new --dir")
	wantErrContains(t, checkKeystoreKept(layout, vaultSettings, otherVault), "kv/other")
	wantErrContains(t, checkKeystoreKept(layout, vaultSettings, fsSettings), "unreadable")
	if err := checkKeystoreKept(layout, vaultSettings, vaultSettings); err != nil {
		t.Errorf("same keystore: %v", err)
	}
	// The KV version and the login are not where the keys are.
	same := Settings{KMS: KMSVault, Vault: &vault.Config{Endpoint: "https://v:8200", Engine: "kv", KVVersion: vault.KVv2, AppRole: &vault.AppRole{ID: "x"}}}
	if err := checkKeystoreKept(layout, vaultSettings, same); err != nil {
		t.Errorf("same keystore, other login: %v", err)
	}
}

func TestVaultSecret(t *testing.T) {
	dir := t.TempDir()
	layout := Layout{Root: dir}
	t.Setenv(vault.SecretEnv, "")
	var warn bytes.Buffer

	if s, err := vaultSecret(layout, "", &warn); err != nil || s != "" {
		t.Fatalf("nothing anywhere: %q, %v", s, err)
	}
	writeFile(t, layout.VaultSecretFile(), "remembered\n")
	if s, _ := vaultSecret(layout, "", &warn); s != "remembered" {
		t.Errorf("remembered secret: got %q", s)
	}
	t.Setenv(vault.SecretEnv, " from-env ")
	if s, _ := vaultSecret(layout, "", &warn); s != "from-env" {
		t.Errorf("environment: got %q", s)
	}
	file := filepath.Join(t.TempDir(), "secret-id")
	writeFile(t, file, "from-file\n")
	if s, _ := vaultSecret(layout, file, &warn); s != "from-file" {
		t.Errorf("file: got %q", s)
	}
	if warn.Len() != 0 {
		t.Errorf("a 0600 file drew a warning: %s", warn.String())
	}
	if unixModes {
		os.Chmod(file, 0o644)
		if s, err := vaultSecret(layout, file, &warn); s != "from-file" || err != nil {
			t.Errorf("readable file: %q, %v; want it used with a warning", s, err)
		}
		if !strings.Contains(warn.String(), "chmod 600") || strings.Count(warn.String(), "\n") != 1 {
			t.Errorf("warning for a readable secret file: %q", warn.String())
		}
	}
	writeFile(t, file, "\n")
	_, err := vaultSecret(layout, file, &warn)
	wantErrContains(t, err, "--vault-approle-secret-file", "is empty")
	_, err = vaultSecret(layout, filepath.Join(dir, "missing"), &warn)
	wantErrContains(t, err, "--vault-approle-secret-file")
}

func TestSaveVaultSecret(t *testing.T) {
	dir := t.TempDir()
	layout := Layout{Root: dir}
	s := Settings{KMS: KMSVault, Vault: &vault.Config{AppRole: &vault.AppRole{ID: "r", Secret: "s3cret"}}}
	if err := saveVaultSecret(layout, s); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(layout.VaultSecretFile())
	if err != nil {
		t.Fatal(err)
	}
	if unixModes && fi.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode %v, want 0600", fi.Mode().Perm())
	}
	if data, _ := os.ReadFile(layout.VaultSecretFile()); strings.TrimSpace(string(data)) != "s3cret" {
		t.Errorf("secret file holds %q", data)
	}
	if err := saveVaultSecret(layout, Settings{}); err != nil {
		t.Fatal(err)
	}
	if exists(t, layout.VaultSecretFile()) {
		t.Error("the secret stays after going back to the fs keystore")
	}
}
