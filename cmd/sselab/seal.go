package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/sselab/sselab/internal/passphrase"
	"github.com/sselab/sselab/pkg/lab"
)

const sealUsage = `Usage: sselab seal [--dir DIR]

Seals the running lab's sealed keystore (started with 'sselab up --sealed'):
the lab drops the key that decrypts the keys, and KES every key it holds in
memory. Until 'sselab unseal', every key operation fails: MinIO can neither
write nor read encrypted objects, and says that the keystore is sealed;
unencrypted objects work as before. MinIO is not restarted.

With --kms vault, seal Vault itself ('vault operator seal').

{{flags}}
`

const unsealUsage = `Usage: sselab unseal [--dir DIR] [--passphrase-file FILE]

Unseals the running lab's sealed keystore: encrypted objects can be written
and read again at once, without restarting MinIO. The passphrase comes from
--passphrase-file, else $SSELAB_PASSPHRASE, else a prompt at the terminal
(three tries).

{{flags}}
`

func runSeal(ctx context.Context, args []string, stdout, _ io.Writer) error {
	var dir string
	if err := parse(newFlags("seal", &dir), args, &dir); err != nil {
		return err
	}
	h, err := lab.OpenState(dir)
	if err != nil {
		return err
	}
	if err := h.Seal(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "the keystore of the lab on %s is sealed: no key can be used until 'sselab unseal%s'\n", dir, dirFlag(dir))
	return nil
}

func runUnseal(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var dir, file string
	fs := newFlags("unseal", &dir)
	fs.StringVar(&file, "passphrase-file", "", "read the passphrase from `FILE` (mode 0600)")
	if err := parse(fs, args, &dir); err != nil {
		return err
	}
	h, err := lab.OpenState(dir)
	if err != nil {
		return err
	}
	src := passphrase.Source{File: file, Prompt: stderr}
	err = src.Try("Passphrase of the lab's sealed keystore: ",
		func(pass []byte) error { return h.Unseal(ctx, pass) },
		func(err error) bool { return strings.Contains(err.Error(), "wrong passphrase") })
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "the keystore of the lab on %s is unsealed\n", dir)
	return nil
}
