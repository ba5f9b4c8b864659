package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/miniobin"
	"github.com/sselab/sselab/pkg/vault"
)

const upUsage = `Usage: sselab up [flags]

Starts the lab: makes (or reuses) the PKI, starts the embedded KES server,
starts MinIO wired to it, creates the buckets with SSE-KMS, prints where
everything is, and runs until Ctrl-C or 'sselab down'. A later 'up' on the
same --dir reuses the keys, the credentials, the data and the settings.

Flags:
  --dir DIR                  state directory (default: $SSELAB_DIR, else the per-user config directory)
  --minio PATH               MinIO server binary (default: $SSELAB_MINIO, the one chosen with
                             'sselab minio use', the newest cached one, 'minio' on PATH, a
                             download of the last release, else a build from source with Go)
  --address HOST:PORT        S3 API (default 127.0.0.1:9000; port 0 picks a free port)
  --console-address HOST:PORT  MinIO console (default 127.0.0.1:9001)
  --kes-address HOST:PORT    KES server (default 127.0.0.1:7373)
  --key NAME                 default SSE-KMS key (default sselab-key)
  --bucket NAME              bucket with default SSE-KMS; repeatable (default encrypted)
  --http                     plain HTTP for S3 (SSE-C then does not work); --http=false undoes it
  --detach                   start in the background and return once the lab is ready
  --kes-config FILE          a KES server config (kes server --config format): KES takes its
                             keystore, cache and keys from it; sselab still makes the TLS and
                             the identities and says what of the file it replaces; "-" goes
                             back to the keystore in DIR
  --kms fs|vault             where KES keeps the keys: the keystore in DIR (fs, the default) or
                             a KV engine of HashiCorp Vault or OpenBao (vault)

Vault (with --kms vault; remembered, so a later 'up' needs none of them):
  --vault-endpoint URL       Vault's address, e.g. https://127.0.0.1:8200
  --vault-engine PATH        KV secrets engine mount path (default kv)
  --vault-kv-version v1|v2   the engine's version (default: as mounted)
  --vault-prefix PATH        path under the engine that holds the keys (default none)
  --vault-namespace NS       Vault Enterprise / OpenBao namespace
  --vault-ca FILE            CA certificate(s) of Vault's TLS certificate (default: system roots)
  --vault-approle-id ID      AppRole role_id KES logs in with
  --vault-approle-secret-file FILE
                             file with the AppRole secret_id (or set $SSELAB_VAULT_APPROLE_SECRET);
                             sselab keeps a copy in DIR/vault/secret-id (0600)
  --vault-k8s-role ROLE      log in with Kubernetes auth instead, as this Vault role
  --vault-k8s-jwt FILE       service account token (default the pod's token)

Examples:
  sselab up
  sselab up --detach --address 127.0.0.1:0 --console-address 127.0.0.1:0 --kes-address 127.0.0.1:0
  sselab up --dir /tmp/lab --bucket photos --bucket backups --key photos-key
  SSELAB_VAULT_APPROLE_SECRET=... sselab up --kms vault --vault-endpoint https://127.0.0.1:8200 \
      --vault-ca vault-ca.pem --vault-engine kv --vault-prefix sselab --vault-approle-id ROLE_ID
`

