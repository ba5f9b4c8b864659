package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"filippo.io/age"
	"github.com/spf13/pflag"

	"github.com/sselab/sselab/internal/passphrase"
	"github.com/sselab/sselab/pkg/backup"
	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/labdir"
)

const backupUsage = `Usage: sselab backup --out FILE [--dir DIR] [--passphrase-file F | --recipient AGE_KEY] [--force]
       sselab backup verify FILE [--passphrase-file F | --identity FILE] [--json]

Writes one encrypted file with everything the lab's data depends on: the
keys in KES's keystore (DIR/kes/keys, or the sealed keystore's files as
they are on disk), the certificates and their private keys (DIR/certs),
MinIO's root credentials, the settings, the key index and, with --kms
vault, the AppRole secret_id. A manifest inside names the sselab that
wrote it, when, the lab CA's KES identity, the kind of keystore, and
every key with the SHA-256 of its entry and, while the lab runs, its
creation date. MinIO's data is not in it.

Losing a key makes every object encrypted with it unreadable forever:
make a backup after creating keys, and keep it away from the lab.

It works while the lab runs: the keystore is listed once and each file
read once. With --kms vault the keys live in Vault and are not in the
backup: back them up with Vault's own tools.

The file is encrypted with age (https://age-encryption.org): with a
passphrase, from --passphrase-file, $SSELAB_PASSPHRASE or a prompt, in
that order (never from the command line); or, with --recipient, to an
age public key, whose identity file opens it (--identity). It is written
to a temporary file next to FILE, synced and renamed, mode 0600; a
failure leaves no FILE behind. An existing FILE is kept unless --force.

'backup verify FILE' decrypts a backup and checks it without restoring
anything: its format, and every entry against the SHA-256 in its
manifest. It prints what the backup holds and exits 0, or says what is
wrong and exits 1. 'sselab restore' puts a backup back.

{{flags}}

Examples:
  sselab backup --out lab.sselab-backup
  sselab backup --out /media/usb/lab.sselab-backup --passphrase-file ~/.sselab-pass
  age-keygen -o backup.key
  sselab backup --out lab.sselab-backup --recipient "$(age-keygen -y backup.key)"
  sselab backup verify lab.sselab-backup --identity backup.key
`

const restoreUsage = `Usage: sselab restore FILE --dir DIR [--passphrase-file F | --identity FILE]
       sselab restore FILE --keys-only [--dir DIR] [--force] [--passphrase-file F | --identity FILE]

Makes a new state directory DIR from a backup that 'sselab backup'
wrote: keys, certificates, credentials and settings. DIR must not exist
or be empty. Everything is written into a temporary directory next to
DIR and renamed into place, so a failure leaves nothing. Then 'sselab up
--dir DIR' starts the lab with the same CA, identities and keys; MinIO's
data is not in a backup, so its buckets start empty.

With --keys-only it puts back lost keys into the existing lab in DIR
(stopped: run 'sselab down' first): the keys the keystore lacks are
restored, a key that is there with the same bytes is left alone, and a
key that is there with other bytes is never overwritten (restore says
which and changes nothing). The key index gets the union of the names.
A backup of another lab (another CA) is refused unless --force. A sealed
keystore takes keys only from a backup of the same keystore (the same
header, DIR/kes/sealed/keystore.json).

The passphrase comes from --passphrase-file, $SSELAB_PASSPHRASE or a
prompt (three tries at a terminal); a backup made with --recipient opens
with --identity FILE.

{{flags}}

Examples:
  sselab restore lab.sselab-backup --dir ~/labs/restored && sselab up --dir ~/labs/restored
  sselab down && sselab restore lab.sselab-backup --keys-only && sselab up
`

// keysShown is how many key names a summary lists before "and N more".
const keysShown = 10

