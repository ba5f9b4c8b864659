package keystore

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sselab/sselab/pkg/kesserver"
	"github.com/sselab/sselab/pkg/labdir"
)

var testKDF = kesserver.KDFParams{Time: 1, MemoryKiB: 1 << 10, Threads: 1}

// plainLab makes a stopped lab directory whose keystore in DIR holds keys
// of random content, and returns the keys.
func plainLab(t *testing.T) (labdir.Layout, map[string][]byte) {
	t.Helper()
	l := labdir.Layout{Root: filepath.Join(t.TempDir(), "lab")}
	if err := os.MkdirAll(l.Root, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := labdir.WriteJSON(l.SettingsFile(), labdir.Settings{Key: "sselab-key", Buckets: []string{"encrypted"}}); err != nil {
		t.Fatal(err)
	}
	ks, err := kesserver.OpenFSKeyStore(t.Context(), l.KeyStoreDir())
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string][]byte{}
	for i := range 20 {
		name := fmt.Sprintf("key-%02d", i)
		keys[name] = []byte(rand.Text() + rand.Text())
		if err := ks.Create(t.Context(), name, keys[name]); err != nil {
			t.Fatal(err)
		}
	}
	return l, keys
}

// labKeys returns the keys of the keystore the lab's settings name, as
// the next 'up' would find them.
func labKeys(t *testing.T, l labdir.Layout, pass []byte) (string, map[string][]byte) {
	t.Helper()
	var s labdir.Settings
	if err := labdir.ReadJSON(l.SettingsFile(), &s); err != nil {
		t.Fatal(err)
	}
	kind := KindOf(s.Keystore)
	got := map[string][]byte{}
	names, err := kesserver.KeyNames(map[string]string{KindFS: l.KeyStoreDir(), KindSealed: l.SealedKeyStoreDir()}[kind])
	if err != nil {
		t.Fatal(err)
	}
	switch kind {
	case KindFS:
		for _, n := range names {
			got[n], _ = os.ReadFile(filepath.Join(l.KeyStoreDir(), n))
		}
	case KindSealed:
		ks, err := kesserver.OpenSealedKeyStore(t.Context(), l.SealedKeyStoreDir(), pass)
		if err != nil {
			t.Fatalf("the lab's sealed keystore does not open: %v", err)
		}
		for _, n := range names {
			if got[n], err = ks.Get(t.Context(), n); err != nil {
				t.Fatal(err)
			}
		}
	}
	return kind, got
}

func sameKeyMaps(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !bytes.Equal(b[k], v) {
			return false
		}
	}
	return true
}

var errCrash = errors.New("crashed")

// TestSealAtRestCrash stops the conversion after each of its steps, as a
// crash would: the keystore the lab would start with holds every key
// then, and a second run finishes the conversion.
func TestSealAtRestCrash(t *testing.T) {
	t.Parallel()
	pass := []byte("correct horse battery")
	for _, stop := range []string{StepCopying, StepCopied, StepPublished, StepSwitched, StepRemoving, StepRemoved, ""} {
		t.Run("after "+stop, func(t *testing.T) {
			t.Parallel()
			l, keys := plainLab(t)
			err := SealAtRest(t.Context(), l, pass, testKDF, func(step string) error {
				if step == stop {
					return errCrash
				}
				return nil
			})
			if stop != "" && !errors.Is(err, errCrash) || stop == "" && err != nil {
				t.Fatalf("SealAtRest: %v", err)
			}
			kind, got := labKeys(t, l, pass)
			if !sameKeyMaps(got, keys) {
				t.Fatalf("after a stop %s the lab's %s keystore holds %d keys, not the %d it had", stop, kind, len(got), len(keys))
			}
			if stop != "" && stop != StepRemoved {
				if err := SealAtRest(t.Context(), l, pass, testKDF, nil); err != nil {
					t.Fatalf("second run: %v", err)
				}
			}
			kind, got = labKeys(t, l, pass)
			if kind != KindSealed || !sameKeyMaps(got, keys) {
				t.Errorf("finished: kind %s, %d keys; want the sealed keystore with all %d", kind, len(got), len(keys))
			}
			if _, err := os.Stat(l.KeyStoreDir()); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the plaintext keystore is still there: %v", err)
			}
			if left, _ := filepath.Glob(filepath.Join(l.KESDir(), ".sealed*")); len(left) > 0 {
				t.Errorf("left behind: %v", left)
			}
			if err := SealAtRest(t.Context(), l, pass, testKDF, nil); err == nil || !strings.Contains(err.Error(), "sealed at rest already") {
				t.Errorf("a third run: %v, want 'sealed at rest already'", err)
			}
		})
	}
}

