// Package export writes a lab out as the deployment the manual "MinIO
// with KES" procedure builds by hand: the certificates, a 'kes server
// --config' file, MinIO's environment file, and for orchestrated targets
// a Podman script, a Compose file or a MinIO Operator Tenant. Every value
// comes from the lab: its PKI, its KES policy for MinIO (runner's route
// list), its keystore and its credentials.
//
// Export checks everything before it writes, writes into a temporary
// directory beside the output directory and renames it into place, so a
// refusal leaves nothing under the output directory.
package export

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sselab/sselab/internal/fsutil"
	"github.com/sselab/sselab/pkg/kesserver"
	"github.com/sselab/sselab/pkg/keystore"
	"github.com/sselab/sselab/pkg/labdir"
	"github.com/sselab/sselab/pkg/pki"
)

// Formats of an export.
const (
	Files      = "files"
	Podman     = "podman"
	Compose    = "compose"
	Kubernetes = "kubernetes"
)

// Formats lists every format, in the order the help shows them.
var Formats = []string{Files, Podman, Compose, Kubernetes}

// Default images. The upstream images minio/minio and minio/kes were
// withdrawn from Docker Hub in 2026 and dl.min.io answers 410, so the
// defaults name images built locally; pass --image-minio and --image-kes
// for a registry of your own.
const (
	DefaultImageMinIO = "localhost/minio:latest"
	DefaultImageKES   = "localhost/kes:v0.24.0"
)

// VaultSecretEnv is the environment variable the exported KES
// configuration reads the Vault AppRole secret_id from.
const VaultSecretEnv = "KES_VAULT_APPROLE_SECRET"

// Names of the KES and MinIO hosts in a pod, a Compose project and a
// Kubernetes namespace, which the server certificates carry.
const (
	kesService   = "kes"
	minioService = "minio"
)

// Options says what to export and where.
type Options struct {
	// Dir is the lab's state directory.
	Dir string
	// Out is the output directory: missing or empty, unless Force.
	Out string
	// Format is one of Formats.
	Format string
	// KMS is "fs" or "vault"; empty means the lab's own.
	KMS string
	// ImageMinIO and ImageKES are the container images; empty means the
	// defaults.
	ImageMinIO, ImageKES string
	// Hostname is a name the target reaches KES and MinIO by; the
	// server certificates carry it.
	Hostname string
	// Root is where the files live on the target; empty means the
	// procedure's container paths (/certs, /etc/default).
	Root string
	// Force replaces a non-empty Out.
	Force bool
	// IncludeSecrets writes the Vault AppRole secret in clear instead of
	// a ${VAR} reference.
	IncludeSecrets bool
	// Passphrase returns the passphrase of a sealed keystore, whose keys
	// the export writes in clear for 'kes server'; nil refuses a sealed
	// lab. It is called only for one.
	Passphrase func() ([]byte, error)
	// Made names the program for the header of every file, e.g.
	// "sselab v1.2.0".
	Made string
	// Now is the time the header gives; zero means now.
	Now time.Time
}

// Result says what Run wrote.
type Result struct {
	// Out is the output directory.
	Out string
	// Files are the files written, relative to Out, slash-separated.
	Files []string
	// Notes are things the user must do before the export runs.
	Notes []string
}

// lab is what an export reads from a lab directory.
type lab struct {
	layout   labdir.Layout
	settings labdir.Settings
	creds    labdir.Credentials
	pki      *pki.PKI
	kms      string // keystore.KindFS or keystore.KindVault
	sealed   bool   // kms is fs, the keys come from the lab's sealed keystore
}

// Run checks o and the lab, then writes the export to o.Out.
func Run(o Options) (Result, error) {
	if err := o.Check(); err != nil {
		return Result{}, err
	}
	l, err := readLab(o)
	if err != nil {
		return Result{}, err
	}
	if within(o.Out, o.Dir) || within(o.Dir, o.Out) {
		return Result{}, fmt.Errorf("export: --out %s overlaps the lab directory %s; choose a directory outside it", o.Out, o.Dir)
	}
	if err := checkOut(o.Out, o.Force); err != nil {
		return Result{}, err
	}
	w, err := newWriter(o, l)
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(w.tmp) // gone once renamed
	if err := w.files(); err != nil {
		return Result{}, err
	}
	switch o.Format {
	case Podman:
		err = w.podman()
	case Compose:
		err = w.compose()
	case Kubernetes:
		err = w.kubernetes()
	}
	if err == nil {
		err = w.readme()
	}
	if err != nil {
		return Result{}, err
	}
	if err := w.publish(); err != nil {
		return Result{}, err
	}
	slices.Sort(w.written)
	return Result{Out: o.Out, Files: w.written, Notes: w.notes}, nil
}

