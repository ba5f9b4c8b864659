// Package backup writes, checks and restores a backup of what a lab's
// data depends on: the keys in KES's keystore (the file keystore's or the
// sealed keystore's files, as they are on disk), the certificates and
// their private keys, MinIO's root credentials, the settings, the key
// index and the Vault secret_id. MinIO's data is never in it.
//
// A backup is one file encrypted with age (filippo.io/age), with a
// passphrase (scrypt) or to age public keys. Inside is a tar archive whose
// first entry is manifest.json (format and version, the sselab that wrote
// it, when, the lab CA's KES identity, the kind of keystore, every key
// and every file with its SHA-256) followed by one regular file per entry,
// named by its path relative to the state directory.
//
// Snapshot reads a state directory, also while a lab runs on it;
// WriteFile and ReadFile write and read a backup file; Restore makes a new
// state directory from a backup and RestoreKeys puts lost keys back into
// an existing one.
package backup

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sselab/sselab/pkg/kesserver"
	"github.com/sselab/sselab/pkg/labdir"
	"github.com/sselab/sselab/pkg/pki"
)

// Format names the format of a backup, in its manifest.
const Format = "sselab-backup"

// FormatVersion is the version of the format this sselab writes and the
// newest it reads.
const FormatVersion = 1

// ManifestName is the name of the first entry of a backup's archive.
const ManifestName = "manifest.json"

// Errors a backup can be refused with; Decode's and ReadFile's errors
// wrap them.
var (
	// ErrWrongKey: the passphrase or identity does not open the backup.
	ErrWrongKey = errors.New("cannot open the backup")
	// ErrDamaged: the backup was truncated or changed after it was written,
	// or its content does not match its manifest.
	ErrDamaged = errors.New("the backup is damaged")
	// ErrNewerFormat: a newer sselab wrote the backup.
	ErrNewerFormat = errors.New("the backup was written by a newer sselab")
	// ErrNotBackup: the file is not an sselab backup.
	ErrNotBackup = errors.New("not an sselab backup")
)

// Manifest describes what a backup holds; it is manifest.json, the
// archive's first entry.
type Manifest struct {
	// Format is always Format.
	Format string `json:"format"`
	// Version is the version of the format, FormatVersion when written
	// by this sselab.
	Version int `json:"version"`
	// Sselab is the version of the sselab that wrote the backup.
	Sselab string `json:"sselab_version"`
	// Created is when the backup was made.
	Created time.Time `json:"created"`
	// CAIdentity is the KES identity of the lab CA (certs/ca.crt): the
	// lab the backup comes from.
	CAIdentity string `json:"ca_identity"`
	// Keystore is the kind of keystore the lab keeps its keys in, as
	// keystore.KindOf names it ("fs", "vault", ...).
	Keystore string `json:"keystore"`
	// KeysElsewhere says where the keys are when they are not in the
	// backup (with --kms vault: in Vault); "" when they are.
	KeysElsewhere string `json:"keys_elsewhere,omitempty"`
	// Keys are the keys in the backup, sorted by name.
	Keys []Key `json:"keys"`
	// Files are every entry of the archive but the manifest, sorted by
	// path: the keys' entries too.
	Files []File `json:"files"`
}

// Key is one key in a backup.
type Key struct {
	// Name is the key's name in KES.
	Name string `json:"name"`
	// Path is its entry: a file of the keystore, relative to DIR.
	Path string `json:"path"`
	// SHA256 is the hex SHA-256 of the entry.
	SHA256 string `json:"sha256"`
	// Created is when KES created the key (RFC 3339, UTC), when the
	// backup was made while the lab ran; else "".
	Created string `json:"created,omitempty"`
}

// File is one entry of a backup.
type File struct {
	// Path is the file's path relative to DIR, with '/' separators.
	Path string `json:"path"`
	// Mode is its permission bits in octal, as "0600".
	Mode string `json:"mode"`
	// Size is its length in bytes.
	Size int64 `json:"size"`
	// SHA256 is the hex SHA-256 of its content.
	SHA256 string `json:"sha256"`
}

// Entry is one file of a backup with its content.
type Entry struct {
	// Path is relative to DIR, with '/' separators.
	Path string
	// Mode holds the permission bits the file had.
	Mode fs.FileMode
	// Data is its content.
	Data []byte
}

