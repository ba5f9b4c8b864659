package adopt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"golang.org/x/crypto/chacha20"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/sselab/sselab/pkg/verify"
)

// How MinIO keeps the bytes of an object on a drive (pkg/verify reads
// them): in shards of up to 1 MiB, each after a 32-byte bitrot checksum
// (HighwayHash; not checked here: the AEAD below authenticates what
// matters).
const (
	bitrotSize = 32
	shardSize  = 1 << 20
)

// How MinIO encrypts a configuration or IAM object with its KMS (since
// RELEASE.2021-04-22): a version byte (1), the little-endian uint32 size
// of a JSON header, the header, then the object's bytes encrypted with a
// fresh data key. The header names the KMS key and holds the data key
// sealed by it; the sealing binds the context {".minio.sys": PATH}, PATH
// being the object's path from the drive (older releases bound the path
// inside .minio.sys).
type configHeader struct {
	KeyID  string `json:"keyid"`
	KMSKey []byte `json:"kmskey"` // the data key, sealed with the KMS key KeyID
}

// maxHeaderSize is the largest header MinIO writes.
const maxHeaderSize = 1 << 20

// errPlain and errNotKMS say how an object of MinIO's configuration is
// not encrypted with a KMS key: not at all, or with something else (the
// root credentials, before RELEASE.2021-04-22).
var (
	errPlain  = errors.New("not encrypted")
	errNotKMS = errors.New("not encrypted with a KMS key")
)

// parseConfigObject returns the header of an encrypted configuration
// object, errPlain for a plain one (MinIO keeps configuration as JSON
// text), or errNotKMS.
func parseConfigObject(b []byte) (configHeader, error) {
	var h configHeader
	if len(b) >= 5 && b[0] == 1 {
		size := binary.LittleEndian.Uint32(b[1:5])
		if size <= maxHeaderSize && int(size) <= len(b)-5 &&
			json.Unmarshal(b[5:5+size], &h) == nil && h.KeyID != "" && len(h.KMSKey) > 0 {
			return h, nil
		}
	}
	if utf8.Valid(b) {
		return h, errPlain
	}
	return h, errNotKMS
}

// configContexts are the associated data MinIO may have bound to the
// data key of the configuration object at path (slash-separated, inside
// .minio.sys): the current form first, then the one of older releases.
func configContexts(path string) [][]byte {
	return [][]byte{kmsContext(minioMetaBucket, minioMetaBucket+"/"+path), kmsContext(minioMetaBucket, path)}
}

// minioMetaBucket is MinIO's own folder on a drive.
const minioMetaBucket = ".minio.sys"

// kmsContext is the canonical JSON text of a one-entry KMS context, as
// a KMS binds it to a data key.
func kmsContext(k, v string) []byte {
	kj, _ := json.Marshal(k)
	vj, _ := json.Marshal(v)
	return []byte("{" + string(kj) + ":" + string(vj) + "}")
}

// unseal opens a data key that a static key (or KES, with the same key
// material) sealed: AES-256-GCM under HMAC-SHA-256(key, iv), or
// ChaCha20-Poly1305 under HChaCha20(key, iv), with associatedData bound.
// The ciphertext is the sealed bytes followed by the 16-byte iv and the
// 12-byte nonce, or, from older releases, a JSON object with the same
// parts.
func unseal(key, ciphertext, associatedData []byte) ([]byte, error) {
	sealed, iv, nonce, chacha, err := splitSealed(ciphertext)
	if err != nil {
		return nil, err
	}
	var aead cipher.AEAD
	if chacha {
		k, err := chacha20.HChaCha20(key, iv)
		if err != nil {
			return nil, err
		}
		if aead, err = chacha20poly1305.New(k); err != nil {
			return nil, err
		}
	} else {
		mac := hmac.New(sha256.New, key)
		mac.Write(iv)
		block, err := aes.NewCipher(mac.Sum(nil))
		if err != nil {
			return nil, err
		}
		if aead, err = cipher.NewGCM(block); err != nil {
			return nil, err
		}
	}
	return aead.Open(nil, nonce, sealed, associatedData)
}