// Check checks the options that need no lab: every error it returns is
// a flag value to correct.
func (o *Options) Check() error {
	if !slices.Contains(Formats, o.Format) {
		return fmt.Errorf("export: unknown format %q; use one of %s", o.Format, strings.Join(Formats, ", "))
	}
	if o.Out == "" {
		return errors.New("export: --out DIR is required")
	}
	if o.KMS != "" && o.KMS != keystore.KindFS && o.KMS != keystore.KindVault {
		return fmt.Errorf("export: --kms %q: use fs or vault", o.KMS)
	}
	if o.Hostname != "" {
		if err := pki.CheckHost(o.Hostname); err != nil || net.ParseIP(o.Hostname) != nil {
			return fmt.Errorf("export: --hostname %q is not a valid DNS name", o.Hostname)
		}
		o.Hostname = strings.ToLower(strings.TrimSuffix(o.Hostname, "."))
	}
	if o.Root != "" && !filepath.IsAbs(o.Root) && !path.IsAbs(o.Root) {
		return fmt.Errorf("export: --root %q is not an absolute path", o.Root)
	}
	if o.ImageMinIO == "" {
		o.ImageMinIO = DefaultImageMinIO
	}
	if o.ImageKES == "" {
		o.ImageKES = DefaultImageKES
	}
	for _, img := range []string{o.ImageMinIO, o.ImageKES} {
		if strings.ContainsAny(img, " \t\n'\"$`\\") {
			return fmt.Errorf("export: image %q is not an image reference", img)
		}
	}
	if o.Made == "" {
		o.Made = "sselab"
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	return nil
}

// within reports whether path is dir or inside it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(filepath.Clean(dir), filepath.Clean(path))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// readLab reads the lab in o.Dir and settles the keystore to export.
func readLab(o Options) (*lab, error) {
	l := &lab{layout: labdir.Layout{Root: o.Dir}}
	if err := labdir.ReadJSON(l.layout.SettingsFile(), &l.settings); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("export: %s is not a lab (no settings.json); start one with 'sselab up --dir %s' first", o.Dir, o.Dir)
		}
		return nil, fmt.Errorf("export: %w", err)
	}
	// A lab of several MinIO nodes or drives (settings.json's "shape")
	// is an erasure-coded cluster: one MINIO_VOLUMES drive cannot serve it.
	var shape struct {
		Shape struct{ Nodes, Drives int } `json:"shape"`
	}
	if err := labdir.ReadJSON(l.layout.SettingsFile(), &shape); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if shape.Shape.Nodes > 1 || shape.Shape.Drives > 1 {
		return nil, fmt.Errorf("export: the lab in %s runs %d node(s) of %d drive(s); export writes a deployment of one MinIO with one drive, so it cannot carry that lab's data", o.Dir, max(shape.Shape.Nodes, 1), max(shape.Shape.Drives, 1))
	}
	if err := labdir.ReadJSON(l.layout.CredentialsFile(), &l.creds); err != nil {
		return nil, fmt.Errorf("export: %s is not a whole lab: %w", o.Dir, err)
	}
	var err error
	if l.pki, err = pki.Load(l.layout.CertsDir()); err != nil {
		return nil, fmt.Errorf("export: %s is not a whole lab: %w", o.Dir, err)
	}
	kind := keystore.KindOf(l.settings.Keystore)
	switch {
	case o.KMS == keystore.KindVault && kind != keystore.KindVault:
		return nil, fmt.Errorf("export: --kms vault: the lab in %s keeps its keys in its %s keystore, not in Vault, so it has no Vault endpoint, engine or AppRole to export; start a lab with 'sselab up --kms vault' or export with --kms fs", o.Dir, kind)
	case o.KMS == keystore.KindFS && kind == keystore.KindVault:
		return nil, fmt.Errorf("export: --kms fs: the lab's keys are in Vault (%s), so a file keystore would hold none of them; export with --kms vault", l.settings.Vault.Endpoint)
	case kind == keystore.KindSealed && o.Passphrase == nil:
		return nil, fmt.Errorf("export: the lab's keystore is sealed under a passphrase, and 'kes server' reads keys in clear only: give the passphrase (--passphrase-file, $SSELAB_PASSPHRASE or a prompt) to export them in clear")
	case kind == keystore.KindSealed:
		l.sealed, kind = true, keystore.KindFS
	case kind == keystore.KindKESConfig:
		return nil, fmt.Errorf("export: the lab runs with its own KES configuration (%s); that file already is the KES side of the deployment", l.settings.KESConfig)
	case kind != keystore.KindFS && kind != keystore.KindVault:
		return nil, fmt.Errorf("export: the lab's keystore %q cannot be exported", kind)
	}
	l.kms = kind
	if kind == keystore.KindVault && (l.settings.Vault == nil || l.settings.Vault.Endpoint == "") {
		return nil, fmt.Errorf("export: the lab in %s uses Vault but its settings lack the endpoint; run 'sselab up --kms vault' once with the Vault flags", o.Dir)
	}
	return l, nil
}