// Archive is a backup in memory: its manifest and its entries, in the
// manifest's order.
type Archive struct {
	Manifest Manifest
	Entries  []Entry
}

// Entry returns the entry at path (relative to DIR, '/' separators).
func (a *Archive) Entry(p string) (Entry, bool) {
	i := slices.IndexFunc(a.Entries, func(e Entry) bool { return e.Path == p })
	if i < 0 {
		return Entry{}, false
	}
	return a.Entries[i], true
}

// Certificates returns the number of files under certs/.
func (a *Archive) Certificates() int {
	n := 0
	for _, e := range a.Entries {
		if inTree(e.Path, rel.certs) {
			n++
		}
	}
	return n
}

// KeyNames returns the names of the keys in the backup, sorted.
func (m *Manifest) KeyNames() []string {
	names := make([]string, len(m.Keys))
	for i, k := range m.Keys {
		names[i] = k.Name
	}
	return names
}

// fileOf describes an entry for the manifest.
func fileOf(e Entry) File {
	return File{Path: e.Path, Mode: fmt.Sprintf("%04o", e.Mode.Perm()), Size: int64(len(e.Data)), SHA256: sum(e.Data)}
}

// sum is the hex SHA-256 of data.
func sum(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

// parseMode reads a File's Mode.
func parseMode(s string) (fs.FileMode, error) {
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil || m&^0o777 != 0 {
		return 0, fmt.Errorf("mode %q is not octal permission bits", s)
	}
	return fs.FileMode(m), nil
}

// places are the paths of a state directory a backup holds, relative to
// DIR with '/' separators, as labdir.Layout names them.
type places struct {
	settings, credentials, keyIndex, vaultSecret string // single files
	certs                                        string // a tree: every file below it
	ca                                           string // the lab CA's certificate, in certs
	keyStore, sealed                             string // flat directories of keys
}

// rel are the places of every state directory.
var rel = func() places {
	l := labdir.Layout{} // paths relative to DIR
	s := filepath.ToSlash
	return places{
		settings:    s(l.SettingsFile()),
		credentials: s(l.CredentialsFile()),
		keyIndex:    s(l.KeyIndexFile()),
		vaultSecret: s(l.VaultSecretFile()),
		certs:       s(l.CertsDir()),
		ca:          s((&pki.PKI{Dir: l.CertsDir()}).CAFile()),
		keyStore:    s(l.KeyStoreDir()),
		sealed:      s(l.SealedKeyStoreDir()),
	}
}()

// files are the single files a backup holds when they exist.
func (p places) files() []string {
	return []string{p.settings, p.credentials, p.keyIndex, p.vaultSecret}
}

// inTree reports whether p is below dir.
func inTree(p, dir string) bool { return strings.HasPrefix(p, dir+"/") }

// inDir reports whether p is a file directly in dir.
func inDir(p, dir string) bool { return path.Dir(p) == dir }

// keyEntry reports whether p is a key of a keystore, and its name: a file
// of the file keystore or of the sealed keystore whose name has no '.'
// (the sealed keystore's header and temporary files have one; KES refuses
// it in key names).
func keyEntry(p string) (string, bool) {
	name := path.Base(p)
	if (inDir(p, rel.keyStore) || inDir(p, rel.sealed)) && !strings.Contains(name, ".") {
		return name, true
	}
	return "", false
}

// sealedHeader is the sealed keystore's header, relative to DIR.
var sealedHeader = rel.sealed + "/" + kesserver.SealedHeader

// checkPath refuses a path a backup may not hold: anything but a clean
// relative path to one of the places, so that a crafted backup cannot
// write outside the state directory or over MinIO's data. Names starting
// with '.' (such as fsutil's temporary files) are never entries.
func checkPath(p string) error {
	clean := p != "" && path.Clean(p) == p && !path.IsAbs(p) && !strings.Contains(p, `\`) &&
		p != ".." && !strings.HasPrefix(p, "../") && !strings.HasPrefix(path.Base(p), ".")
	_, isKey := keyEntry(p)
	if clean && (slices.Contains(rel.files(), p) || inTree(p, rel.certs) || isKey || p == sealedHeader) {
		return nil
	}
	return fmt.Errorf("%w: it holds %q, which is not a file of a state directory that a backup may hold", ErrDamaged, p)
}
