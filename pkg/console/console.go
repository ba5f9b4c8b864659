// Package console is the lab console: the web pages a running lab serves
// on --web-address (HTTPS, certificate from the lab CA) to show and work
// its keys, buckets and objects and the proof that data at rest is
// encrypted. It brings back, for SSE, the screens the community MinIO
// Console dropped in 2025-05.
//
// The console is a thin layer over package lab, the same client API the
// sselab commands use: it holds no logic of its own about keys, buckets,
// key use or verification. Pages are rendered on the server with
// html/template from files embedded in the binary; a little JavaScript
// (drag-and-drop upload, confirmations) is optional, and nothing is
// fetched from elsewhere, so it works offline.
//
// Log-in is with the lab's root user, checked by MinIO (a signed request
// with the given credentials); a session is a random token kept in this
// process only, in an HttpOnly, Secure, SameSite=Strict cookie named after
// the lab, so a cookie of another lab means nothing here. Every
// state-changing request carries the session's CSRF token.
package console

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/sselab/sselab/pkg/lab"
)

// Config configures a console.
type Config struct {
	// Lab is the lab the console shows and works. Required, with its
	// PKI and credentials loaded.
	Lab *lab.Handle

	// Log receives one line per failed log-in and per request that
	// failed inside the console; never a secret. Nil discards.
	Log io.Writer

	// SessionTTL is how long a log-in lasts. Default: 8 hours.
	SessionTTL time.Duration

	// Now returns the current time. Default: time.Now.
	Now func() time.Time
}

// Server is a lab console.
type Server struct {
	lab      *lab.Handle
	log      *log.Logger
	now      func() time.Time
	ttl      time.Duration
	cookie   string // the session cookie's name, unique to the lab
	sessions sessions
	limiter  limiter
	proofs   sync.Map // session id -> *proofRun, the last verify run
	mux      *http.ServeMux
	srv      *http.Server
}

// New returns a console for c.Lab.
func New(c Config) (*Server, error) {
	if c.Lab == nil || c.Lab.PKI == nil || c.Lab.PKI.Console == nil {
		return nil, errors.New("console: the lab's PKI with its console certificate is required")
	}
	s := &Server{
		lab: c.Lab,
		log: log.New(c.Log, "console: ", 0),
		now: c.Now,
		ttl: c.SessionTTL,
	}
	if c.Log == nil {
		s.log.SetOutput(io.Discard)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.ttl <= 0 {
		s.ttl = 8 * time.Hour
	}
	// The CA's identity names the lab: labs on one host share cookies
	// (cookies ignore ports), so each lab has its own.
	s.cookie = "sselab-" + c.Lab.PKI.CA.Identity()[:12]
	s.sessions.m = make(map[string]*session)
	s.limiter.m = make(map[string]*failures)
	s.routes()
	// Made here, not in Serve: Shutdown may run in another goroutine
	// before Serve has begun (a lab stopped right after it started).
	s.srv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          log.New(io.Discard, "", 0), // TLS chatter of browsers that distrust the lab CA
		TLSConfig: &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{c.Lab.PKI.Console.TLSCertificate()},
		},
	}
	return s, nil
}

// Handler returns the console's HTTP handler.
func (s *Server) Handler() http.Handler { return s.secure(s.mux) }

// Serve serves the console with TLS on ln until Shutdown. It returns nil
// after Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	err := s.srv.ServeTLS(ln, "", "")
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("console: %w", err)
}

// Shutdown stops the console, letting requests under way finish until
// ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.srv.Shutdown(ctx)
}

// secure adds the headers every answer carries: no framing, no sniffing,
// no referrer, scripts and styles only from the console itself, and no
// caching of pages that show the lab's state.
func (s *Server) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin") // "no-referrer" would make browsers send "Origin: null"
		h.Set("Strict-Transport-Security", "max-age=31536000")
		if len(r.URL.Path) < 8 || r.URL.Path[:8] != "/static/" {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}
