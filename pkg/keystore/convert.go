package keystore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sselab/sselab/pkg/kesserver"
	"github.com/sselab/sselab/pkg/labdir"
)

// Steps of SealAtRest, in order. A crash after any of them loses no key:
//
//	StepCopying   one key is in the new sealed keystore, under a temporary
//	              name; the lab still uses the keystore in DIR/kes/keys
//	StepCopied    the sealed keystore is complete under a temporary name;
//	              the lab still uses the keystore in DIR/kes/keys
//	StepPublished it is complete under its own name, and checked; the lab
//	              still uses DIR/kes/keys (settings.json names it)
//	StepSwitched  settings.json names the sealed keystore; the plaintext
//	              copy is still there
//	StepRemoving  one plaintext key file is gone
//	StepRemoved   the plaintext keystore is gone
//
// Running SealAtRest again after a crash finishes the conversion.
const (
	StepCopying   = "copying"
	StepCopied    = "copied"
	StepPublished = "published"
	StepSwitched  = "switched"
	StepRemoving  = "removing"
	StepRemoved   = "removed"
)

// SealAtRest converts the plaintext keystore of the stopped lab in l into
// a sealed keystore protected by pass (KDF parameters p), keeping every
// key with its exact bytes, and switches the lab's settings to it. The
// caller holds the directory's lock. after, if set, is called after each
// step; an error from it stops the conversion there (tests use it to
// stop as a crash would).
func SealAtRest(ctx context.Context, l labdir.Layout, pass []byte, p kesserver.KDFParams, after func(step string) error) error {
	if after == nil {
		after = func(string) error { return nil }
	}
	var settings labdir.Settings
	if err := labdir.ReadJSON(l.SettingsFile(), &settings); err != nil {
		return err
	}
	switch kind := KindOf(settings.Keystore); kind {
	case KindFS:
	case KindSealed:
		if _, err := os.Stat(l.KeyStoreDir()); errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("keystore: the keystore of %s is sealed at rest already", l.Root)
		}
		// A conversion that stopped after switching: only the removal is
		// left.
		return removePlain(ctx, l, pass, after)
	default:
		return fmt.Errorf("keystore: the lab on %s keeps its keys in a keystore of kind %s; only the keystore in DIR (fs) can be sealed at rest", l.Root, kind)
	}
	plain, err := kesserver.OpenFSKeyStore(ctx, l.KeyStoreDir())
	if err != nil {
		return err
	}
	names, err := kesserver.KeyNames(l.KeyStoreDir())
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return fmt.Errorf("keystore: %s holds no key; start the lab once before sealing its keystore", l.KeyStoreDir())
	}

	dir := l.SealedKeyStoreDir()
	if !kesserver.IsSealedKeyStore(dir) {
		if err := buildSealed(ctx, l, plain, names, pass, p, after); err != nil {
			return err
		}
	}
	sealed, err := kesserver.OpenSealedKeyStore(ctx, dir, pass)
	if err != nil {
		return fmt.Errorf("keystore: %s exists from an earlier conversion and the passphrase does not open it: %w; use that passphrase, or remove %s to start over", dir, err, dir)
	}
	if err := sameKeys(ctx, plain, sealed, names); err != nil {
		return err
	}
	if err := after(StepPublished); err != nil {
		return err
	}
	settings.Keystore = labdir.Keystore{KMS: KindSealed}
	if err := labdir.WriteJSON(l.SettingsFile(), settings); err != nil {
		return err
	}
	if err := after(StepSwitched); err != nil {
		return err
	}
	return removePlain(ctx, l, pass, after)
}

// buildSealed writes every key of plain into a new sealed keystore under a
// temporary name, then renames it into place.
func buildSealed(ctx context.Context, l labdir.Layout, plain *kesserver.FSKeyStore, names []string, pass []byte, p kesserver.KDFParams, after func(string) error) error {
	final := l.SealedKeyStoreDir()
	parent := filepath.Dir(final)
	// Leftovers of a conversion that stopped before its rename.
	old, _ := filepath.Glob(filepath.Join(parent, ".sealed.converting-*"))
	for _, o := range old {
		os.RemoveAll(o)
	}
	tmp, err := os.MkdirTemp(parent, ".sealed.converting-")
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	stopped := true // a crash leaves the temporary directory, as a stop does
	defer func() {
		if !stopped {
			os.RemoveAll(tmp)
		}
	}()
	dir := filepath.Join(tmp, "sealed")
	if err := kesserver.CreateSealedKeyStore(dir, pass, p); err != nil {
		return err
	}
	sealed, err := kesserver.OpenSealedKeyStore(ctx, dir, pass)
	if err != nil {
		return err
	}
	for i, n := range names {
		v, err := plain.Get(ctx, n)
		if err != nil {
			return err
		}
		if err := sealed.Create(ctx, n, v); err != nil {
			return err
		}
		if i == 0 {
			if err := after(StepCopying); err != nil {
				return err
			}
		}
	}
	if err := sameKeys(ctx, plain, sealed, names); err != nil {
		return err
	}
	if err := after(StepCopied); err != nil {
		return err
	}
	if err := os.Rename(dir, final); err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	stopped = false
	return nil
}

// sameKeys checks that sealed holds every key of plain, byte for byte.
func sameKeys(ctx context.Context, plain *kesserver.FSKeyStore, sealed *kesserver.SealedKeyStore, names []string) error {
	for _, n := range names {
		a, err := plain.Get(ctx, n)
		if err != nil {
			return err
		}
		b, err := sealed.Get(ctx, n)
		if err != nil || !bytes.Equal(a, b) {
			return fmt.Errorf("keystore: the sealed keystore's copy of key %s differs from the plaintext one (%v); nothing was switched", n, err)
		}
	}
	return nil
}

// removePlain removes the plaintext keystore once the sealed one, which
// settings.json names, is checked to hold every key it holds.
func removePlain(ctx context.Context, l labdir.Layout, pass []byte, after func(string) error) error {
	names, err := kesserver.KeyNames(l.KeyStoreDir())
	if err != nil {
		return err
	}
	sealed, err := kesserver.OpenSealedKeyStore(ctx, l.SealedKeyStoreDir(), pass)
	if err != nil {
		return err
	}
	plain, err := kesserver.OpenFSKeyStore(ctx, l.KeyStoreDir())
	if err != nil {
		return err
	}
	if err := sameKeys(ctx, plain, sealed, names); err != nil {
		return err
	}
	for i, n := range names {
		if err := os.Remove(filepath.Join(l.KeyStoreDir(), n)); err != nil {
			return fmt.Errorf("keystore: remove the plaintext keystore: %w", err)
		}
		if i == 0 {
			if err := after(StepRemoving); err != nil {
				return err
			}
		}
	}
	if err := os.RemoveAll(l.KeyStoreDir()); err != nil {
		return fmt.Errorf("keystore: remove the plaintext keystore: %w", err)
	}
	return after(StepRemoved)
}

// plainLeftover says, for a sealed lab, whether its plaintext keystore is
// still there after a conversion that stopped before removing it.
func plainLeftover(l labdir.Layout) string {
	if names, _ := kesserver.KeyNames(l.KeyStoreDir()); len(names) > 0 {
		return fmt.Sprintf("sselab: warning: %s still holds %d key(s) in clear from an unfinished conversion; finish it with 'sselab keystore seal-at-rest --dir %s'",
			l.KeyStoreDir(), len(names), l.Root)
	}
	return ""
}
