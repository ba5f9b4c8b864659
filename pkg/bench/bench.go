// Package bench measures an S3 server and a KES server under load: for
// each server-side-encryption mode and object size, PUT then GET
// throughput and latency percentiles with concurrent workers, and KES
// generate and decrypt operations per second.
//
// Run works in a bucket of its own, which it creates, and removes
// everything it wrote before it returns, also when it fails or its
// context is cancelled. It knows nothing about sselab's command line:
// LabTargets describes a running lab, and any other S3 endpoint (a bare
// MinIO, for comparison) can be described by hand.
package bench

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Defaults for Options.
const (
	// DefaultDuration is how long each phase (one PUT or GET of one mode
	// and size, or one KES operation) runs: with the default sizes and
	// modes a run takes about half a minute.
	DefaultDuration = time.Second
	// DefaultConcurrency is the number of concurrent workers.
	DefaultConcurrency = 8
	// MaxConcurrency is the largest number of workers Run accepts.
	MaxConcurrency = 256
	// BucketPrefix starts the name of every bucket Run creates.
	BucketPrefix = "sselab-bench-"
)

// DefaultSizes are the object sizes measured unless Options.Sizes says
// otherwise: small objects (dominated by per-request and KMS costs), a
// medium size, and a large one (dominated by encryption throughput).
var DefaultSizes = []int64{4 << 10, 1 << 20, 64 << 20}

// cleanupTimeout bounds removing what a run wrote; it runs also after
// the run's context ended.
const cleanupTimeout = 2 * time.Minute

// Target is an S3 endpoint to measure.
type Target struct {
	// Endpoint is the S3 API URL, such as https://127.0.0.1:9000.
	Endpoint string
	// AccessKey and SecretKey are the credentials; they need to create
	// and remove buckets.
	AccessKey, SecretKey string
	// TLS is the client TLS configuration for an https endpoint; nil
	// trusts the system's roots.
	TLS *tls.Config
	// KMSKey is the key name sent with SSE-KMS requests.
	KMSKey string
	// Endpoints, if set, are the S3 API URLs of every server of one
	// deployment (MinIO nodes): the workers take turns, worker w sending
	// its requests to Endpoints[w mod len]. Endpoint still creates and
	// removes the bucket.
	Endpoints []string
}

// KESTarget is a KES server to measure.
type KESTarget struct {
	// Endpoint is the KES URL, such as https://127.0.0.1:7373.
	Endpoint string
	// TLS is the client TLS configuration with the client certificate
	// whose identity may generate and decrypt with Key.
	TLS *tls.Config
	// Key is the existing KES key to generate and decrypt with.
	Key string
	// Transport, if set, carries the requests instead of a transport with
	// a kept-alive HTTP/1.1 connection per worker; for example the one
	// kes.NewClientWithConfig makes, which MinIO uses. TLS is then
	// ignored.
	Transport http.RoundTripper
}

// Options configure Run. Zero values take the defaults.
type Options struct {
	// Sizes are the object sizes. Default: DefaultSizes.
	Sizes []int64
	// Modes are the encryption modes. Default: AllModes.
	Modes []Mode
	// Concurrency is the number of concurrent workers, 1 to
	// MaxConcurrency. Default: DefaultConcurrency.
	Concurrency int
	// Duration is how long each phase runs; operations started before it
	// ends are completed and counted. Default: DefaultDuration.
	Duration time.Duration
	// Bucket is the bucket to create and work in; it must not exist.
	// Default: BucketPrefix followed by random hex digits.
	Bucket string
	// Progress, if set, is called about ten times a second while a
	// phase runs.
	Progress func(Progress)
	// NoFlush leaves out the flush before each S3 phase. Without it, Run
	// writes the machine's dirty pages to disk (sync) before each S3
	// phase, unmeasured: the lab runs on this machine, and the write-back
	// of gigabytes a PUT phase left in the page cache would otherwise
	// slow the phase after it, by an amount that grows with how much
	// that PUT phase managed to write.
	NoFlush bool

	flush func() // the flush; nil: flushWrites (tests count it)
}

