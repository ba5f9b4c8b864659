package runner

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/sselab/sselab/pkg/keystore"
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
	mux.HandleFunc("POST "+labdir.ControlSeal, c.authorized(func(w http.ResponseWriter, r *http.Request) {
		answer(w, l.seal())
	}))
	mux.HandleFunc("POST "+labdir.ControlUnseal, c.authorized(func(w http.ResponseWriter, r *http.Request) {
		pass, err := io.ReadAll(io.LimitReader(r.Body, 4<<10))
		if err == nil {
			err = l.unseal(pass)
		}
		clear(pass)
		answer(w, err)
	}))
	mux.HandleFunc("POST "+labdir.ControlNode, c.authorized(func(w http.ResponseWriter, r *http.Request) {
		var req labdir.NodeRequest
		err := json.NewDecoder(io.LimitReader(r.Body, 4<<10)).Decode(&req)
		if err != nil {
			err = fmt.Errorf("runner: a node request that is not JSON: %w", err)
		} else {
			err = l.controlNode(r.Context(), req)
		}
		answer(w, err)
	}))
	c.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go c.srv.Serve(ln)
	return c, nil
}

// answer ends a request that changes the lab: 204, or 409 and why not.
func answer(w http.ResponseWriter, err error) {
	if err != nil {
		http.Error(w, err.Error(), http.StatusConflict)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// seal seals the keystore and drops the keys KES holds in memory: from
// now on every key operation fails, MinIO's included.
func (l *Lab) seal() error {
	s, ok := l.store.(keystore.Sealer)
	if !ok {
		return keystore.NotSealable(l.kind.Name(), l.layout)
	}
	if err := s.Seal(); err != nil {
		return err
	}
	fmt.Fprintln(l.log, "sselab: the keystore is sealed; 'sselab unseal' opens it again")
	return l.kes.FlushCache()
}

// unseal unseals the keystore with pass; KES serves the keys again at
// once, reading them anew.
func (l *Lab) unseal(pass []byte) error {
	s, ok := l.store.(keystore.Sealer)
	if !ok {
		return keystore.NotSealable(l.kind.Name(), l.layout)
	}
	if err := s.Unseal(pass); err != nil {
		return err
	}
	fmt.Fprintln(l.log, "sselab: the keystore is unsealed")
	return l.kes.FlushCache() // also ends KES's "keystore offline" state
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
