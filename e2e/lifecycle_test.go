package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/encrypt"

	"github.com/sselab/sselab/internal/proc"
	"github.com/sselab/sselab/internal/testtools"
	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/labdir"
)

// putMarker writes a small object through the bucket's default
// encryption and returns its content.
func putMarker(t *testing.T, h *lab.Handle, bucket, name string) []byte {
	t.Helper()
	s3, err := h.S3()
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("object " + name + " " + time.Now().String())
	if _, err := s3.PutObject(t.Context(), bucket, name, bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
		t.Fatalf("put %s/%s: %v", bucket, name, err)
	}
	return body
}

// status runs `sselab status --json`.
func status(t *testing.T, dir string) (lab.Status, int) {
	t.Helper()
	st, r := statusJSON(t, dir)
	return st, r.code
}

// statusJSON runs `sselab status --json` and decodes it.
func statusJSON(t *testing.T, dir string) (lab.Status, result) {
	t.Helper()
	r := sselab(t, "status", "--json", "--dir", dir)
	var st lab.Status
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("status --json: %v\n%s\n%s", err, r.stdout, r.stderr)
	}
	return st, r
}

// TestMinIOCrashIsRestarted kills MinIO; the lab restarts it and the data
// stays readable.
func TestMinIOCrashIsRestarted(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "lab")
	h := upDetached(t, dir)
	body := putMarker(t, h, labdir.DefaultBucket, "before-crash")
	st, _ := status(t, dir)
	kill(t, st.MinIO.PID)
	deadline := time.Now().Add(30 * time.Second)
	for {
		now, code := status(t, dir)
		if code == 0 && now.MinIO.Restarts == 1 && now.MinIO.PID != st.MinIO.PID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("MinIO not back 30s after SIGKILL: %+v", now.MinIO)
		}
		time.Sleep(100 * time.Millisecond)
	}
	s3, _ := h.S3()
	if got := readObject(t, s3, labdir.DefaultBucket, "before-crash", minio.GetObjectOptions{}); !bytes.Equal(got, body) {
		t.Errorf("after the restart: got %q, want %q", got, body)
	}
	waitGone(t, st.MinIO.PID)
}

// TestKilledSselabTakesMinIOWithIt SIGKILLs sselab: MinIO must not outlive
// it, and the next up on the directory finds everything again.
func TestKilledSselabTakesMinIOWithIt(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "lab")
	h := upDetached(t, dir)
	body := putMarker(t, h, labdir.DefaultBucket, "before-kill")
	st, _ := status(t, dir)
	kill(t, st.PID)
	deadline := time.Now().Add(2 * time.Second)
	for proc.Alive(st.MinIO.PID) {
		if time.Now().After(deadline) {
			kill(t, st.MinIO.PID)
			t.Fatalf("MinIO (pid %d) still runs 2s after sselab was killed", st.MinIO.PID)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, code := status(t, dir); code == 0 {
		t.Error("status after sselab was killed: exit 0, want non-zero")
	}

	h2 := upDetached(t, dir)
	s3, _ := h2.S3()
	if got := readObject(t, s3, labdir.DefaultBucket, "before-kill", minio.GetObjectOptions{}); !bytes.Equal(got, body) {
		t.Errorf("after the next up: got %q, want %q", got, body)
	}
}

// TestForegroundInterrupt runs `sselab up` in the foreground and stops it
// with Ctrl-C (SIGINT): MinIO stops, sselab exits 0 and says so.
func TestForegroundInterrupt(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "lab")
	cmd := exec.Command(testtools.Sselab(t), append([]string{"up", "--dir", dir}, freePorts...)...)
	cmd.Env = append(os.Environ(), "SSELAB_MINIO="+testtools.MinIO(t))
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stdout)
	ready := false
	for !ready && sc.Scan() {
		ready = strings.Contains(sc.Text(), "the lab is ready")
	}
	if !ready {
		cmd.Wait()
		t.Fatalf("sselab up never became ready:\n%s", stderr.String())
	}
	go func() {
		for sc.Scan() {
		}
	}()
	st, _ := status(t, dir)
	cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("sselab up after Ctrl-C: %v, want exit 0\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("sselab up did not stop within 30s of Ctrl-C")
	}
	if !strings.Contains(stderr.String(), "lab stopped") {
		t.Errorf("stderr: got %q, want it to say the lab stopped", stderr.String())
	}
	if proc.Alive(st.MinIO.PID) {
		t.Errorf("MinIO (pid %d) still runs after sselab exited", st.MinIO.PID)
	}
	if _, err := os.Stat(labdir.Layout{Root: dir}.StateFile()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state file after Ctrl-C: %v, want it removed", err)
	}
}

// TestSettingsAndHTTP uses a custom key, two buckets and plain HTTP, and
// checks a later up without flags remembers them.
func TestSettingsAndHTTP(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "lab")
	h := upDetached(t, dir, "--http", "--key", "photos-key", "--bucket", "photos", "--bucket", "backups")
	if !strings.HasPrefix(h.State.S3Endpoint, "http://") {
		t.Errorf("S3 endpoint with --http: got %s, want http://", h.State.S3Endpoint)
	}
	check := func(t *testing.T) {
		st, code := status(t, dir)
		if code != 0 || st.Key.Name != "photos-key" || !st.Key.Present {
			t.Errorf("status: exit %d, key %+v; want ready with photos-key", code, st.Key)
		}
		var names []string
		for _, b := range st.Buckets {
			names = append(names, b.Name)
			if b.Encryption.Algorithm != "aws:kms" || b.Encryption.KeyID != "photos-key" {
				t.Errorf("bucket %s: got %+v, want aws:kms photos-key", b.Name, b.Encryption)
			}
		}
		if want := []string{"backups", "photos"}; !slices.Equal(names, want) {
			t.Errorf("buckets: got %v, want %v", names, want)
		}
	}
	check(t)
	body := putMarker(t, h, "photos", "p1")

	// SSE-C needs TLS: MinIO refuses it over plain HTTP.
	s3, _ := h.S3()
	key, _ := encrypt.NewSSEC(bytes.Repeat([]byte{1}, 32))
	if _, err := s3.PutObject(context.Background(), "photos", "ssec", bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{ServerSideEncryption: key}); err == nil {
		t.Error("SSE-C over plain HTTP: got success, want MinIO to refuse it")
	}

	mustRun(t, "down", "--dir", dir)
	h2 := upDetached(t, dir) // no flags: remembered
	if !strings.HasPrefix(h2.State.S3Endpoint, "http://") {
		t.Errorf("second up: S3 endpoint %s, want http:// remembered", h2.State.S3Endpoint)
	}
	check(t)
	s3, _ = h2.S3()
	if got := readObject(t, s3, "photos", "p1", minio.GetObjectOptions{}); !bytes.Equal(got, body) {
		t.Errorf("after down and up: got %q, want %q", got, body)
	}
}

// kill kills process pid at once (SIGKILL on Unix).
func kill(t *testing.T, pid int) {
	t.Helper()
	p, err := os.FindProcess(pid)
	if err == nil {
		err = p.Kill()
	}
	if err != nil {
		t.Fatalf("kill %d: %v", pid, err)
	}
}