// TestSealAtRestRefusals: the conversion changes nothing it cannot finish.
func TestSealAtRestRefusals(t *testing.T) {
	t.Parallel()
	l, keys := plainLab(t)
	// Stopped after publishing with one passphrase, resumed with another.
	SealAtRest(t.Context(), l, []byte("first passphrase"), testKDF, func(step string) error {
		if step == StepPublished {
			return errCrash
		}
		return nil
	})
	err := SealAtRest(t.Context(), l, []byte("other passphrase"), testKDF, nil)
	if err == nil || !strings.Contains(err.Error(), "the passphrase does not open it") {
		t.Errorf("resumed with another passphrase: %v", err)
	}
	if kind, got := labKeys(t, l, nil); kind != KindFS || !sameKeyMaps(got, keys) {
		t.Errorf("after the refusal: kind %s with %d keys; want the plaintext keystore untouched", kind, len(got))
	}

	v := labdir.Layout{Root: t.TempDir()}
	labdir.WriteJSON(v.SettingsFile(), labdir.Settings{Keystore: labdir.Keystore{KMS: KindVault}})
	if err := SealAtRest(t.Context(), v, []byte("passphrase"), testKDF, nil); err == nil || !strings.Contains(err.Error(), "kind vault") {
		t.Errorf("a Vault lab: %v", err)
	}
}

// TestSealAtRestKilled runs the conversion in a child process that kills
// itself (SIGKILL on Unix) right after each step, then checks what a
// crash leaves: the keystore the next 'up' would use holds every key,
// and a second run finishes the conversion.
func TestSealAtRestKilled(t *testing.T) {
	if dir := os.Getenv("SSELAB_TEST_CONVERT_DIR"); dir != "" {
		killAt := os.Getenv("SSELAB_TEST_CONVERT_KILL")
		SealAtRest(context.Background(), labdir.Layout{Root: dir}, []byte("correct horse battery"), testKDF, func(step string) error {
			if step == killAt {
				killSelf()
			}
			return nil
		})
		os.Exit(0)
	}
	t.Parallel()
	pass := []byte("correct horse battery")
	for _, step := range []string{StepCopying, StepCopied, StepPublished, StepSwitched, StepRemoving, StepRemoved} {
		t.Run("killed after "+step, func(t *testing.T) {
			t.Parallel()
			l, keys := plainLab(t)
			cmd := exec.Command(os.Args[0], "-test.run=^TestSealAtRestKilled$")
			cmd.Env = append(os.Environ(), "SSELAB_TEST_CONVERT_DIR="+l.Root, "SSELAB_TEST_CONVERT_KILL="+step)
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.Success() {
				t.Fatalf("the child was not killed: %v", err)
			}
			kind, got := labKeys(t, l, pass)
			if !sameKeyMaps(got, keys) {
				t.Fatalf("killed after %s: the lab's %s keystore holds %d keys, not the %d it had", step, kind, len(got), len(keys))
			}
			if step != StepRemoved {
				if err := SealAtRest(t.Context(), l, pass, testKDF, nil); err != nil {
					t.Fatalf("second run: %v", err)
				}
			}
			if kind, got := labKeys(t, l, pass); kind != KindSealed || !sameKeyMaps(got, keys) {
				t.Errorf("finished: kind %s with %d keys, want the sealed keystore with all %d", kind, len(got), len(keys))
			}
		})
	}
}
