package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sselab/sselab/pkg/lab"
)

// TestRekeyDiskFull: the disk of the lab fills up half-way through a
// rekey. The rekey stops with one line that says how many objects failed
// and to run it again, and exits 1; every object still reads back
// identical, whether its copy was done or not. Once space is freed, the
// same command finishes the job.
func TestRekeyDiskFull(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	mnt := t.TempDir()
	mountOrSkip(t, "-t", "tmpfs", "-o", "size=96m,mode=0700", "tmpfs", mnt)
	t.Cleanup(func() { unmount(t, mnt) }) // after the lab stops: cleanups run last first
	dir := filepath.Join(mnt, "lab")
	h := upDetached(t, dir)
	d := []string{"--dir", dir}
	mustRun(t, append([]string{"key", "create", "target-key"}, d...)...)
	const bucket = "filling"
	s3, want := plainBucket(t, ctx, h, bucket, numbered("o", 200)...)

	var stdout, stderr bytes.Buffer
	cmd := rekeyUnderWay(t, ctx, h, bucket, "target-key", 10, &stdout, &stderr)
	filler := filepath.Join(mnt, "filler")
	fill(t, filler)
	cmd.Wait()

	var rep lab.RekeyReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("rekey --json on a full disk: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	msg := strings.TrimSpace(stderr.String())
	if code := cmd.ProcessState.ExitCode(); code != 1 || rep.Failed == 0 || rep.Rekeyed == 0 || rep.Rekeyed >= 200 {
		t.Errorf("rekey on a disk that filled up: exit %d, %+v; want exit 1, failures, part of the objects re-encrypted", code, rep)
	}
	if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, "failed") || !strings.Contains(msg, "run the same command again") {
		t.Errorf("rekey on a full disk said %q, want one line that counts the failures and says to run it again", msg)
	}
	t.Logf("rekey on a full disk: %s (%d re-encrypted, %d failed, %d not tried)", msg, rep.Rekeyed, rep.Failed, rep.NotTried)
	checkContent(t, s3, bucket, want)

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	mustRun(t, append([]string{"bucket", "rekey", bucket, "--to", "target-key"}, d...)...)
	if n := underKey(t, h, bucket, "target-key"); n != 200 {
		t.Errorf("after the rerun %d objects are under target-key, want 200", n)
	}
	checkContent(t, s3, bucket, want)
}

// fill writes to path until the file system is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for {
		if _, err = f.Write(chunk); err != nil {
			break
		}
	}
	if !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("filling %s: %v, want no space left on device", path, err)
	}
}
