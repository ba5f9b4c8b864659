// Package keystore holds the kinds of keystore a lab's KES can keep its
// keys in: the file keystore in the state directory (fs), a KV engine of
// HashiCorp Vault or OpenBao (vault), and whatever keystore a KES server
// configuration file names (kes-config).
//
// A kind is one type in a file of its own that implements Kind, plus one
// line in the table in kinds.go. It brings its own flags of 'sselab up'
// and their help, merges them into the settings the state directory
// remembers, says where its keys are, checks the keystore before the lab
// creates anything, and, as a Store, connects KES to it, keeps in the
// state directory what a later 'up' needs and reports its health to
// 'sselab status'. The runner (package runner) knows kinds only through
// these two interfaces.
package keystore

import (
	"context"
	"io"

	"github.com/minio/kes"
	"github.com/spf13/pflag"

	"github.com/sselab/sselab/pkg/labdir"
)

// A Kind is one place KES can keep a lab's keys.
type Kind interface {
	// Name is the value of --kms that picks the kind.
	Name() string

	// AddFlags adds the kind's own flags of 'sselab up' to fs; their
	// names start with the kind's name. The values given stay in the
	// Kind for Merge and Open.
	AddFlags(fs *pflag.FlagSet)

	// Usage is the heading of the kind's flags in 'sselab up --help', or
	// "" for a kind without flags.
	Usage() string

	// Merge applies the flags given to ks, the keystore settings
	// remembered for the directory: zero when the directory is new or
	// used another kind until now.
	Merge(ks *labdir.Keystore) error

	// Where says where the keys are, for people. Two keystores that may
	// hold different keys never say the same.
	Where(l labdir.Layout, ks labdir.Keystore) string

	// Open checks the keystore ks names and returns it ready for KES. It
	// may complete ks with what it finds out (Vault's preflight settles
	// the KV version). It writes nothing: it runs before the lab creates
	// anything in its directory, so that a refusal leaves the directory
	// as it was.
	Open(ctx context.Context, ks *labdir.Keystore, env Env) (Store, error)
}

// A Store is a lab's keystore, checked by Kind.Open.
type Store interface {
	// Connect returns the keystore KES serves the keys from; it may
	// create what it needs in the state directory. KES closes what it
	// returns, once, when it stops, which also ends whatever the store
	// runs in the background for the lab.
	Connect(ctx context.Context) (kes.KeyStore, error)

	// Cache is KES's key cache for this keystore.
	Cache() kes.CacheConfig

	// Keys are keys that must exist besides the lab's default key.
	Keys() []string

	// Summary says where the keys are, for the summary 'up' prints.
	Summary() labdir.Summary

	// Keep writes into the state directory what a later 'up' needs to
	// reach the keystore again. It runs once the lab is ready.
	Keep() error

	// Health checks the keystore now, for 'sselab status'.
	Health(ctx context.Context) labdir.KeystoreHealth
}

// Env is what a Kind gets from the lab it opens a keystore for.
type Env struct {
	// Layout is the lab's state directory.
	Layout labdir.Layout

	// Log receives warnings, notes and, while the lab runs, what happens
	// to the keystore. Never nil.
	Log io.Writer

	// Step reports one line of progress while the lab starts. Never nil.
	Step func(format string, args ...any)
}

// forgetter is a Kind that keeps files of its own in the state directory
// (Store.Keep), which Forget removes once the lab uses another kind.
type forgetter interface {
	Forget(l labdir.Layout) error
}

// chooser is a Kind whose own flag chooses a kind without --kms, as
// --kes-config FILE does.
type chooser interface {
	// Chooses returns the kind the flags given choose and the flag that
	// chose it, or "" when they choose none.
	Chooses() (kind, flag string)
}
