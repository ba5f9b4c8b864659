package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/sselab/sselab/internal/passphrase"
	"github.com/sselab/sselab/internal/selfcmd"
	"github.com/sselab/sselab/pkg/kesserver"
	"github.com/sselab/sselab/pkg/keystore"
	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/labdir"
	"github.com/sselab/sselab/pkg/miniobin"
	"github.com/sselab/sselab/pkg/runner"
)

const upUsage = `Usage: sselab up [flags]

Starts the lab: makes (or reuses) the PKI, starts the embedded KES server,
starts MinIO wired to it, creates the buckets with SSE-KMS, prints where
everything is, and runs until Ctrl-C or 'sselab down'. A later 'up' on the
same --dir reuses the keys, the credentials, the data and the settings.

{{flags}}

Examples:
  sselab up
  sselab up --detach --address 127.0.0.1:0 --console-address 127.0.0.1:0 --kes-address 127.0.0.1:0 --web-address 127.0.0.1:0
  sselab up --dir /tmp/lab --bucket photos --bucket backups --key photos-key
  sselab up --dir /tmp/cluster --nodes 4 --drives 2
  sselab up --dir /tmp/newlab --adopt-drive /srv/minio/data --static-key-file old.key
  SSELAB_VAULT_APPROLE_SECRET=... sselab up --kms vault --vault-endpoint https://127.0.0.1:8200 \
      --vault-ca vault-ca.pem --vault-engine kv --vault-prefix sselab --vault-approle-id ROLE_ID
`

func runUp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		o         runner.Options
		minio     string
		plainHTTP bool
		detach    bool
	)
	o.Keystore = keystore.NewFlags()
	fs := newFlags("up", &o.Dir)
	fs.StringVar(&minio, "minio", "", "MinIO server binary at `PATH` (default: $SSELAB_MINIO, the one chosen with 'sselab minio use', "+
		"the newest cached one, 'minio' on PATH, a download of the last release, else a build from source with Go)")
	fs.StringVar(&o.Address, "address", "", "S3 API at `HOST:PORT` (default "+labdir.DefaultAddress+"; port 0 picks a free port)")
	fs.StringVar(&o.ConsoleAddress, "console-address", "", "MinIO console at `HOST:PORT` (default "+labdir.DefaultConsoleAddress+")")
	fs.StringVar(&o.KESAddress, "kes-address", "", "KES server at `HOST:PORT` (default "+labdir.DefaultKESAddress+")")
	fs.StringVar(&o.WebAddress, "web-address", "", "lab console (HTTPS) at `HOST:PORT` (default "+labdir.DefaultWebAddress+")")
	fs.BoolVar(&o.NoWeb, "no-web", false, "do not serve the lab console this time")
	fs.StringVar(&o.Key, "key", "", "default SSE-KMS key `NAME` (default "+labdir.DefaultKey+")")
	fs.StringArrayVar(&o.Buckets, "bucket", nil, "bucket `NAME` with default SSE-KMS; repeatable (default "+labdir.DefaultBucket+")")
	fs.IntVar(&o.Shape.Nodes, "nodes", 0, "run `N` MinIO nodes (server processes, each with its own ports after --address and --console-address) as one erasure-coded cluster (default 1, or as before on --dir)")
	fs.IntVar(&o.Shape.Drives, "drives", 0, "`M` drives per MinIO node (default 1, or as before on --dir); N x M must split into erasure sets of 2 to 16 drives")
	fs.BoolVar(&plainHTTP, "http", false, "plain HTTP for S3 (SSE-C then does not work); --http=false undoes it")
	fs.BoolVar(&detach, "detach", false, "start in the background and return once the lab is ready")
	fs.StringVar(&o.AdoptDrive, "adopt-drive", "", "a new lab copies the drive at `PATH` of a MinIO that ran with MINIO_KMS_SECRET_KEY and serves the copy; needs --static-key-file")
	fs.StringVar(&o.StaticKeyFile, "static-key-file", "", "`FILE` (mode 0600) with that MinIO's MINIO_KMS_SECRET_KEY value, NAME:BASE64; the lab imports it into KES as its default key")
	o.Keystore.AddFlags(fs)
	for _, s := range o.Keystore.Sections() {
		s.Flags.VisitAll(func(f *pflag.Flag) { fs.SetAnnotation(f.Name, sectionAnnotation, []string{s.Heading}) })
	}
	if err := parse(fs, args, &o.Dir); err != nil {
		return err
	}
	if fs.Changed("http") {
		o.HTTP = &plainHTTP
	}
	if o.Shape.Nodes < 0 || o.Shape.Drives < 0 || (fs.Changed("nodes") && o.Shape.Nodes == 0) || (fs.Changed("drives") && o.Shape.Drives == 0) {
		// 0 would mean "as before": refuse it here, said as given.
		given := labdir.Shape{Nodes: 1, Drives: 1}
		if fs.Changed("nodes") {
			given.Nodes = o.Shape.Nodes
		}
		if fs.Changed("drives") {
			given.Drives = o.Shape.Drives
		}
		return labdir.CheckShape(given)
	}
	if detach {
		var env []string
		if !fs.Changed("passphrase-file") {
			pass, err := detachedPassphrase(ctx, o, stderr)
			if err != nil {
				return err
			}
			if pass != nil {
				env = append(env, passphrase.EnvVar+"="+string(pass))
			}
		}
		return upDetached(ctx, o.Dir, args, env, stdout, stderr)
	}
	out := &switchWriter{w: stderr}
	o.MinIO = miniobin.Options{Flag: minio, Env: os.Getenv("SSELAB_MINIO"), Download: true, Build: true, Progress: out, ProgressBar: isTerminal(stderr)}
	o.Log = out
	if isTerminal(stderr) {
		o.Progress = out // step lines help at a terminal; elsewhere errors stay one line
	}

	l, err := runner.Up(ctx, o)
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
	if os.Getenv(envDetachedLog) == "" { // the parent of a detached lab shows it
		printSecurityNotice(stdout, l.State().MinIOVersion, l.State().MinIOPath)
	}
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

