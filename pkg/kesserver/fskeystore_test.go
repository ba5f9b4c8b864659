package kesserver

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/minio/kes"
	"github.com/minio/kes/kesconf"
	kesapi "github.com/minio/kms-go/kes"
)

// TestFSKeyStoreSameFilesAsKES writes keys with FSKeyStore and with the
// file keystore of 'kes server' (kesconf, linked into this test only) in
// one directory, and reads each with the other: a lab's keystore and one
// made by KES itself are the same thing.
func TestFSKeyStoreSameFilesAsKES(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	dir := filepath.Join(t.TempDir(), "keys")
	ours, err := OpenFSKeyStore(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := (&kesconf.FSKeyStore{Path: dir}).Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer theirs.Close()
	if runtime.GOOS != "windows" {
		if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
			t.Errorf("keystore directory mode %v, want 0700", fi.Mode().Perm())
		}
	}

	stores := map[string]kes.KeyStore{"sselab": ours, "kes": theirs}
	for writer, w := range stores {
		for reader, r := range stores {
			name := writer + "-to-" + reader
			value := []byte("key material of " + name)
			if err := w.Create(ctx, name, value); err != nil {
				t.Fatalf("%s Create %s: %v", writer, name, err)
			}
			got, err := r.Get(ctx, name)
			if err != nil || !bytes.Equal(got, value) {
				t.Errorf("%s Get of %s's key: got %q, %v; want %q", reader, writer, got, err, value)
			}
			if err := r.Create(ctx, name, []byte("other")); !errors.Is(err, kesapi.ErrKeyExists) {
				t.Errorf("%s Create over %s's key: got %v, want ErrKeyExists", reader, writer, err)
			}
		}
	}
	for name, s := range stores {
		names, next, err := s.List(ctx, "kes-", 0)
		if err != nil || next != "" || !slices.Equal(names, []string{"kes-to-kes", "kes-to-sselab"}) {
			t.Errorf("%s List kes-: got %q, %q, %v", name, names, next, err)
		}
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(filepath.Join(dir, "sselab-to-kes"))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("key file mode: %v, %v; want 0600", fi.Mode(), err)
		}
	}
	if err := ours.Delete(ctx, "kes-to-sselab"); err != nil {
		t.Fatal(err)
	}
	if _, err := theirs.Get(ctx, "kes-to-sselab"); !errors.Is(err, kesapi.ErrKeyNotFound) {
		t.Errorf("kes Get after sselab's Delete: got %v, want ErrKeyNotFound", err)
	}
	if err := ours.Delete(ctx, "kes-to-sselab"); !errors.Is(err, kesapi.ErrKeyNotFound) {
		t.Errorf("Delete of a missing key: got %v, want ErrKeyNotFound", err)
	}
}

func TestFSKeyStoreRefusesNames(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	s, err := OpenFSKeyStore(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", "a/b", `a\b`, "..", "a.b"} {
		if err := s.Create(ctx, name, []byte("x")); err == nil {
			t.Errorf("Create(%q): got nil, want an error", name)
		}
		if _, err := s.Get(ctx, name); err == nil || errors.Is(err, kesapi.ErrKeyNotFound) {
			t.Errorf("Get(%q): got %v, want an invalid-name error", name, err)
		}
	}
}

func TestListNames(t *testing.T) {
	t.Parallel()
	many := make([]string, listLimit+2)
	for i := range many {
		many[i] = fmt.Sprintf("k%05d", i)
	}
	tests := []struct {
		names      []string
		prefix     string
		n          int
		want       []string
		wantNext   string
		wantLength int
	}{
		{names: []string{"b", "a", "c"}, want: []string{"a", "b", "c"}},
		{names: []string{"b", "ab", "aa", "c"}, prefix: "a", want: []string{"aa", "ab"}},
		{names: []string{"b", "ab", "aa", "ac"}, prefix: "a", n: 2, want: []string{"aa", "ab"}, wantNext: "ac"},
		{names: []string{"x"}, prefix: "a", want: []string{}},
		{names: many, wantLength: listLimit, wantNext: many[listLimit]},
	}
	for _, tt := range tests {
		got, next, err := ListNames(tt.names, tt.prefix, tt.n)
		if err != nil || next != tt.wantNext {
			t.Errorf("ListNames(%d names, %q, %d): next %q, %v; want %q", len(tt.names), tt.prefix, tt.n, next, err, tt.wantNext)
		}
		if tt.wantLength > 0 {
			if len(got) != tt.wantLength {
				t.Errorf("ListNames of %d names: got %d, want %d", len(tt.names), len(got), tt.wantLength)
			}
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("ListNames(%q, %q, %d): got %q, want %q", tt.names, tt.prefix, tt.n, got, tt.want)
		}
	}
}

// TestFSKeyStoreListsOnlyKeys: a key file still being written (under its
// temporary name) is not a key KES lists.
func TestFSKeyStoreListsOnlyKeys(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	dir := t.TempDir()
	s, err := OpenFSKeyStore(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, "k1", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".tmp-k2-123"), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	names, _, err := s.List(ctx, "", -1)
	if err != nil || len(names) != 1 || names[0] != "k1" {
		t.Errorf("List: %v, %v; want only k1", names, err)
	}
}
