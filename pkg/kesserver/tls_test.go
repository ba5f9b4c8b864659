package kesserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sselab/sselab/internal/testtools"
)

// TestUnknownClientsRefused starts a server whose TLS configuration asks
// for less than the lab needs (client certificates requested but not
// verified, TLS 1.0 allowed) and checks that the lab's floor applies
// anyway: every client that is not a lab client fails in the TLS
// handshake.
func TestUnknownClientsRefused(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	l := newLab(t)
	l.cfg.TLS.ClientAuth = tls.RequestClientCert
	l.cfg.TLS.MinVersion = tls.VersionTLS10
	s := start(t, ctx, l.cfg)
	other := newPKI(t, filepath.Join(t.TempDir(), "other-certs"))

	// The control: a lab client gets through.
	if code, err := do(ctx, testtools.HTTPSClient(t, l.pki.ClientTLS(l.pki.Operator)), s, http.MethodGet, "/v1/status"); err != nil || code != http.StatusOK {
		t.Fatalf("status as the operator: got %d, %v, want %d", code, err, http.StatusOK)
	}

	tests := []struct {
		name string
		conf func() *tls.Config
		// check, if set, inspects the client's error.
		check func(*testing.T, error)
		// logged is what the server's error log says about the
		// failed handshake.
		logged string
	}{
		{
			name: "certificate of another CA",
			conf: func() *tls.Config {
				c := l.pki.ClientTLS(nil)
				c.Certificates = []tls.Certificate{other.Operator.TLSCertificate()}
				return c
			},
			logged: "certificate signed by unknown authority",
		},
		{
			name:   "no certificate",
			conf:   func() *tls.Config { return l.pki.ClientTLS(nil) },
			logged: "didn't provide a certificate",
		},
		{
			name: "client does not trust the lab CA",
			conf: func() *tls.Config {
				c := other.ClientTLS(nil)
				c.Certificates = []tls.Certificate{l.pki.Operator.TLSCertificate()}
				return c
			},
			check: func(t *testing.T, err error) {
				var unknown x509.UnknownAuthorityError
				if !errors.As(err, &unknown) {
					t.Errorf("got %v, want an x509.UnknownAuthorityError", err)
				}
			},
			logged: "bad certificate",
		},
		{
			name: "TLS 1.1 at most",
			conf: func() *tls.Config {
				c := l.pki.ClientTLS(l.pki.Operator)
				c.MinVersion = tls.VersionTLS10
				c.MaxVersion = tls.VersionTLS11
				return c
			},
			check: func(t *testing.T, err error) {
				if !strings.Contains(err.Error(), "protocol version") {
					t.Errorf("got %v, want a protocol version error", err)
				}
			},
			logged: "unsupported versions",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Remember the client's address to find the server's log
			// line about this very connection.
			var local atomic.Pointer[string]
			tr := &http.Transport{
				TLSClientConfig: tt.conf(),
				DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
					c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
					if err == nil {
						addr := c.LocalAddr().String()
						local.Store(&addr)
					}
					return c, err
				},
			}
			defer tr.CloseIdleConnections()
			code, err := do(ctx, &http.Client{Transport: tr}, s, http.MethodGet, "/v1/status")
			if err == nil {
				t.Fatalf("GET /v1/status: got status %d, want a TLS error and no HTTP response", code)
			}
			if !strings.Contains(err.Error(), "tls") && !strings.Contains(err.Error(), "x509") {
				t.Errorf("GET /v1/status: got %v, want a TLS error", err)
			}
			if tt.check != nil {
				tt.check(t, err)
			}
			addr := local.Load()
			if addr == nil {
				t.Fatal("the client never connected")
			}
			waitLogLine(t, ctx, l.cfg.ErrorLogFile, "TLS handshake error from "+*addr+": ", tt.logged)
		})
	}
}

// TestHTTP2 checks that KES offers HTTP/2, so that MinIO's KES client
// multiplexes its calls over one connection instead of opening a
// mutual-TLS connection for most concurrent calls; HTTP/1.1 stays.
func TestHTTP2(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	l := newLab(t)
	s := start(t, ctx, l.cfg)
	for _, tc := range []struct {
		offer []string
		want  string
	}{{[]string{"h2", "http/1.1"}, "h2"}, {[]string{"http/1.1"}, "http/1.1"}, {nil, ""}} {
		conf := l.pki.ClientTLS(l.pki.Operator)
		conf.NextProtos = tc.offer
		conn, err := tls.Dial("tcp", s.Addr().String(), conf)
		if err != nil {
			t.Fatalf("offering %v: %v", tc.offer, err)
		}
		if got := conn.ConnectionState().NegotiatedProtocol; got != tc.want {
			t.Errorf("offering %v: negotiated %q, want %q", tc.offer, got, tc.want)
		}
		conn.Close()
	}
	// A request over HTTP/2 is answered.
	tr := &http.Transport{TLSClientConfig: l.pki.ClientTLS(l.pki.Operator), ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoint()+"/v1/status", nil)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusOK {
		t.Errorf("status over HTTP/2: %s %s, want HTTP/2.0 200", resp.Proto, resp.Status)
	}
}
