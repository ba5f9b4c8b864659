package kesserver

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/minio/kes"
)

// keyUsePaths are KES's routes that use a key, and what each does with it.
// KES v0.24.0 writes key creation, import and deletion to its audit log,
// and logRouter adds every refusal, but nothing records a key's use:
// which identity generated or decrypted a data key with which key.
// keyUseRecorder writes those to the audit log too.
var keyUsePaths = []struct{ prefix, op string }{
	{"/v1/key/generate/", "generate"},
	{"/v1/key/decrypt/", "decrypt"},
	{"/v1/key/encrypt/", "encrypt"},
	{"/v1/key/hmac/", "hmac"},
}

// keyUse returns the operation and key of a request path that uses a key.
func keyUse(path string) (op, key string, ok bool) {
	for _, p := range keyUsePaths {
		if key, ok := strings.CutPrefix(path, p.prefix); ok && key != "" {
			return p.op, key, true
		}
	}
	return "", "", false
}

// keyUseRecorder wraps KES's request router and writes each successful
// use of a key to the audit log, in the shape of KES's own records (req:
// method, path, ip, identity; res: code, time in nanoseconds). Refused
// requests are logRouter's; failed ones are in KES's error log.
type keyUseRecorder struct {
	next  http.Handler
	audit slog.Handler
}

func (k keyUseRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, key, ok := keyUse(r.URL.Path)
	if !ok {
		k.next.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
	k.next.ServeHTTP(sw, r)
	if sw.code != http.StatusOK {
		return
	}
	rec := slog.NewRecord(time.Now(), slog.LevelInfo, fmt.Sprintf("secret key '%s' used: %s", key, op), 0)
	rec.AddAttrs(requestAttr("req", r), slog.Group("res", slog.Int("code", sw.code), slog.Duration("time", time.Since(start))))
	k.audit.Handle(r.Context(), rec) // a lost audit line must not fail the request
}

// statusWriter remembers the status code of a response. Unwrap lets
// http.ResponseController (KES sets write deadlines with it) reach the
// connection.
type statusWriter struct {
	http.ResponseWriter
	code int
	once bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.once {
		w.code, w.once = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// errNoRouterHook means this KES has no request router where v0.24.0 has
// it; key use then goes unrecorded.
var errNoRouterHook = errors.New("kesserver: this KES version has no request router to record key use on; key use is not audited")

// recordKeyUse puts keyUseRecorder in front of srv's request router. KES
// keeps the router in an unexported field (handler, an
// atomic.Pointer[http.ServeMux]) and offers no other hook; the field is
// found by name and type, and a KES without it gets errNoRouterHook and
// runs unchanged. KES makes a new router on every Update: call it again
// after one.
func recordKeyUse(srv *kes.Server, audit slog.Handler) error {
	f := reflect.ValueOf(srv).Elem().FieldByName("handler")
	if !f.IsValid() || f.Type() != reflect.TypeFor[atomic.Pointer[http.ServeMux]]() {
		return errNoRouterHook
	}
	p := (*atomic.Pointer[http.ServeMux])(unsafe.Pointer(f.UnsafeAddr()))
	old := p.Load()
	if old == nil {
		return errNoRouterHook
	}
	mux := http.NewServeMux()
	mux.Handle("/", keyUseRecorder{next: old, audit: audit})
	p.Store(mux)
	return nil
}
