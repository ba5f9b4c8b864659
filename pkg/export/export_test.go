package export

import (
	"bytes"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/kes"
	"github.com/minio/kes/kesconf"
	"gopkg.in/yaml.v3"

	"github.com/sselab/sselab/internal/testtools"
	"github.com/sselab/sselab/pkg/kesserver"
	"github.com/sselab/sselab/pkg/keystore"
	"github.com/sselab/sselab/pkg/labdir"
	"github.com/sselab/sselab/pkg/pki"
	"github.com/sselab/sselab/pkg/runner"
	"github.com/sselab/sselab/pkg/vault"
)

const (
	testSecret     = "approle-secret-4f1d"
	testPassphrase = "correct horse battery"
)

// fakeLab makes a stopped lab's directory of the kind given: its PKI,
// settings, credentials and keystore, as 'sselab up' leaves them.
func fakeLab(t *testing.T, kind string) string {
	t.Helper()
	l := labdir.Layout{Root: filepath.Join(t.TempDir(), "lab")}
	if _, err := pki.LoadOrCreate(pki.Options{Dir: l.CertsDir()}); err != nil {
		t.Fatal(err)
	}
	s := labdir.Settings{Address: "127.0.0.1:9100", ConsoleAddress: "127.0.0.1:0", KESAddress: "127.0.0.1:7400", Key: "lab-key", Buckets: []string{"encrypted"}}
	switch kind {
	case keystore.KindFS:
		must(t, os.MkdirAll(l.KeyStoreDir(), 0o700))
		must(t, os.WriteFile(filepath.Join(l.KeyStoreDir(), "lab-key"), []byte("key-bytes"), 0o600))
		must(t, os.WriteFile(filepath.Join(l.KeyStoreDir(), ".tmp-x-1"), []byte("half"), 0o600))
	case keystore.KindVault:
		s.KMS = keystore.KindVault
		vaultCA := filepath.Join(t.TempDir(), "vault-ca.pem")
		must(t, os.WriteFile(vaultCA, []byte("vault CA PEM\n"), 0o600))
		s.Vault = &vault.Config{Endpoint: "https://vault.example.org:8200", Engine: "kv", KVVersion: "v2", Prefix: "lab", CAFile: vaultCA, AppRole: &vault.AppRole{Engine: "approle", ID: "role-id-1"}}
		must(t, os.MkdirAll(filepath.Dir(l.VaultSecretFile()), 0o700))
		must(t, os.WriteFile(l.VaultSecretFile(), []byte(testSecret+"\n"), 0o600))
	case keystore.KindSealed:
		s.KMS = keystore.KindSealed
		pass := []byte(testPassphrase)
		must(t, kesserver.CreateSealedKeyStore(l.SealedKeyStoreDir(), pass, kesserver.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}))
		store, err := kesserver.OpenSealedKeyStore(t.Context(), l.SealedKeyStoreDir(), pass)
		must(t, err)
		must(t, store.Create(t.Context(), "lab-key", []byte("sealed-key-bytes")))
		store.Close()
	}
	must(t, labdir.WriteJSON(l.SettingsFile(), s))
	must(t, labdir.WriteJSON(l.CredentialsFile(), labdir.Credentials{RootUser: "root-user", RootPassword: "root-password-123"}))
	return l.Root
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, o Options) Result {
	t.Helper()
	if o.Now.IsZero() {
		o.Now = time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	}
	r, err := Run(o)
	if err != nil {
		t.Fatalf("Run(%+v): %v", o, err)
	}
	return r
}

func read(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	must(t, err)
	return string(data)
}

