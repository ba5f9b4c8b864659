package backup

import (
	"fmt"
	"os"
	"strings"

	"filippo.io/age"
)

// scryptWorkFactor is the scrypt work factor (log2 N) of a passphrase;
// 0 is age's default (18: about a second and 256 MiB). Tests lower it.
var scryptWorkFactor = 0

// PassphraseRecipient encrypts a backup with a passphrase (age's scrypt
// recipient, which must be the only one).
func PassphraseRecipient(passphrase []byte) (age.Recipient, error) {
	r, err := age.NewScryptRecipient(string(passphrase))
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if scryptWorkFactor > 0 {
		r.SetWorkFactor(scryptWorkFactor)
	}
	return r, nil
}

// PassphraseIdentity opens a backup encrypted with a passphrase.
func PassphraseIdentity(passphrase []byte) (age.Identity, error) {
	id, err := age.NewScryptIdentity(string(passphrase))
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	return id, nil
}

// ParseRecipient reads an age public key ("age1..."), to which a backup
// is encrypted.
func ParseRecipient(s string) (age.Recipient, error) {
	r, err := age.ParseX25519Recipient(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("backup: %q is not an age public key (age1...; 'age-keygen -y KEYFILE' prints one): %w", s, err)
	}
	return r, nil
}

// ReadIdentities reads an age identity file (lines "AGE-SECRET-KEY-1...",
// as age-keygen writes them), which opens a backup encrypted to its
// public key.
func ReadIdentities(path string) ([]age.Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		return nil, fmt.Errorf("backup: %s is not an age identity file: %w", path, err)
	}
	return ids, nil
}
