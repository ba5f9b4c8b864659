package vault

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Health is Vault's state as sys/health reported it. Its JSON field names
// are part of `sselab status --json`.
type Health struct {
	Endpoint    string    `json:"endpoint"`
	Checked     time.Time `json:"checked"`
	Reachable   bool      `json:"reachable"`
	Initialized bool      `json:"initialized"`
	Sealed      bool      `json:"sealed"`
	Standby     bool      `json:"standby"`
	Version     string    `json:"version,omitempty"`
	// Error says why Vault cannot serve the lab now; empty when it can.
	Error string `json:"error,omitempty"`
	// LastError is the most recent Error seen while the lab ran, and
	// LastErrorAt when; they stay after Vault recovers.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	// Auth is how the lab's login to Vault stands, while the lab runs.
	Auth *Auth `json:"auth,omitempty"`
}

// WithAuth returns h with the keystore's login a: a login that fails, or
// a token Vault refuses, makes a Vault that serves fail the check.
func (h Health) WithAuth(a Auth) Health {
	h.Auth = &a
	if h.OK() && a.Error != "" {
		h.Error = a.Error
	}
	if a.LastErrorAt.After(h.LastErrorAt) {
		h.LastError, h.LastErrorAt = a.LastError, a.LastErrorAt
	}
	return h
}

// OK reports whether Vault can serve the lab's keys.
func (h Health) OK() bool { return h.Error == "" }

// State is one word for the status table.
func (h Health) State() string {
	switch {
	case !h.Reachable:
		return "unreachable"
	case !h.Initialized:
		return "not initialized"
	case h.Sealed:
		return "sealed"
	case h.Auth != nil && h.Auth.Error != "":
		return "login failing"
	case h.Standby:
		return "unsealed (standby)"
	}
	return "unsealed"
}

// Check asks Vault's sys/health once.
func Check(ctx context.Context, c *Config) Health {
	h := Health{Endpoint: c.Endpoint, Checked: time.Now().UTC()}
	client, err := newClient(c, 5*time.Second)
	if err != nil {
		h.Error = err.Error()
		return h
	}
	resp, err := rootClient(client).Sys().HealthWithContext(ctx)
	if err != nil {
		h.Error = reachError(c, err).Error()
		return h
	}
	h.Reachable, h.Initialized, h.Sealed, h.Standby, h.Version = true, resp.Initialized, resp.Sealed, resp.Standby, resp.Version
	switch {
	case !resp.Initialized:
		h.Error = fmt.Sprintf("vault: Vault at %s is not initialized", c.Endpoint)
	case resp.Sealed:
		h.Error = fmt.Sprintf("vault: Vault at %s is sealed; unseal it with 'vault operator unseal' / 'bao operator unseal' and the lab recovers without a restart", c.Endpoint)
	}
	return h
}

// Watcher checks Vault's health periodically while the lab runs.
type Watcher struct {
	mu   sync.Mutex
	last Health
	stop context.CancelFunc
	done chan struct{}
}

// Watch checks Vault every interval until Stop, and calls changed (from
// its own goroutine) whenever Vault goes from serving to not serving or
// back. The first check happens at once and is not reported as a change.
func Watch(c *Config, every time.Duration, changed func(prev, cur Health)) *Watcher {
	ctx, cancel := context.WithCancel(context.Background())
	w := &Watcher{stop: cancel, done: make(chan struct{})}
	check := func() Health {
		cctx, ccancel := context.WithTimeout(ctx, every+5*time.Second)
		defer ccancel()
		return Check(cctx, c)
	}
	w.last = check()
	if !w.last.OK() {
		w.last.LastError, w.last.LastErrorAt = w.last.Error, w.last.Checked
	}
	go func() {
		defer close(w.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			cur := check()
			if ctx.Err() != nil {
				return
			}
			w.mu.Lock()
			prev := w.last
			cur.LastError, cur.LastErrorAt = prev.LastError, prev.LastErrorAt
			if !cur.OK() {
				cur.LastError, cur.LastErrorAt = cur.Error, cur.Checked
			}
			w.last = cur
			w.mu.Unlock()
			if prev.OK() != cur.OK() || prev.State() != cur.State() {
				changed(prev, cur)
			}
		}
	}()
	return w
}

// Health returns the latest check.
func (w *Watcher) Health() Health {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

// Stop ends the checks and waits for the last one.
func (w *Watcher) Stop() {
	if w == nil {
		return
	}
	w.stop()
	<-w.done
}
