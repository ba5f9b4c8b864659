package kesserver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/netip"
)

// logRouter is KES's error log handler. KES v0.24.0 reports refused
// requests ("access denied: ...") at debug level on its error log and not
// on its audit log; the router sends those to the audit log, as JSON with
// the request's method, path, address and client identity, so that the
// audit log shows every request KES refused. Everything else goes to the
// error log.
//
// The Server's ErrLevel must be slog.LevelDebug for the refusals to reach
// the router.
type logRouter struct {
	errors slog.Handler
	audit  slog.Handler
}

func (h logRouter) Enabled(context.Context, slog.Level) bool { return true }

func (h logRouter) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelInfo {
		return h.errors.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, slog.LevelWarn, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if req, ok := a.Value.Any().(*http.Request); ok {
			a = requestAttr(a.Key, req)
		}
		out.AddAttrs(a)
		return true
	})
	out.AddAttrs(slog.Group("res", slog.Int("code", http.StatusForbidden)))
	return h.audit.Handle(ctx, out)
}

func (h logRouter) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logRouter{errors: h.errors.WithAttrs(attrs), audit: h.audit.WithAttrs(attrs)}
}

func (h logRouter) WithGroup(name string) slog.Handler {
	return logRouter{errors: h.errors.WithGroup(name), audit: h.audit.WithGroup(name)}
}

// requestAttr describes a refused request the way KES's audit log
// describes accepted ones.
func requestAttr(key string, r *http.Request) slog.Attr {
	identity := ""
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		sum := sha256.Sum256(r.TLS.PeerCertificates[0].RawSubjectPublicKeyInfo)
		identity = hex.EncodeToString(sum[:])
	}
	return slog.Group(key,
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.String("ip", remoteIP(r.RemoteAddr)),
		slog.String("identity", identity),
	)
}

// remoteIP drops the port from a remote address, as KES's audit log does.
func remoteIP(addr string) string {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return ap.Addr().String()
	}
	return addr
}