func TestBadInput(t *testing.T) {
	fsLab, sealedLab, clusterLab := fakeLab(t, keystore.KindFS), fakeLab(t, keystore.KindSealed), fakeLab(t, keystore.KindFS)
	// A lab of 4 nodes x 2 drives, as settings.json says since multi-node labs.
	var settings map[string]any
	must(t, labdir.ReadJSON(filepath.Join(clusterLab, "settings.json"), &settings))
	settings["shape"] = map[string]int{"nodes": 4, "drives": 2}
	must(t, labdir.WriteJSON(filepath.Join(clusterLab, "settings.json"), settings))
	base := t.TempDir()
	full := filepath.Join(base, "full")
	must(t, os.MkdirAll(full, 0o700))
	must(t, os.WriteFile(filepath.Join(full, "keep"), []byte("mine"), 0o600))
	file := filepath.Join(base, "file")
	must(t, os.WriteFile(file, nil, 0o600))
	out := filepath.Join(base, "out")
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"unknown format", Options{Dir: fsLab, Out: out, Format: "helm"}, `unknown format "helm"`},
		{"out not empty", Options{Dir: fsLab, Out: full, Format: Files}, "not empty"},
		{"out is a file", Options{Dir: fsLab, Out: file, Format: Files}, "is a file"},
		{"out parent missing", Options{Dir: fsLab, Out: filepath.Join(base, "no", "such"), Format: Files}, "does not exist"},
		{"not a lab", Options{Dir: base, Out: out, Format: Files}, "is not a lab"},
		{"vault on fs lab", Options{Dir: fsLab, Out: out, Format: Files, KMS: "vault"}, "no Vault endpoint, engine or AppRole"},
		{"unknown kms", Options{Dir: fsLab, Out: out, Format: Files, KMS: "aws"}, "use fs or vault"},
		{"bad hostname", Options{Dir: fsLab, Out: out, Format: Files, Hostname: "bad_host!"}, "not a valid DNS name"},
		{"ip hostname", Options{Dir: fsLab, Out: out, Format: Files, Hostname: "10.0.0.1"}, "not a valid DNS name"},
		{"relative root", Options{Dir: fsLab, Out: out, Format: Files, Root: "srv/lab"}, "not an absolute path"},
		{"sealed lab", Options{Dir: sealedLab, Out: out, Format: Files}, "sealed"},
		{"out is the lab", Options{Dir: fsLab, Out: fsLab, Format: Files, Force: true}, "overlaps the lab directory"},
		{"out in the lab", Options{Dir: fsLab, Out: filepath.Join(fsLab, "export"), Format: Files}, "overlaps the lab directory"},
		{"out holds the lab", Options{Dir: fsLab, Out: filepath.Dir(fsLab), Format: Files, Force: true}, "overlaps the lab directory"},
		{"several nodes", Options{Dir: clusterLab, Out: out, Format: Files}, "runs 4 node(s) of 2 drive(s)"},
		{"kubernetes with fs keys", Options{Dir: fsLab, Out: out, Format: Kubernetes}, "needs the keys in Vault"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want one line with %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "export: ") {
				t.Errorf("error not prefixed with the package: %v", err)
			}
			entries, _ := os.ReadDir(base)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			if !slices.Equal(names, []string{"file", "full"}) {
				t.Errorf("the refusal wrote beside --out: %v", names)
			}
			if read(t, filepath.Join(full, "keep")) != "mine" {
				t.Error("the refusal changed a non-empty --out")
			}
		})
	}
	if _, err := os.Stat(filepath.Join(fsLab, "settings.json")); err != nil {
		t.Fatalf("the lab is damaged after the refusals: %v", err)
	}
	if os.Geteuid() != 0 { // root writes anywhere
		ro := filepath.Join(t.TempDir(), "ro")
		must(t, os.Mkdir(ro, 0o500))
		if _, err := Run(Options{Dir: fsLab, Out: filepath.Join(ro, "out"), Format: Files}); err == nil || !strings.Contains(err.Error(), "cannot be written") {
			t.Errorf("--out in a read-only directory: got %v", err)
		}
	}
	// --force replaces a non-empty directory.
	run(t, Options{Dir: fsLab, Out: full, Format: Files, Force: true})
	if _, err := os.Stat(filepath.Join(full, "keep")); err == nil {
		t.Error("--force kept the old content")
	}
}