// Progress says how far a run is.
type Progress struct {
	// Phase is the number of the running phase, from 1 to Phases.
	Phase, Phases int
	// Label says what the phase measures, such as "PUT sse-kms 4KiB".
	Label string
	// Done is the fraction of the whole run that is done, from 0 to 1.
	Done float64
}

// Validate checks o, with zero values standing for the defaults.
func (o Options) Validate() error {
	switch {
	case o.Concurrency < 0:
		return fmt.Errorf("bench: concurrency %d is less than 1; use 1 or more workers", o.Concurrency)
	case o.Concurrency > MaxConcurrency:
		return fmt.Errorf("bench: concurrency %d is more than %d; use fewer workers", o.Concurrency, MaxConcurrency)
	case o.Duration < 0:
		return fmt.Errorf("bench: duration %v is negative; use a positive duration, as in 2s", o.Duration)
	}
	for _, n := range o.Sizes {
		if n < 1 || n > MaxSize {
			return fmt.Errorf("bench: size %d is out of range; use 1B to %s", n, FormatSize(MaxSize))
		}
	}
	for _, m := range o.Modes {
		if _, err := ParseModes(string(m)); err != nil {
			return err
		}
	}
	return nil
}

// withDefaults fills in the zero values of o.
func (o Options) withDefaults() Options {
	if len(o.Sizes) == 0 {
		o.Sizes = DefaultSizes
	}
	if len(o.Modes) == 0 {
		o.Modes = AllModes
	}
	if o.Concurrency == 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Duration == 0 {
		o.Duration = DefaultDuration
	}
	return o
}

// Report is the outcome of Run, with stable JSON field names.
type Report struct {
	// S3Endpoint is the S3 endpoint measured, "" if none was.
	S3Endpoint string `json:"s3_endpoint,omitempty"`
	// S3Endpoints are the endpoints the workers took turns on, when
	// Target.Endpoints named several.
	S3Endpoints []string `json:"s3_endpoints,omitempty"`
	// Bucket is the bucket Run worked in; it is gone when Run returns.
	Bucket string `json:"bucket,omitempty"`
	// KESEndpoint and KESKey are the KES server and key measured.
	KESEndpoint string `json:"kes_endpoint,omitempty"`
	KESKey      string `json:"kes_key,omitempty"`
	// Concurrency is the number of workers.
	Concurrency int `json:"concurrency"`
	// DurationSeconds is how long each phase was to run.
	DurationSeconds float64 `json:"duration_seconds"`
	// S3 has one result per mode, size and operation, in the order run.
	S3 []S3Result `json:"s3"`
	// KES has one result per KES operation.
	KES []KESResult `json:"kes"`
	// Skipped lists the modes that could not be measured, and why.
	Skipped []Skip `json:"skipped"`
}

// S3Result is the measure of one operation on one mode and size.
type S3Result struct {
	// Mode is the encryption mode.
	Mode Mode `json:"mode"`
	// Size is the object size as FormatSize writes it, SizeBytes in bytes.
	Size      string `json:"size"`
	SizeBytes int64  `json:"size_bytes"`
	// Op is "put" or "get".
	Op string `json:"op"`
	// Ops is the number of operations completed, in Seconds of wall time.
	Ops     int     `json:"ops"`
	Seconds float64 `json:"seconds"`
	// ObjectsPerSec and MiBPerSec are the throughput.
	ObjectsPerSec float64 `json:"objects_per_sec"`
	MiBPerSec     float64 `json:"mib_per_sec"`
	// LatencyMS are the latency percentiles of one operation.
	LatencyMS Latency `json:"latency_ms"`
}

// KESResult is the measure of one KES operation.
type KESResult struct {
	// Op is "generate" or "decrypt".
	Op string `json:"op"`
	// Ops is the number of operations completed, in Seconds of wall time.
	Ops     int     `json:"ops"`
	Seconds float64 `json:"seconds"`
	// OpsPerSec is the throughput.
	OpsPerSec float64 `json:"ops_per_sec"`
	// LatencyMS are the latency percentiles of one operation.
	LatencyMS Latency `json:"latency_ms"`
}

