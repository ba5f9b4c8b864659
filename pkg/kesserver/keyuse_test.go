package kesserver

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestKeyUse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path, op, key string
		ok            bool
	}{
		{"/v1/key/generate/sselab-key", "generate", "sselab-key", true},
		{"/v1/key/decrypt/k", "decrypt", "k", true},
		{"/v1/key/encrypt/k", "encrypt", "k", true},
		{"/v1/key/hmac/k", "hmac", "k", true},
		{"/v1/key/generate/", "", "", false},
		{"/v1/key/create/k", "", "", false},
		{"/v1/key/describe/k", "", "", false},
		{"/v1/status", "", "", false},
	}
	for _, tt := range tests {
		op, key, ok := keyUse(tt.path)
		if op != tt.op || key != tt.key || ok != tt.ok {
			t.Errorf("keyUse(%q): got %q %q %v, want %q %q %v", tt.path, op, key, ok, tt.op, tt.key, tt.ok)
		}
	}
}

// TestKeyUseAudited: with the KES this binary links, each generate and
// decrypt is in the audit log with the caller's identity, also after
// FlushCache (which gives KES a new request router); a refused generate
// is there once, as a refusal, not as a use.
func TestKeyUseAudited(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	l := newLab(t)
	s := start(t, ctx, l.cfg)
	if err := s.KeyUseAudited(); err != nil {
		t.Fatalf("KeyUseAudited: %v (the KES module changed: see recordKeyUse)", err)
	}
	op, minio := l.client(t, s, l.pki.Operator), l.client(t, s, l.pki.MinIOClient)
	if err := op.CreateKey(ctx, "use-1"); err != nil {
		t.Fatal(err)
	}
	dek, err := minio.GenerateKey(ctx, "use-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := minio.Decrypt(ctx, "use-1", dek.Ciphertext, nil); err != nil {
		t.Fatal(err)
	}
	id := l.pki.MinIOClient.Identity()
	log := l.cfg.AuditLogFile
	waitLogLine(t, ctx, log, `"msg":"secret key 'use-1' used: generate"`, `"path":"/v1/key/generate/use-1"`, `"identity":"`+id+`"`, `"code":200`)
	waitLogLine(t, ctx, log, `"msg":"secret key 'use-1' used: decrypt"`, `"identity":"`+id+`"`)

	if err := s.FlushCache(); err != nil {
		t.Fatal(err)
	}
	if _, err := minio.GenerateKey(ctx, "use-1", nil); err != nil {
		t.Fatal(err)
	}
	eventuallyCount(t, log, "secret key 'use-1' used: generate", 2)

	// MinIO may not delete: refused, and logged as a refusal only.
	if err := minio.DeleteKey(ctx, "use-1"); err == nil {
		t.Fatal("the MinIO identity deleted a key")
	}
	waitLogLine(t, ctx, log, `"path":"/v1/key/delete/use-1"`, `"code":403`)
	data, _ := os.ReadFile(log)
	if n := strings.Count(string(data), `/v1/key/delete/use-1`); n != 1 {
		t.Errorf("the refused delete is in the audit log %d times, want once:\n%s", n, data)
	}
}

// eventuallyCount waits until path holds want occurrences of s.
func eventuallyCount(t *testing.T, path, s string, want int) {
	t.Helper()
	deadline := time.Now().Add(pollTimeout)
	for {
		data, _ := os.ReadFile(path)
		n := strings.Count(string(data), s)
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %q %d times, want %d:\n%s", path, s, n, want, data)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