func TestFiles(t *testing.T) {
	lab := fakeLab(t, keystore.KindFS)
	out := filepath.Join(t.TempDir(), "deploy")
	r := run(t, Options{Dir: lab, Out: out, Format: Files, Root: out, Hostname: "S3.Example.org.", Made: "sselab test"})
	want := []string{"README.txt", "certs/CAs/ca.cert", "certs/kes-server.cert", "certs/kes-server.key", "certs/minio-kes.cert", "certs/minio-kes.key",
		"certs/minio/CAs/ca.crt", "certs/minio/private.key", "certs/minio/public.crt", "config/kes-config.yaml", "config/minio", "kes/keys/lab-key"}
	if !slices.Equal(r.Files, want) {
		t.Errorf("files: got %v\nwant %v", r.Files, want)
	}
	p, err := pki.Load(filepath.Join(lab, "certs"))
	must(t, err)

	file, err := kesconf.ReadFile(filepath.Join(out, "config", "kes-config.yaml"))
	must(t, err)
	if file.Addr != "0.0.0.0:7400" || file.Admin != "disabled" {
		t.Errorf("address %q admin %q: want 0.0.0.0:7400 (a --hostname) and disabled", file.Addr, file.Admin)
	}
	if file.TLS.CAPath != filepath.Join(out, "certs", "CAs", "ca.cert") || file.TLS.Certificate != filepath.Join(out, "certs", "kes-server.cert") {
		t.Errorf("tls paths not under --root: %+v", file.TLS)
	}
	if len(file.Policies) != 1 {
		t.Errorf("policies: got %d, want only minio's", len(file.Policies))
	}
	pol := file.Policies[runner.PolicyMinIO]
	if !slices.Equal(pol.Allow, runner.MinIORoutes) || !slices.Equal(pol.Identities, []kes.Identity{kes.Identity(p.MinIOClient.Identity())}) {
		t.Errorf("minio policy: got %+v, want the lab's routes for MinIO's identity", pol)
	}
	if fs, ok := file.KeyStore.(*kesconf.FSKeyStore); !ok || fs.Path != filepath.Join(out, "kes", "keys") {
		t.Errorf("keystore: got %#v", file.KeyStore)
	}
	if read(t, filepath.Join(out, "kes", "keys", "lab-key")) != "key-bytes" {
		t.Error("the key was not copied as it is")
	}

	env := read(t, filepath.Join(out, "config", "minio"))
	for _, line := range []string{
		"MINIO_ROOT_USER=root-user", "MINIO_ROOT_PASSWORD=root-password-123", "MINIO_VOLUMES=" + filepath.Join(out, "data"),
		"MINIO_KMS_KES_ENDPOINT=https://s3.example.org:7400", "MINIO_KMS_KES_KEY_NAME=lab-key",
		"MINIO_KMS_KES_CAPATH=" + filepath.Join(out, "certs", "CAs", "ca.cert"),
		"MINIO_OPTS=--address :9100 --console-address :9001 --certs-dir " + filepath.Join(out, "certs", "minio"),
	} {
		if !strings.Contains(env, line+"\n") {
			t.Errorf("config/minio lacks %q:\n%s", line, env)
		}
	}
	if s := read(t, filepath.Join(out, "README.txt")); !strings.HasPrefix(s, "Made by sselab test export --format files on 2026-12-01T08:00:00Z\nfrom the lab in "+lab+"\n") || !strings.Contains(s, "  certs/kes-server.key\n") {
		t.Errorf("README.txt:\n%s", s)
	}
	for _, f := range []string{"config/minio", "config/kes-config.yaml"} {
		if s := read(t, filepath.Join(out, f)); !strings.HasPrefix(s, "# Made by sselab test export --format files on 2026-12-01T08:00:00Z\n# from the lab in "+lab+"\n") {
			t.Errorf("%s: header missing:\n%.200s", f, s)
		}
	}
	cert, err := pki.ParseCertificatePEM([]byte(read(t, filepath.Join(out, "certs", "kes-server.cert"))))
	must(t, err)
	for _, h := range []string{"s3.example.org", "kes", "minio", "localhost"} {
		if err := cert.VerifyHostname(h); err != nil {
			t.Errorf("KES certificate: %v", err)
		}
	}
	testtools.WantPrivateTree(t, out, "pod.sh")
}

