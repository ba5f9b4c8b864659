package kesserver

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	kesapi "github.com/minio/kms-go/kes"
)

func TestKeyStoreDirMode(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("file modes are a unix concept")
	}
	ctx := testContext(t)
	l := newLab(t)
	l.cfg.KeyStoreDir = filepath.Join(l.dir, "state", "kes", "keys") // parents missing too
	s := start(t, ctx, l.cfg)

	for _, dir := range []string{l.cfg.KeyStoreDir, filepath.Dir(l.cfg.KeyStoreDir), filepath.Dir(l.cfg.AuditLogFile)} {
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode(); !got.IsDir() || got.Perm() != 0o700 {
			t.Errorf("mode of %s: got %v, want drwx------", dir, got)
		}
	}

	// Something in both logs, then their modes.
	if err := l.client(t, s, l.pki.Operator).CreateKey(ctx, "mode"); err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	for _, f := range []string{l.cfg.AuditLogFile, l.cfg.ErrorLogFile} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("mode of %s: got %v, want -rw-------", f, got)
		}
	}
}

// TestKeysPersist checks that a key outlives the server: what was
// encrypted before a restart on the same KeyStoreDir decrypts after it.
func TestKeysPersist(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	l := newLab(t)
	const name = "persist"

	s1, err := Start(ctx, l.cfg)
	if err != nil {
		t.Fatalf("first Start: %v", err)
	}
	c1 := l.client(t, s1, l.pki.Operator)
	if err := c1.CreateKey(ctx, name); err != nil {
		s1.Close()
		t.Fatalf("CreateKey: %v", err)
	}
	assoc := []byte("bucket/object")
	dek, err := c1.GenerateKey(ctx, name, assoc)
	if err != nil {
		s1.Close()
		t.Fatalf("GenerateKey: %v", err)
	}
	c1.HTTPClient.CloseIdleConnections()
	if err := s1.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}

	s2 := start(t, ctx, l.cfg)
	c2 := l.client(t, s2, l.pki.Operator)
	plain, err := c2.Decrypt(ctx, name, dek.Ciphertext, assoc)
	if err != nil {
		t.Fatalf("Decrypt after restart: %v", err)
	}
	if !bytes.Equal(plain, dek.Plaintext) {
		t.Errorf("Decrypt after restart: got %x, want %x", plain, dek.Plaintext)
	}
	info, err := c2.DescribeKey(ctx, name)
	if err != nil {
		t.Fatalf("DescribeKey after restart: %v", err)
	}
	if got, want := info.CreatedBy, kesapi.Identity(l.pki.Operator.Identity()); got != want {
		t.Errorf("key created by: got %s, want the operator %s", got, want)
	}
	names, _, err := c2.ListKeys(ctx, "*", -1)
	if err != nil {
		t.Fatalf("ListKeys after restart: %v", err)
	}
	if !slices.Contains(names, name) {
		t.Errorf("ListKeys after restart: got %q, want it to contain %q", names, name)
	}
	if err := c2.CreateKey(ctx, name); !isErr(err, kesapi.ErrKeyExists) {
		t.Errorf("CreateKey %q again after restart: got %v, want %v", name, err, kesapi.ErrKeyExists)
	}
}

// isErr reports whether err is the KES API error want (same status, same
// message).
func isErr(err error, want kesapi.Error) bool {
	var e kesapi.Error
	return errors.As(err, &e) && e.Status() == want.Status() && e.Error() == want.Error()
}
