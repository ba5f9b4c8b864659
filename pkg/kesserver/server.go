// Package kesserver runs a KES key server (github.com/minio/kes) inside the
// calling process, in the spirit of etcd's embed package: fill a Config,
// call Start, and get back a Server that is already accepting requests,
// with its failure on a channel and a Close that is safe to call more than
// once.
//
// The server uses mutual TLS only: every client presents a certificate of
// the CA in Config.TLS, the admin identity is disabled, and a client may
// call only what the policy its identity is bound to allows
// (Config.Policies). Which identities and policies a lab has is the
// caller's business; sselab's are in package runner.
package kesserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"github.com/minio/kes"

	"github.com/sselab/sselab/internal/fsutil"
)

// adminDisabled is a non-hex admin identity: KES then has no admin.
const adminDisabled = "disabled"

// Server is a KES server running in this process.
type Server struct {
	srv    kes.Server
	addr   net.Addr
	ready  chan struct{}
	errc   chan error
	cancel context.CancelFunc
	files  []io.Closer
	conf   *kes.Config  // as started; FlushCache reuses it
	keys   kes.KeyStore // closed by Close once KES has stopped
	audit  slog.Handler // the audit log, where key use is recorded too
	// hookErr is why key use is not recorded (see recordKeyUse), or nil.
	hookErr error

	closeOnce sync.Once
	closeErr  error
}

// Start validates cfg, opens the keystore and the log files, and starts
// KES. It returns once the server accepts connections, or with an error
// after cleaning up everything it opened.
func Start(ctx context.Context, cfg Config) (s *Server, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = DefaultReadyTimeout
	}

	s = &Server{ready: make(chan struct{}), errc: make(chan error, 1)}
	started := false
	defer func() {
		if err != nil {
			if !started && cfg.Listener != nil {
				cfg.Listener.Close() // ours to close, as documented
			}
			s.Close()
			s = nil
		}
	}()

	keys := cfg.KeyStore
	if keys == nil {
		if keys, err = OpenFSKeyStore(ctx, cfg.KeyStoreDir); err != nil {
			return s, err
		}
	}
	// Once started, the kes.Server owns keys and the listener; until
	// then they are closed here.
	defer func() {
		if !started {
			keys.Close()
		}
	}()
	if _, err := keys.Status(ctx); err != nil {
		return s, fmt.Errorf("kesserver: keystore %v is not usable: %w", keys, err)
	}

	errLog, err := s.openLog(cfg.ErrorLogFile)
	if err != nil {
		return s, err
	}
	auditLog, err := s.openLog(cfg.AuditLogFile)
	if err != nil {
		return s, err
	}

	ln := cfg.Listener
	if ln == nil {
		if ln, err = (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.Address); err != nil {
			return s, fmt.Errorf("kesserver: KES cannot listen on %s: %w", cfg.Address, err)
		}
	}
	s.addr = ln.Addr()

	auditJSON := slog.NewJSONHandler(auditLog, nil)
	conf := &kes.Config{
		Admin:    adminDisabled,
		TLS:      cfg.serverTLS(),
		Cache:    &cfg.Cache,
		Policies: cfg.policies(),
		Keys:     keepOpen{keys}, // Close closes it, not KES's every Update
		ErrorLog: logRouter{errors: slog.NewTextHandler(errLog, nil), audit: auditJSON},
		AuditLog: &kes.AuditLogHandler{Handler: auditJSON},
	}
	s.srv.ErrLevel.Set(slog.LevelDebug) // refusals are debug records; see logRouter
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.conf, s.keys, s.audit = conf, keys, auditJSON
	started = true
	go func() {
		err := s.srv.Start(runCtx, &readyListener{Listener: ln, ready: s.ready, hook: s.hookKeyUse}, conf)
		if s.srv.Addr() == "" {
			// KES refused the configuration (or was closed) before it
			// took over the listener: close it here.
			ln.Close()
		}
		s.errc <- err
		close(s.errc)
	}()

	timer := time.NewTimer(cfg.ReadyTimeout)
	defer timer.Stop()
	select {
	case <-s.ready:
		return s, nil
	case err := <-s.errc:
		return s, fmt.Errorf("kesserver: KES failed to start: %w", err)
	case <-timer.C:
		return s, fmt.Errorf("kesserver: KES on %s not serving after %v", s.addr, cfg.ReadyTimeout)
	case <-ctx.Done():
		return s, fmt.Errorf("kesserver: KES start interrupted: %w", ctx.Err())
	}
}

