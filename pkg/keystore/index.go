package keystore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"

	"github.com/minio/kes"

	"github.com/sselab/sselab/pkg/kesserver"
	"github.com/sselab/sselab/pkg/labdir"
)

// keyIndex is the content of the key index file (labdir's KeyIndexFile):
// the names of the keys a keystore in the state directory holds. It lives
// beside the keystore, not in it, so that a keystore lost or emptied is
// told from one that never had keys, and 'up' refuses to start MinIO on
// data whose keys are gone (and to make a new default key in place of the
// lost one, which would hide the loss).
type keyIndex struct {
	Keys []string `json:"keys"`
}

// indexed is a keystore in the state directory that keeps the key index
// up to date with every key created or deleted through KES.
type indexed struct {
	kes.KeyStore
	file    string
	mu      sync.Mutex
	idx     keyIndex
	written bool // the file exists
}

// checkIndex reads the key index of l and refuses a keystore, whose keys
// are in dir, that lacks keys the index names, saying how to restore
// them. It writes nothing: a lab from before the index gets one when it
// is ready (keep).
func checkIndex(l labdir.Layout, dir, where string) (*indexed, error) {
	names, err := kesserver.KeyNames(dir)
	if err != nil {
		return nil, err
	}
	x := &indexed{file: l.KeyIndexFile()}
	switch err := labdir.ReadJSON(x.file, &x.idx); {
	case errors.Is(err, fs.ErrNotExist):
		x.idx.Keys = names
		return x, nil
	case err != nil:
		return nil, err
	}
	x.written = true
	var missing []string
	for _, k := range x.idx.Keys {
		if !slices.Contains(names, k) {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("keystore: %s lacks %d key(s) this lab made: %s; objects encrypted with them cannot be read until they are back: "+
			"put them back with 'sselab restore BACKUP --keys-only --dir %s' (to give them up for good instead, remove %s)",
			where, len(missing), strings.Join(missing, ", "), l.Root, x.file)
	}
	return x, nil
}

// wrap makes x the keystore KES serves, over ks.
func (x *indexed) wrap(ks kes.KeyStore) kes.KeyStore {
	x.KeyStore = ks
	return x
}

// keep writes the index of a lab that had none, once the lab is ready.
func (x *indexed) keep() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.written {
		return nil
	}
	return x.write()
}

// write writes the index durably.
func (x *indexed) write() error {
	slices.Sort(x.idx.Keys)
	x.idx.Keys = slices.Compact(x.idx.Keys)
	if err := labdir.WriteJSON(x.file, x.idx); err != nil {
		return err
	}
	x.written = true
	return nil
}

// Create creates the key, then records it.
func (x *indexed) Create(ctx context.Context, name string, value []byte) error {
	if err := x.KeyStore.Create(ctx, name, value); err != nil {
		return err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.idx.Keys = append(x.idx.Keys, name)
	return x.write()
}

// Delete deletes the key, then forgets it.
func (x *indexed) Delete(ctx context.Context, name string) error {
	if err := x.KeyStore.Delete(ctx, name); err != nil {
		return err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.idx.Keys = slices.DeleteFunc(x.idx.Keys, func(n string) bool { return n == name })
	return x.write()
}
