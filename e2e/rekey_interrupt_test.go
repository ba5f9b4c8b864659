package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

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
	s3, want := plainBucket(t, ctx, h, bucket, numbered("o", 200)...)
	for _, sig := range []os.Signal{os.Interrupt, syscallTerm} {
		var stdout, stderr bytes.Buffer
		cmd := rekeyUnderWay(t, ctx, h, bucket, "target-key", 10, &stdout, &stderr)
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
