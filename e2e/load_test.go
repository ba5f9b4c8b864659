package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"

	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/labdir"
)

var (
	loadDuration = flag.Duration("load.duration", 10*time.Second, "how long TestLoad starts new requests (pass a -timeout that covers it)")
	loadWorkers  = flag.Int("load.workers", 8, "how many workers TestLoad runs side by side")
)

// maxObjectSize is the largest object TestLoad writes.
const maxObjectSize = 1 << 20

// The kinds of request TestLoad makes.
const (
	opPut = iota
	opGet
	opStat
	opDelete
	numOps
)

var opNames = [numOps]string{"PUT", "GET", "STAT", "DELETE"}

// TestLoad runs a bounded mixed SSE-KMS load on a lab started by the
// sselab binary: workers put objects of random sizes (1 byte to 1 MiB,
// half with an explicit SSE-KMS header, half through the bucket's default
// encryption), get them back and compare their sha256, stat them and
// delete them, for -load.duration. Every GET and STAT must show SSE-KMS
// with the lab's key, every DELETE must make the object disappear, no
// request may fail, and at the end each worker's objects are listed and
// read back once more. It logs the throughput of each kind of request;
// it asserts no speed.
//
//	go test ./e2e -run TestLoad -v -load.duration 5m -load.workers 16 -timeout 30m
func TestLoad(t *testing.T) {
	requireLinux(t)
	if *loadWorkers < 1 || *loadDuration <= 0 {
		t.Fatalf("-load.workers %d -load.duration %v: want at least one worker and a positive duration", *loadWorkers, *loadDuration)
	}
	dir := filepath.Join(t.TempDir(), "lab")
	h := upDetached(t, dir)
	s3 := loadClient(t, h, *loadWorkers)
	kms, err := encrypt.NewSSEKMS(h.State.Key, nil)
	if err != nil {
		t.Fatal(err)
	}

	// Requests in flight when the duration ends may finish; a request
	// that hangs fails the test after this generous bound.
	ctx, cancel := context.WithTimeout(t.Context(), *loadDuration+5*time.Minute)
	defer cancel()
	deadline := time.Now().Add(*loadDuration)
	workers := make([]*loadWorker, *loadWorkers)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range workers {
		w := &loadWorker{
			prefix: fmt.Sprintf("w%02d/", i), s3: s3, bucket: labdir.DefaultBucket,
			arn: "arn:aws:kms:" + h.State.Key, kms: kms,
			rng:     rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
			content: rand.NewChaCha8(seed()),
			objects: map[string][sha256.Size]byte{},
			buf:     make([]byte, maxObjectSize),
		}
		workers[i] = w
		wg.Go(func() { w.err = w.run(ctx, deadline) })
	}
	wg.Wait()
	elapsed := time.Since(start)

	var total loadStats
	for _, w := range workers {
		if w.err != nil {
			t.Errorf("worker %s: %v", w.prefix, w.err)
		}
		total.add(&w.stats)
	}
	t.Logf("%d workers for %v (%v with the requests in flight):", len(workers), *loadDuration, elapsed.Round(time.Millisecond))
	for op := range numOps {
		t.Logf("  %-6s %7d ops  %8.1f ops/s  %7.1f MiB/s  p50 %v  p99 %v", opNames[op], total.ops[op],
			float64(total.ops[op])/elapsed.Seconds(), float64(total.bytes[op])/elapsed.Seconds()/(1<<20),
			total.percentile(op, 50), total.percentile(op, 99))
	}
	if t.Failed() {
		return
	}

	// What each worker thinks it stored is exactly what the bucket holds.
	stored := 0
	for _, w := range workers {
		var listed []string
		for obj := range s3.ListObjects(ctx, w.bucket, minio.ListObjectsOptions{Prefix: w.prefix, Recursive: true}) {
			if obj.Err != nil {
				t.Fatalf("listing %s: %v", w.prefix, obj.Err)
			}
			listed = append(listed, obj.Key)
		}
		slices.Sort(listed)
		if want := slices.Sorted(func(yield func(string) bool) {
			for name := range w.objects {
				if !yield(name) {
					return
				}
			}
		}); !slices.Equal(listed, want) {
			t.Errorf("worker %s: the bucket lists %d objects, the worker stored %d (%v vs %v)", w.prefix, len(listed), len(want), listed, want)
			continue
		}
		for _, name := range listed {
			if err := w.get(ctx, name); err != nil {
				t.Errorf("final read: %v", err)
			}
		}
		stored += len(listed)
	}
	t.Logf("all %d objects left at the end read back identical, with SSE-KMS and key %s", stored, h.State.Key)
}

