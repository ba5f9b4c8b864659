package console

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/labdir"
)

// session is one log-in.
type session struct {
	id      string
	csrf    string // sent back with every state-changing request
	expires time.Time
	flash   *flash // shown once, on the next page
}

// flash is a message for the next page: what a form did, or why not.
type flash struct {
	OK   bool
	Text string
}

// sessions are the console's log-ins, in memory only: stopping the lab
// logs everybody out.
type sessions struct {
	mu sync.Mutex
	m  map[string]*session
}

// token returns a random, URL-safe token of 32 bytes.
func token() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// start creates a session valid until expires.
func (ss *sessions) start(expires time.Time) *session {
	s := &session{id: token(), csrf: token(), expires: expires}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.m[s.id] = s
	return s
}

// get returns the session with id, if it exists and has not expired at
// now; expired sessions are forgotten.
func (ss *sessions) get(id string, now time.Time) (s *session, expired bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for k, v := range ss.m {
		if now.After(v.expires) {
			delete(ss.m, k)
			if k == id {
				expired = true
			}
		}
	}
	return ss.m[id], expired
}

// end forgets a session.
func (ss *sessions) end(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, id)
}

// setFlash leaves a message for the session's next page.
func (ss *sessions) setFlash(s *session, ok bool, format string, a ...any) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s.flash = &flash{OK: ok, Text: fmt.Sprintf(format, a...)}
}

// takeFlash returns and clears the session's message.
func (ss *sessions) takeFlash(s *session) *flash {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	f := s.flash
	s.flash = nil
	return f
}

// Log-in rate limiting: after maxFailures failed log-ins from one address
// within failureWindow, that address waits, twice as long after each
// further failure, up to maxBlock.
const (
	maxFailures   = 5
	failureWindow = 10 * time.Minute
	firstBlock    = 30 * time.Second
	maxBlock      = 15 * time.Minute
)

// failures counts the failed log-ins from one address.
type failures struct {
	n       int
	first   time.Time // of the current window
	blocked time.Time // until
	block   time.Duration
}

// limiter rate-limits failed log-ins per client address.
type limiter struct {
	mu sync.Mutex
	m  map[string]*failures
}

// wait returns how long the address must wait before it may try again.
func (l *limiter) wait(addr string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if f := l.m[addr]; f != nil && now.Before(f.blocked) {
		return f.blocked.Sub(now)
	}
	return 0
}

// fail records a failed log-in from addr.
func (l *limiter) fail(addr string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.m[addr]
	if f == nil || now.Sub(f.first) > failureWindow && now.After(f.blocked) {
		f = &failures{first: now}
		l.m[addr] = f
	}
	f.n++
	if f.n >= maxFailures {
		f.block = min(max(2*f.block, firstBlock), maxBlock)
		f.blocked = now.Add(f.block)
	}
}

// succeed forgets the failures of addr.
func (l *limiter) succeed(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, addr)
}

// clientAddr is the address a request came from, without its port.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Errors of a log-in, as the log-in page shows them.
var (
	// errWrongLogin never says which of user and password was wrong.
	errWrongLogin = errors.New("The user name or password is wrong.")
	errNoMinIO    = errors.New("MinIO is not answering, so the log-in cannot be checked; try again in a moment.")
)

// noMinIOError is errNoMinIO with its cause, for the console's log; the
// page shows errNoMinIO alone.
type noMinIOError struct{ cause error }

func (e *noMinIOError) Error() string { return errNoMinIO.Error() }
func (e *noMinIOError) Unwrap() error { return errNoMinIO }

// checkLogin asks MinIO whether user and password are the lab's root
// credentials: a request signed with them must succeed, and the user must
// be the root user, whose rights the console's pages use.
func (s *Server) checkLogin(ctx context.Context, user, password string) error {
	if user == "" || password == "" {
		return errWrongLogin
	}
	// Two tries: a busy MinIO's passing hiccup (a reused connection it
	// closed, a 503) must not read as "MinIO is not answering".
	s3, err := lab.NewS3Client(s.lab.State.S3Endpoint, labdir.Credentials{RootUser: user, RootPassword: password}, s.lab.HTTPClient().Transport, 2)
	if err != nil {
		return &noMinIOError{err}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := s3.ListBuckets(ctx); err != nil {
		switch minio.ToErrorResponse(err).Code {
		case "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken":
			return errWrongLogin
		}
		return &noMinIOError{err}
	}
	// The password is MinIO's to check; the name says whose rights these
	// are. Another MinIO user would get root's rights through the console.
	if subtle.ConstantTimeCompare([]byte(user), []byte(s.lab.Credentials.RootUser)) != 1 {
		return errWrongLogin
	}
	return nil
}

// setCookie sets a cookie that only this console, over HTTPS, reads.
func (s *Server) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/",
		MaxAge:   int(maxAge / time.Second),
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode,
	})
}

// clearCookie removes a cookie.
func (s *Server) clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
}

// loginCookie names the cookie that protects the log-in form against
// cross-site submission (double submit: the form carries the same value).
func (s *Server) loginCookie() string { return s.cookie + "-login" }

// session returns the request's session, or nil (and whether it expired).
func (s *Server) session(r *http.Request) (*session, bool) {
	c, err := r.Cookie(s.cookie)
	if err != nil || c.Value == "" {
		return nil, false
	}
	return s.sessions.get(c.Value, s.now())
}

// validCSRF reports whether a state-changing request carries its
// session's token, in the form field "csrf" or the X-CSRF-Token header,
// and, if the browser says where it comes from, comes from this console.
func validCSRF(r *http.Request, sess *session, formValue string) bool {
	if origin := r.Header.Get("Origin"); origin != "" && origin != "https://"+r.Host {
		return false
	}
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = formValue
	}
	return validToken(sess.csrf, got)
}

// validToken compares a token with the one expected, in constant time.
func validToken(want, got string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}
