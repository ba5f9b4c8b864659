package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"

	"github.com/sselab/sselab/pkg/lab"
)

// cell is one mode and size: a PUT phase, then a GET phase.
type cell struct {
	mode Mode
	size int64
}

// plan returns the cells to measure on t, and records the skipped modes.
func (r *runner) plan(t Target) []cell {
	var cells []cell
	for _, m := range r.o.Modes {
		if reason := skipReason(t, m); reason != "" {
			r.rep.Skipped = append(r.rep.Skipped, Skip{Mode: m, Reason: reason})
			continue
		}
		for _, n := range r.o.Sizes {
			cells = append(cells, cell{m, n})
		}
	}
	return cells
}

// skipReason says why mode m cannot be measured on t, or "".
func skipReason(t Target, m Mode) string {
	if m == ModeSSEC {
		if u, err := url.Parse(t.Endpoint); err == nil && u.Scheme == "http" {
			return "SSE-C needs TLS: MinIO refuses customer keys over plain HTTP (the lab runs with --http)"
		}
	}
	return ""
}

// newS3Client returns a minio-go client for t with a connection per
// worker.
func newS3Client(t Target, workers int) (*minio.Client, error) {
	u, err := url.Parse(t.Endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("bench: S3 endpoint %q is not an http(s) URL", t.Endpoint)
	}
	c, err := minio.New(u.Host, &minio.Options{
		Creds:     credentials.NewStaticV4(t.AccessKey, t.SecretKey, ""),
		Secure:    u.Scheme == "https",
		Transport: transport(t.TLS, workers),
	})
	if err != nil {
		return nil, fmt.Errorf("bench: S3 client: %w", err)
	}
	return c, nil
}

// pool holds the S3 clients the workers take turns on, one per endpoint.
type pool []*minio.Client

// of returns the client of worker w.
func (p pool) of(w int) *minio.Client { return p[w%len(p)] }

// serverSide returns the encryption of mode m; nil for ModeNone.
func serverSide(m Mode, kmsKey string, ssecKey []byte) (encrypt.ServerSide, error) {
	switch m {
	case ModeNone:
		return nil, nil
	case ModeSSES3:
		return encrypt.NewSSE(), nil
	case ModeSSEKMS:
		if kmsKey == "" {
			return nil, errors.New("bench: sse-kms needs a KMS key name")
		}
		sse, err := encrypt.NewSSEKMS(kmsKey, nil)
		if err != nil {
			return nil, fmt.Errorf("bench: sse-kms with key %q: %w", kmsKey, err)
		}
		return sse, nil
	case ModeSSEC:
		sse, err := encrypt.NewSSEC(ssecKey)
		if err != nil {
			return nil, fmt.Errorf("bench: sse-c: %w", err)
		}
		return sse, nil
	}
	return nil, fmt.Errorf("bench: unknown mode %q", m)
}

// runS3 creates the bench bucket, measures every cell, and removes the
// bucket with everything in it, whatever happens.
func (r *runner) runS3(ctx context.Context, t Target, cells []cell) (err error) {
	r.rep.S3Endpoint = t.Endpoint
	c, err := newS3Client(t, r.o.Concurrency)
	if err != nil {
		return err
	}
	clients := pool{c}
	if len(t.Endpoints) > 0 {
		r.rep.S3Endpoints = t.Endpoints
		clients = clients[:0]
		for _, e := range t.Endpoints {
			te := t
			te.Endpoint = e
			ce, err := newS3Client(te, (r.o.Concurrency+len(t.Endpoints)-1)/len(t.Endpoints))
			if err != nil {
				return err
			}
			clients = append(clients, ce)
		}
	}
	bucket := r.o.Bucket
	if bucket == "" {
		bucket = randomBucket()
	}
	if err := c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		switch minio.ToErrorResponse(err).Code {
		case "BucketAlreadyOwnedByYou", "BucketAlreadyExists":
			return fmt.Errorf("bench: bucket %s already exists; bench works only in a bucket of its own, which it removes", bucket)
		}
		return fmt.Errorf("bench: create bucket %s on %s: %w", bucket, t.Endpoint, err)
	}
	r.rep.Bucket = bucket
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if cerr := removeBucket(cctx, c, bucket); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()

	if err := warmUp(ctx, clients, bucket, r.o.Concurrency); err != nil {
		return err
	}
	ssecKey := make([]byte, 32)
	rand.Read(ssecKey)
	bodies := map[int64][]byte{}
	for _, cl := range cells {
		sse, err := serverSide(cl.mode, t.KMSKey, ssecKey)
		if err != nil {
			return err
		}
		body, ok := bodies[cl.size]
		if !ok {
			body = make([]byte, cl.size)
			rand.Read(body) // incompressible, like encrypted data
			bodies[cl.size] = body
		}
		if err := r.cell(ctx, clients, bucket, cl, body, sse); err != nil {
			return err
		}
	}
	return nil
}

