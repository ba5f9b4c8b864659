package backup

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/sselab/sselab/internal/fsutil"
	"github.com/sselab/sselab/pkg/kesserver"
)

// TestSnapshotWhileWriting: snapshots taken while KES creates keys (its
// file keystore creates a file, then writes it) and sselab replaces a
// certificate (by renaming) hold only whole files: every key entry is
// what was written for that key, every certificate one of its versions.
func TestSnapshotWhileWriting(t *testing.T) {
	t.Parallel()
	l := fakeLab(t, "", "sselab-key")
	ctx, cancel := context.WithCancel(t.Context())
	ks, err := kesserver.OpenFSKeyStore(ctx, l.KeyStoreDir())
	must(t, err)
	var written sync.Map // key name -> value
	versions := sync.Map{}
	cert := filepath.Join(l.CertsDir(), "console.crt")
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			name, value := fmt.Sprintf("k-%d", i), []byte(randomText(t, 150))
			written.Store(name, string(value))
			if err := ks.Create(ctx, name, value); err != nil {
				t.Errorf("create %s: %v", name, err)
				return
			}
		}
	})
	wg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			v := fmt.Sprintf("certificate version %d %s", i, randomText(t, 600))
			versions.Store(v, true)
			if err := fsutil.WriteFile(cert, []byte(v), 0o644); err != nil {
				t.Errorf("replace %s: %v", cert, err)
				return
			}
		}
	})
	defer func() { cancel(); wg.Wait() }()

	keys := 0
	for range 20 {
		a := snapshotOf(t, l)
		keys = len(a.Manifest.Keys)
		if _, err := openBytes(t, encode(t, a)); err != nil {
			t.Fatal(err)
		}
		for _, k := range a.Manifest.Keys {
			e, _ := a.Entry(k.Path)
			if k.Name == "sselab-key" {
				continue
			}
			if want, ok := written.Load(k.Name); !ok || want.(string) != string(e.Data) {
				t.Fatalf("key %s: the snapshot holds %d bytes that are not what was written", k.Name, len(e.Data))
			}
		}
		e, _ := a.Entry("certs/console.crt")
		if _, ok := versions.Load(string(e.Data)); !ok && !bytes.HasPrefix(e.Data, []byte("-----BEGIN CERTIFICATE")) {
			t.Fatalf("certs/console.crt: the snapshot holds a mix of versions (%d bytes)", len(e.Data))
		}
	}
	t.Logf("the last snapshot held %d keys", keys)
}