func runBackup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "verify" {
		return runBackupVerify(args[1:], stdout, stderr)
	}
	var (
		dir, out, passFile string
		recipients         []string
		force              bool
	)
	fs := newFlags("backup", &dir)
	fs.StringVar(&out, "out", "", "write the backup to `FILE`")
	fs.StringVar(&passFile, "passphrase-file", "", passFileUsage)
	fs.StringArrayVar(&recipients, "recipient", nil, "encrypt to the age public key `AGE_KEY` (age1...) instead of a passphrase; may be repeated")
	fs.BoolVar(&force, "force", false, "replace FILE if it exists")
	if err := parse(fs, args, &dir); err != nil {
		return err
	}
	switch {
	case out == "":
		return usageError{errors.New("'backup' needs --out FILE")}
	case passFile != "" && len(recipients) > 0:
		return usageError{errors.New("--passphrase-file and --recipient exclude each other: a backup is encrypted with a passphrase or to age keys")}
	}
	var to []age.Recipient
	for _, r := range recipients {
		rec, err := backup.ParseRecipient(r)
		if err != nil {
			return usageError{fmt.Errorf("--recipient: %w", err)}
		}
		to = append(to, rec)
	}
	if !force {
		if err := backup.CheckNew(out); err != nil {
			return err
		}
	}
	if len(to) == 0 {
		pass, err := passphrase.Source{File: passFile}.New("Passphrase for the backup: ")
		if err != nil {
			return err
		}
		rec, err := backup.PassphraseRecipient(pass)
		clear(pass)
		if err != nil {
			return err
		}
		to = append(to, rec)
	}
	o := backup.Options{}
	if h, err := lab.Open(dir); err == nil {
		o.Lab = h // for the keys' creation dates
	}
	a, err := backup.Snapshot(ctx, labdir.Layout{Root: dir}, o)
	if err != nil {
		return err
	}
	if err := backup.WriteFile(out, a, force, to...); err != nil {
		return err
	}
	if a.Manifest.KeysElsewhere != "" {
		fmt.Fprintf(stdout, "note: the keys live in %s and are not in this backup; back them up with that keystore's own tools (for Vault: Vault's)\n", a.Manifest.KeysElsewhere)
	}
	size := int64(0)
	if fi, err := os.Stat(out); err == nil {
		size = fi.Size()
	}
	fmt.Fprintf(stdout, "backup of %s written to %s (%s): %s, %d certificate files, credentials and settings\n",
		dir, out, humanBytes(size), keysPhrase(a.Manifest, false), a.Certificates())
	return nil
}

// passFileUsage is the help of --passphrase-file.
const passFileUsage = "read the backup's passphrase from `FILE` (mode 0600); else $" + passphrase.EnvVar + ", else a prompt"

// passFlags adds the flags that open a backup: --passphrase-file and
// --identity.
func passFlags(fs *pflag.FlagSet, passFile, identity *string) {
	fs.StringVar(passFile, "passphrase-file", "", passFileUsage)
	fs.StringVar(identity, "identity", "", "open a backup made with --recipient with the age identity `FILE` (as age-keygen writes it)")
}

// openBackup reads and checks the backup file: with the identity file if
// given, else with the passphrase (three tries at a terminal).
func openBackup(file, passFile, identity string, stderr io.Writer) (*backup.Archive, error) {
	if passFile != "" && identity != "" {
		return nil, usageError{errors.New("--passphrase-file and --identity exclude each other: a backup is encrypted with a passphrase or to age keys")}
	}
	if identity != "" {
		ids, err := backup.ReadIdentities(identity)
		if err != nil {
			return nil, err
		}
		return backup.ReadFile(file, ids...)
	}
	if _, err := os.Stat(file); err != nil {
		return nil, fmt.Errorf("backup: %w", err) // before asking for a passphrase
	}
	var a *backup.Archive
	src := passphrase.Source{File: passFile, Prompt: stderr}
	err := src.Try("Passphrase of the backup: ", func(pass []byte) error {
		id, err := backup.PassphraseIdentity(pass)
		if err != nil {
			return err
		}
		a, err = backup.ReadFile(file, id)
		return err
	}, func(err error) bool { return errors.Is(err, backup.ErrWrongKey) })
	return a, err
}

