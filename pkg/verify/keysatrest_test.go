package verify

import (
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sselab/sselab/pkg/kesserver"
	"github.com/sselab/sselab/pkg/labdir"
)

func TestKeysAtRest(t *testing.T) {
	t.Parallel()
	l := labdir.Layout{Root: t.TempDir()}
	pass := []byte("passphrase")
	if err := kesserver.CreateSealedKeyStore(l.SealedKeyStoreDir(), pass, kesserver.KDFParams{Time: 1, MemoryKiB: 1024, Threads: 1}); err != nil {
		t.Fatal(err)
	}
	ks, err := kesserver.OpenSealedKeyStore(t.Context(), l.SealedKeyStoreDir(), pass)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 64)
	rand.Read(key)
	encoded := []byte(base64.StdEncoding.EncodeToString(key)) // as KES stores a key
	for _, n := range []string{"k1", "k2"} {
		if err := ks.Create(t.Context(), n, encoded); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(l.MinIODataDir(), "b"), 0o700)
	os.WriteFile(filepath.Join(l.MinIODataDir(), "b", "obj"), encoded, 0o600) // MinIO's business
	os.WriteFile(l.SettingsFile(), []byte(`{"kms":"sealed"}`), 0o600)
	sealed := labdir.Keystore{KMS: "sealed"}

	c := KeysAtRest(l, sealed)
	if !c.OK || c.Skipped || !strings.Contains(c.Evidence, "the 2 entries of") {
		t.Errorf("sealed keystore: %+v; want a pass over its 2 entries", c)
	}
	// A key in clear anywhere but MinIO's drives fails it.
	os.MkdirAll(l.KeyStoreDir(), 0o700)
	os.WriteFile(filepath.Join(l.KeyStoreDir(), "k1"), append(encoded, '\n'), 0o600)
	if c := KeysAtRest(l, sealed); c.OK || !strings.Contains(c.Evidence, filepath.Join("kes", "keys", "k1")) {
		t.Errorf("with a key in clear: %+v; want a failure naming kes/keys/k1", c)
	}
	if c := KeysAtRest(l, labdir.Keystore{}); !c.Skipped {
		t.Errorf("the plaintext keystore: %+v, want skipped", c)
	}
}
