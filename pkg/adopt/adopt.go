// Package adopt takes over, for a new lab, a MinIO drive that a MinIO
// wrote while it ran with MINIO_KMS_SECRET_KEY (one static key). It reads
// the static key from its file (ReadKeyFile), checks before anything
// starts that the drive is a single-drive MinIO drive that no running
// MinIO serves and that the key decrypts MinIO's own configuration and
// IAM on it (Check), and copies the drive into the lab's state directory
// (Drive.CopyTo). The runner (package runner) imports the key into the
// lab's KES under its name and starts MinIO on the copy.
//
// It reads the few MinIO on-disk formats it needs (xl.meta, the header of
// an encrypted configuration object, the static key's sealed data keys)
// itself: MinIO is a program the lab runs, never a library it links.
package adopt

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/sselab/sselab/pkg/labdir"
)

// KeySize is the size of a static key: AES-256.
const KeySize = 32

// StaticKey is what MINIO_KMS_SECRET_KEY holds: a key name and 32 bytes
// of key material.
type StaticKey struct {
	// Name is the key's name: the key id in everything MinIO sealed with it.
	Name string
	// Material is the 32-byte key.
	Material []byte
}

// ReadKeyFile reads a static key from path, which only its owner may read
// (on Unix; Windows has no modes to check). The file holds one line,
// "NAME:BASE64", as MINIO_KMS_SECRET_KEY does; one trailing newline is
// ignored. Errors never quote the file's content.
func ReadKeyFile(path string) (StaticKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return StaticKey{}, fmt.Errorf("adopt: --static-key-file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return StaticKey{}, fmt.Errorf("adopt: --static-key-file %s is not a regular file", path)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return StaticKey{}, fmt.Errorf("adopt: %s can be read by others (mode %04o); run 'chmod 600 %s'", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return StaticKey{}, fmt.Errorf("adopt: --static-key-file: %w", err)
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	k, err := parseKey(string(b))
	if err != nil {
		return StaticKey{}, fmt.Errorf("adopt: %s is not a static key: %w", path, err)
	}
	return k, nil
}

// parseKey parses "NAME:BASE64", the value of MINIO_KMS_SECRET_KEY: a name
// KES accepts and the standard base64 of 32 bytes. Errors never quote s.
func parseKey(s string) (StaticKey, error) {
	const want = "it must hold one line NAME:BASE64 (the value of MINIO_KMS_SECRET_KEY, 32 bytes in base64)"
	if strings.HasPrefix(s, "MINIO_KMS_SECRET_KEY=") {
		return StaticKey{}, errors.New("it starts with 'MINIO_KMS_SECRET_KEY=': keep only the value after '='")
	}
	name, b64, ok := strings.Cut(s, ":")
	switch {
	case !ok:
		return StaticKey{}, fmt.Errorf("no ':' between name and key; %s", want)
	case name == "":
		return StaticKey{}, fmt.Errorf("the name before ':' is empty; %s", want)
	case strings.ContainsAny(s, "\r\n"):
		return StaticKey{}, fmt.Errorf("more than one line; %s", want)
	}
	if err := labdir.CheckKeyName(name); err != nil {
		return StaticKey{}, fmt.Errorf("the key name %q cannot be a KES key name (use 1-80 letters, digits, '.', '_' or '-', starting with a letter or digit)", name)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return StaticKey{}, fmt.Errorf("the part after ':' is not base64; %s", want)
	}
	if len(key) != KeySize {
		return StaticKey{}, fmt.Errorf("the key is %d bytes, not %d; %s", len(key), KeySize, want)
	}
	return StaticKey{Name: name, Material: key}, nil
}
