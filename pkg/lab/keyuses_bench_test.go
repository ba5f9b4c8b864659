package lab_test

import (
	"flag"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/sselab/sselab/internal/labtest"
	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/runner"
)

var keyUsesObjects = flag.Int("keyuses.objects", 10000, "objects in the bucket of BenchmarkKeyUses")

// BenchmarkKeyUses measures what key use costs per object (the in-use
// check of 'key delete', the console's Keys page, rekey's dry run): one
// listing with metadata ("listing"), against the anchor of one HEAD per
// object ("stat"), on a real lab holding -keyuses.objects SSE-KMS
// objects. The metric s/100k-objects extrapolates to 100,000 objects
// (target: under 15 s).
func BenchmarkKeyUses(b *testing.B) {
	h := labtest.Up(b, runner.Options{})
	ctx := b.Context()
	bucket := h.State.Buckets[0]
	n := *keyUsesObjects
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < n; i += 16 {
				if _, err := h.PutObject(ctx, bucket, fmt.Sprintf("o/%06d", i), strings.NewReader("x"), 1, ""); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	b.Logf("%d objects written in %v", n, time.Since(start).Round(time.Millisecond))

	for _, how := range []string{"listing", "stat", "bare-listing"} {
		b.Run(how, func(b *testing.B) {
			for b.Loop() {
				var count int
				if how == "bare-listing" { // the floor: a listing without metadata
					s3, _ := h.S3()
					for o := range s3.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
						if o.Err != nil {
							b.Fatal(o.Err)
						}
						count++
					}
				} else if how == "listing" {
					uses, err := h.KeyUses(ctx)
					if err != nil {
						b.Fatal(err)
					}
					if u := uses[h.State.Key]; len(u.Objects) == 0 || !u.More {
						b.Fatalf("key use: %+v; want the bucket's objects", u)
					}
					count = n
				} else {
					objs, _, err := h.ListObjects(ctx, bucket, 0)
					if err != nil {
						b.Fatal(err)
					}
					for _, o := range objs {
						if _, err := h.StatObject(ctx, bucket, o.Key); err != nil {
							b.Fatal(err)
						}
						count++
					}
				}
				if count != n {
					b.Fatalf("saw %d objects, want %d", count, n)
				}
			}
			perObject := b.Elapsed().Seconds() / float64(b.N) / float64(n)
			b.ReportMetric(perObject*1e6, "µs/object")
			b.ReportMetric(perObject*100000, "s/100k-objects")
		})
	}
	_ = lab.SchemeKMS
}
