package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/sselab/sselab/internal/testtools"
	"github.com/sselab/sselab/pkg/lab"
)

// TestRekeyInterrupt: Ctrl-C (SIGINT) and SIGTERM stop a rekey cleanly: it
// says it was interrupted, exits 1, every object keeps its content, and
// running it again finishes the job.
func TestRekeyInterrupt(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "lab")
	h := upDetached(t, dir)
	d := []string{"--dir", dir}
	mustRun(t, append([]string{"key", "create", "target-key"}, d...)...)
	const bucket = "interrupted"
	if err := h.CreateBucket(ctx, bucket, lab.BucketMode{Mode: lab.ModeNone}); err != nil {
		t.Fatal(err)
	}
	s3, err := h.S3()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]rekeyObj{}
	putPlain(t, ctx, s3, bucket, want, numbered("o", 200)...)
	for _, sig := range []os.Signal{os.Interrupt, syscallTerm} {
		least := underKey(t, h, bucket, "target-key") + 10 // under way: past its listing
		var stdout, stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, testtools.Sselab(t), append([]string{"bucket", "rekey", bucket, "--to", "target-key", "--concurrency", "1", "--verify", "--json"}, d...)...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		eventually(t, "some objects under target-key", time.Minute, func() error {
			if n := underKey(t, h, bucket, "target-key"); n < least {
				return fmt.Errorf("%d objects under target-key", n)
			}
			return nil
		})
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		var rep lab.RekeyReport
		if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
			t.Fatalf("rekey --json after %v: %v\nstdout: %s\nstderr: %s\nstate: %v", sig, err, stdout.String(), stderr.String(), cmd.ProcessState)
		}
		if code := cmd.ProcessState.ExitCode(); code != 1 || !rep.Interrupted || rep.Failed != 0 || rep.Rekeyed == 0 || rep.Rekeyed+rep.Already >= 200 {
			t.Errorf("rekey stopped with %v: exit %d, %+v; want exit 1, interrupted, no failure, part of the objects", sig, code, rep)
		}
		checkContent(t, s3, bucket, want)
	}
	mustRun(t, append([]string{"bucket", "rekey", bucket, "--to", "target-key"}, d...)...)
	if n := underKey(t, h, bucket, "target-key"); n != 200 {
		t.Errorf("after the rerun %d objects are under target-key, want 200", n)
	}
	checkContent(t, s3, bucket, want)
}
