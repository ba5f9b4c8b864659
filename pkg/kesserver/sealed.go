package kesserver

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"

	"github.com/minio/kes"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/sselab/sselab/internal/fsutil"
)

// SealedHeader is the file in a sealed keystore's directory that says how
// its key-encryption key is derived and holds that key, wrapped. KES key
// names never contain '.', so it cannot clash with a key's file.
const SealedHeader = "keystore.json"

// sealedFormat names the format of SealedHeader.
const (
	sealedFormat  = "sselab-sealed-keystore"
	sealedVersion = 1
	kdfArgon2id   = "argon2id"
	aeadName      = "xchacha20-poly1305"
)

// KDFParams are the argon2id parameters that turn a passphrase into the
// key that wraps the keystore's key-encryption key.
type KDFParams struct {
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memory_kib"`
	Threads   uint8  `json:"threads"`
}

// DefaultKDFParams follow RFC 9106's second recommendation (64 MiB, 3
// passes) with 4 lanes: about a tenth of a second on a laptop, paid once
// per start or unseal.
var DefaultKDFParams = KDFParams{Time: 3, MemoryKiB: 64 << 10, Threads: 4}

// sealedHeader is the content of SealedHeader.
type sealedHeader struct {
	Format  string    `json:"format"`
	Version int       `json:"version"`
	KDF     string    `json:"kdf"`
	Params  KDFParams `json:"kdf_params"`
	Salt    []byte    `json:"salt"`
	Cipher  string    `json:"cipher"`
	// WrappedKey is the key-encryption key, sealed with the key derived
	// from the passphrase (nonce first).
	WrappedKey []byte `json:"wrapped_key"`
}

// Errors of a sealed keystore.
var (
	// ErrWrongPassphrase means the passphrase does not open the keystore.
	ErrWrongPassphrase = errors.New("kesserver: wrong passphrase: it does not open the sealed keystore")
	// ErrSealed is what every key operation of a sealed keystore returns;
	// KES passes its message and status on to its clients, MinIO included.
	ErrSealed error = sealedError{}
)

// sealedError is ErrSealed: KES answers a keystore error that has a
// Status with that status and its message.
type sealedError struct{}

func (sealedError) Error() string {
	return "the lab's sealed keystore is sealed: no key can be used until 'sselab unseal'"
}

// Status is 423 Locked: KES's clients, MinIO's among them, retry a 503
// for seconds before they give up; a sealed keystore stays sealed.
func (sealedError) Status() int { return http.StatusLocked }

// SealedKeyStore is a file keystore whose entries are encrypted at rest:
// one file per key, as in FSKeyStore, each holding KES's encoding of the
// key sealed with XChaCha20-Poly1305 under a random key-encryption key
// (KEK), with the key's name as associated data so entries cannot be
// swapped. The KEK is kept in SealedHeader, wrapped by a key derived from
// a passphrase with argon2id. Sealing drops the KEK from memory: every
// key operation then fails with ErrSealed until Unseal.
type SealedKeyStore struct {
	dir   string
	files *FSKeyStore
	hdr   sealedHeader

	mu   sync.RWMutex
	aead cipher.AEAD // nil while sealed
}

