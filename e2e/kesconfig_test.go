package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/labdir"
)

// TestUpWithKESConfig starts a lab from a KES server configuration shaped
// like the manual procedure's kes-config.yaml (with a file keystore, and
// a placeholder identity that is never set): keys land in the file's
// keystore, the file's pre-defined key exists, objects round-trip, and the
// summary says what of the file sselab replaced. A later up remembers it.
func TestUpWithKESConfig(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	keys := filepath.Join(t.TempDir(), "keys")
	config := filepath.Join(t.TempDir(), "kes-config.yaml")
	os.WriteFile(config, []byte(`version: v1
address: 0.0.0.0:7373
tls:
  key: ./server.key
  cert: ./server.cert
policy:
  minio:
    allow:
    - /v1/key/generate/*
    identities:
    - ${MINIO_API_KEY_HASH}
keys:
  - name: from-the-file
keystore:
  fs:
    path: `+keys+`
`), 0o600)
	dir := filepath.Join(t.TempDir(), "lab")
	r := mustRun(t, append([]string{"up", "--detach", "--dir", dir, "--kes-config", config}, freePorts...)...)
	t.Cleanup(func() { stopLab(t, dir) })
	if !strings.Contains(r.stdout, "keystore from "+config) || !strings.Contains(r.stdout, "replaced the file's address, tls, policy") {
		t.Errorf("summary: got\n%s\nwant it to name the file and what sselab replaced", r.stdout)
	}
	for _, k := range []string{labdir.DefaultKey, "from-the-file"} {
		if _, err := os.Stat(filepath.Join(keys, k)); err != nil {
			t.Errorf("key %s is not in the file's keystore %s: %v", k, keys, err)
		}
	}
	if _, err := os.Stat(labdir.Layout{Root: dir}.KeyStoreDir()); err == nil {
		t.Error("the lab's own keystore directory was used although --kes-config names another")
	}
	h, err := lab.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	body := putMarker(t, h, labdir.DefaultBucket, "o")
	mustRun(t, "down", "--dir", dir)

	// Remembered: a plain up uses the same keystore and reads the object.
	cmdOut := mustRun(t, append([]string{"up", "--detach", "--dir", dir}, freePorts...)...).stdout
	if !strings.Contains(cmdOut, "keystore from "+config) {
		t.Errorf("second up: got\n%s\nwant the remembered --kes-config", cmdOut)
	}
	h, _ = lab.Open(dir)
	s3, _ := h.S3()
	if got := readObject(t, s3, labdir.DefaultBucket, "o", minio.GetObjectOptions{}); !bytes.Equal(got, body) {
		t.Errorf("after down and up: got %q, want %q", got, body)
	}
}

// TestUpWithBadKESConfig: a file without a keystore, with a value of the
// wrong type, with an unknown keystore kind or that is not YAML is refused
// before anything is created, in one line that names the file's line and,
// where there is one, the field.
func TestUpWithBadKESConfig(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"no keystore", "version: v1\naddress: 0.0.0.0:7373\n", []string{"has no keystore section"}},
		{"bad duration", "version: v1\naddress: 0.0.0.0:7373\nkeystore:\n  fs:\n    path: ./keys\ncache:\n  expiry:\n    unused: soon\n",
			[]string{"line 8 (cache.expiry.unused)", "time.Duration"}},
		{"unknown keystore", "version: v1\nkeystore:\n  hsm:\n    slot: 1\n", []string{"line 3", `unknown keystore kind "hsm"`}},
		{"not YAML", "keystore: [fs\n", []string{"is not YAML"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			config := filepath.Join(t.TempDir(), "kes-config.yaml")
			os.WriteFile(config, []byte(tc.yaml), 0o600)
			dir := filepath.Join(t.TempDir(), "lab")
			r := sselab(t, append([]string{"up", "--dir", dir, "--kes-config", config}, freePorts...)...)
			msg := strings.TrimSpace(r.stderr)
			if r.code != 1 || strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "sselab: ") {
				t.Errorf("exit %d, stderr %q; want exit 1 and one line", r.code, r.stderr)
			}
			for _, w := range append(tc.want, config) {
				if !strings.Contains(msg, w) {
					t.Errorf("stderr %q does not name %q", msg, w)
				}
			}
			if _, err := os.Stat(dir); err == nil {
				t.Error("the refused up created the state directory")
			}
		})
	}
}
