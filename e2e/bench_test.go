package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sselab/sselab/internal/perf"
	"github.com/sselab/sselab/internal/testtools"
)

// BenchmarkSpawnToReady measures, in one run, the time from spawning a
// process to a usable server for:
//
//   - minio-bare: `minio server` on a fresh directory with a static key
//     (MINIO_KMS_SECRET_KEY), ready when its S3 API serves a signed
//     request (ListBuckets, polled every 5 ms). /minio/health/ready
//     answers 200 some tens of milliseconds earlier, while bucket calls
//     still fail with XMinioServerNotInitialized; that time is reported
//     as minio-health-ms;
//   - minio-bucket: the same bare MinIO until it has also created a
//     bucket with default SSE-KMS, the work sselab's readiness includes
//     (reported for reference; the ratios use minio-bare);
//   - sselab-fresh: `sselab up` on a fresh directory (PKI, KES, MinIO,
//     key and bucket), ready when it prints its summary;
//   - sselab-existing: `sselab up` again on that directory.
//
// Each iteration measures the bare MinIO and the two sselab starts one
// right after the other, in alternating order. It reports each median in
// ms and the medians of the per-iteration ratios against minio-bare. The
// measuring code is shared with the comparison harness
// (go run ./internal/perf/cmd/perf), which also writes
// docs/PERFORMANCE.md. Run it with:
//
//	go test ./e2e -run '^$' -bench SpawnToReady -benchtime 5x
func BenchmarkSpawnToReady(b *testing.B) {
	if _, err := os.Stat("/proc"); err != nil {
		b.Skip("needs Linux")
	}
	minio, sselab := testtools.MinIO(b), testtools.Sselab(b)
	var health, bare, bucket, fresh, existing perf.Series
	for i := 0; b.Loop(); i++ {
		dir := filepath.Join(b.TempDir(), fmt.Sprint("run", i))
		bareRun := func() error {
			s, err := perf.SpawnBareMinIO(b.Context(), minio, filepath.Join(dir, "bare"))
			health, bare, bucket = append(health, ms(s.Health)), append(bare, ms(s.S3)), append(bucket, ms(s.Bucket))
			return err
		}
		sselabRuns := func() error {
			f, err := perf.SpawnSselab(b.Context(), sselab, minio, filepath.Join(dir, "lab"))
			if err != nil {
				return err
			}
			x, err := perf.SpawnSselab(b.Context(), sselab, minio, filepath.Join(dir, "lab"))
			fresh, existing = append(fresh, ms(f)), append(existing, ms(x))
			return err
		}
		first, second := bareRun, sselabRuns
		if i%2 == 1 {
			first, second = sselabRuns, bareRun
		}
		if err := first(); err != nil {
			b.Fatal(err)
		}
		if err := second(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(health.Median(), "minio-health-ms")
	b.ReportMetric(bare.Median(), "minio-bare-ms")
	b.ReportMetric(bucket.Median(), "minio-bucket-ms")
	b.ReportMetric(fresh.Median(), "sselab-fresh-ms")
	b.ReportMetric(existing.Median(), "sselab-existing-ms")
	b.ReportMetric(perf.Ratios(fresh, bare).Median(), "fresh/bare")
	b.ReportMetric(perf.Ratios(existing, bare).Median(), "existing/bare")
	b.ReportMetric(0, "ns/op") // the loop's own time mixes all three
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
