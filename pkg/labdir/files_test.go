package labdir

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sselab/sselab/internal/testtools"
)

func TestLoadOrCreateCredentials(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "credentials.json")
	first, err := LoadOrCreateCredentials(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(first.RootUser, "sselab-") || len(first.RootUser) != len("sselab-")+8 {
		t.Errorf("root user: got %q, want sselab- and 8 random characters", first.RootUser)
	}
	if first.RootUser != strings.ToLower(first.RootUser) {
		t.Errorf("root user: got %q, want lower case", first.RootUser)
	}
	// MinIO wants a password of at least 8 characters.
	if len(first.RootPassword) < 20 {
		t.Errorf("root password: got %d characters, want at least 20", len(first.RootPassword))
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("credentials file: %v", err)
	}
	if runtime.GOOS != "windows" {
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("credentials file mode: got %v, want 0600", got)
		}
	}
	var onDisk Credentials
	if err := ReadJSON(path, &onDisk); err != nil {
		t.Fatal(err)
	}
	if onDisk != first {
		t.Errorf("on disk: got %+v, want %+v", onDisk, first)
	}

	second, err := LoadOrCreateCredentials(path)
	if err != nil {
		t.Fatal(err)
	}
	if second != first {
		t.Errorf("second call: got %+v, want the first %+v", second, first)
	}

	other, err := LoadOrCreateCredentials(filepath.Join(t.TempDir(), "credentials.json"))
	if err != nil {
		t.Fatal(err)
	}
	if other.RootUser == first.RootUser || other.RootPassword == first.RootPassword {
		t.Errorf("two fresh directories: got %+v and %+v, want different credentials", first, other)
	}
}

func TestLoadOrCreateCredentialsBadFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, content string
		want          string
	}{
		{"empty values", `{"root_user": "", "root_password": ""}`, "no usable root credentials"},
		{"no user", `{"root_password": "longenoughpassword"}`, "no usable root credentials"},
		{"short password", `{"root_user": "u", "root_password": "short"}`, "no usable root credentials"},
		{"empty object", `{}`, "no usable root credentials"},
		{"not json", `root_user=u`, "damaged"},
		{"empty file", ``, "damaged"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "credentials.json")
			testtools.WriteFile(t, path, tt.content)
			_, err := LoadOrCreateCredentials(path)
			testtools.WantErrContains(t, err, path, tt.want)
			// A bad file is the user's to fix: never overwritten.
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(data) != tt.content {
				t.Errorf("after the error: file holds %q, want %q untouched", data, tt.content)
			}
		})
	}
}

func TestLoadOrCreateCredentialsNoDir(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "missing", "credentials.json")
	if _, err := LoadOrCreateCredentials(path); err == nil {
		t.Errorf("in a missing directory: got nil error, want one")
	}
}

func TestReadWriteJSON(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "settings.json")
	want := Settings{Address: "a:1", Key: "k", Buckets: []string{"b1", "b2"}, HTTP: true}
	if err := WriteJSON(path, want); err != nil {
		t.Fatal(err)
	}
	var got Settings
	if err := ReadJSON(path, &got); err != nil {
		t.Fatal(err)
	}
	if got.Address != want.Address || got.Key != want.Key || !got.HTTP || strings.Join(got.Buckets, ",") != "b1,b2" {
		t.Errorf("round trip: got %+v, want %+v", got, want)
	}
	// Atomic writes leave no temporary file behind.
	if names := testtools.Entries(t, dir); len(names) != 1 {
		t.Errorf("directory after writeJSON: got %q, want only settings.json", names)
	}

	err := ReadJSON(filepath.Join(dir, "missing.json"), &got)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("readJSON(missing): got %v, want fs.ErrNotExist", err)
	}
}

// TestWriteJSONKeepsSameContent: writing what a file holds already leaves
// the file alone (no sync for unchanged settings at every start); other
// content replaces it.
func TestWriteJSONKeepsSameContent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "settings.json")
	if err := WriteJSON(path, Settings{Key: "k"}); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSON(path, Settings{Key: "k"}); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); !fi.ModTime().Equal(old) {
		t.Errorf("the same settings rewrote the file (modified %v)", fi.ModTime())
	}
	if err := WriteJSON(path, Settings{Key: "other"}); err != nil {
		t.Fatal(err)
	}
	var got Settings
	if err := ReadJSON(path, &got); err != nil || got.Key != "other" {
		t.Errorf("after new settings: %+v, %v", got, err)
	}
}