// TestDefaultPaths: without --root, the procedure's container paths.
func TestDefaultPaths(t *testing.T) {
	out := filepath.Join(t.TempDir(), "deploy")
	run(t, Options{Dir: fakeLab(t, keystore.KindFS), Out: out, Format: Files})
	env := read(t, filepath.Join(out, "config", "minio"))
	for _, line := range []string{"MINIO_VOLUMES=/mnt/data", "MINIO_KMS_KES_CERT_FILE=/certs/minio-kes.cert", "MINIO_KMS_KES_ENDPOINT=https://localhost:7400", "--certs-dir /certs/minio"} {
		if !strings.Contains(env, line) {
			t.Errorf("config/minio lacks %q:\n%s", line, env)
		}
	}
	if s := read(t, filepath.Join(out, "config", "kes-config.yaml")); !strings.Contains(s, "path: /var/lib/kes/keys") || !strings.Contains(s, "address: 127.0.0.1:7400") {
		t.Errorf("kes-config.yaml: want the container keystore path and loopback:\n%s", s)
	}
}

func TestVaultSecret(t *testing.T) {
	lab := fakeLab(t, keystore.KindVault)
	t.Run("referenced", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "deploy")
		r := run(t, Options{Dir: lab, Out: out, Format: Kubernetes})
		if grepTree(t, out, testSecret) {
			t.Error("the AppRole secret is written without --include-secrets")
		}
		if !strings.Contains(read(t, filepath.Join(out, "config", "kes-config.yaml")), "${"+VaultSecretEnv+"}") {
			t.Error("kes-config.yaml does not reference $" + VaultSecretEnv)
		}
		if !slices.ContainsFunc(r.Notes, func(n string) bool { return strings.Contains(n, VaultSecretEnv) }) {
			t.Errorf("no note says where the secret goes: %v", r.Notes)
		}
		t.Setenv(VaultSecretEnv, "from-env")
		file, err := kesconf.ReadFile(filepath.Join(out, "config", "kes-config.yaml"))
		must(t, err)
		v, ok := file.KeyStore.(*kesconf.VaultKeyStore)
		if !ok || v.AppRole.Secret != "from-env" || v.AppRole.ID != "role-id-1" || v.Endpoint != "https://vault.example.org:8200" || v.APIVersion != "v2" || v.Prefix != "lab" {
			t.Errorf("vault keystore: got %#v", file.KeyStore)
		}
	})
	t.Run("included", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "deploy")
		run(t, Options{Dir: lab, Out: out, Format: Files, IncludeSecrets: true})
		if !strings.Contains(read(t, filepath.Join(out, "config", "kes-config.yaml")), "secret: "+testSecret) {
			t.Error("--include-secrets: the secret is not in kes-config.yaml")
		}
	})
	t.Run("fs on vault lab", func(t *testing.T) {
		_, err := Run(Options{Dir: lab, Out: filepath.Join(t.TempDir(), "x"), Format: Files, KMS: "fs"})
		if err == nil || !strings.Contains(err.Error(), "keys are in Vault") {
			t.Errorf("got %v", err)
		}
	})
}

// TestSealed: a sealed lab exports its keys in clear given the
// passphrase, and is refused without it or with a wrong one.
func TestSealed(t *testing.T) {
	lab := fakeLab(t, keystore.KindSealed)
	pass := func(p string) func() ([]byte, error) { return func() ([]byte, error) { return []byte(p), nil } }
	out := filepath.Join(t.TempDir(), "deploy")
	run(t, Options{Dir: lab, Out: out, Format: Files, Passphrase: pass(testPassphrase)})
	if got := read(t, filepath.Join(out, "kes", "keys", "lab-key")); got != "sealed-key-bytes" {
		t.Errorf("the unsealed key: got %q", got)
	}
	wrong := filepath.Join(t.TempDir(), "wrong")
	if _, err := Run(Options{Dir: lab, Out: wrong, Format: Files, Passphrase: pass("not it at all")}); err == nil {
		t.Error("a wrong passphrase exported the keys")
	}
	if _, err := os.Stat(wrong); err == nil {
		t.Error("a wrong passphrase left --out behind")
	}
}

