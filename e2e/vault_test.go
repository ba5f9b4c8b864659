package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/encrypt"

	"github.com/sselab/sselab/internal/fakevault"
	"github.com/sselab/sselab/pkg/keystore"
	"github.com/sselab/sselab/pkg/labdir"
)

// vaultLab is a fake Vault (HTTPS, the API KES and the preflight use) with
// the flags that point `sselab up` at it.
type vaultLab struct {
	v          *fakevault.Server
	secretFile string
	args       []string
}

func startFakeVault(t *testing.T, o fakevault.Options) *vaultLab {
	t.Helper()
	o.TLS = true
	v, err := fakevault.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	ca, secretFile, err := v.WriteFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &vaultLab{v: v, secretFile: secretFile, args: []string{
		"--kms", "vault", "--vault-endpoint", v.URL(), "--vault-ca", ca, "--vault-prefix", "sselab",
		"--vault-approle-id", v.RoleID(), "--vault-approle-secret-file", secretFile,
	}}
}

// TestVault runs the lab with its keys in a (fake) Vault: MinIO's default
// key lands in Vault's KV store, objects round-trip, sealing Vault shows
// in status and the log and stops keys KES has not cached, and unsealing
// recovers without a restart. A later `up` needs no flags.
func TestVault(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	vl := startFakeVault(t, fakevault.Options{Mounts: map[string]int{"kv": 2}})
	dir := filepath.Join(t.TempDir(), "lab")
	h := upDetached(t, dir, vl.args...)
	ctx := t.Context()

	// The keys are in Vault (KV v2 was detected), not in DIR.
	if _, ok := vl.v.Secret("kv", "sselab/"+labdir.DefaultKey); !ok {
		t.Fatalf("MinIO's default key is not in Vault at kv/data/sselab/%s; Vault holds %v", labdir.DefaultKey, vl.v.List("kv", "sselab"))
	}
	if keys, _ := os.ReadDir(h.Layout.KeyStoreDir()); len(keys) > 0 {
		t.Errorf("keys were written to %s although they live in Vault", h.Layout.KeyStoreDir())
	}
	var settings labdir.Settings
	readJSONFile(t, h.Layout.SettingsFile(), &settings)
	if settings.KMS != keystore.KindVault || settings.Vault == nil || settings.Vault.KVVersion != "v2" {
		t.Errorf("remembered settings: %+v (vault %+v)", settings, settings.Vault)
	}

	s3, err := h.S3()
	if err != nil {
		t.Fatal(err)
	}
	bucket := labdir.DefaultBucket
	body := []byte("kept in a bucket whose key lives in Vault " + rand.Text())
	if _, err := s3.PutObject(ctx, bucket, "a.txt", bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := readObject(t, s3, bucket, "a.txt", minio.GetObjectOptions{}); !bytes.Equal(got, body) {
		t.Fatalf("read back %q", got)
	}
	st, r := statusJSON(t, dir)
	if r.code != 0 || !st.Ready || st.Vault == nil || st.Vault.State() != "unsealed" || st.Vault.Endpoint != vl.v.URL() {
		t.Fatalf("status of a healthy Vault lab: exit %d, %+v, vault %+v\n%s", r.code, st, st.Vault, r.stderr)
	}
	table := mustRun(t, "status", "--dir", dir).stdout
	if !strings.Contains(table, "vault") || !strings.Contains(table, vl.v.URL()) {
		t.Errorf("status table has no vault row:\n%s", table)
	}

	// A key made now is in Vault but not in KES's cache.
	mustRun(t, "key", "create", "cold-key", "--dir", dir)
	if _, ok := vl.v.Secret("kv", "sselab/cold-key"); !ok {
		t.Fatal("sselab key create did not store the key in Vault")
	}
	putWith := func(key, name string) error {
		_, err := s3.PutObject(ctx, bucket, name, bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{
			ServerSideEncryption: mustSSEKMS(t, key)})
		return err
	}

	vl.v.Seal()
	st, r = statusJSON(t, dir)
	if r.code == 0 || st.Ready || st.Vault == nil || st.Vault.State() != "sealed" {
		t.Errorf("status while Vault is sealed: exit %d, ready %v, vault %+v", r.code, st.Ready, st.Vault)
	}
	if !strings.Contains(r.stderr, "is sealed; unseal it with 'vault operator unseal'") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("status while sealed should say so in one line; stderr:\n%s", r.stderr)
	}
	// A recently used key still works from KES's cache; a key KES never
	// cached cannot be read from a sealed Vault.
	if got := readObject(t, s3, bucket, "a.txt", minio.GetObjectOptions{}); !bytes.Equal(got, body) {
		t.Errorf("a cached key stopped working while Vault is sealed")
	}
	if err := putWith("cold-key", "cold.txt"); err == nil {
		t.Error("a PUT with a key KES never cached worked while Vault is sealed")
	}
	eventually(t, "the lab's log names the sealed Vault", 15*time.Second, func() error {
		log, _ := os.ReadFile(h.Layout.SelfLog())
		if !bytes.Contains(log, []byte("is sealed")) {
			return fmt.Errorf("log:\n%s", log)
		}
		return nil
	})

	vl.v.Unseal()
	eventually(t, "a PUT with the uncached key after unsealing", 30*time.Second, func() error { return putWith("cold-key", "cold.txt") })
	eventually(t, "status ready after unsealing", 30*time.Second, func() error {
		st, r := statusJSON(t, dir)
		if r.code != 0 || !st.Ready {
			return fmt.Errorf("exit %d: %s", r.code, r.stderr)
		}
		if st.Vault.LastError == "" || !strings.Contains(st.Vault.LastError, "sealed") {
			return fmt.Errorf("status forgot the last error: %+v", st.Vault)
		}
		return nil
	})
	eventually(t, "the lab's log says Vault recovered", 15*time.Second, func() error {
		log, _ := os.ReadFile(h.Layout.SelfLog())
		if !bytes.Contains(log, []byte("unsealed again")) {
			return fmt.Errorf("log:\n%s", log)
		}
		return nil
	})

	// The AppRole secret: kept 0600 in DIR, never in settings, logs or argv.
	secret := []byte(vl.v.SecretID())
	if fi, err := os.Stat(h.Layout.VaultSecretFile()); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v, mode %v; want 0600", h.Layout.VaultSecretFile(), err, fi.Mode().Perm())
	}
	info, _ := h.Info(ctx)
	for _, pid := range []int{info.PID, info.MinIOPID} {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		environ, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if bytes.Contains(cmdline, secret) {
			t.Errorf("the AppRole secret is in the command line of %d", pid)
		}
		if pid == info.MinIOPID && bytes.Contains(environ, secret) {
			t.Error("the AppRole secret is in MinIO's environment")
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	logs, _ := filepath.Glob(filepath.Join(dir, "*", "*.log"))
	for _, f := range append(files, logs...) {
		if data, _ := os.ReadFile(f); bytes.Contains(data, secret) {
			t.Errorf("the AppRole secret is in %s", f)
		}
	}

	// down, then up with no flags: Vault, the login and the secret are
	// remembered, and the object is still readable.
	stopLab(t, dir)
	h = upDetached(t, dir)
	s3, err = h.S3()
	if err != nil {
		t.Fatal(err)
	}
	if got := readObject(t, s3, bucket, "a.txt", minio.GetObjectOptions{}); !bytes.Equal(got, body) {
		t.Errorf("after down and up: read back %q", got)
	}
	if h.State.Vault == nil || h.State.Vault.Endpoint != vl.v.URL() {
		t.Errorf("second up does not use Vault: %+v", h.State.Vault)
	}
}

// TestVaultBadInput: each Vault misconfiguration is refused before
// anything starts, with one line that says what to do, and the state
// directory stays as it was.
func TestVaultBadInput(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	for _, tc := range []struct {
		name    string
		opts    fakevault.Options
		prepare func(t *testing.T, vl *vaultLab) []string // returns extra args
		drop    string                                    // a flag (with its value) to leave out
		env     map[string]string
		want    []string
	}{
		{name: "no endpoint", drop: "--vault-endpoint", want: []string{"--vault-endpoint"}},
		{name: "no secret", drop: "--vault-approle-secret-file", want: []string{"--vault-approle-secret-file", "$SSELAB_VAULT_APPROLE_SECRET"}},
		{name: "vault flag without --kms vault", drop: "--kms", want: []string{"need --kms vault"}},
		{name: "bad kv version", prepare: func(t *testing.T, vl *vaultLab) []string { return []string{"--vault-kv-version", "3"} },
			want: []string{"--vault-kv-version", "v1 or v2"}},
		{name: "sealed", prepare: func(t *testing.T, vl *vaultLab) []string { vl.v.Seal(); return nil },
			want: []string{"is sealed; unseal it with 'vault operator unseal' / 'bao operator unseal' and run again"}},
		{name: "not initialized", prepare: func(t *testing.T, vl *vaultLab) []string { vl.v.SetInitialized(false); return nil },
			want: []string{"not initialized", "operator init"}},
		{name: "unreachable", prepare: func(t *testing.T, vl *vaultLab) []string { vl.v.SetDown(true); return nil },
			want: []string{"cannot reach Vault", "--vault-endpoint"}},
		{name: "untrusted TLS", drop: "--vault-ca", want: []string{"not trusted", "--vault-ca"}},
		{name: "wrong secret", prepare: func(t *testing.T, vl *vaultLab) []string {
			os.WriteFile(vl.secretFile, []byte("not-the-secret\n"), 0o600)
			return nil
		}, want: []string{"refused the AppRole login"}},
		{name: "wrong kv version", opts: fakevault.Options{Mounts: map[string]int{"kv": 1}},
			prepare: func(t *testing.T, vl *vaultLab) []string { return []string{"--vault-kv-version", "v2"} },
			want:    []string{"is version 1", "--vault-kv-version v1"}},
		{name: "tokens with a use limit", opts: fakevault.Options{TokenNumUses: 20},
			want: []string{"use limit (token_num_uses)", "token_num_uses=0"}},
		{name: "engine not mounted", prepare: func(t *testing.T, vl *vaultLab) []string { return []string{"--vault-engine", "transit-not-kv"} },
			want: []string{"transit-not-kv/", "--vault-engine"}},
		{name: "policy without delete", opts: fakevault.Options{Policy: map[string][]string{
			"kv/data/sselab/*": {"create", "read", "update"}, "kv/metadata/sselab/*": {"list", "read"}}},
			want: []string{"does not allow delete", "stays"}},
		{name: "kms and kes-config", prepare: func(t *testing.T, vl *vaultLab) []string { return []string{"--kes-config", "kes.yaml"} },
			want: []string{"pass one of them"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			vl := startFakeVault(t, tc.opts)
			args := []string{"up", "--dir", filepath.Join(t.TempDir(), "lab")}
			for i := 0; i < len(vl.args); i += 2 {
				if vl.args[i] != tc.drop {
					args = append(args, vl.args[i], vl.args[i+1])
				}
			}
			if tc.prepare != nil {
				args = append(args, tc.prepare(t, vl)...)
			}
			args = append(args, freePorts...)
			dir := args[2]
			r := sselab(t, args...)
			if r.code == 0 {
				t.Fatalf("exit 0; stdout:\n%s", r.stdout)
			}
			msg := strings.TrimSpace(r.stderr)
			if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "sselab: ") {
				t.Errorf("want one line starting 'sselab: ', got:\n%s", r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not contain %q", msg, w)
				}
			}
			if _, err := os.Stat(dir); err == nil {
				t.Errorf("a refused up left %s behind", dir)
			}
			if p := processesMentioning(dir); len(p) > 0 {
				t.Errorf("processes left: %v", p)
			}
		})
	}
}

