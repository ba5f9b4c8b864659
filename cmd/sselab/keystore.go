package main

import (
	"context"
	"fmt"
	"io"

	"github.com/sselab/sselab/internal/passphrase"
	"github.com/sselab/sselab/pkg/kesserver"
	"github.com/sselab/sselab/pkg/keystore"
	"github.com/sselab/sselab/pkg/labdir"
)

const keystoreUsage = `Usage: sselab keystore seal-at-rest [--dir DIR] [--passphrase-file FILE]

Converts the stopped lab's keystore in DIR/kes/keys, whose keys are files
in clear, into the sealed keystore in DIR/kes/sealed: every key, with the
same bytes, encrypted at rest under a passphrase (from --passphrase-file,
else $SSELAB_PASSPHRASE, else asked twice at the terminal). Then 'sselab
up' asks for the passphrase, and 'sselab seal' / 'unseal' work on the lab.

The conversion checks every key before it switches the lab to the sealed
keystore and before it removes the plaintext one; if it is interrupted,
the lab still starts with all its keys, and running it again finishes it.

{{flags}}
`

func runKeystore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if wantsHelp(args) {
		return errHelp
	}
	if args[0] != "seal-at-rest" {
		return usageError{fmt.Errorf("unknown command 'keystore %s'", args[0])}
	}
	var dir, file string
	fs := newFlags("keystore seal-at-rest", &dir)
	fs.StringVar(&file, "passphrase-file", "", "read the new passphrase from `FILE` (mode 0600)")
	if err := parse(fs, args[1:], &dir); err != nil {
		return err
	}
	layout := labdir.Layout{Root: dir}
	lock, err := labdir.Lock(layout)
	if err != nil {
		return err
	}
	defer lock.Release()
	src := passphrase.Source{File: file, Prompt: stderr}
	pass, err := src.New("New passphrase for the lab's sealed keystore: ")
	if err != nil {
		return err
	}
	defer clear(pass)
	if err := keystore.SealAtRest(ctx, layout, pass, kesserver.DefaultKDFParams, nil); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "the keys of the lab on %s are sealed at rest in %s; 'sselab up%s' asks for the passphrase\n", dir, layout.SealedKeyStoreDir(), dirFlag(dir))
	return nil
}
