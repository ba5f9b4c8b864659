package runner

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/sselab/sselab/pkg/labdir"
)

// controlServer is the loopback endpoint through which `sselab down` and
// `sselab status` reach the running lab (see labdir.ControlStop and
// labdir.ControlInfo). Every request carries the token from the state
// file, which only the lab's owner can read.
type controlServer struct {
	addr, token string
	srv         *http.Server
}

// serveControl starts the control endpoint on a free loopback port.
func (l *Lab) serveControl() (*controlServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("runner: control endpoint: %w", err)
	}
	c := &controlServer{addr: ln.Addr().String(), token: rand.Text() + rand.Text()}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+labdir.ControlStop, c.authorized(func(w http.ResponseWriter, r *http.Request) {
		l.requestStop()
		w.WriteHeader(http.StatusAccepted)
	}))
	mux.HandleFunc("GET "+labdir.ControlInfo, c.authorized(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(l.info(r.Context()))
	}))
	c.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go c.srv.Serve(ln)
	return c, nil
}

// authorized lets a request through to h only with the lab's token.
func (c *controlServer) authorized(h http.HandlerFunc) http.HandlerFunc {
	want := []byte("Bearer " + c.token)
	return func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		h(w, r)
	}
}

// shutdown stops the endpoint. It lets the stop request that got us here
// finish its answer; Close would cut it off and 'down' would see EOF.
func (c *controlServer) shutdown(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if c.srv.Shutdown(ctx) != nil {
		c.srv.Close()
	}
}

// info is what the lab reports about itself: its processes, and a fresh
// check of its keystore.
func (l *Lab) info(ctx context.Context) labdir.Info {
	i := labdir.Info{PID: os.Getpid()}
	for _, n := range l.nodes {
		i.Nodes = append(i.Nodes, n.info())
	}
	if len(i.Nodes) > 0 {
		i.MinIOPID, i.MinIORestarts = i.Nodes[0].PID, i.Nodes[0].Restarts
	}
	if l.store != nil {
		h := l.store.Health(ctx)
		i.Keystore, i.Vault = &h, h.Vault
	}
	return i
}
