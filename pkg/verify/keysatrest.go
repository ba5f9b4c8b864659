package verify

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sselab/sselab/pkg/kesserver"
	"github.com/sselab/sselab/pkg/labdir"
)

// maxKeyEntry bounds the size of a file that could be one KES key in
// clear: KES stores a key as the base64 of a short protobuf message.
const maxKeyEntry = 4 << 10

// KeysAtRest is the check that no KES key lies in clear in the state
// directory of a lab whose keystore is sealed: every file outside MinIO's
// drives is read, and one that is, whole, KES's encoding of a key (base64
// text that decodes) fails the check. For other keystores it is skipped,
// saying where the keys are.
func KeysAtRest(l labdir.Layout, ks labdir.Keystore) Check {
	const name = "keys at rest: none in clear in the state directory"
	if ks.KMS != "sealed" {
		return Check{Name: name, OK: true, Skipped: true, Evidence: "skipped: only a sealed keystore (up --sealed, or 'sselab keystore seal-at-rest') encrypts the keys in DIR"}
	}
	var files, entries int
	var clearKeys []string
	err := filepath.WalkDir(l.Root, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && path == l.MinIODir():
			return filepath.SkipDir // objects: the other checks' business
		case !d.Type().IsRegular():
			return nil
		}
		files++
		if filepath.Dir(path) == l.SealedKeyStoreDir() && d.Name() != kesserver.SealedHeader {
			entries++
		}
		if keyInClear(path) {
			rel, _ := filepath.Rel(l.Root, path)
			clearKeys = append(clearKeys, rel)
		}
		return nil
	})
	switch {
	case err != nil:
		return Check{Name: name, OK: false, Evidence: fmt.Sprintf("cannot read %s: %v", l.Root, err)}
	case len(clearKeys) > 0:
		return Check{Name: name, OK: false, Evidence: fmt.Sprintf("KES key encoding in clear in %d file(s): %v", len(clearKeys), clearKeys)}
	}
	noun := "entries"
	if entries == 1 {
		noun = "entry"
	}
	return Check{Name: name, OK: true, Evidence: fmt.Sprintf("%d files under %s read (MinIO's drives aside), none a KES key in clear; the %d %s of %s are ciphertext",
		files, l.Root, entries, noun, l.SealedKeyStoreDir())}
}

// keyInClear reports whether the file at path is, whole, a KES key as KES
// stores it in clear: base64 text that decodes.
func keyInClear(path string) bool {
	fi, err := os.Stat(path)
	if err != nil || fi.Size() < 16 || fi.Size() > maxKeyEntry {
		return false
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	data = bytes.TrimSpace(data)
	_, err = base64.StdEncoding.DecodeString(string(data))
	return err == nil
}