// Sizes of the parts of a sealed data key.
const (
	ivSize    = 16
	nonceSize = 12
	tagSize   = 16
)

// splitSealed splits a sealed data key into its parts and says whether
// ChaCha20-Poly1305 sealed it.
func splitSealed(c []byte) (sealed, iv, nonce []byte, chacha bool, err error) {
	if len(c) > 0 && c[0] == '{' && c[len(c)-1] == '}' {
		var j struct {
			AEAD  string `json:"aead"`
			IV    []byte `json:"iv"`
			Nonce []byte `json:"nonce"`
			Bytes []byte `json:"bytes"`
		}
		if json.Unmarshal(c, &j) == nil && len(j.IV) == ivSize && len(j.Nonce) == nonceSize {
			switch j.AEAD {
			case "AES-256-GCM-HMAC-SHA-256":
				return j.Bytes, j.IV, j.Nonce, false, nil
			case "ChaCha20Poly1305":
				return j.Bytes, j.IV, j.Nonce, true, nil
			}
		}
		// Binary ciphertext may start with '{' and end with '}' by chance.
	}
	if len(c) < tagSize+ivSize+nonceSize {
		return nil, nil, nil, false, errors.New("sealed data key too short")
	}
	n := len(c)
	return c[:n-ivSize-nonceSize], c[n-ivSize-nonceSize : n-nonceSize], c[n-nonceSize:], false, nil
}

// Sealed is a data key that MinIO sealed with the static key for one of
// its configuration objects: what KES must be able to unseal once the
// key is imported.
type Sealed struct {
	// Object is the configuration object's path inside .minio.sys.
	Object string
	// Ciphertext is the sealed data key; Context the associated data it
	// is bound to; Plaintext the data key.
	Ciphertext, Context, Plaintext []byte
}

// openConfigObject checks that key unseals the data key of the latest
// version of the configuration object at path (slash-separated, inside
// .minio.sys) on drive, and returns it sealed; errPlain if the object is
// not encrypted.
func openConfigObject(drive, path string, key StaticKey) (Sealed, error) {
	st, err := verify.StoredBytes(drive, minioMetaBucket, path, bitrotSize+shardSize)
	if err != nil {
		return Sealed{}, err
	}
	if len(st.Head) < bitrotSize {
		return Sealed{}, errPlain // empty
	}
	b := st.Head[bitrotSize:]
	if len(st.Head) == bitrotSize+shardSize {
		b = completeRunes(b) // more follows: the cut may split a character
	}
	h, err := parseConfigObject(b)
	if err != nil {
		return Sealed{}, err
	}
	if h.KeyID != key.Name {
		return Sealed{}, &keyIDError{got: h.KeyID}
	}
	s, err := unsealAny(key.Material, h.KMSKey, configContexts(path))
	s.Object = path
	return s, err
}

// completeRunes drops an incomplete UTF-8 sequence at the end of b.
func completeRunes(b []byte) []byte {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return b[:i]
			}
			break
		}
	}
	return b
}

// unsealAny unseals ciphertext bound to one of the contexts.
func unsealAny(key, ciphertext []byte, contexts [][]byte) (Sealed, error) {
	for _, ctx := range contexts {
		if p, err := unseal(key, ciphertext, ctx); err == nil {
			return Sealed{Ciphertext: ciphertext, Context: ctx, Plaintext: p}, nil
		}
	}
	return Sealed{}, errWrongKey
}

// errWrongKey is a key that does not unseal a data key.
var errWrongKey = errors.New("the key does not unseal its data key")

// keyIDError is a configuration object sealed with another key name.
type keyIDError struct{ got string }

func (e *keyIDError) Error() string { return fmt.Sprintf("sealed with the key %q", e.got) }
