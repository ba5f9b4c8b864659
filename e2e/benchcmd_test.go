package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/sselab/sselab/internal/testtools"
	"github.com/sselab/sselab/pkg/bench"
	"github.com/sselab/sselab/pkg/lab"
)

// benchBuckets returns the buckets of the lab whose name bench uses.
func benchBuckets(t *testing.T, h *lab.Handle) []string {
	t.Helper()
	s3, err := h.S3()
	if err != nil {
		t.Fatal(err)
	}
	buckets, err := s3.ListBuckets(t.Context())
	if err != nil {
		t.Fatalf("ListBuckets: %v", err)
	}
	var names []string
	for _, b := range buckets {
		if strings.HasPrefix(b.Name, bench.BucketPrefix) {
			names = append(names, b.Name)
		}
	}
	return names
}

// progressLines are bench's plain progress lines, which a run that lasts
// more than a few seconds writes on a standard error that is not a
// terminal.
var progressLines = regexp.MustCompile(`(?m)^bench( \d+/\d+ [^:]*)?: \d+%, \S+ elapsed\n`)

func TestBenchCommand(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "lab")
	h := upDetached(t, dir)

	t.Run("json", func(t *testing.T) {
		r := mustRun(t, "bench", "--dir", dir, "--duration", "1s", "--sizes", "4KiB", "--modes", "none,sse-kms", "--json")
		// The shape, as a script sees it.
		var raw map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &raw); err != nil {
			t.Fatalf("bench --json: %v\n%s", err, r.stdout)
		}
		for _, k := range []string{"s3_endpoint", "bucket", "kes_endpoint", "kes_key", "concurrency", "duration_seconds", "s3", "kes", "skipped"} {
			if _, ok := raw[k]; !ok {
				t.Errorf("bench --json: no field %q in %s", k, r.stdout)
			}
		}
		s3 := raw["s3"].([]any)
		if len(s3) != 4 {
			t.Fatalf("bench --json: %d s3 results, want 4 (none and sse-kms, put and get)", len(s3))
		}
		for _, res := range s3 {
			m := res.(map[string]any)
			for _, k := range []string{"mode", "size", "size_bytes", "op", "ops", "seconds", "objects_per_sec", "mib_per_sec", "latency_ms"} {
				if _, ok := m[k]; !ok {
					t.Errorf("s3 result %v: no field %q", m, k)
				}
			}
			lat, _ := m["latency_ms"].(map[string]any)
			for _, k := range []string{"p50", "p90", "p99"} {
				if _, ok := lat[k].(float64); !ok {
					t.Errorf("s3 result %v: latency_ms.%s is not a number", m, k)
				}
			}
		}

		var rep bench.Report
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, res := range rep.S3 {
			got = append(got, string(res.Mode)+" "+res.Size+" "+res.Op)
			if res.Ops < rep.Concurrency || res.ObjectsPerSec <= 0 || res.MiBPerSec <= 0 || res.LatencyMS.P50 <= 0 {
				t.Errorf("%s %s %s: %d ops, %v objects/s, %v MiB/s, p50 %v ms; want at least one op per worker", res.Mode, res.Size, res.Op, res.Ops, res.ObjectsPerSec, res.MiBPerSec, res.LatencyMS.P50)
			}
		}
		if want := []string{"none 4KiB put", "none 4KiB get", "sse-kms 4KiB put", "sse-kms 4KiB get"}; !slices.Equal(got, want) {
			t.Errorf("s3 results: got %q, want %q", got, want)
		}
		if len(rep.KES) != 2 || rep.KES[0].Op != "generate" || rep.KES[1].Op != "decrypt" {
			t.Fatalf("kes results: got %+v, want generate and decrypt", rep.KES)
		}
		for _, res := range rep.KES {
			if res.Ops == 0 || res.OpsPerSec <= 0 {
				t.Errorf("KES %s: %d ops, %v ops/s; want some", res.Op, res.Ops, res.OpsPerSec)
			}
		}
		if rep.KESKey != h.State.Key || rep.S3Endpoint != h.State.S3Endpoint || rep.Concurrency != bench.DefaultConcurrency {
			t.Errorf("report: key %q, endpoint %q, concurrency %d; want %q, %q, %d", rep.KESKey, rep.S3Endpoint, rep.Concurrency, h.State.Key, h.State.S3Endpoint, bench.DefaultConcurrency)
		}
		if len(rep.Skipped) != 0 {
			t.Errorf("skipped on a TLS lab: %+v", rep.Skipped)
		}
		if !strings.HasPrefix(rep.Bucket, bench.BucketPrefix) {
			t.Errorf("bucket %q: want the prefix %s", rep.Bucket, bench.BucketPrefix)
		}
		if left := benchBuckets(t, h); len(left) != 0 {
			t.Errorf("bench buckets left behind: %v", left)
		}
		if rest := progressLines.ReplaceAllString(r.stderr, ""); rest != "" {
			t.Errorf("stderr (not a terminal: plain progress lines only): %q", r.stderr)
		}
	})

	t.Run("table", func(t *testing.T) {
		r := mustRun(t, "bench", "--dir", dir, "--duration", "200ms", "--sizes", "1KiB", "--modes", "sse-s3", "--concurrency", "2")
		for _, want := range []string{"2 workers, 200ms per phase, bucket sselab-bench-", "sse-s3  1KiB  PUT", "sse-s3  1KiB  GET", "generate", "decrypt"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("bench output lacks %q:\n%s", want, r.stdout)
			}
		}
	})

	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		t.Run(sig.String()+" removes the bucket", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, testtools.Sselab(t), "bench", "--dir", dir, "--duration", "10m", "--sizes", "4KiB", "--modes", "sse-kms")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Wait until bench has written objects, then interrupt it.
			s3, err := h.S3()
			if err != nil {
				t.Fatal(err)
			}
			bucket := ""
			for bucket == "" {
				if ctx.Err() != nil {
					t.Fatalf("bench wrote nothing in time; stderr %q", stderr.String())
				}
				for _, b := range benchBuckets(t, h) {
					for o := range s3.ListObjects(ctx, b, minio.ListObjectsOptions{Prefix: "sse-kms/", Recursive: true, MaxKeys: 1}) {
						if o.Err == nil {
							bucket = b
						}
					}
				}
				time.Sleep(50 * time.Millisecond)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			err = cmd.Wait()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Errorf("bench after %v: %v, want exit 1", sig, err)
			}
			if want := "sselab: bench: interrupted; bucket " + bucket + " and everything in it were removed\n"; progressLines.ReplaceAllString(stderr.String(), "") != want {
				t.Errorf("stderr: got %q, want %q", stderr.String(), want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout after Ctrl-C: %q, want nothing", stdout.String())
			}
			if left := benchBuckets(t, h); len(left) != 0 {
				t.Errorf("bench buckets left behind after Ctrl-C: %v", left)
			}
		})
	}
}

func TestBenchHTTPSkipsSSEC(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "lab")
	h := upDetached(t, dir, "--http")
	r := mustRun(t, "bench", "--dir", dir, "--duration", "200ms", "--sizes", "1KiB", "--modes", "none,sse-c", "--concurrency", "2")
	if !strings.Contains(r.stdout, "sse-c skipped: SSE-C needs TLS") {
		t.Errorf("bench on an --http lab: no note that SSE-C was skipped:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "none  1KiB  PUT") || strings.Contains(r.stdout, "sse-c  ") {
		t.Errorf("bench on an --http lab: want none measured and sse-c not:\n%s", r.stdout)
	}
	if left := benchBuckets(t, h); len(left) != 0 {
		t.Errorf("bench buckets left behind: %v", left)
	}
}

func TestBenchNotRunning(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "lab")
	r := sselab(t, "bench", "--dir", dir)
	if want := "sselab: lab: no lab is running on " + dir + "; start it with 'sselab up --dir " + dir + "'\n"; r.code != 1 || r.stderr != want {
		t.Errorf("bench without a lab: exit %d, stderr %q; want 1 and %q", r.code, r.stderr, want)
	}
}
