package runner

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/sselab/sselab/internal/testtools"
	"github.com/sselab/sselab/pkg/keystore"
	"github.com/sselab/sselab/pkg/labdir"
	"github.com/sselab/sselab/pkg/vault"
)

// ksFlags returns the keystore flags of 'sselab up' with args given.
func ksFlags(t *testing.T, args ...string) *keystore.Flags {
	t.Helper()
	f, err := keystore.ParseFlags(args...)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// vaultOptions are the options of 'up --kms vault' with the flags that
// give v.
func vaultOptions(t *testing.T, dir string, v vault.Config) Options {
	args := []string{"--kms", keystore.KindVault}
	for _, f := range []struct{ flag, value string }{
		{"--vault-endpoint", v.Endpoint}, {"--vault-engine", v.Engine}, {"--vault-prefix", v.Prefix},
		{"--vault-kv-version", v.KVVersion}, {"--vault-ca", v.CAFile},
	} {
		if f.value != "" {
			args = append(args, f.flag, f.value)
		}
	}
	if v.AppRole != nil {
		args = append(args, "--vault-approle-id", v.AppRole.ID)
	}
	return Options{Dir: dir, Keystore: ksFlags(t, args...)}
}

func TestMergeKMSVaultRemembered(t *testing.T) {
	dir := t.TempDir()
	layout := labdir.Layout{Root: dir}
	ca := filepath.Join(dir, "ca.pem")
	s, _, err := mergeSettings(layout, vaultOptions(t, dir, vault.Config{
		Endpoint: "https://vault:8200/", Engine: "secret", Prefix: "/lab/", CAFile: "ca.pem",
		AppRole: &vault.AppRole{ID: "role-1"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	if s.KMS != keystore.KindVault || s.Vault == nil {
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
	if err := labdir.WriteJSON(layout.SettingsFile(), s); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(layout.SettingsFile())
	if bytes.Contains(data, []byte("very-secret")) {
		t.Fatalf("settings.json holds the AppRole secret:\n%s", data)
	}

	// No flags: everything as last time. One flag: only that changes.
	again, _, err := mergeSettings(layout, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if again.KMS != keystore.KindVault || again.Vault.Endpoint != "https://vault:8200" || again.Vault.AppRole.ID != "role-1" || again.Vault.StatusPing == 0 {
		t.Errorf("remembered vault settings: %+v %+v", again, again.Vault)
	}
	changed, _, err := mergeSettings(layout, Options{Dir: dir, Keystore: ksFlags(t, "--vault-kv-version", vault.KVv2)})
	if err != nil {
		t.Fatal(err)
	}
	if changed.Vault.KVVersion != vault.KVv2 || changed.Vault.Engine != "secret" {
		t.Errorf("one flag changed more than itself: %+v", changed.Vault)
	}
}

func TestMergeKMSBad(t *testing.T) {
	dir := t.TempDir()
	layout := labdir.Layout{Root: dir}
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"unknown kms", Options{Keystore: ksFlags(t, "--kms", "aws")}, "use fs"},
		{"kms and kes-config", Options{Keystore: ksFlags(t, "--kms", keystore.KindVault, "--kes-config", "kes.yaml")}, "pass one of them"},
		{"vault flag without kms", Options{Keystore: ksFlags(t, "--vault-endpoint", "https://v:8200")}, "need --kms vault"},
		{"secret file without kms", Options{Keystore: ksFlags(t, "--vault-approle-secret-file", "s")}, "need --kms vault"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Dir = dir
			_, _, err := mergeSettings(layout, tc.o)
			testtools.WantErrContains(t, err, tc.want)
		})
	}
	// Keystore flags without a --vault-* flag given (what the CLI passes
	// without them) are no flags.
	if _, _, err := mergeSettings(layout, Options{Dir: dir, Keystore: ksFlags(t)}); err != nil {
		t.Errorf("no vault flags with the fs keystore: %v", err)
	}
}

func TestMergeKMSBackToFS(t *testing.T) {
	dir := t.TempDir()
	layout := labdir.Layout{Root: dir}
	s, _, err := mergeSettings(layout, vaultOptions(t, dir, vault.Config{Endpoint: "http://v:8200", AppRole: &vault.AppRole{ID: "r"}}))
	if err != nil {
		t.Fatal(err)
	}
	labdir.WriteJSON(layout.SettingsFile(), s)
	s, _, err = mergeSettings(layout, Options{Dir: dir, Keystore: ksFlags(t, "--kms", keystore.KindFS)})
	if err != nil {
		t.Fatal(err)
	}
	if s.KMS != "" || s.Vault != nil {
		t.Errorf("--kms fs kept vault settings: %+v", s)
	}
}

func TestCheckKeystoreKept(t *testing.T) {
	dir := t.TempDir()
	layout := labdir.Layout{Root: dir}
	fsSettings := labdir.Keystore{}
	vaultSettings := labdir.Keystore{KMS: keystore.KindVault, Vault: &vault.Config{Endpoint: "https://v:8200", Engine: "kv"}}
	otherVault := labdir.Keystore{KMS: keystore.KindVault, Vault: &vault.Config{Endpoint: "https://v:8200", Engine: "kv", Prefix: "other"}}
	if err := checkKeystoreKept(layout, fsSettings, vaultSettings); err != nil {
		t.Errorf("no MinIO data yet: %v", err)
	}
	testtools.WriteFile(t, filepath.Join(layout.MinIODataDir(), ".minio.sys", "format.json"), "{}")
	err := checkKeystoreKept(layout, fsSettings, vaultSettings)
	testtools.WantErrContains(t, err, layout.KeyStoreDir(), "Vault https://v:8200", "use a new --dir")
	testtools.WantErrContains(t, checkKeystoreKept(layout, vaultSettings, otherVault), "kv/other")
	testtools.WantErrContains(t, checkKeystoreKept(layout, vaultSettings, fsSettings), "unreadable")
	if err := checkKeystoreKept(layout, vaultSettings, vaultSettings); err != nil {
		t.Errorf("same keystore: %v", err)
	}
	// The KV version and the login are not where the keys are.
	same := labdir.Keystore{KMS: keystore.KindVault, Vault: &vault.Config{Endpoint: "https://v:8200", Engine: "kv", KVVersion: vault.KVv2, AppRole: &vault.AppRole{ID: "x"}}}
	if err := checkKeystoreKept(layout, vaultSettings, same); err != nil {
		t.Errorf("same keystore, other login: %v", err)
	}
}
