package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	miniogo "github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/sse"

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
// It reports each median in ms and the two ratios against minio-bare.
// Run it with:
//
//	go test ./e2e -run '^$' -bench SpawnToReady -benchtime 5x
func BenchmarkSpawnToReady(b *testing.B) {
	if _, err := os.Stat("/proc"); err != nil {
		b.Skip("needs Linux")
	}
	minio, sselab := testtools.MinIO(b), testtools.Sselab(b)
	var health, bare, bucket, fresh, existing []time.Duration
	for i := 0; b.Loop(); i++ {
		h, s3, bk := spawnBareMinIO(b, minio)
		health, bare, bucket = append(health, h), append(bare, s3), append(bucket, bk)
		dir := filepath.Join(b.TempDir(), fmt.Sprint("lab", i))
		fresh = append(fresh, spawnSselab(b, sselab, minio, dir))
		existing = append(existing, spawnSselab(b, sselab, minio, dir))
	}
	mb, mf, me := median(bare), median(fresh), median(existing)
	b.ReportMetric(ms(median(health)), "minio-health-ms")
	b.ReportMetric(ms(mb), "minio-bare-ms")
	b.ReportMetric(ms(median(bucket)), "minio-bucket-ms")
	b.ReportMetric(ms(mf), "sselab-fresh-ms")
	b.ReportMetric(ms(me), "sselab-existing-ms")
	b.ReportMetric(float64(mf)/float64(mb), "fresh/bare")
	b.ReportMetric(float64(me)/float64(mb), "existing/bare")
	b.ReportMetric(0, "ns/op") // the loop's own time mixes all three
}

// spawnBareMinIO times a plain MinIO with a static KMS key: until its
// health endpoint says ready, until its S3 API answers, and until it has
// a bucket with default SSE-KMS.
func spawnBareMinIO(b *testing.B, minio string) (health, s3, bucket time.Duration) {
	b.Helper()
	dir := b.TempDir()
	port, console := freePort(b), freePort(b)
	key := make([]byte, 32)
	rand.Read(key)
	const user, password = "benchadmin", "benchadmin-secret"
	cmd := exec.Command(minio, "server", dir, "--address", fmt.Sprint("127.0.0.1:", port), "--console-address", fmt.Sprint("127.0.0.1:", console), "--quiet")
	cmd.Env = append(os.Environ(),
		"MINIO_KMS_SECRET_KEY=bench-key:"+base64.StdEncoding.EncodeToString(key),
		"MINIO_ROOT_USER="+user, "MINIO_ROOT_PASSWORD="+password, "MINIO_UPDATE=off")
	client, err := miniogo.New(fmt.Sprint("127.0.0.1:", port), &miniogo.Options{Creds: credentials.NewStaticV4(user, password, "")})
	if err != nil {
		b.Fatal(err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/minio/health/ready", port)
	httpc := &http.Client{Timeout: time.Second}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer stopProcess(b, cmd)
	for deadline := start.Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if health == 0 {
			if resp, err := httpc.Get(url); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					health = time.Since(start)
				}
			}
			continue
		}
		if _, err := client.ListBuckets(context.Background()); err != nil {
			continue
		}
		s3 = time.Since(start)
		ctx := context.Background()
		if err := client.MakeBucket(ctx, "encrypted", miniogo.MakeBucketOptions{}); err != nil {
			b.Fatal(err)
		}
		if err := client.SetBucketEncryption(ctx, "encrypted", sse.NewConfigurationSSEKMS("bench-key")); err != nil {
			b.Fatal(err)
		}
		return health, s3, time.Since(start)
	}
	b.Fatal("bare MinIO not ready after 2 minutes")
	return 0, 0, 0
}

// spawnSselab times `sselab up` until it prints its summary.
func spawnSselab(b *testing.B, sselab, minio, dir string) time.Duration {
	b.Helper()
	cmd := exec.Command(sselab, append([]string{"up", "--dir", dir}, freePorts...)...)
	cmd.Env = append(os.Environ(), "SSELAB_MINIO="+minio)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer stopProcess(b, cmd)
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "the lab is ready") {
			d := time.Since(start)
			go func() { // keep draining so the lab never blocks on stdout
				for sc.Scan() {
				}
			}()
			return d
		}
	}
	b.Fatalf("sselab up ended before it was ready:\n%s", stderr.String())
	return 0
}

// stopProcess asks a process to stop and waits for it.
func stopProcess(b *testing.B, cmd *exec.Cmd) {
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	select {
	case <-done:
	case <-ctx.Done():
		cmd.Process.Kill()
		b.Errorf("%s did not stop within 30s of SIGTERM", cmd.Path)
	}
}

func median(d []time.Duration) time.Duration {
	s := slices.Sorted(slices.Values(d))
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