// Skip is a mode Run did not measure.
type Skip struct {
	Mode   Mode   `json:"mode"`
	Reason string `json:"reason"`
}

// Run measures s3 and then kes; either may be nil to measure only the
// other. It returns what it measured so far together with the first
// error. The S3 part works in a bucket of its own (o.Bucket) and removes
// it with everything in it before Run returns, also on error and when
// ctx is cancelled (then the error wraps ctx's error).
func Run(ctx context.Context, s3 *Target, kes *KESTarget, o Options) (Report, error) {
	if err := o.Validate(); err != nil {
		return Report{}, err
	}
	o = o.withDefaults()
	r := &runner{o: o}
	r.rep = Report{
		Concurrency:     o.Concurrency,
		DurationSeconds: o.Duration.Seconds(),
		S3:              []S3Result{},
		KES:             []KESResult{},
		Skipped:         []Skip{},
	}
	var cells []cell
	if s3 != nil {
		cells = r.plan(*s3)
		r.phases += 2 * len(cells)
	}
	if kes != nil {
		r.phases += 2
	}
	if s3 != nil {
		if err := r.runS3(ctx, *s3, cells); err != nil {
			return r.rep, err
		}
	}
	if kes != nil {
		if err := r.runKES(ctx, *kes); err != nil {
			return r.rep, err
		}
	}
	return r.rep, nil
}

// runner carries one Run.
type runner struct {
	o      Options
	rep    Report
	phase  int // number of the current phase
	phases int // number of phases in the run
}

// measure runs op on o.Concurrency workers until o.Duration has passed,
// each worker starting a new operation while time is left, and returns
// the phase's stats. The first error stops every worker and is returned;
// if ctx ends, ctx's error is returned.
func (r *runner) measure(ctx context.Context, label string, op func(ctx context.Context, worker, seq int) error) (stats, error) {
	r.phase++
	n := r.o.Concurrency
	opCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	lat := make([][]time.Duration, n)
	start := time.Now()
	deadline := start.Add(r.o.Duration)
	stop := r.progress(label, start)
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			for seq := 0; time.Now().Before(deadline) && opCtx.Err() == nil; seq++ {
				t0 := time.Now()
				if err := op(opCtx, w, seq); err != nil {
					cancel(err)
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	stop()
	if err := ctx.Err(); err != nil {
		return stats{}, fmt.Errorf("bench: %s interrupted: %w", label, err)
	}
	if err := context.Cause(opCtx); err != nil {
		return stats{}, err
	}
	return summarize(lat, elapsed), nil
}

// progress reports the phase's progress every 100 ms until stop is
// called.
func (r *runner) progress(label string, start time.Time) (stop func()) {
	if r.o.Progress == nil {
		return func() {}
	}
	report := func() {
		f := min(1, float64(time.Since(start))/float64(r.o.Duration))
		r.o.Progress(Progress{Phase: r.phase, Phases: r.phases, Label: label, Done: (float64(r.phase-1) + f) / float64(r.phases)})
	}
	report()
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				report()
			}
		}
	}()
	return func() { close(done); <-stopped }
}

// transport returns an HTTP/1.1 transport for n concurrent workers: it
// keeps a connection per worker open, so a run measures requests and not
// TLS handshakes.
func transport(cfg *tls.Config, n int) *http.Transport {
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg = cfg.Clone()
	// This transport speaks HTTP/1.1 only: offer only that, whatever
	// another transport sharing cfg may have added (an HTTP/2 transport
	// appends "h2" to its config's NextProtos).
	cfg.NextProtos = []string{"http/1.1"}
	return &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          2 * n,
		MaxIdleConnsPerHost:   2 * n,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       cfg,
		DisableCompression:    true,
		WriteBufferSize:       64 << 10,
		ReadBufferSize:        64 << 10,
	}
}

// randomBucket returns BucketPrefix followed by 8 random hex digits.
func randomBucket() string {
	b := make([]byte, 4)
	rand.Read(b)
	return BucketPrefix + hex.EncodeToString(b)
}