// seed returns a random seed for a ChaCha8 source.
func seed() (s [32]byte) {
	for i := 0; i < len(s); i += 8 {
		binary.LittleEndian.PutUint64(s[i:], rand.Uint64())
	}
	return s
}

// loadClient returns a minio-go client for the lab that keeps a
// connection per worker open (the lab's own client keeps two).
func loadClient(t *testing.T, h *lab.Handle, workers int) *minio.Client {
	t.Helper()
	u, err := url.Parse(h.State.S3Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	s3, err := minio.New(u.Host, &minio.Options{
		Creds:  credentials.NewStaticV4(h.Credentials.RootUser, h.Credentials.RootPassword, ""),
		Secure: u.Scheme == "https",
		Transport: &http.Transport{
			TLSClientConfig:     h.PKI.ClientTLS(nil),
			MaxIdleConnsPerHost: 2 * workers,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return s3
}

// loadStats counts one worker's requests.
type loadStats struct {
	ops   [numOps]int
	bytes [numOps]int64
	lat   [numOps][]time.Duration
}

func (s *loadStats) record(op int, n int64, d time.Duration) {
	s.ops[op]++
	s.bytes[op] += n
	s.lat[op] = append(s.lat[op], d)
}

func (s *loadStats) add(o *loadStats) {
	for op := range numOps {
		s.ops[op] += o.ops[op]
		s.bytes[op] += o.bytes[op]
		s.lat[op] = append(s.lat[op], o.lat[op]...)
	}
}

// percentile returns the p-th percentile latency of op.
func (s *loadStats) percentile(op int, p float64) time.Duration {
	l := slices.Clone(s.lat[op])
	if len(l) == 0 {
		return 0
	}
	slices.Sort(l)
	return l[min(len(l)-1, int(math.Ceil(p/100*float64(len(l))))-1)].Round(100 * time.Microsecond)
}

// loadWorker puts, gets, stats and deletes objects under its own prefix,
// so that it alone knows what each of its objects must hold.
type loadWorker struct {
	prefix, bucket, arn string
	s3                  *minio.Client
	kms                 encrypt.ServerSide
	rng                 *rand.Rand
	content             *rand.ChaCha8
	objects             map[string][sha256.Size]byte // name -> sha256 of its content
	names               []string                     // the keys of objects, to pick from
	next                int                          // number of the next new object
	buf                 []byte
	stats               loadStats
	err                 error
}

// run makes requests until deadline, and at least one of each kind.
func (w *loadWorker) run(ctx context.Context, deadline time.Time) error {
	for time.Now().Before(deadline) || slices.Contains(w.stats.ops[:], 0) {
		var err error
		switch r := w.rng.IntN(100); {
		case len(w.names) == 0 || r < 35 || w.stats.ops[opPut] == 0:
			err = w.put(ctx)
		case r < 70:
			err = w.get(ctx, w.pick())
		case r < 85:
			err = w.stat(ctx, w.pick())
		default:
			err = w.delete(ctx)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (w *loadWorker) pick() string { return w.names[w.rng.IntN(len(w.names))] }

// size returns a random object size from 1 byte to maxObjectSize, evenly
// spread over the orders of magnitude.
func (w *loadWorker) size() int {
	return max(1, min(maxObjectSize, int(math.Exp(w.rng.Float64()*math.Log(maxObjectSize+1)))))
}

// put writes a new object, or overwrites one of the worker's objects.
func (w *loadWorker) put(ctx context.Context) error {
	var name string
	if len(w.names) > 0 && w.rng.IntN(5) == 0 {
		name = w.pick()
	} else {
		name = fmt.Sprintf("%sobj-%06d", w.prefix, w.next)
		w.next++
	}
	body := w.buf[:w.size()]
	w.content.Read(body)
	var opts minio.PutObjectOptions
	if w.rng.IntN(2) == 0 {
		opts.ServerSideEncryption = w.kms // else the bucket's default
	}
	start := time.Now()
	info, err := w.s3.PutObject(ctx, w.bucket, name, bytes.NewReader(body), int64(len(body)), opts)
	if err != nil {
		return fmt.Errorf("PUT %s (%d bytes, explicit SSE-KMS %v): %w", name, len(body), opts.ServerSideEncryption != nil, err)
	}
	w.stats.record(opPut, int64(len(body)), time.Since(start))
	if info.Size != int64(len(body)) {
		return fmt.Errorf("PUT %s: stored %d bytes, sent %d", name, info.Size, len(body))
	}
	if _, ok := w.objects[name]; !ok {
		w.names = append(w.names, name)
	}
	w.objects[name] = sha256.Sum256(body)
	return nil
}

// get reads an object and checks its content and its encryption.
func (w *loadWorker) get(ctx context.Context, name string) error {
	start := time.Now()
	obj, err := w.s3.GetObject(ctx, w.bucket, name, minio.GetObjectOptions{})
	if err != nil {
		return fmt.Errorf("GET %s: %w", name, err)
	}
	defer obj.Close()
	h := sha256.New()
	n, err := io.Copy(h, obj)
	if err != nil {
		return fmt.Errorf("GET %s: %w", name, err)
	}
	w.stats.record(opGet, n, time.Since(start))
	if sum := [sha256.Size]byte(h.Sum(nil)); sum != w.objects[name] {
		return fmt.Errorf("GET %s: %d bytes with sha256 %x, stored %x", name, n, sum, w.objects[name])
	}
	info, err := obj.Stat()
	if err != nil {
		return fmt.Errorf("GET %s: %w", name, err)
	}
	return w.checkSSE("GET", name, info)
}

// stat checks an object's encryption without reading it.
func (w *loadWorker) stat(ctx context.Context, name string) error {
	start := time.Now()
	info, err := w.s3.StatObject(ctx, w.bucket, name, minio.StatObjectOptions{})
	if err != nil {
		return fmt.Errorf("STAT %s: %w", name, err)
	}
	w.stats.record(opStat, 0, time.Since(start))
	return w.checkSSE("STAT", name, info)
}

// checkSSE fails unless info shows SSE-KMS with the lab's key.
func (w *loadWorker) checkSSE(op, name string, info minio.ObjectInfo) error {
	alg := info.Metadata.Get("X-Amz-Server-Side-Encryption")
	key := info.Metadata.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id")
	if alg != "aws:kms" || key != w.arn {
		return fmt.Errorf("%s %s: encryption %q with key %q, want aws:kms with %s", op, name, alg, key, w.arn)
	}
	return nil
}

// delete removes one of the worker's objects and checks it is gone.
func (w *loadWorker) delete(ctx context.Context) error {
	i := w.rng.IntN(len(w.names))
	name := w.names[i]
	start := time.Now()
	if err := w.s3.RemoveObject(ctx, w.bucket, name, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("DELETE %s: %w", name, err)
	}
	w.stats.record(opDelete, 0, time.Since(start))
	w.names[i] = w.names[len(w.names)-1]
	w.names = w.names[:len(w.names)-1]
	delete(w.objects, name)
	_, err := w.s3.StatObject(ctx, w.bucket, name, minio.StatObjectOptions{})
	if code := minio.ToErrorResponse(err).Code; code != minio.NoSuchKey {
		return fmt.Errorf("STAT %s after DELETE: got %v (code %q), want %s", name, err, code, minio.NoSuchKey)
	}
	return nil
}
