package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/sselab/sselab/internal/passphrase"
	"github.com/sselab/sselab/pkg/export"
)

const exportUsage = `Usage: sselab export --format FORMAT --out DIR [flags]

Writes the lab out as the deployment the manual "MinIO with KES"
procedure builds by hand, with every value taken from the lab: its
certificates (server certificates reissued by the lab CA with the names
the target needs), a 'kes server --config' file whose 'minio' policy
allows exactly the routes MinIO calls, MinIO's environment file, and the
lab's keystore (a copy of the file keystore with its keys, or the lab's
Vault settings with the AppRole secret as ${KES_VAULT_APPROLE_SECRET}).
The lab need not run.

Formats:
  files        certs/, config/kes-config.yaml, config/minio (and kes/keys/)
  podman       the files and pod.sh, the procedure's podman commands, corrected
  compose      the files and compose.yaml: kes and minio with healthchecks
  kubernetes   a MinIO Operator Tenant with spec.kes, its Secrets, as one YAML

Paths inside the files are where the files live on the target: by
default the procedure's container paths (/certs, /etc/default,
/var/lib/kes/keys, MinIO's drive /mnt/data); --root PATH puts them under
PATH, so '--root' set to the --out directory makes the export run on
this host as it is (copy the lab's drive to PATH/data first).

The upstream images minio/minio and minio/kes were withdrawn in 2026;
the defaults (` + export.DefaultImageMinIO + `, ` + export.DefaultImageKES + `) are images you
build; name your own with --image-minio and --image-kes.

A sealed keystore (--sealed) is exported in clear, as 'kes server'
needs it, with its passphrase (--passphrase-file, $SSELAB_PASSPHRASE or a
prompt).

Every file is private (0600, directories 0700): the export holds the
root credentials, private keys and, for a file keystore, the keys.
Nothing is written under --out unless the whole export succeeds.

{{flags}}

Examples:
  sselab export --format files --out ./minio-kes-vault
  sselab export --format podman --out ./minio-kes-vault --hostname s3.example.org
  sselab export --format files --out /srv/lab --root /srv/lab
`

func runExport(_ context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		dir, passFile string
		o             export.Options
	)
	fs := newFlags("export", &dir)
	fs.StringVar(&o.Format, "format", "", "the `FORMAT` to write: "+strings.Join(export.Formats, ", "))
	fs.StringVar(&o.Out, "out", "", "the output `DIR`: missing or empty (else --force)")
	fs.StringVar(&o.KMS, "kms", "", "the export's keystore `KIND`, fs or vault (default: the lab's)")
	fs.StringVar(&o.ImageMinIO, "image-minio", "", "MinIO's container image `REF` (default "+export.DefaultImageMinIO+")")
	fs.StringVar(&o.ImageKES, "image-kes", "", "KES's container image `REF` (default "+export.DefaultImageKES+")")
	fs.StringVar(&o.Hostname, "hostname", "", "a DNS `NAME` the target reaches KES and MinIO by; the server certificates carry it")
	fs.StringVar(&o.Root, "root", "", "the absolute `PATH` the files live at on the target (default: /certs, /etc/default, ...)")
	fs.BoolVar(&o.Force, "force", false, "replace a non-empty --out")
	fs.BoolVar(&o.IncludeSecrets, "include-secrets", false, "write the Vault AppRole secret in clear instead of ${"+export.VaultSecretEnv+"}")
	fs.StringVar(&passFile, "passphrase-file", "", "for a sealed lab: read its keystore's passphrase from `FILE` (else $"+passphrase.EnvVar+", else a prompt); the keys are written in clear")
	if err := parse(fs, args, &dir); err != nil {
		return err
	}
	switch {
	case o.Format == "":
		return usageError{fmt.Errorf("--format is required: %s", strings.Join(export.Formats, ", "))}
	}
	if err := o.Check(); err != nil {
		return usageError{err} // a flag value to correct
	}
	o.Dir = dir
	o.Passphrase = func() ([]byte, error) {
		return passphrase.Source{File: passFile, Prompt: stderr}.Read("Passphrase of the lab's sealed keystore: ")
	}
	var err error
	if o.Out, err = filepath.Abs(o.Out); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	o.Made = "sselab"
	if bi, ok := debug.ReadBuildInfo(); ok {
		o.Made += " " + bi.Main.Version
	}
	res, err := export.Run(o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Wrote the lab as %s to %s:\n", o.Format, res.Out)
	for _, f := range res.Files {
		fmt.Fprintf(stdout, "  %s\n", f)
	}
	for _, n := range res.Notes {
		fmt.Fprintf(stdout, "Note: %s\n", n)
	}
	return nil
}