// TestVaultSecretFileWarning: a secret file others can read is used, with
// a warning.
func TestVaultSecretFileWarning(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	vl := startFakeVault(t, fakevault.Options{})
	os.Chmod(vl.secretFile, 0o644)
	dir := filepath.Join(t.TempDir(), "lab")
	r := mustRun(t, append(append([]string{"up", "--detach", "--dir", dir}, freePorts...), vl.args...)...)
	t.Cleanup(func() { stopLab(t, dir) })
	if !strings.Contains(r.stderr, "can be read by other users; chmod 600") {
		t.Errorf("no warning for a world-readable secret file; stderr:\n%s", r.stderr)
	}
}

// TestVaultKeystoreKept: a directory whose data was encrypted with keys in
// DIR is not started with Vault (and would be unreadable), nothing changes.
func TestVaultKeystoreKept(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "lab")
	upDetached(t, dir)
	stopLab(t, dir)
	before := treeHash(t, dir)
	vl := startFakeVault(t, fakevault.Options{})
	r := sselab(t, append(append([]string{"up", "--dir", dir}, freePorts...), vl.args...)...)
	if r.code == 0 || !strings.Contains(r.stderr, "use a new --dir") {
		t.Errorf("exit %d, stderr %q; want a refusal that suggests a new --dir", r.code, r.stderr)
	}
	if treeHash(t, dir) != before {
		t.Error("the refused up changed the state directory")
	}
	if names := vl.v.List("kv", "sselab"); len(names) > 0 {
		t.Errorf("the refused up wrote to Vault: %v", names)
	}
}

