// Package lab is the client of a running lab: what every sselab command
// other than 'up' uses to find the lab on a state directory and to work
// with it (keys, buckets, status, the client environment, stopping it).
// It runs in the command's own process and talks to the lab's KES, S3 API
// and control endpoint; it never starts anything (that is package
// runner's job) and knows the state directory only through package
// labdir.
package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"time"

	kesapi "github.com/minio/kms-go/kes"
	"github.com/minio/minio-go/v7"

	"github.com/sselab/sselab/pkg/labdir"
	"github.com/sselab/sselab/pkg/pki"
)

// ErrNotRunning reports that no lab runs on a directory.
var ErrNotRunning = errors.New("lab: no lab is running")

// Handle gives other sselab commands access to a running lab: its state,
// credentials, PKI, and clients for KES (as the operator) and S3.
type Handle struct {
	Layout      labdir.Layout
	State       labdir.State
	Credentials labdir.Credentials
	PKI         *pki.PKI

	clients sync.Once // makes kes and http, which keep their connections
	kes     *kesapi.Client
	http    *http.Client
}

// initClients makes the clients of KES and of MinIO once, so that a
// long-lived Handle (the lab console's) reuses their connections.
func (h *Handle) initClients() {
	h.clients.Do(func() {
		h.kes = kesapi.NewClientWithConfig(h.State.KESEndpoint, h.PKI.ClientTLS(h.PKI.Operator))
		h.http = HTTPClient(h.PKI, 10*time.Second)
	})
}

// Open finds the lab running on dir. It fails with an error wrapping
// ErrNotRunning, which says how to start one, if none runs.
func Open(dir string) (*Handle, error) {
	h, err := OpenState(dir)
	if err != nil {
		return nil, err
	}
	if err := labdir.ReadJSON(h.Layout.CredentialsFile(), &h.Credentials); err != nil {
		return nil, err
	}
	if h.PKI, err = pki.Load(h.Layout.CertsDir()); err != nil {
		return nil, err
	}
	return h, nil
}

// OpenState finds the lab running on dir like Open, but reads only its
// state file: enough to stop the lab (Down) or ask about its processes
// (Info), also when its certificates can no longer be loaded, for
// example once the operator certificate has expired. Credentials and PKI
// stay empty.
func OpenState(dir string) (*Handle, error) {
	h := &Handle{Layout: labdir.Layout{Root: dir}}
	notRunning := NotRunningError(dir)
	if err := labdir.ReadJSON(h.Layout.StateFile(), &h.State); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, notRunning
		}
		return nil, err
	}
	// A state file left by a killed sselab: nobody holds the lock.
	if !labdir.Locked(h.Layout) {
		return nil, notRunning
	}
	return h, nil
}

// NotRunningError says that no lab runs on dir and how to start one.
func NotRunningError(dir string) error {
	return fmt.Errorf("%w on %s; start it with 'sselab up --dir %s'", ErrNotRunning, dir, dir)
}

// KES returns a KES client authenticated as the operator.
func (h *Handle) KES() *kesapi.Client {
	h.initClients()
	return h.kes
}

// HTTPClient returns an HTTP client that trusts the lab CA.
func (h *Handle) HTTPClient() *http.Client {
	h.initClients()
	return h.http
}

// HTTPClient returns an HTTP client that trusts only the lab CA of p.
// Its transport keeps up to maxIdlePerHost connections to each of the
// lab's servers, so that concurrent requests (a rekey's copies, bench's
// workers) reuse their TLS connections instead of making a new one for
// each request beyond Go's default of two.
func HTTPClient(p *pki.PKI, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			TLSClientConfig:     p.ClientTLS(nil),
			MaxIdleConnsPerHost: maxIdlePerHost,
			IdleConnTimeout:     90 * time.Second,
		},
	}
}

// maxIdlePerHost is the most concurrent requests any sselab command
// makes to one server: rekey's largest concurrency.
const maxIdlePerHost = MaxRekeyConcurrency

