package keystore

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/minio/kes"
	"github.com/spf13/pflag"

	"github.com/sselab/sselab/internal/passphrase"
	"github.com/sselab/sselab/pkg/kesserver"
	"github.com/sselab/sselab/pkg/labdir"
)

// KindSealed is the kind of the sealed keystore in the state directory.
const KindSealed = "sealed"

// sealedKind is the keystore in DIR/kes/sealed: one file per key, as the
// file keystore, each encrypted at rest under a key-encryption key that a
// passphrase unlocks (package kesserver's SealedKeyStore). 'sselab seal'
// drops that key from the running lab; 'sselab unseal' brings it back.
//
// Its flags are --sealed, which chooses it as --kms sealed does, and
// --passphrase-file, the one flag sselab's commands share for a
// passphrase (also $SSELAB_PASSPHRASE, or a prompt at a terminal).
type sealedKind struct {
	sealed bool   // --sealed
	file   string // --passphrase-file
}

func (*sealedKind) Name() string  { return KindSealed }
func (*sealedKind) Usage() string { return "The sealed keystore (--sealed or --kms sealed):" }

func (k *sealedKind) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&k.sealed, "sealed", false, "keep the keys in DIR encrypted at rest under a passphrase, and let 'sselab seal' / 'unseal' lock and unlock them while the lab runs")
	fs.StringVar(&k.file, "passphrase-file", "", "read the keystore's passphrase from `FILE` (mode 0600); else $"+passphrase.EnvVar+", else a prompt")
}

// Chooses: --sealed chooses this kind.
func (k *sealedKind) Chooses() (kind, flag string) {
	if k.sealed {
		return KindSealed, "--sealed"
	}
	return "", ""
}

func (*sealedKind) Merge(ks *labdir.Keystore) error {
	ks.KMS = KindSealed
	return nil
}

func (*sealedKind) Where(l labdir.Layout, _ labdir.Keystore) string {
	return "the sealed keystore in " + l.SealedKeyStoreDir()
}

// Open reads the passphrase and, for a keystore that exists, unseals it:
// a wrong passphrase stops the lab before anything starts (three tries at
// a terminal). A new keystore is made by Connect, with the passphrase
// typed twice.
func (k *sealedKind) Open(ctx context.Context, ks *labdir.Keystore, env Env) (Store, error) {
	dir := env.Layout.SealedKeyStoreDir()
	src := passphrase.Source{File: k.file, Prompt: env.Log}
	s := &sealedStore{dir: dir, where: k.Where(env.Layout, *ks)}
	var err error
	if s.index, err = checkIndex(env.Layout, dir, s.where); err != nil {
		return nil, err
	}
	if !kesserver.IsSealedKeyStore(dir) {
		if _, err := os.Stat(env.Layout.KeyStoreDir()); err == nil {
			return nil, fmt.Errorf("keystore: %s holds the keys of this lab in clear; convert it with 'sselab keystore seal-at-rest --dir %s' instead of starting a new sealed keystore next to it", env.Layout.KeyStoreDir(), env.Layout.Root)
		}
		pass, err := src.New("New passphrase for the lab's sealed keystore: ")
		if err != nil {
			return nil, fmt.Errorf("keystore: %w", err)
		}
		s.newPass = pass
		return s, nil
	}
	if warn := plainLeftover(env.Layout); warn != "" {
		fmt.Fprintln(env.Log, warn)
	}
	err = src.Try("Passphrase of the lab's sealed keystore: ", func(pass []byte) (err error) {
		s.store, err = kesserver.OpenSealedKeyStore(ctx, dir, pass)
		return err
	}, func(err error) bool { return errors.Is(err, kesserver.ErrWrongPassphrase) })
	if err != nil {
		return nil, err // kesserver's or passphrase's, which say who they are
	}
	return s, nil
}

// sealedStore is the sealed keystore of one lab.
type sealedStore struct {
	dir, where string
	index      *indexed
	newPass    []byte // for a keystore Connect creates
	store      *kesserver.SealedKeyStore
}

func (s *sealedStore) Connect(ctx context.Context) (kes.KeyStore, error) {
	if s.store == nil {
		if err := kesserver.CreateSealedKeyStore(s.dir, s.newPass, kesserver.DefaultKDFParams); err != nil {
			return nil, err
		}
		var err error
		s.store, err = kesserver.OpenSealedKeyStore(ctx, s.dir, s.newPass)
		clear(s.newPass)
		if err != nil {
			return nil, err
		}
	}
	return s.index.wrap(s.store), nil
}

func (s *sealedStore) Cache() kes.CacheConfig { return kesserver.DefaultConfig().Cache }
func (s *sealedStore) Keys() []string         { return nil }
func (s *sealedStore) Keep() error            { return s.index.keep() }

func (s *sealedStore) Summary() labdir.Summary {
	return labdir.Summary{Phrase: "sealed keystore " + s.dir + " (encrypted at rest)"}
}

// Health reports the keystore sealed, or fine.
func (s *sealedStore) Health(context.Context) labdir.KeystoreHealth {
	h := labdir.KeystoreHealth{Kind: KindSealed, Where: s.where, OK: true, State: "unsealed"}
	if s.store == nil || s.store.Sealed() {
		h.OK, h.State = false, "sealed"
		h.Error = "the sealed keystore is sealed: KES can use no key, so MinIO can neither write nor read encrypted objects; unseal it with 'sselab unseal'"
	}
	return h
}

// Seal drops the key-encryption key from memory.
func (s *sealedStore) Seal() error {
	if s.store.Sealed() {
		return errors.New("keystore: the sealed keystore is sealed already")
	}
	s.store.Seal()
	return nil
}

// Unseal unlocks the keystore with pass.
func (s *sealedStore) Unseal(pass []byte) error {
	if !s.store.Sealed() {
		return errors.New("keystore: the sealed keystore is not sealed")
	}
	return s.store.Unseal(pass) // kesserver's errors say who they are
}

// Sealer is a Store that a running lab can seal and unseal.
type Sealer interface {
	// Seal makes every key operation fail until Unseal.
	Seal() error
	// Unseal makes the keys usable again, given the passphrase.
	Unseal(passphrase []byte) error
}

// NotSealable says why the keystore of kind cannot be sealed by sselab,
// and what to do instead.
func NotSealable(kind string, l labdir.Layout) error {
	switch kind {
	case KindVault:
		return errors.New("keystore: the keys are in Vault: seal and unseal Vault itself ('vault operator seal' / 'vault operator unseal', or 'bao operator …' for OpenBao); the lab follows")
	case KindSealed:
		return nil
	case KindFS:
		return fmt.Errorf("keystore: the keystore in %s is not sealed at rest: convert it with 'sselab keystore seal-at-rest --dir %s' (the lab stopped), then seal it", l.KeyStoreDir(), l.Root)
	}
	return fmt.Errorf("keystore: a keystore of kind %s cannot be sealed by sselab", kind)
}

// NeedsPassphrase reports whether 'sselab up' with the keystore flags f,
// on the directory l whose remembered keystore settings are ks, opens a
// sealed keystore, and whether that keystore exists already (else up
// makes it). A detached 'up' asks for the passphrase before it leaves the
// terminal.
func NeedsPassphrase(f *Flags, l labdir.Layout, ks labdir.Keystore) (needs, exists bool) {
	ks = ks.Clone()
	kind, err := f.Choose(&ks)
	if err != nil || kind.Name() != KindSealed {
		return false, false
	}
	return true, kesserver.IsSealedKeyStore(l.SealedKeyStoreDir())
}
