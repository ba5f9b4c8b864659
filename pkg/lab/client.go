package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"time"

	kesapi "github.com/minio/kms-go/kes"
	"github.com/minio/minio-go/v7"

	"github.com/sselab/sselab/pkg/pki"
	"github.com/sselab/sselab/pkg/vault"
)

// ErrNotRunning reports that no lab runs on a directory.
var ErrNotRunning = errors.New("lab: no lab is running")

// Handle gives other sselab commands access to a running lab: its state,
// credentials, PKI, and clients for KES (as the operator) and S3.
type Handle struct {
	Layout      Layout
	State       State
	Credentials Credentials
	PKI         *pki.PKI
}

// Open finds the lab running on dir. It fails with an error wrapping
// ErrNotRunning, which says how to start one, if none runs.
func Open(dir string) (*Handle, error) {
	h, err := OpenState(dir)
	if err != nil {
		return nil, err
	}
	if err := readJSON(h.Layout.CredentialsFile(), &h.Credentials); err != nil {
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
	h := &Handle{Layout: Layout{Root: dir}}
	notRunning := notRunningError(dir)
	if err := readJSON(h.Layout.StateFile(), &h.State); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, notRunning
		}
		return nil, err
	}
	// A state file left by a killed sselab: nobody holds the lock.
	if !isLocked(h.Layout.LockFile()) {
		return nil, notRunning
	}
	return h, nil
}

// notRunningError says that no lab runs on dir and how to start one.
func notRunningError(dir string) error {
	return fmt.Errorf("%w on %s; start it with 'sselab up --dir %s'", ErrNotRunning, dir, dir)
}

// isLocked reports whether a process holds the lock file at path.
func isLocked(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := tryLock(f); err != nil {
		return true
	}
	return false // closing f drops the lock we just took
}

// KES returns a KES client authenticated as the operator.
func (h *Handle) KES() *kesapi.Client {
	return kesapi.NewClientWithConfig(h.State.KESEndpoint, h.PKI.ClientTLS(h.PKI.Operator))
}

// HTTPClient returns an HTTP client that trusts the lab CA.
func (h *Handle) HTTPClient() *http.Client {
	return labHTTPClient(h.PKI, 10*time.Second)
}

// labHTTPClient returns an HTTP client that trusts only the lab CA.
func labHTTPClient(p *pki.PKI, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout:   timeout,
		Transport: &http.Transport{TLSClientConfig: p.ClientTLS(nil)},
	}
}

// S3 returns a minio-go client with the root credentials.
func (h *Handle) S3() (*minio.Client, error) {
	return newS3Client(h.State.S3Endpoint, h.Credentials, h.HTTPClient().Transport)
}

// Info is what the running lab reports about itself on its control
// endpoint.
type Info struct {
	PID           int `json:"pid"`
	MinIOPID      int `json:"minio_pid"`
	MinIORestarts int `json:"minio_restarts"`
	// Vault is the lab's latest check of Vault, when the keys live there.
	Vault *vault.Health `json:"vault,omitempty"`
}

func writeInfo(w http.ResponseWriter, i Info) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(i)
}

// control sends a request to the lab's control endpoint.
func (h *Handle) control(ctx context.Context, method, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, method, "http://"+h.State.ControlAddress+path, nil)
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+h.State.ControlToken)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("lab: the lab (pid %d) %w: %w", h.State.PID, errNoAnswer, err)
	}
	defer resp.Body.Close()
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

// Info asks the running lab about its processes.
func (h *Handle) Info(ctx context.Context) (Info, error) {
	var i Info
	return i, h.control(ctx, http.MethodGet, "/v1/info", &i)
}

// Down asks the lab to stop and waits until it has released its
// directory, at most until ctx ends.
func (h *Handle) Down(ctx context.Context) error {
	if err := h.control(ctx, http.MethodPost, "/v1/stop", nil); err != nil {
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
	for isLocked(h.Layout.LockFile()) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}
