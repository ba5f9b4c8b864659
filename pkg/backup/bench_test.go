package backup

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/sselab/sselab/pkg/labdir"
)

// BenchmarkBackup1000Keys measures a lab with 1,000 keys of about 200
// bytes each (as KES's file keystore writes them): making a backup
// (snapshot, encryption, sync), verifying it, restoring it into a new
// directory, and putting back all 1,000 keys with --keys-only. The
// passphrase has age's real work factor (scrypt N=2^18, as sselab uses
// it: about a second of each figure, once per backup written or read),
// and a low one (2^10) that shows what the rest costs.
func BenchmarkBackup1000Keys(b *testing.B) {
	saved := scryptWorkFactor
	b.Cleanup(func() { scryptWorkFactor = saved })
	for _, f := range []int{18, 10} {
		b.Run(fmt.Sprintf("scrypt=2^%d", f), func(b *testing.B) {
			scryptWorkFactor = f
			benchmarkBackup1000Keys(b)
		})
	}
}

func benchmarkBackup1000Keys(b *testing.B) {
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%04d", i)
	}
	l := fakeLab(b, "", keys...)
	out := writeBackup(b, l)
	id := passIdentity(b, testPass)

	b.Run("backup", func(b *testing.B) {
		r, err := PassphraseRecipient(testPass)
		must(b, err)
		for i := 0; b.Loop(); i++ {
			a, err := Snapshot(b.Context(), l, Options{})
			must(b, err)
			must(b, WriteFile(filepath.Join(b.TempDir(), fmt.Sprint(i)), a, false, r))
		}
	})
	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			_, err := ReadFile(out, id)
			must(b, err)
		}
	})
	b.Run("restore", func(b *testing.B) {
		for b.Loop() {
			a, err := ReadFile(out, id)
			must(b, err)
			must(b, Restore(a, labdir.Layout{Root: filepath.Join(b.TempDir(), "restored")}))
		}
	})
	b.Run("restore-keys-only", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			must(b, os.RemoveAll(l.KeyStoreDir()))
			b.StartTimer()
			a, err := ReadFile(out, id)
			must(b, err)
			rep, err := RestoreKeys(a, l, false)
			must(b, err)
			if len(rep.Restored) != len(keys) {
				b.Fatalf("restored %d keys", len(rep.Restored))
			}
		}
	})
}
