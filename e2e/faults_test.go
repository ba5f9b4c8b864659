package e2e

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/sselab/sselab/pkg/labdir"
)

// TestMinIOKilledWhileWriting SIGKILLs MinIO ten times while a writer
// puts SSE-KMS objects: the lab brings MinIO back each time, and every
// object the writer was told was stored reads back identical.
func TestMinIOKilledWhileWriting(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "lab")
	h := upDetached(t, dir)
	s3, err := h.S3()
	if err != nil {
		t.Fatal(err)
	}
	const want = 1000
	var (
		mu     sync.Mutex
		stored = map[string][]byte{}
	)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for i := 0; ctx.Err() == nil; i++ {
			mu.Lock()
			n := len(stored)
			mu.Unlock()
			if n >= want {
				return
			}
			name := fmt.Sprintf("obj-%05d", i)
			body := []byte(fmt.Sprintf("object %d %s", i, time.Now()))
			if _, err := s3.PutObject(ctx, labdir.DefaultBucket, name, bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
				time.Sleep(20 * time.Millisecond) // MinIO is restarting
				continue
			}
			mu.Lock()
			stored[name] = body
			mu.Unlock()
		}
	}()

	var slowest time.Duration
	for round := 0; round < 10; round++ {
		st, _ := status(t, dir)
		// Kill a healthy MinIO: up for longer than the 2 s after which
		// the lab stops counting it toward a crash loop.
		time.Sleep(2500 * time.Millisecond)
		killedAt := time.Now()
		kill(t, st.MinIO.PID)
		deadline := killedAt.Add(60 * time.Second)
		for {
			now, code := status(t, dir)
			if code == 0 && now.MinIO.PID != st.MinIO.PID {
				slowest = max(slowest, time.Since(killedAt))
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("kill %d: MinIO not ready 60 s after SIGKILL: %+v", round+1, now.MinIO)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	t.Logf("slowest return to ready after a SIGKILL: %v (status polled every 50 ms)", slowest)
	<-writerDone
	mu.Lock()
	defer mu.Unlock()
	if len(stored) < want {
		t.Fatalf("the writer stored %d objects before the deadline, want %d", len(stored), want)
	}
	for name, body := range stored {
		if got := readObject(t, s3, labdir.DefaultBucket, name, minio.GetObjectOptions{}); !bytes.Equal(got, body) {
			t.Fatalf("%s: got %q, want %q", name, got, body)
		}
	}
}