// detachedPassphrase asks at the terminal, before the lab goes to the
// background, for the passphrase of the sealed keystore the lab will open
// (checking it, three tries) or make (typed twice). It returns nil when
// no passphrase is needed, or it comes from $SSELAB_PASSPHRASE, or there
// is no terminal (the background lab then says what is missing).
func detachedPassphrase(ctx context.Context, o runner.Options, stderr io.Writer) ([]byte, error) {
	src := passphrase.Source{Prompt: stderr}
	if !src.Interactive() {
		return nil, nil
	}
	layout := labdir.Layout{Root: o.Dir}
	var settings labdir.Settings
	labdir.ReadJSON(layout.SettingsFile(), &settings) // none yet: a new lab
	needs, exists := keystore.NeedsPassphrase(o.Keystore, layout, settings.Keystore)
	switch {
	case !needs:
		return nil, nil
	case !exists:
		return src.New("New passphrase for the lab's sealed keystore: ")
	}
	var pass []byte
	err := src.Try("Passphrase of the lab's sealed keystore: ", func(p []byte) error {
		if _, err := kesserver.OpenSealedKeyStore(ctx, layout.SealedKeyStoreDir(), p); err != nil {
			return err
		}
		pass = slices.Clone(p)
		return nil
	}, func(err error) bool { return errors.Is(err, kesserver.ErrWrongPassphrase) })
	return pass, err
}

// printSummary prints the one-screen summary of a ready lab.
func printSummary(w io.Writer, dir string, st labdir.State, c labdir.Credentials) {
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
	row("S3 API", st.S3Endpoint, s3)
	row("MinIO console", st.ConsoleURL, "object browser")
	if len(st.Nodes) > 1 || st.Shape.Total() > 1 {
		row("Erasure", st.Shape.Describe(), "")
	}
	if len(st.Nodes) > 1 {
		for i, n := range st.Nodes {
			row(fmt.Sprintf("Node %d", i+1), n.S3Endpoint, fmt.Sprintf("console %s, %s, log %s", n.ConsoleURL, labdir.Shape{Nodes: 1, Drives: len(n.Drives)}.DrivesPhrase(), n.Log))
		}
	}
	if st.WebURL != "" {
		row("Lab console", st.WebURL, "keys, bucket encryption and proof; log in with the root user and password")
	}
	row("KES", st.KESEndpoint, "KES "+st.KESVersion+", mTLS, "+st.KeystoreSummary.Phrase)
	for _, r := range st.KeystoreSummary.Rows {
		row(r[0], r[1], "")
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
	if hint := selfcmd.InstallHint(); hint != "" {
		fmt.Fprintf(w, "(%s)\n", hint)
	}
}

// printSecurityNotice prints, once per MinIO build, the note on the
// advisories that affect it.
func printSecurityNotice(w io.Writer, version, path string) {
	if notice := miniobin.SecurityNotice(version, path); notice != "" && miniobin.FirstNotice(version, path) {
		fmt.Fprintf(w, "\n%s(This note is shown once for this MinIO build.)\n\n", notice)
	}
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	if sw, ok := w.(selfcmd.Writer); ok {
		w = sw.File()
	}
	f, ok := w.(*os.File)
	if !ok || f == nil {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