// wantHeaders fails unless every file of r but certificates, keys and
// the keystore says in its first lines what made it and from which lab.
func wantHeaders(t *testing.T, r Result, lab string) {
	t.Helper()
	checked := 0
	for _, f := range r.Files {
		if strings.HasPrefix(f, "certs/") || strings.HasPrefix(f, dirKeys+"/") {
			continue
		}
		head := strings.Join(strings.SplitN(read(t, filepath.Join(r.Out, f)), "\n", 4)[:3], "\n")
		if !strings.Contains(head, "Made by sselab") || !strings.Contains(head, "from the lab in "+lab) {
			t.Errorf("%s does not begin by saying what made it and from which lab:\n%s", f, head)
		}
		checked++
	}
	if checked < 3 {
		t.Errorf("only %d files checked for a header in %v", checked, r.Files)
	}
}

func grepTree(t *testing.T, dir, s string) bool {
	t.Helper()
	found := false
	must(t, filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && strings.Contains(read(t, p), s) {
			found = true
		}
		return err
	}))
	return found
}

func TestPodman(t *testing.T) {
	out := filepath.Join(t.TempDir(), "deploy")
	lab := fakeLab(t, keystore.KindFS)
	wantHeaders(t, run(t, Options{Dir: lab, Out: out, Format: Podman, ImageKES: "registry.example.org/kes:v0.24.0"}), lab)
	script := filepath.Join(out, "pod.sh")
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash to check pod.sh with")
	}
	if b, err := exec.Command("bash", "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("bash -n pod.sh: %v\n%s", err, b)
	}
	s := read(t, script)
	for _, want := range []string{
		"podman pod create --name minio-kes -p 9100:9100",
		`"$here/kes/keys:/var/lib/kes/keys:Z"`,
		`--env-file "$here/config/minio"`,
		"IMAGE_KES=${IMAGE_KES:-registry.example.org/kes:v0.24.0}",
		"server --config /etc/default/kes-config.yaml",
		"withdrawn in 2026",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("pod.sh lacks %q:\n%s", want, s)
		}
	}
	testtools.WantPrivateTree(t, out, "pod.sh")
}

func TestCompose(t *testing.T) {
	out := filepath.Join(t.TempDir(), "deploy")
	lab := fakeLab(t, keystore.KindFS)
	wantHeaders(t, run(t, Options{Dir: lab, Out: out, Format: Compose}), lab)
	data := read(t, filepath.Join(out, "compose.yaml"))
	var f composeFile
	dec := yaml.NewDecoder(strings.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("compose.yaml: %v\n%s", err, data)
	}
	k, m := f.Services["kes"], f.Services["minio"]
	if k.Healthcheck == nil || m.Healthcheck == nil || m.DependsOn["kes"].Condition != "service_healthy" {
		t.Errorf("healthchecks or depends_on missing:\n%s", data)
	}
	if !slices.Contains(k.Volumes, "./kes/keys:/var/lib/kes/keys") || !slices.Contains(m.Volumes, "minio-data:/mnt/data") || m.EnvFile[0] != "./config/minio" {
		t.Errorf("volumes/env_file:\n%s", data)
	}
	if _, ok := f.Volumes["minio-data"]; !ok || k.Image != DefaultImageKES || m.Image != DefaultImageMinIO {
		t.Errorf("volume or images:\n%s", data)
	}
	if env := read(t, filepath.Join(out, "config", "minio")); !strings.Contains(env, "MINIO_KMS_KES_ENDPOINT=https://kes:7400\n") {
		t.Errorf("MinIO must reach KES by its service name:\n%s", env)
	}
	if s := read(t, filepath.Join(out, "config", "kes-config.yaml")); !strings.Contains(s, "address: 0.0.0.0:7400") {
		t.Errorf("KES must listen on the Compose network:\n%s", s)
	}
	// Each file referenced from the compose file exists in the export.
	for _, svc := range f.Services {
		for _, v := range append(slices.Clone(svc.Volumes), svc.EnvFile...) {
			if rel, ok := strings.CutPrefix(strings.Split(v, ":")[0], "./"); ok {
				if _, err := os.Stat(filepath.Join(out, rel)); err != nil {
					t.Errorf("compose.yaml names %s: %v", v, err)
				}
			}
		}
	}
}