// S3 returns a minio-go client with the root credentials, of node 1 or,
// in a lab of several nodes where node 1 is down, of the first node that
// runs (see S3Endpoint).
func (h *Handle) S3() (*minio.Client, error) {
	return NewS3Client(h.S3Endpoint(), h.Credentials, h.HTTPClient().Transport, 0)
}

// S3Endpoint is the endpoint S3 uses: node 1's, unless the state file
// says that node 1 runs no process (stopped with 'sselab node stop', or
// between a crash and its restart) and another node does; then that
// node's. Any node of the cluster serves every bucket.
func (h *Handle) S3Endpoint() string {
	nodes := h.State.Nodes
	if len(nodes) < 2 || nodes[0].PID != 0 {
		return h.State.S3Endpoint
	}
	for _, n := range nodes[1:] {
		if n.PID != 0 {
			return n.S3Endpoint
		}
	}
	return h.State.S3Endpoint
}

// control sends a request to the lab's control endpoint.
func (h *Handle) control(ctx context.Context, method, path string, v any) error {
	return h.controlBody(ctx, method, path, nil, v)
}

// controlTimeout bounds a request to the control endpoint; nodeTimeout
// one that starts a MinIO node, which waits until the node is ready.
const (
	controlTimeout = 5 * time.Second
	nodeTimeout    = 3 * time.Minute
)

// controlBody sends a request with a body to the lab's control endpoint;
// a refusal (409) comes back as an error saying why.
func (h *Handle) controlBody(ctx context.Context, method, path string, body []byte, v any) error {
	timeout := controlTimeout
	if path == labdir.ControlNode {
		timeout = nodeTimeout
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+h.State.ControlAddress+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+h.State.ControlToken)
	resp, err := (&http.Client{Timeout: timeout}).Do(req)
	if err != nil {
		return fmt.Errorf("lab: the lab (pid %d) %w: %w", h.State.PID, errNoAnswer, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusConflict {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return errors.New(strings.TrimSpace(string(msg)))
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("lab: the lab answered %s to %s", resp.Status, path)
	}
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			return fmt.Errorf("lab: %w", err)
		}
	}
	return nil
}

// errNoAnswer marks a control request that got no HTTP answer.
var errNoAnswer = errors.New("does not answer")

// Seal seals the running lab's keystore: KES can then use no key until
// Unseal.
func (h *Handle) Seal(ctx context.Context) error {
	return h.controlBody(ctx, http.MethodPost, labdir.ControlSeal, nil, nil)
}

// Unseal unseals the running lab's keystore with passphrase.
func (h *Handle) Unseal(ctx context.Context, passphrase []byte) error {
	return h.controlBody(ctx, http.MethodPost, labdir.ControlUnseal, passphrase, nil)
}

// Node asks the running lab to stop, kill or start one of its MinIO
// nodes, and returns once it has (a start, once the node is ready).
func (h *Handle) Node(ctx context.Context, r labdir.NodeRequest) error {
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	return h.controlBody(ctx, http.MethodPost, labdir.ControlNode, body, nil)
}

// Info asks the running lab about its processes and its keystore.
func (h *Handle) Info(ctx context.Context) (labdir.Info, error) {
	var i labdir.Info
	return i, h.control(ctx, http.MethodGet, labdir.ControlInfo, &i)
}

// Down asks the lab to stop and waits until it has released its
// directory, at most until ctx ends.
func (h *Handle) Down(ctx context.Context) error {
	if err := h.control(ctx, http.MethodPost, labdir.ControlStop, nil); err != nil {
		if !errors.Is(err, errNoAnswer) {
			return err // refused
		}
		// The request may have arrived even if its answer was lost: a lab
		// that stops anyway has done what was asked.
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if h.waitUnlocked(wctx) != nil {
			return err
		}
		return nil
	}
	if err := h.waitUnlocked(ctx); err != nil {
		return fmt.Errorf("lab: the lab (pid %d) did not stop in time: %w", h.State.PID, err)
	}
	return nil
}

// waitUnlocked waits until no process holds the lab's lock.
func (h *Handle) waitUnlocked(ctx context.Context) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for labdir.Locked(h.Layout) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}
