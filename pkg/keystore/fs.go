package keystore

import (
	"context"

	"github.com/minio/kes"
	"github.com/spf13/pflag"

	"github.com/sselab/sselab/pkg/kesserver"
	"github.com/sselab/sselab/pkg/labdir"
)

// KindFS is the kind of the file keystore in the state directory.
const KindFS = "fs"

// fsKind is KES's persistent file keystore in DIR/kes/keys: one file per
// key, in clear, in a directory only the owner can enter. It is the
// default: nothing to set up, and the keys travel with the directory.
type fsKind struct{}

func (*fsKind) Name() string                 { return KindFS }
func (*fsKind) AddFlags(*pflag.FlagSet)      {}
func (*fsKind) Usage() string                { return "" }
func (*fsKind) Merge(*labdir.Keystore) error { return nil }

func (*fsKind) Where(l labdir.Layout, _ labdir.Keystore) string {
	return "the keystore in " + l.KeyStoreDir()
}

// Open refuses a keystore that lacks keys the lab made (see checkIndex).
func (k *fsKind) Open(_ context.Context, ks *labdir.Keystore, env Env) (Store, error) {
	s := &fsStore{dir: env.Layout.KeyStoreDir(), where: k.Where(env.Layout, *ks)}
	var err error
	if s.index, err = checkIndex(env.Layout, s.dir, s.where); err != nil {
		return nil, err
	}
	return s, nil
}

// fsStore is the file keystore of one lab.
type fsStore struct {
	dir, where string
	index      *indexed
}

func (s *fsStore) Connect(ctx context.Context) (kes.KeyStore, error) {
	ks, err := kesserver.OpenFSKeyStore(ctx, s.dir)
	if err != nil {
		return nil, err
	}
	return s.index.wrap(ks), nil
}

func (s *fsStore) Cache() kes.CacheConfig { return kesserver.DefaultConfig().Cache }
func (s *fsStore) Keys() []string         { return nil }
func (s *fsStore) Keep() error            { return s.index.keep() }

func (s *fsStore) Summary() labdir.Summary {
	return labdir.Summary{Phrase: "keystore " + s.dir}
}

// Health reports the keystore fine: whether KES can read and write it
// shows in KES's own status and in the disk check of the state directory.
func (s *fsStore) Health(context.Context) labdir.KeystoreHealth {
	return labdir.KeystoreHealth{Kind: KindFS, Where: s.where, OK: true}
}