// cell measures PUT, then GET of the objects the PUT phase wrote, and
// removes them. Worker w uses clients[w mod len(clients)].
func (r *runner) cell(ctx context.Context, clients pool, bucket string, cl cell, body []byte, sse encrypt.ServerSide) error {
	n := r.o.Concurrency
	label := fmt.Sprintf("%s %s", cl.mode, FormatSize(cl.size))
	prefix := fmt.Sprintf("%s/%s/", cl.mode, FormatSize(cl.size))
	names := make([][]string, n)
	putOpts := minio.PutObjectOptions{
		ServerSideEncryption: sse,
		ContentType:          "application/octet-stream",
		DisableMultipart:     true, // one request per object: its latency is the PUT's
	}
	r.settle()
	st, err := r.measure(ctx, "PUT "+label, func(ctx context.Context, w, seq int) error {
		name := fmt.Sprintf("%sw%d-%d", prefix, w, seq)
		if _, err := clients.of(w).PutObject(ctx, bucket, name, bytes.NewReader(body), int64(len(body)), putOpts); err != nil {
			return fmt.Errorf("bench: PUT %s (%s): %w", name, label, err)
		}
		names[w] = append(names[w], name)
		return nil
	})
	if err != nil {
		return err
	}
	r.addS3(cl, "put", st)

	written := slices.Concat(names...)
	getOpts := minio.GetObjectOptions{}
	if cl.mode == ModeSSEC {
		getOpts.ServerSideEncryption = sse // the customer key, on every read
	}
	bufs := make([][]byte, n)
	r.settle()
	st, err = r.measure(ctx, "GET "+label, func(ctx context.Context, w, seq int) error {
		name := written[(w+seq*n)%len(written)]
		if bufs[w] == nil {
			bufs[w] = make([]byte, min(len(body), 256<<10))
		}
		got, err := get(ctx, clients.of(w), bucket, name, getOpts, bufs[w])
		switch {
		case err != nil:
			return fmt.Errorf("bench: GET %s (%s): %w", name, label, err)
		case got != int64(len(body)):
			return fmt.Errorf("bench: GET %s (%s) returned %d bytes, want %d", name, label, got, len(body))
		}
		return nil
	})
	if err != nil {
		return err
	}
	r.addS3(cl, "get", st)
	if err := removeObjects(ctx, clients[0], bucket, written); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

// settle writes the machine's dirty pages to disk before an S3 phase,
// unless o.NoFlush; see Options.NoFlush.
func (r *runner) settle() {
	switch {
	case r.o.NoFlush:
	case r.o.flush != nil:
		r.o.flush()
	default:
		flushWrites()
	}
}

// warmUp has every worker's connection opened (and its TLS handshake
// done) before the first phase: each of n workers writes and reads a
// small object, unmeasured, through clients[w mod len(clients)]. The
// objects go with the bucket.
func warmUp(ctx context.Context, clients pool, bucket string, n int) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			name := fmt.Sprintf("warm-up/w%d", w)
			if _, err := clients.of(w).PutObject(ctx, bucket, name, bytes.NewReader([]byte("x")), 1, minio.PutObjectOptions{DisableMultipart: true}); err != nil {
				errs[w] = fmt.Errorf("bench: PUT %s: %w", name, err)
				return
			}
			if _, err := get(ctx, clients.of(w), bucket, name, minio.GetObjectOptions{}, make([]byte, 16)); err != nil {
				errs[w] = fmt.Errorf("bench: GET %s: %w", name, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// addS3 records a phase's stats.
func (r *runner) addS3(cl cell, op string, st stats) {
	ops := st.opsPerSec()
	r.rep.S3 = append(r.rep.S3, S3Result{
		Mode:          cl.mode,
		Size:          FormatSize(cl.size),
		SizeBytes:     cl.size,
		Op:            op,
		Ops:           st.ops,
		Seconds:       round3(st.elapsed.Seconds()),
		ObjectsPerSec: round3(ops),
		MiBPerSec:     round3(ops * float64(cl.size) / (1 << 20)),
		LatencyMS:     st.latency,
	})
}

// get reads an object to its end through buf and returns its length.
func get(ctx context.Context, c *minio.Client, bucket, name string, opts minio.GetObjectOptions, buf []byte) (int64, error) {
	obj, err := c.GetObject(ctx, bucket, name, opts)
	if err != nil {
		return 0, err
	}
	defer obj.Close()
	var n int64
	for {
		k, err := obj.Read(buf)
		n += int64(k)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// removeObjects removes the named objects from bucket. Its errors lack
// the package prefix: callers add it, or wrap them.
func removeObjects(ctx context.Context, c *minio.Client, bucket string, names []string) error {
	ch := make(chan minio.ObjectInfo)
	go func() {
		defer close(ch)
		for _, name := range names {
			select {
			case ch <- minio.ObjectInfo{Key: name}:
			case <-ctx.Done():
				return
			}
		}
	}()
	var first error
	failed := 0
	for e := range c.RemoveObjects(ctx, bucket, ch, minio.RemoveObjectsOptions{}) {
		if first == nil {
			first = fmt.Errorf("remove %s/%s: %w", bucket, e.ObjectName, e.Err)
		}
		failed++
	}
	if failed > 1 {
		return fmt.Errorf("%w (and %d more objects)", first, failed-1)
	}
	if first == nil && ctx.Err() != nil {
		return fmt.Errorf("remove objects of bucket %s: %w", bucket, ctx.Err())
	}
	return first
}

// LeftBehindError reports that Run could not remove its bucket or some
// of the objects in it.
type LeftBehindError struct {
	// Bucket is the bucket that is left.
	Bucket string
	// Err is why it could not be removed.
	Err error
}

func (e *LeftBehindError) Error() string {
	return fmt.Sprintf("bench: bucket %s was not removed: %v; remove it with 'mc rb --force %s/%s'", e.Bucket, e.Err, lab.MCAlias, e.Bucket)
}

func (e *LeftBehindError) Unwrap() error { return e.Err }

// removeBucket removes every object of bucket and then the bucket. PUTs
// that were cancelled on the client side may still complete on the
// server after the listing, so it lists and removes again while the
// bucket is not empty, for a few seconds.
func removeBucket(ctx context.Context, c *minio.Client, bucket string) error {
	var err error
	for attempt := range 20 {
		if attempt > 0 {
			select {
			case <-time.After(time.Duration(attempt) * 50 * time.Millisecond):
			case <-ctx.Done():
				return &LeftBehindError{bucket, ctx.Err()}
			}
		}
		if err = emptyBucket(ctx, c, bucket); err != nil {
			return &LeftBehindError{bucket, err}
		}
		if err = c.RemoveBucket(ctx, bucket); err == nil || minio.ToErrorResponse(err).Code != "BucketNotEmpty" {
			break
		}
	}
	if err != nil {
		return &LeftBehindError{bucket, err}
	}
	return nil
}

// emptyBucket removes every object of bucket.
func emptyBucket(ctx context.Context, c *minio.Client, bucket string) error {
	var names []string
	for o := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			return fmt.Errorf("list: %w", o.Err)
		}
		names = append(names, o.Key)
	}
	return removeObjects(ctx, c, bucket, names)
}