// checkOut refuses an output directory that cannot be written or is not
// empty.
func checkOut(out string, force bool) error {
	fi, err := os.Stat(out)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		parent := filepath.Dir(filepath.Clean(out))
		if pfi, err := os.Stat(parent); err != nil || !pfi.IsDir() {
			return fmt.Errorf("export: --out %s: its parent directory %s does not exist", out, parent)
		}
		return nil
	case err != nil:
		return fmt.Errorf("export: --out: %w", err)
	case !fi.IsDir():
		return fmt.Errorf("export: --out %s is a file, not a directory", out)
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		return fmt.Errorf("export: --out: %w", err)
	}
	if len(entries) > 0 && !force {
		return fmt.Errorf("export: --out %s is not empty; choose another directory or pass --force to replace it", out)
	}
	return nil
}

// writer builds an export in a temporary directory beside Out.
type writer struct {
	o       Options
	lab     *lab
	tmp     string
	written []string
	notes   []string
	t       target
	// kes is the KES configuration files wrote.
	kes kesserver.ServerFile
}

func newWriter(o Options, l *lab) (*writer, error) {
	parent := filepath.Dir(filepath.Clean(o.Out))
	tmp, err := os.MkdirTemp(parent, ".sselab-export-*")
	if err != nil {
		return nil, fmt.Errorf("export: --out %s cannot be written: %w", o.Out, fsutil.PathCause(err))
	}
	if err := os.Chmod(tmp, 0o700); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("export: %w", err)
	}
	return &writer{o: o, lab: l, tmp: tmp, t: newTarget(o, l)}, nil
}

// header is the comment at the top of every file.
func (w *writer) header() []string {
	return []string{
		fmt.Sprintf("Made by %s export --format %s on %s", w.o.Made, w.o.Format, w.o.Now.UTC().Format(time.RFC3339)),
		"from the lab in " + w.lab.layout.Root,
	}
}

// commented is the header as comment lines, with prefix (such as "# ").
func (w *writer) commented(prefix string) string {
	var b strings.Builder
	for _, h := range w.header() {
		b.WriteString(prefix + h + "\n")
	}
	return b.String()
}

// write writes a file of the export: rel is slash-separated.
func (w *writer) write(rel string, data []byte, perm fs.FileMode) error {
	p := filepath.Join(w.tmp, filepath.FromSlash(rel))
	if err := fsutil.MkdirPrivate(filepath.Dir(p)); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := os.WriteFile(p, data, perm); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := os.Chmod(p, perm); err != nil { // whatever the umask
		return fmt.Errorf("export: %w", err)
	}
	w.written = append(w.written, rel)
	return nil
}

// readme writes README.txt: what made the export and from which lab, for
// the files that cannot carry a comment (certificates, keys), the files,
// and what to do before it runs.
func (w *writer) readme() error {
	files := slices.Sorted(slices.Values(w.written))
	var b strings.Builder
	b.WriteString(w.commented(""))
	fmt.Fprintf(&b, "\nKES listens on %s; MinIO reaches it at %s. MinIO's S3 port is %s, its console %s.\n", w.t.kesListen, w.t.kesEndpoint, w.t.s3Port, w.t.consolePort)
	b.WriteString("Every file here comes from that lab; certificates and keys carry no comment of their own.\n\nFiles:\n")
	for _, f := range files {
		b.WriteString("  " + f + "\n")
	}
	if len(w.notes) > 0 {
		b.WriteString("\nBefore it runs:\n")
		for _, n := range w.notes {
			b.WriteString("  - " + n + "\n")
		}
	}
	return w.write("README.txt", []byte(b.String()), privatePerm)
}

// publish moves the finished export to Out.
func (w *writer) publish() error {
	if err := fsutil.SyncDir(w.tmp); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if _, err := os.Stat(w.o.Out); err == nil {
		// Empty, or Force: checked before anything was written.
		if err := os.RemoveAll(w.o.Out); err != nil {
			return fmt.Errorf("export: replacing %s: %w", w.o.Out, err)
		}
	}
	if err := fsutil.RenameDir(w.tmp, w.o.Out); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}
