package export

import (
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/minio/kes"

	"github.com/sselab/sselab/pkg/kesserver"
	"github.com/sselab/sselab/pkg/keystore"
	"github.com/sselab/sselab/pkg/labdir"
	"github.com/sselab/sselab/pkg/runner"
)

// Files of the export, relative to the output directory, as the
// procedure names them.
const (
	fileKESCert    = "certs/kes-server.cert"
	fileKESKey     = "certs/kes-server.key"
	fileMinIOCert  = "certs/minio-kes.cert"
	fileMinIOKey   = "certs/minio-kes.key"
	fileCA         = "certs/CAs/ca.cert"
	fileVaultCA    = "certs/vault-ca.cert"
	dirMinIOTLS    = "certs/minio"
	fileKESConfig  = "config/kes-config.yaml"
	fileMinIOEnv   = "config/minio"
	dirKeys        = "kes/keys"
	privatePerm    = 0o600
	defaultKESPort = "7373"
	defaultS3Port  = "9000"
	defaultUIPort  = "9001"
)

// target is where things are on the machine or in the containers the
// export runs on.
type target struct {
	// root is --root, or "" for the procedure's container paths.
	root string
	// certs, config, keys and data are the directories on the target.
	certs, config, keys, data string
	// kesListen is KES's address; kesEndpoint is where MinIO reaches it.
	kesListen, kesEndpoint string
	// s3, console are MinIO's addresses.
	s3, console string
	// kesPort, s3Port and consolePort are their ports.
	kesPort, s3Port, consolePort string
	// hosts are the names the server certificates carry besides the
	// lab's.
	hosts []string
}

func newTarget(o Options, l *lab) target {
	t := target{root: o.Root}
	if o.Root == "" {
		t.certs, t.config, t.keys, t.data = "/certs", "/etc/default", "/var/lib/kes/keys", "/mnt/data"
	} else {
		t.certs, t.config = filepath.Join(o.Root, "certs"), filepath.Join(o.Root, "config")
		t.keys, t.data = filepath.Join(o.Root, "kes", "keys"), filepath.Join(o.Root, "data")
	}
	t.kesPort = port(l.settings.KESAddress, defaultKESPort)
	t.s3Port = port(l.settings.Address, defaultS3Port)
	t.consolePort = port(l.settings.ConsoleAddress, defaultUIPort)
	kesHost := "localhost"
	switch {
	case o.Format == Compose || o.Format == Kubernetes:
		kesHost = kesService
	case o.Hostname != "":
		kesHost = o.Hostname
	}
	// In a pod, or on one host, KES is reached on loopback only; in a
	// Compose network MinIO reaches it by its service name.
	kesBind, s3Bind := "127.0.0.1", "127.0.0.1"
	if o.Format != Files || o.Hostname != "" {
		s3Bind = ""
	}
	if o.Format == Compose || o.Format == Kubernetes || o.Hostname != "" {
		kesBind = "0.0.0.0"
	}
	t.kesListen = net.JoinHostPort(kesBind, t.kesPort)
	t.kesEndpoint = "https://" + net.JoinHostPort(kesHost, t.kesPort)
	t.s3 = net.JoinHostPort(s3Bind, t.s3Port)
	t.console = net.JoinHostPort(s3Bind, t.consolePort)
	t.hosts = []string{kesService, minioService}
	if o.Hostname != "" {
		t.hosts = append(t.hosts, o.Hostname)
	}
	return t
}

// port is the port of addr, or def when addr has none or lets the
// system pick one (port 0).
func port(addr, def string) string {
	_, p, err := net.SplitHostPort(addr)
	if err != nil || p == "" || p == "0" {
		return def
	}
	return p
}

// at is the path on the target of rel, a slash-separated path under one
// of the target's directories (dir).
func (t target) at(dir, rel string) string {
	if t.root == "" {
		return path.Join(dir, rel)
	}
	return filepath.Join(dir, filepath.FromSlash(rel))
}

// cert is a file of the export's certs directory on the target.
func (t target) cert(file string) string {
	return t.at(t.certs, strings.TrimPrefix(file, "certs/"))
}

// files writes what every format has: the certificates, the KES
// configuration, MinIO's environment file and, for a file keystore, the
// keys.
func (w *writer) files() error {
	p := w.lab.pki
	kesCert, err := p.ServerCertFor(p.KESServer, w.t.hosts)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	copies := []struct{ from, to string }{
		{p.KESServer.KeyFile, fileKESKey},
		{p.MinIOClient.CertFile, fileMinIOCert},
		{p.MinIOClient.KeyFile, fileMinIOKey},
		{p.CAFile(), fileCA},
	}
	if !w.lab.settings.HTTP {
		copies = append(copies,
			struct{ from, to string }{p.MinIOTLS.KeyFile, dirMinIOTLS + "/private.key"},
			struct{ from, to string }{p.CAFile(), dirMinIOTLS + "/CAs/ca.crt"})
		minioCert, err := p.ServerCertFor(p.MinIOTLS, w.t.hosts)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		if err := w.write(dirMinIOTLS+"/public.crt", minioCert, privatePerm); err != nil {
			return err
		}
	}
	if err := w.write(fileKESCert, kesCert, privatePerm); err != nil {
		return err
	}
	for _, c := range copies {
		if err := w.copyFile(c.from, c.to); err != nil {
			return err
		}
	}
	if err := w.kesConfig(); err != nil {
		return err
	}
	return w.minioEnv()
}

// copyFile copies a file of the lab into the export.
func (w *writer) copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return fmt.Errorf("export: reading the lab: %w", err)
	}
	return w.write(to, data, privatePerm)
}