// CreateSealedKeyStore makes a new, empty sealed keystore in dir, which
// must not exist yet, protected by passphrase. It is built in a
// temporary sibling directory and renamed into place, so dir either holds
// a whole keystore or does not exist.
func CreateSealedKeyStore(dir string, passphrase []byte, p KDFParams) error {
	if len(passphrase) == 0 {
		return errors.New("kesserver: the passphrase is empty")
	}
	if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("kesserver: %s exists already", dir)
	}
	kek := make([]byte, chacha20poly1305.KeySize)
	rand.Read(kek)
	hdr := sealedHeader{Format: sealedFormat, Version: sealedVersion, KDF: kdfArgon2id, Params: p, Cipher: aeadName, Salt: make([]byte, 16)}
	rand.Read(hdr.Salt)
	wrap, err := chacha20poly1305.NewX(hdr.passKey(passphrase))
	if err != nil {
		return fmt.Errorf("kesserver: %w", err)
	}
	hdr.WrappedKey = seal(wrap, kek, hdr.kekAD())
	data, err := json.MarshalIndent(hdr, "", "  ")
	if err != nil {
		return fmt.Errorf("kesserver: %w", err)
	}
	if err := fsutil.MkdirPrivate(filepath.Dir(dir)); err != nil {
		return fmt.Errorf("kesserver: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".new-")
	if err != nil {
		return fmt.Errorf("kesserver: %w", err)
	}
	defer os.RemoveAll(tmp) // nothing left once renamed
	header := filepath.Join(tmp, SealedHeader)
	if err := fsutil.WriteStaged(header, data, fsutil.PrivatePerm); err != nil {
		return fmt.Errorf("kesserver: %w", err)
	}
	if err := fsutil.SyncFiles(header); err != nil {
		return fmt.Errorf("kesserver: %w", err)
	}
	if err := fsutil.SyncDir(tmp); err != nil {
		return fmt.Errorf("kesserver: %w", err)
	}
	if err := fsutil.RenameDir(tmp, dir); err != nil {
		return fmt.Errorf("kesserver: %w", err)
	}
	return nil
}

// OpenSealedKeyStore opens the sealed keystore in dir and unseals it with
// passphrase; a wrong passphrase is ErrWrongPassphrase.
func OpenSealedKeyStore(ctx context.Context, dir string, passphrase []byte) (*SealedKeyStore, error) {
	data, err := os.ReadFile(filepath.Join(dir, SealedHeader))
	if err != nil {
		return nil, fmt.Errorf("kesserver: sealed keystore: %w", err)
	}
	s := &SealedKeyStore{dir: dir}
	if err := json.Unmarshal(data, &s.hdr); err != nil {
		return nil, fmt.Errorf("kesserver: %s is damaged: %w", filepath.Join(dir, SealedHeader), err)
	}
	h := s.hdr
	if h.Format != sealedFormat || h.KDF != kdfArgon2id || h.Cipher != aeadName || len(h.Salt) == 0 {
		return nil, fmt.Errorf("kesserver: %s is not a sealed keystore header this sselab reads", filepath.Join(dir, SealedHeader))
	}
	if p := h.Params; p.Time < 1 || p.Time > 100 || p.Threads < 1 || p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > 4<<20 {
		return nil, fmt.Errorf("kesserver: %s has KDF parameters this sselab does not use (%+v); it is damaged", filepath.Join(dir, SealedHeader), p)
	}
	if h.Version > sealedVersion {
		return nil, fmt.Errorf("kesserver: the sealed keystore in %s has format %d; this sselab reads format %d: use a newer sselab", dir, h.Version, sealedVersion)
	}
	if s.files, err = OpenFSKeyStore(ctx, dir); err != nil {
		return nil, err
	}
	if err := s.Unseal(passphrase); err != nil {
		return nil, err
	}
	return s, nil
}

// passKey derives the key that wraps the KEK from passphrase.
func (h *sealedHeader) passKey(passphrase []byte) []byte {
	return argon2.IDKey(passphrase, h.Salt, h.Params.Time, h.Params.MemoryKiB, h.Params.Threads, chacha20poly1305.KeySize)
}

// kekAD binds the wrapped KEK to the header's format and parameters.
func (h *sealedHeader) kekAD() []byte {
	return fmt.Appendf(nil, "%s/%d kek %s t=%d m=%d p=%d", h.Format, h.Version, h.KDF, h.Params.Time, h.Params.MemoryKiB, h.Params.Threads)
}

// entryAD binds an entry to its key's name.
func entryAD(name string) []byte { return []byte(sealedFormat + " entry " + name) }

// seal encrypts plaintext with a random nonce, which it puts first.
func seal(a cipher.AEAD, plaintext, ad []byte) []byte {
	nonce := make([]byte, a.NonceSize(), a.NonceSize()+len(plaintext)+a.Overhead())
	rand.Read(nonce)
	return a.Seal(nonce, nonce, plaintext, ad)
}

// open decrypts what seal made.
func open(a cipher.AEAD, sealed, ad []byte) ([]byte, error) {
	if len(sealed) < a.NonceSize()+a.Overhead() {
		return nil, errors.New("too short")
	}
	return a.Open(nil, sealed[:a.NonceSize()], sealed[a.NonceSize():], ad)
}

// Unseal unwraps the KEK with passphrase; the keystore serves keys again.
func (s *SealedKeyStore) Unseal(passphrase []byte) error {
	if len(passphrase) == 0 {
		return errors.New("kesserver: the passphrase is empty")
	}
	wrap, err := chacha20poly1305.NewX(s.hdr.passKey(passphrase))
	if err != nil {
		return fmt.Errorf("kesserver: %w", err)
	}
	kek, err := open(wrap, s.hdr.WrappedKey, s.hdr.kekAD())
	if err != nil {
		return ErrWrongPassphrase
	}
	aead, err := chacha20poly1305.NewX(kek)
	clear(kek)
	if err != nil {
		return fmt.Errorf("kesserver: %w", err)
	}
	s.mu.Lock()
	s.aead = aead
	s.mu.Unlock()
	return nil
}

// Seal drops the KEK: every key operation fails with ErrSealed until
// Unseal. KES's cache still holds keys it read; Server.FlushCache drops
// them.
func (s *SealedKeyStore) Seal() {
	s.mu.Lock()
	s.aead = nil // the cipher's key schedule goes with it to the collector
	s.mu.Unlock()
}

// Sealed reports whether the keystore is sealed.
func (s *SealedKeyStore) Sealed() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.aead == nil
}

