package runner

import (
	"context"
	"fmt"
	"net"
	"strconv"
)

// reservedListener holds a port from the moment the lab checks it until
// the server that serves it takes it over, so that a port in use is
// reported before anything starts and port 0 becomes a concrete port.
type reservedListener struct{ net.Listener }

// reserve reserves the port of addr for the flag that gave it.
func (r *reservedListener) reserve(ctx context.Context, flag, addr string) (err error) {
	r.Listener, err = reserve(ctx, flag, addr)
	return err
}

// reserve listens on addr, naming the flag to change when the port is
// taken.
func reserve(ctx context.Context, flag, addr string) (net.Listener, error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err == nil {
		return ln, nil
	}
	host, port, _ := net.SplitHostPort(addr)
	if isAddrInUse(err) {
		n, _ := strconv.Atoi(port)
		if n += 100; n > 65535 {
			n -= 200
		}
		return nil, fmt.Errorf("runner: port %s is in use by another program; pass %s %s or stop it", port, flag, net.JoinHostPort(host, strconv.Itoa(n)))
	}
	return nil, fmt.Errorf("runner: cannot listen on %s (%s): %w", addr, flag, err)
}

// take hands the listener over to its server.
func (r *reservedListener) take() net.Listener {
	ln := r.Listener
	r.Listener = nil
	return ln
}

// close releases the port if nobody took it.
func (r *reservedListener) close() {
	if r.Listener != nil {
		r.Listener.Close()
		r.Listener = nil
	}
}

// reservePorts reserves KES's port, every MinIO node's ports and, unless
// it is off, the lab console's.
func (l *Lab) reservePorts(ctx context.Context, web bool) error {
	if err := l.kesLn.reserve(ctx, "--kes-address", l.settings.KESAddress); err != nil {
		return err
	}
	if web {
		if err := l.webLn.reserve(ctx, "--web-address", l.settings.WebAddress); err != nil {
			return err
		}
		if !loopback(l.settings.WebAddress) {
			fmt.Fprintf(l.log, "sselab: warning: the lab console listens on %s, beyond this machine: anyone who reaches it can try to log in as the root user; keep --web-address on 127.0.0.1 unless others must use it\n", l.settings.WebAddress)
		}
	}
	return l.addNodes(ctx)
}

// loopback reports whether a listen address serves this machine only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// dialable turns a listen address into one a client on this machine can
// dial: an unspecified host (0.0.0.0, ::) becomes the loopback address.
func dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
