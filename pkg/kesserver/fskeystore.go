package kesserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/minio/kes"
	kesapi "github.com/minio/kms-go/kes"

	"github.com/sselab/sselab/internal/fsutil"
)

// maxKeyFile bounds what Get reads of one key file: a KES key is a few
// hundred bytes.
const maxKeyFile = 1 << 20

// listLimit is how many names List returns at most when asked for all.
const listLimit = 1024

// FSKeyStore is KES's persistent file keystore: one file per key in a
// directory, named as the key and holding what KES stores for it (the
// key's encoding, in clear). It reads and writes the same files as the
// keystore 'kes server' opens for 'keystore: fs: path: DIR', so a
// directory serves either.
type FSKeyStore struct {
	dir string
	mu  sync.RWMutex // Create against Get, as KES's own keystore does
}

// OpenFSKeyStore opens the file keystore in dir, creating the directory
// 0700 if missing (the keys in it are in clear: it must stay private).
func OpenFSKeyStore(_ context.Context, dir string) (*FSKeyStore, error) {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := fsutil.MkdirPrivate(dir); err != nil {
			return nil, fmt.Errorf("kesserver: keystore directory: %w", err)
		}
	case err != nil:
		return nil, fmt.Errorf("kesserver: keystore %s: %w", dir, err)
	case !fi.IsDir():
		return nil, fmt.Errorf("kesserver: keystore %s is not a directory", dir)
	}
	return &FSKeyStore{dir: dir}, nil
}

// String names the keystore in KES's messages.
func (s *FSKeyStore) String() string { return "Filesystem: " + s.dir }

// Status reports the keystore reachable while its directory exists.
func (s *FSKeyStore) Status(context.Context) (kes.KeyStoreState, error) {
	start := time.Now()
	if _, err := os.Stat(s.dir); err != nil {
		return kes.KeyStoreState{}, fmt.Errorf("kesserver: keystore %s: %w", s.dir, err)
	}
	return kes.KeyStoreState{Latency: time.Since(start)}, nil
}

// Create writes a new key file and syncs it; it never replaces one
// (kesapi.ErrKeyExists). The file appears whole or not at all: it is
// written under a temporary name and renamed to its own, so a reader (a
// backup, KES) never sees half a key. Only the lab that holds the state
// directory's lock writes keys, so the check for an existing key and the
// rename cannot race with another writer.
func (s *FSKeyStore) Create(_ context.Context, name string, value []byte) error {
	path, err := s.path(name)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := os.Lstat(path); err == nil {
		return kesapi.ErrKeyExists
	}
	f, err := os.CreateTemp(s.dir, ".tmp-"+name+"-*") // '.': never a key name
	if err != nil {
		return fmt.Errorf("kesserver: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err = f.Chmod(fsutil.PrivatePerm); err == nil {
		if _, err = f.Write(value); err == nil {
			err = f.Sync()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("kesserver: create key %s: %w", name, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("kesserver: create key %s: %w", name, err)
	}
	return fsutil.SyncDir(s.dir)
}

// Get returns what the key's file holds, or kesapi.ErrKeyNotFound.
func (s *FSKeyStore) Get(_ context.Context, name string) ([]byte, error) {
	path, err := s.path(name)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, kesapi.ErrKeyNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("kesserver: %w", err)
	}
	defer f.Close()
	value, err := io.ReadAll(io.LimitReader(f, maxKeyFile))
	if err != nil {
		return nil, fmt.Errorf("kesserver: read key %s: %w", name, err)
	}
	return value, nil
}

// Delete removes the key's file, or returns kesapi.ErrKeyNotFound.
func (s *FSKeyStore) Delete(_ context.Context, name string) error {
	path, err := s.path(name)
	if err != nil {
		return err
	}
	if err := os.Remove(path); errors.Is(err, os.ErrNotExist) {
		return kesapi.ErrKeyNotFound
	} else if err != nil {
		return fmt.Errorf("kesserver: %w", err)
	}
	return nil
}

// List returns the names that start with prefix, sorted, at most n of
// them (listLimit when n <= 0), and the name to continue from when there
// are more.
func (s *FSKeyStore) List(ctx context.Context, prefix string, n int) ([]string, string, error) {
	names, err := keyFiles(s.dir)
	if err != nil {
		return nil, "", err
	}
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	return ListNames(names, prefix, n)
}

// KeyNames lists the keys of the file keystore (or sealed keystore) in
// dir, sorted, as keyFiles does. A directory that does not exist holds
// none.
func KeyNames(dir string) ([]string, error) {
	names, err := keyFiles(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return names, err
}

// keyFiles lists the key files of a keystore directory, sorted: every
// file whose name KES could give a key (no '.': not a sealed keystore's
// header, not a key file still being written).
func keyFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("kesserver: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if !strings.Contains(e.Name(), ".") && e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}

// Close does nothing: the keystore holds no resources.
func (s *FSKeyStore) Close() error { return nil }

// path is the file of the key name. Like KES's own file keystore, it
// refuses names that could reach outside the directory, or hide there:
// empty names and names with '/', '\' or '.'.
func (s *FSKeyStore) path(name string) (string, error) {
	if name == "" || strings.ContainsAny(name, `/\.`) {
		return "", fmt.Errorf("kesserver: key name %q contains an invalid character", name)
	}
	return filepath.Join(s.dir, name), nil
}

// ListNames is what a keystore's List returns for all the names it holds:
// those that start with prefix, sorted, at most n (listLimit when n <= 0),
// and the first name left out, from which a next List continues, or ""
// when none is.
func ListNames(names []string, prefix string, n int) ([]string, string, error) {
	names = slices.DeleteFunc(slices.Clone(names), func(name string) bool { return !strings.HasPrefix(name, prefix) })
	slices.Sort(names)
	if n <= 0 {
		n = listLimit
	}
	if len(names) <= n {
		return names, "", nil
	}
	return names[:n], names[n], nil
}
