package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	kesapi "github.com/minio/kms-go/kes"

	"github.com/sselab/sselab/pkg/pki"
)

const identityUsage = `Usage: sselab identity of CERT|API-KEY

Prints the KES identity of a certificate: the hex SHA-256 of its public
key, the value KES policies and 'kes identity of' use. For an API key
(kes:v1:...) it prints the key's identity. At a terminal the identity is
framed and highlighted; otherwise only the identity and a newline are
printed, for scripts.

A PEM file may hold a chain, as for 'kes identity of': the first
certificate counts. Other PEM blocks (a private key) are refused.

Examples:
  sselab identity of ~/.config/sselab/certs/operator.crt
  id=$(sselab identity of client.crt)
`

func runIdentity(_ context.Context, args []string, stdout, _ io.Writer) error {
	if wantsHelp(args) {
		return errHelp // run prints the usage
	}
	if args[0] != "of" {
		return usageError{fmt.Errorf("unknown command 'identity %s'", args[0])}
	}
	fs := newFlagSet("identity of")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{fmt.Errorf("'identity of' takes 1 argument (a certificate file or an API key), got %d", fs.NArg())}
	}
	id, err := identityOf(fs.Arg(0))
	if err != nil {
		return err
	}
	if isTerminal(stdout) {
		fmt.Fprintf(stdout, "Identity:\n\n   %s\n", colorize(stdout, id, colorBold))
		return nil
	}
	fmt.Fprintln(stdout, id)
	return nil
}

// identityOf returns the KES identity of an API key (kes:v1:...) or of
// the first certificate in a PEM file.
func identityOf(arg string) (string, error) {
	if strings.HasPrefix(arg, "kes:v1:") {
		key, err := kesapi.ParseAPIKey(arg)
		if err != nil {
			return "", fmt.Errorf("not a valid KES API key: %v", err)
		}
		return key.Identity().String(), nil
	}
	data, err := os.ReadFile(arg)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("no certificate at %s", arg)
		}
		return "", fmt.Errorf("cannot read the certificate: %v", err)
	}
	cert, err := firstPEMCertificate(data)
	if err != nil {
		return "", fmt.Errorf("%s is not a PEM certificate: %v", arg, err)
	}
	return pki.Identity(cert), nil
}

// firstPEMCertificate parses the first certificate of a PEM chain. Like
// the kes CLI, it accepts only CERTIFICATE blocks.
func firstPEMCertificate(data []byte) (*x509.Certificate, error) {
	var first *pem.Block
	for rest := bytes.TrimSpace(data); len(rest) > 0; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		switch {
		case block == nil && first == nil:
			return nil, errors.New("no PEM CERTIFICATE block")
		case block == nil:
			return nil, errors.New("data after the PEM blocks")
		case block.Type != "CERTIFICATE":
			return nil, fmt.Errorf("it holds a PEM block of type %q, want only CERTIFICATE blocks", block.Type)
		case first == nil:
			first = block
		}
		rest = bytes.TrimSpace(rest)
	}
	if first == nil {
		return nil, errors.New("empty file, want a PEM CERTIFICATE block")
	}
	cert, err := x509.ParseCertificate(first.Bytes)
	if err != nil {
		return nil, fmt.Errorf("invalid certificate: %v", err)
	}
	return cert, nil
}