// serverFile is the KES server configuration of the export.
func (w *writer) serverFile() (kesserver.ServerFile, error) {
	p, t := w.lab.pki, w.t
	f := kesserver.ServerFile{
		Address:  t.kesListen,
		KeyFile:  t.cert(fileKESKey),
		CertFile: t.cert(fileKESCert),
		CAFile:   t.cert(fileCA),
		Policies: []kesserver.Policy{{
			Name:       runner.PolicyMinIO,
			Allow:      runner.MinIORoutes,
			Identities: []kes.Identity{kes.Identity(p.MinIOClient.Identity())},
		}},
		Cache:    kesserver.DefaultConfig().Cache,
		AuditLog: true,
	}
	if w.lab.kms == keystore.KindFS {
		f.FSPath = t.keys
		return f, w.copyKeys()
	}
	v := w.lab.settings.Vault
	f.Cache = keystore.VaultCache
	f.Vault = &kesserver.VaultKeyStore{
		Endpoint: v.Endpoint, Engine: v.Engine, KVVersion: v.KVVersion,
		Prefix: v.Prefix, Namespace: v.Namespace,
	}
	if v.CAFile != "" {
		if err := w.copyFile(v.CAFile, fileVaultCA); err != nil {
			return f, err
		}
		f.Vault.CAFile = t.cert(fileVaultCA)
	}
	switch {
	case v.AppRole != nil:
		f.Vault.AppRoleEngine, f.Vault.AppRoleID = v.AppRole.Engine, v.AppRole.ID
		f.Vault.AppRoleSecret = "${" + VaultSecretEnv + "}"
		if w.o.IncludeSecrets {
			secret, err := os.ReadFile(w.lab.layout.VaultSecretFile())
			if err != nil {
				return f, fmt.Errorf("export: --include-secrets: the lab's AppRole secret: %w", err)
			}
			f.Vault.AppRoleSecret = strings.TrimSpace(string(secret))
		} else {
			w.notes = append(w.notes, fmt.Sprintf("KES reads Vault's AppRole secret_id from $%s: set it where KES runs (the lab keeps it in %s)", VaultSecretEnv, w.lab.layout.VaultSecretFile()))
		}
	case v.Kubernetes != nil:
		f.Vault.K8sEngine, f.Vault.K8sRole, f.Vault.K8sJWT = v.Kubernetes.Engine, v.Kubernetes.Role, v.Kubernetes.JWTFile
	default:
		return f, fmt.Errorf("export: the lab's Vault settings name no login (AppRole or Kubernetes)")
	}
	return f, nil
}

// kesConfig writes config/kes-config.yaml.
func (w *writer) kesConfig() error {
	f, err := w.serverFile()
	if err != nil {
		return err
	}
	w.kes = f
	data, err := f.Marshal(append(w.header(),
		"'kes server --config "+w.t.at(w.t.config, "kes-config.yaml")+"' reads it (KES v0.24.0).",
		"Policy 'minio' allows exactly the routes MinIO calls, for MinIO's identity only; no admin identity.")...)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return w.write(fileKESConfig, data, privatePerm)
}

// copyKeys copies the lab's file keystore: the keys in it serve the
// lab's drive.
func (w *writer) copyKeys() error {
	if w.lab.sealed {
		return w.unsealKeys()
	}
	dir := w.lab.layout.KeyStoreDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("export: the lab's keystore: %w", err)
	}
	n := 0
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if err := w.copyFile(filepath.Join(dir, e.Name()), dirKeys+"/"+e.Name()); err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("export: the lab's keystore %s holds no key; run 'sselab up --dir %s' once first", dir, w.lab.layout.Root)
	}
	w.notes = append(w.notes, fmt.Sprintf("%s holds the lab's %d key(s) in clear, as KES's file keystore does: keep it private, or move the keys to Vault", dirKeys, n))
	return nil
}

// minioEnv writes config/minio, MinIO's environment file.
func (w *writer) minioEnv() error {
	t, s := w.t, w.lab.settings
	key := s.Key
	if key == "" {
		key = labdir.DefaultKey
	}
	opts := "--address " + t.s3 + " --console-address " + t.console
	if !s.HTTP {
		opts += " --certs-dir " + t.cert(dirMinIOTLS)
	}
	var b strings.Builder
	b.WriteString(w.commented("# "))
	b.WriteString("# MinIO's environment: systemd's EnvironmentFile, 'podman run --env-file' and\n")
	b.WriteString("# Compose's env_file read it as it is (no quotes). MINIO_OPTS is for 'minio server $MINIO_OPTS'.\n")
	for _, kv := range [][2]string{
		{"MINIO_ROOT_USER", w.lab.creds.RootUser},
		{"MINIO_ROOT_PASSWORD", w.lab.creds.RootPassword},
		{"MINIO_VOLUMES", t.data},
		{"MINIO_OPTS", opts},
		{"MINIO_KMS_KES_ENDPOINT", t.kesEndpoint},
		{"MINIO_KMS_KES_CERT_FILE", t.cert(fileMinIOCert)},
		{"MINIO_KMS_KES_KEY_FILE", t.cert(fileMinIOKey)},
		{"MINIO_KMS_KES_CAPATH", t.cert(fileCA)},
		{"MINIO_KMS_KES_KEY_NAME", key},
	} {
		fmt.Fprintf(&b, "%s=%s\n", kv[0], kv[1])
	}
	return w.write(fileMinIOEnv, []byte(b.String()), privatePerm)
}