// openLog opens an append-only 0600 log file, or discards when path is "".
func (s *Server) openLog(path string) (io.Writer, error) {
	if path == "" {
		return io.Discard, nil
	}
	if err := fsutil.MkdirPrivate(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("kesserver: log directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, fsutil.PrivatePerm)
	if err != nil {
		return nil, fmt.Errorf("kesserver: %w", err)
	}
	s.files = append(s.files, f)
	return f, nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr { return s.addr }

// Endpoint returns the server's https URL.
func (s *Server) Endpoint() string { return "https://" + s.addr.String() }

// Ready is closed once the server accepts connections. Start returns only
// after that, so it is mainly useful to code handed a Server.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Err delivers the error that stopped the server (nil after Close) and is
// then closed.
func (s *Server) Err() <-chan error { return s.errc }

// Close stops the server, waits for it, and closes the keystore and the
// log files. It is safe to call more than once and concurrently.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		if s.cancel != nil {
			s.closeErr = s.srv.Close()
			s.cancel()
			if err := <-s.errc; err != nil && s.closeErr == nil && !errors.Is(err, context.Canceled) {
				s.closeErr = err
			}
		}
		if s.keys != nil {
			if err := s.keys.Close(); err != nil && s.closeErr == nil {
				s.closeErr = err
			}
		}
		for _, f := range s.files {
			f.Close()
		}
		if s.closeErr != nil {
			s.closeErr = fmt.Errorf("kesserver: close: %w", s.closeErr)
		}
	})
	return s.closeErr
}

// FlushCache drops every key KES holds in memory: the next use of each
// goes to the keystore again. Sealing a keystore takes effect with it.
func (s *Server) FlushCache() error {
	if s.conf == nil {
		return errors.New("kesserver: KES is not running")
	}
	old, err := s.srv.Update(s.conf)
	if err != nil {
		return fmt.Errorf("kesserver: %w", err)
	}
	s.hookKeyUse()     // Update made a new router
	return old.Close() // the old cache's collector; the keystore stays open
}

// hookKeyUse puts the key-use recorder in front of KES's router (see
// recordKeyUse), and says on the error log when it cannot.
func (s *Server) hookKeyUse() {
	if s.hookErr = recordKeyUse(&s.srv, s.audit); s.hookErr != nil {
		slog.New(s.conf.ErrorLog).Warn(s.hookErr.Error())
	}
}

// KeyUseAudited reports whether the audit log records each use of a key
// (generate, decrypt, encrypt, hmac) as well, and if not, why.
func (s *Server) KeyUseAudited() error { return s.hookErr }

// readyListener closes ready when the HTTP server first calls Accept: at
// that point KES has its configuration and serves every connection. hook
// runs first, before any connection is served.
type readyListener struct {
	net.Listener
	ready chan struct{}
	hook  func()
	once  sync.Once
}

func (l *readyListener) Accept() (net.Conn, error) {
	l.once.Do(func() {
		if l.hook != nil {
			l.hook()
		}
		close(l.ready)
	})
	return l.Listener.Accept()
}

// Version returns the version of the KES module linked into this binary,
// such as "v0.24.0". (KES's own /version API reports "<unknown>" when
// kesserver: it reads the main module's version.)
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/minio/kes" {
				return d.Version
			}
		}
	}
	return "unknown"
}
