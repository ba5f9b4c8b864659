package keystore

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/kes"

	"github.com/sselab/sselab/internal/testtools"
)

// seedConfig is the shape of the manual procedure's kes-config.yaml, with
// a file keystore instead of Vault.
const seedConfig = `version: v1
address: 0.0.0.0:7373
admin:
  identity: disabled
tls:
  key: /certs/server.key
  cert: /certs/server.cert
policy:
  minio:
    allow:
    - /v1/key/create/*
    - /v1/key/generate/*
    - /v1/key/decrypt/*
    identities:
    - ${MINIO_API_KEY_HASH_THAT_IS_NOT_SET}
cache:
  expiry:
    any: 7m
    unused: 40s
    offline: 3m
keys:
  - name: seed-key
keystore:
  fs:
    path: ${SSELAB_TEST_KEYS}
`

func TestReadKESFile(t *testing.T) {
	keys := filepath.Join(t.TempDir(), "keys")
	t.Setenv("SSELAB_TEST_KEYS", keys)
	path := filepath.Join(t.TempDir(), "kes-config.yaml")
	os.WriteFile(path, []byte(seedConfig), 0o600)

	f, err := readKESFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"address:", "admin:", "tls:", "policy:"} {
		found := false
		for _, o := range f.Overridden {
			found = found || strings.HasPrefix(o, want)
		}
		if !found {
			t.Errorf("Overridden %q does not name %s", f.Overridden, want)
		}
	}
	store := &kesConfigStore{file: f, step: func(string, ...any) {}}
	got := store.Cache()
	if want := (kes.CacheConfig{Expiry: 7 * time.Minute, ExpiryUnused: 40 * time.Second, ExpiryOffline: 3 * time.Minute}); got != want {
		t.Errorf("cache: got %+v, want %+v", got, want)
	}
	if k := store.Keys(); len(k) != 1 || k[0] != "seed-key" {
		t.Errorf("keys: got %v, want [seed-key]", k)
	}
	ks, err := store.Connect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	if err := ks.Create(t.Context(), "probe", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(keys, "probe")); err != nil {
		t.Errorf("the file keystore did not use ${SSELAB_TEST_KEYS} (%s): %v", keys, err)
	}
}

func TestReadKESFileRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct{ name, content, want string }{
		{"no keystore", "version: v1\naddress: :7373\n", "has no keystore section"},
		{"not YAML", "{{{", "is not YAML"},
		{"a list", "- a\n- b\n", "not a KES server configuration"},
		{"other version", "version: v9\nkeystore:\n  fs:\n    path: /tmp/x\n", "invalid server config version"},
	}
	for _, tt := range tests {
		path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".yaml")
		os.WriteFile(path, []byte(tt.content), 0o600)
		if _, err := readKESFile(path); err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "--kes-config") {
			t.Errorf("%s: got %v, want an error naming --kes-config and containing %q", tt.name, err, tt.want)
		}
	}
	if _, err := readKESFile(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: got %v", err)
	}
}

func TestReadKESFileMalformed(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"bad duration after a replaced section",
			"address: 0.0.0.0:7373\n# the cache\nkeystore:\n  fs:\n    path: ./k\ncache:\n  expiry:\n    any: abc\n",
			[]string{"line 8 (cache.expiry.any)", "time.Duration"}},
		{"bad list",
			"keystore:\n  fs:\n    path: ./k\nkeys:\n  name: x\n",
			[]string{"line 5 (keys", "cannot unmarshal"}},
		{"unknown keystore kind",
			"tls:\n  key: k\nkeystore:\n  mystery:\n    a: 1\n",
			[]string{"line 4", `unknown keystore kind "mystery"`, "fs, kes, vault"}},
		{"keystore not a mapping",
			"keystore: fs\n",
			[]string{"line 1", "keystore is not a mapping"}},
		{"not YAML",
			"keystore:\n  fs:\n    extra: [1\n",
			[]string{"is not YAML", "line "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "kes.yaml")
			testtools.WriteFile(t, path, tc.yaml)
			_, err := readKESFile(path)
			testtools.WantErrContains(t, err, tc.want...)
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}