func mustSSEKMS(t *testing.T, key string) encrypt.ServerSide {
	t.Helper()
	sse, err := encrypt.NewSSEKMS(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	return sse
}

func readJSONFile(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestVaultViaKESConfig: the seed's way, a KES config file with a vault
// keystore whose AppRole comes from ${VAR}s, works against the same Vault.
func TestVaultViaKESConfig(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	vl := startFakeVault(t, fakevault.Options{Mounts: map[string]int{"kv": 1}})
	ca := vl.args[slices.Index(vl.args, "--vault-ca")+1]
	config := filepath.Join(t.TempDir(), "kes-config.yaml")
	os.WriteFile(config, []byte(`address: 0.0.0.0:7373
admin:
  identity: disabled
tls:
  key: /certs/kes.key
  cert: /certs/kes.cert
policy:
  minio:
    allow: ["/v1/key/create/*", "/v1/key/generate/*", "/v1/key/decrypt/*"]
    identities: ["${MINIO_API_KEY_HASH}"]
keystore:
  vault:
    endpoint: `+vl.v.URL()+`
    engine: kv
    version: v1
    prefix: seed
    approle:
      id: ${SEED_ROLE_ID}
      secret: ${SEED_SECRET_ID}
      retry: 15s
    tls:
      ca: `+ca+`
    status:
      ping: 10s
`), 0o600)
	dir := filepath.Join(t.TempDir(), "lab")
	r := sselabEnv(t, []string{"SEED_ROLE_ID=" + vl.v.RoleID(), "SEED_SECRET_ID=" + vl.v.SecretID()},
		append([]string{"up", "--detach", "--dir", dir, "--kes-config", config}, freePorts...)...)
	if r.code != 0 {
		t.Fatalf("up --kes-config with a vault keystore: exit %d\n%s", r.code, r.stderr)
	}
	t.Cleanup(func() { stopLab(t, dir) })
	if _, ok := vl.v.Secret("kv", "seed/"+labdir.DefaultKey); !ok {
		t.Fatalf("the default key is not in Vault at kv/seed/%s: %v", labdir.DefaultKey, vl.v.List("kv", "seed"))
	}
	mustRun(t, "verify", "--dir", dir)
}
