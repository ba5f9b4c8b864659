//go:build kescloud

package keystore

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/sselab/sselab/internal/testtools"
)

// TestReadKESFileCloud: built with KES's cloud keystores, a file with one
// of them is read by KES's own configuration code, whose errors still
// name the file's lines. (No such keystore runs here: reading is what
// can be checked.)
func TestReadKESFileCloud(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "kes.yaml")
	testtools.WriteFile(t, path, "address: 0.0.0.0:7373\nkeystore:\n  fortanix:\n    sdkms:\n      endpoint: https://127.0.0.1:1\n      credentials:\n        key: an-api-key\n")
	f, err := readKESFile(path)
	if err != nil {
		t.Fatalf("a fortanix keystore: %v", err)
	}
	if f.connect == nil {
		t.Fatal("no way to connect the fortanix keystore")
	}
	testtools.WriteFile(t, path, "tls:\n  key: k\nkeystore:\n  aws:\n    secretsmanager:\n      endpoint: x\n      region:\n        - a\n")
	_, err = readKESFile(path)
	if err == nil || !strings.Contains(err.Error(), "line 8 (keystore.aws.secretsmanager.region)") {
		t.Errorf("a list where a region belongs: got %v, want an error naming line 8 and the field", err)
	}
}