func runBackupVerify(args []string, stdout, stderr io.Writer) error {
	var (
		passFile, identity string
		jsonOut            bool
	)
	fs := newFlagSet("backup verify")
	passFlags(fs, &passFile, &identity)
	fs.BoolVar(&jsonOut, "json", false, "print the manifest as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{errors.New("'backup verify' takes the backup FILE")}
	}
	file := fs.Arg(0)
	a, err := openBackup(file, passFile, identity, stderr)
	if err != nil {
		return err
	}
	m := a.Manifest
	if jsonOut {
		return writeJSON(stdout, m)
	}
	fmt.Fprintf(stdout, "backup %s: intact; every entry matches its manifest\n", file)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  format\t%s version %d\n", m.Format, m.Version)
	fmt.Fprintf(tw, "  created\t%s by sselab %s\n", m.Created.Format("2006-01-02T15:04:05Z"), m.Sselab)
	fmt.Fprintf(tw, "  lab CA\t%s (KES identity)\n", m.CAIdentity)
	fmt.Fprintf(tw, "  keystore\t%s\n", m.Keystore)
	fmt.Fprintf(tw, "  keys\t%s\n", keysPhrase(m, true))
	fmt.Fprintf(tw, "  certificates\t%d files\n", a.Certificates())
	fmt.Fprintf(tw, "  files\t%d in all\n", len(m.Files))
	return tw.Flush()
}

// keysPhrase describes the keys of a backup: "2 keys (k2, sselab-key)",
// or with their creation dates if dates: "2: k2 (created ...),
// sselab-key (created ...)".
func keysPhrase(m backup.Manifest, dates bool) string {
	if len(m.Keys) == 0 {
		if m.KeysElsewhere != "" {
			return "no keys (they live in " + m.KeysElsewhere + ")"
		}
		return "no keys"
	}
	names := make([]string, len(m.Keys))
	for i, k := range m.Keys {
		names[i] = k.Name
		if dates && k.Created != "" {
			names[i] += " (created " + k.Created + ")"
		}
	}
	if dates {
		return fmt.Sprintf("%d: %s", len(m.Keys), someNames(names))
	}
	return count(len(m.Keys), "key") + " (" + someNames(names) + ")"
}

// someNames lists at most keysShown names, then how many more there
// are.
func someNames(names []string) string {
	if len(names) > keysShown {
		return strings.Join(names[:keysShown], ", ") + fmt.Sprintf(" and %d more", len(names)-keysShown)
	}
	return strings.Join(names, ", ")
}

// count is "1 key", "2 keys".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func runRestore(_ context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		dir, passFile, identity string
		keysOnly, force         bool
	)
	fs := newFlags("restore", &dir)
	fs.BoolVar(&keysOnly, "keys-only", false, "put back the keys the lab in DIR lacks, into its keystore, instead of making a new DIR")
	fs.BoolVar(&force, "force", false, "with --keys-only: put back the keys of a backup of another lab (another CA)")
	passFlags(fs, &passFile, &identity)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() != 1:
		return usageError{errors.New("'restore' takes the backup FILE")}
	case force && !keysOnly:
		return usageError{errors.New("--force goes with --keys-only; a new directory is never restored over anything")}
	}
	if err := resolveDir(&dir); err != nil {
		return err
	}
	file, l := fs.Arg(0), labdir.Layout{Root: dir}
	if err := backup.CheckDir(l, keysOnly); err != nil {
		return err // before a passphrase is asked for
	}
	a, err := openBackup(file, passFile, identity, stderr)
	if err != nil {
		return err
	}
	start := "start the lab with 'sselab up" + dirFlag(dir) + "'"
	if !keysOnly {
		if err := backup.Restore(a, l); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "restored %s into %s: %s, %d certificate files, credentials and settings; %s\n",
			file, dir, keysPhrase(a.Manifest, false), a.Certificates(), start)
		return nil
	}
	rep, err := backup.RestoreKeys(a, l, force)
	if err != nil {
		return err
	}
	if len(rep.Restored) == 0 {
		fmt.Fprintf(stdout, "nothing to restore: the lab in %s has all %d keys of the backup\n", dir, len(rep.Present))
		return nil
	}
	fmt.Fprintf(stdout, "put back %s into %s: %s\n", count(len(rep.Restored), "key"), dir, someNames(rep.Restored))
	if len(rep.Present) > 0 {
		fmt.Fprintf(stdout, "already there, identical: %s\n", someNames(rep.Present))
	}
	if rep.Header {
		fmt.Fprintln(stdout, "put back the sealed keystore's header (keystore.json)")
	}
	if len(rep.Indexed) > 0 {
		fmt.Fprintf(stdout, "added to the key index: %s\n", someNames(rep.Indexed))
	}
	fmt.Fprintln(stdout, start)
	return nil
}