// cipher returns the entries' cipher, or ErrSealed.
func (s *SealedKeyStore) cipher() (cipher.AEAD, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.aead == nil {
		return nil, ErrSealed
	}
	return s.aead, nil
}

// String names the keystore in KES's messages.
func (s *SealedKeyStore) String() string { return "Sealed filesystem: " + s.dir }

// Status fails while the keystore is sealed, so that KES and 'sselab
// status' see it as unavailable.
func (s *SealedKeyStore) Status(ctx context.Context) (kes.KeyStoreState, error) {
	if _, err := s.cipher(); err != nil {
		return kes.KeyStoreState{}, err
	}
	return s.files.Status(ctx)
}

// Create encrypts value and writes it as a new key file.
func (s *SealedKeyStore) Create(ctx context.Context, name string, value []byte) error {
	a, err := s.cipher()
	if err != nil {
		return err
	}
	return s.files.Create(ctx, name, seal(a, value, entryAD(name)))
}

// Get reads and decrypts a key file.
func (s *SealedKeyStore) Get(ctx context.Context, name string) ([]byte, error) {
	a, err := s.cipher()
	if err != nil {
		return nil, err
	}
	sealed, err := s.files.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	value, err := open(a, sealed, entryAD(name))
	if err != nil {
		return nil, fmt.Errorf("kesserver: the sealed keystore's entry %s is damaged or belongs to another keystore", name)
	}
	return value, nil
}

// Delete removes a key file; a sealed keystore deletes nothing.
func (s *SealedKeyStore) Delete(ctx context.Context, name string) error {
	if _, err := s.cipher(); err != nil {
		return err
	}
	return s.files.Delete(ctx, name)
}

// List lists the keys' names, as FSKeyStore does; a sealed keystore lists
// nothing.
func (s *SealedKeyStore) List(ctx context.Context, prefix string, n int) ([]string, string, error) {
	if _, err := s.cipher(); err != nil {
		return nil, "", err
	}
	return s.files.List(ctx, prefix, n) // keyFiles leaves the header out
}

// Close seals the keystore.
func (s *SealedKeyStore) Close() error {
	s.Seal()
	return nil
}

// IsSealedKeyStore reports whether dir holds a sealed keystore.
func IsSealedKeyStore(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, SealedHeader))
	return err == nil
}

// keepOpen hands KES a keystore that its Close does not close: KES
// closes its key cache, and with it the keystore, on every Update; the
// Server closes the keystore once, when it stops.
type keepOpen struct{ kes.KeyStore }

func (keepOpen) Close() error { return nil }
