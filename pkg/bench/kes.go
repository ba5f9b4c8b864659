package bench

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"

	kesapi "github.com/minio/kms-go/kes"
)

// kesContext is the associated data sent with every KES request, shaped
// like the {"bucket/object":""} context MinIO sends.
var kesContext = []byte(`{"sselab-bench/object":""}`)

// newKESClient returns a KES client for t with a connection per worker.
func newKESClient(t KESTarget, workers int) (*kesapi.Client, error) {
	if u, err := url.Parse(t.Endpoint); err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("bench: KES endpoint %q is not an https URL", t.Endpoint)
	}
	if t.Key == "" {
		return nil, fmt.Errorf("bench: no KES key to generate and decrypt with")
	}
	var rt http.RoundTripper = transport(t.TLS, workers)
	if t.Transport != nil {
		rt = t.Transport
	}
	return &kesapi.Client{Endpoints: []string{t.Endpoint}, HTTPClient: http.Client{Transport: rt}}, nil
}

// runKES measures KES generate, then decrypt of one data key.
func (r *runner) runKES(ctx context.Context, t KESTarget) error {
	r.rep.KESEndpoint, r.rep.KESKey = t.Endpoint, t.Key
	c, err := newKESClient(t, r.o.Concurrency)
	if err != nil {
		return err
	}
	// Warm up: a connection per worker, its TLS handshake done.
	var wg sync.WaitGroup
	for range r.o.Concurrency {
		wg.Go(func() { c.GenerateKey(ctx, t.Key, kesContext) })
	}
	wg.Wait()
	st, err := r.measure(ctx, "KES generate", func(ctx context.Context, _, _ int) error {
		if _, err := c.GenerateKey(ctx, t.Key, kesContext); err != nil {
			return fmt.Errorf("bench: KES generate with key %s on %s: %w", t.Key, t.Endpoint, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	r.addKES("generate", st)

	dek, err := c.GenerateKey(ctx, t.Key, kesContext)
	if err != nil {
		return fmt.Errorf("bench: KES generate with key %s on %s: %w", t.Key, t.Endpoint, err)
	}
	st, err = r.measure(ctx, "KES decrypt", func(ctx context.Context, _, _ int) error {
		plain, err := c.Decrypt(ctx, t.Key, dek.Ciphertext, kesContext)
		if err != nil {
			return fmt.Errorf("bench: KES decrypt with key %s on %s: %w", t.Key, t.Endpoint, err)
		}
		if !bytes.Equal(plain, dek.Plaintext) {
			return fmt.Errorf("bench: KES decrypt with key %s on %s returned another data key than the one generated", t.Key, t.Endpoint)
		}
		return nil
	})
	if err != nil {
		return err
	}
	r.addKES("decrypt", st)
	return nil
}

// addKES records a KES phase's stats.
func (r *runner) addKES(op string, st stats) {
	r.rep.KES = append(r.rep.KES, KESResult{
		Op:        op,
		Ops:       st.ops,
		Seconds:   round3(st.elapsed.Seconds()),
		OpsPerSec: round3(st.opsPerSec()),
		LatencyMS: st.latency,
	})
}
