package runner

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/sselab/sselab/pkg/labdir"
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

// reserveNode reserves the port of addr for MinIO node n, whose address
// comes from flag: node 1's is the flag's, the others follow it (see
// nodeAddresses).
func (r *reservedListener) reserveNode(ctx context.Context, n int, flag, addr string) error {
	if n == 1 {
		return r.reserve(ctx, flag, addr)
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	switch {
	case err == nil:
		r.Listener = ln
		return nil
	case isAddrInUse(err):
		host, _, _ := net.SplitHostPort(addr)
		return fmt.Errorf("runner: MinIO node %d needs port %s (nodes 2 and up take the ports after %s), and another program uses it; pass another %s, %s to pick free ports, or stop that program",
			n, addr, flag, flag, net.JoinHostPort(host, "0"))
	}
	return fmt.Errorf("runner: cannot listen on %s for MinIO node %d (%s): %w", addr, n, flag, err)
}

// nodeAddresses returns the S3 and console listen addresses of every
// MinIO node of the settings' shape. Node 1 has the settings' addresses;
// node k listens on the same hosts, (k-1) steps above them, with a step
// that keeps the S3 ports clear of the console ports: 1 when the two
// ranges do not meet, else the smallest that makes them interleave. With
// the defaults 9000 and 9001, node 2 has 9002 and 9003, node 3 9004 and
// 9005. Port 0 stays 0 for every node: each picks a free port.
func nodeAddresses(s labdir.Settings) (s3, console []string, err error) {
	nodes := s.Shape.Norm().Nodes
	s3Host, s3Port, err := splitPort(s.Address)
	if err != nil {
		return nil, nil, err
	}
	cHost, cPort, err := splitPort(s.ConsoleAddress)
	if err != nil {
		return nil, nil, err
	}
	step := 1
	// The same port twice is checkDistinct's to refuse.
	if s3Port != 0 && cPort != 0 && s3Port != cPort {
		diff := max(s3Port-cPort, cPort-s3Port)
		for diff%step == 0 && diff/step < nodes {
			step++
		}
	}
	for k := range nodes {
		for _, a := range []struct {
			flag, host string
			port       int
			out        *[]string
		}{{"--address", s3Host, s3Port, &s3}, {"--console-address", cHost, cPort, &console}} {
			p := a.port
			if p != 0 {
				p += k * step
			}
			if p > 65535 {
				return nil, nil, labdir.Invalid("runner: %s %s leaves no port for MinIO node %d (it would need %d); pick a lower port, or port 0 for free ones",
					a.flag, net.JoinHostPort(a.host, strconv.Itoa(a.port)), k+1, p)
			}
			*a.out = append(*a.out, net.JoinHostPort(a.host, strconv.Itoa(p)))
		}
	}
	return s3, console, nil
}

// splitPort splits a checked host:port address.
func splitPort(addr string) (string, int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("runner: %w", err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return "", 0, fmt.Errorf("runner: port of %s: %w", addr, err)
	}
	return host, p, nil
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