func runUp(args []string, stdout, stderr io.Writer) error {
	var (
		o         lab.Options
		minio     string
		plainHTTP bool
		detach    bool
		v         lab.VaultOptions
		approle   vault.AppRole
		k8s       vault.Kubernetes
	)
	fs := newFlags("up", &o.Dir)
	fs.StringVar(&minio, "minio", "", "")
	fs.StringVar(&o.Address, "address", "", "")
	fs.StringVar(&o.ConsoleAddress, "console-address", "", "")
	fs.StringVar(&o.KESAddress, "kes-address", "", "")
	fs.StringVar(&o.Key, "key", "", "")
	fs.StringArrayVar(&o.Buckets, "bucket", nil, "")
	fs.BoolVar(&plainHTTP, "http", false, "")
	fs.BoolVar(&detach, "detach", false, "")
	fs.StringVar(&o.KESConfig, "kes-config", "", "")
	fs.StringVar(&o.KMS, "kms", "", "")
	fs.StringVar(&v.Endpoint, "vault-endpoint", "", "")
	fs.StringVar(&v.Engine, "vault-engine", "", "")
	fs.StringVar(&v.KVVersion, "vault-kv-version", "", "")
	fs.StringVar(&v.Prefix, "vault-prefix", "", "")
	fs.StringVar(&v.Namespace, "vault-namespace", "", "")
	fs.StringVar(&v.CAFile, "vault-ca", "", "")
	fs.StringVar(&approle.ID, "vault-approle-id", "", "")
	fs.StringVar(&v.SecretFile, "vault-approle-secret-file", "", "")
	fs.StringVar(&k8s.Role, "vault-k8s-role", "", "")
	fs.StringVar(&k8s.JWTFile, "vault-k8s-jwt", "", "")
	if err := parse(fs, args, &o.Dir); err != nil {
		return err
	}
	if fs.Changed("http") {
		o.HTTP = &plainHTTP
	}
	if approle != (vault.AppRole{}) || v.SecretFile != "" {
		v.AppRole = &approle
	}
	if k8s != (vault.Kubernetes{}) {
		v.Kubernetes = &k8s
	}
	o.Vault = &v
	if detach {
		return upDetached(o.Dir, args, stdout, stderr)
	}
	out := &switchWriter{w: stderr}
	o.MinIO = miniobin.Options{Flag: minio, Env: os.Getenv("SSELAB_MINIO"), Download: true, Build: true, Progress: out}
	o.Log = out
	if isTerminal(stderr) {
		o.Progress = out // step lines help at a terminal; elsewhere errors stay one line
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	l, err := lab.Up(ctx, o)
	if err != nil {
		return err
	}
	defer l.Stop()
	creds := l.Credentials()
	if os.Getenv(envDetachedLog) != "" {
		defer redirectDetachedOutput(out)()
		stdout, stderr = out, out
		// The parent shows the password; the log file never holds it.
		creds.RootPassword = "(not logged; see 'sselab env')"
	}
	printSummary(stdout, l.Layout().Root, l.State(), creds)
	fmt.Fprintln(stdout, "Stop with Ctrl-C or 'sselab down"+dirFlag(o.Dir)+"'.")
	if err := l.Wait(ctx); err != nil {
		return err
	}
	fmt.Fprintln(stderr, "stopping MinIO, then KES ...")
	if err := l.Stop(); err != nil {
		return err
	}
	fmt.Fprintln(stderr, "lab stopped; keys, credentials and data stay in", o.Dir)
	return nil
}

// printSummary prints the one-screen summary of a ready lab.
func printSummary(w io.Writer, dir string, st lab.State, c lab.Credentials) {
	s3 := "SSE-KMS, SSE-S3 and SSE-C"
	if st.HTTP {
		s3 = "SSE-KMS and SSE-S3 (plain HTTP: no SSE-C)"
	}
	fmt.Fprintf(w, "sselab: the lab is ready (%s)\n\n", dir)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(name, value, note string) {
		if note != "" {
			value += "  (" + note + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", name, value)
	}
	layout := lab.Layout{Root: dir}
	row("S3 API", st.S3Endpoint, s3)
	row("Console", st.ConsoleURL, "")
	switch {
	case st.Vault != nil:
		row("KES", st.KESEndpoint, "KES "+st.KESVersion+", mTLS, keys in Vault")
		row("Vault", st.Vault.Where(), "")
	case st.KESConfig != "":
		row("KES", st.KESEndpoint, "KES "+st.KESVersion+", mTLS, keystore from "+st.KESConfig)
		if len(st.KESReplaced) > 0 {
			row("", "", "sselab replaced the file's "+strings.Join(st.KESReplaced, ", ")+" (see 'sselab up --help')")
		}
	default:
		row("KES", st.KESEndpoint, "KES "+st.KESVersion+", mTLS, keystore "+layout.KeyStoreDir())
	}
	row("Root user", c.RootUser, "")
	row("Password", c.RootPassword, "")
	row("Lab CA", st.CAFile, "")
	row("Default key", st.Key, "")
	row("Buckets", strings.Join(st.Buckets, ", "), "default encryption SSE-KMS")
	row("MinIO", st.MinIOVersion, st.MinIOPath)
	tw.Flush()
	fmt.Fprintf(w, "\nIn another terminal:\n  eval \"$(sselab env%s)\"\n  mc cp FILE %s/%s/ && mc stat %s/%s/FILE\n",
		dirFlag(dir), lab.MCAlias, st.Buckets[0], lab.MCAlias, st.Buckets[0])
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