// TestKubernetes decodes tenant.yaml strictly into the export's own
// types and checks the references between its objects. It is not
// validated against the MinIO Operator's Go types: the Go module proxy
// refuses github.com/minio/operator (403).
func TestKubernetes(t *testing.T) {
	lab := fakeLab(t, keystore.KindVault)
	out := filepath.Join(t.TempDir(), "deploy")
	wantHeaders(t, run(t, Options{Dir: lab, Out: out, Format: Kubernetes}), lab)
	dec := yaml.NewDecoder(bytes.NewReader([]byte(read(t, filepath.Join(out, "tenant.yaml")))))
	dec.KnownFields(true)
	secrets := map[string]k8sObject{}
	var tenant *k8sObject
	for {
		var obj k8sObject
		err := dec.Decode(&obj)
		if err == io.EOF {
			break
		}
		must(t, err)
		switch obj.Kind {
		case "Secret":
			secrets[obj.Metadata.Name] = obj
		case "Tenant":
			tenant = &obj
		}
	}
	if tenant == nil || tenant.APIVersion != "minio.min.io/v2" {
		t.Fatal("no minio.min.io/v2 Tenant")
	}
	k := tenant.Spec.KES
	for _, name := range []string{tenant.Spec.Configuration.Name, k.KESSecret.Name, k.ExternalCertSecret.Name, k.ClientCertSecret.Name, tenant.Spec.ExternalClientCertSecret.Name} {
		if _, ok := secrets[name]; !ok {
			t.Errorf("the Tenant names Secret %q, which tenant.yaml lacks", name)
		}
	}
	if k.KeyName != "lab-key" || k.Image != DefaultImageKES || len(k.Env) != 1 || k.Env[0].ValueFrom.SecretKeyRef.Name != secretVault {
		t.Errorf("spec.kes: %+v", k)
	}
	conf := filepath.Join(t.TempDir(), "server-config.yaml")
	must(t, os.WriteFile(conf, []byte(secrets[k.KESSecret.Name].StringData[kesConfigKey]), 0o600))
	t.Setenv(VaultSecretEnv, "x")
	file, err := kesconf.ReadFile(conf)
	must(t, err)
	if kesCA := secrets[k.ClientCertSecret.Name].StringData; kesCA["ca.crt"] == "" || file.TLS.CAPath != "/tmp/kes/ca.crt" {
		t.Errorf("KES pods get no lab CA at %s from clientCertSecret %s", file.TLS.CAPath, k.ClientCertSecret.Name)
	} else if v := file.KeyStore.(*kesconf.VaultKeyStore); kesCA["vault-ca.crt"] != "vault CA PEM\n" || v.CAPath != "/tmp/kes/vault-ca.crt" {
		t.Errorf("KES pods get no Vault CA: secret %v, config %q", slices.Collect(maps.Keys(kesCA)), v.CAPath)
	}
	if read(t, filepath.Join(out, "certs", "vault-ca.cert")) != "vault CA PEM\n" {
		t.Error("the files lack Vault's CA")
	}
	if file.TLS.Certificate != "/tmp/kes/server.crt" || !slices.Equal(file.Policies[runner.PolicyMinIO].Allow, runner.MinIORoutes) {
		t.Errorf("server-config.yaml: tls %+v policy %+v", file.TLS, file.Policies)
	}
	if !strings.Contains(secrets[secretEnv].StringData["config.env"], `export MINIO_ROOT_USER="root-user"`) {
		t.Errorf("config.env: %q", secrets[secretEnv].StringData["config.env"])
	}
	cert, err := pki.ParseCertificatePEM([]byte(secrets[secretKESTLS].StringData["tls.crt"]))
	must(t, err)
	if err := cert.VerifyHostname("sselab-kes-hl-svc.default.svc.cluster.local"); err != nil {
		t.Errorf("KES certificate: %v", err)
	}
}
