// Package runner runs a lab: it is what 'sselab up' does, in the process
// that keeps the lab alive. Up locks the state directory, makes or loads
// the PKI and the credentials, starts the embedded KES (package
// kesserver) on the keystore the settings name (package keystore), starts
// and supervises the MinIO nodes (package supervisor), sets up the
// encrypted buckets, and publishes the state file and the control
// endpoint through which other sselab commands (package lab) find, query
// and stop the lab.
//
// The start order is Up's, in runner.go; each MinIO node is a node
// (nodes.go), and 'sselab node' stops, kills and starts one through the
// control endpoint (nodectl.go); the lab's KES policies are in policy.go;
// the control endpoint is in control.go.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	kesapi "github.com/minio/kms-go/kes"
	"github.com/minio/minio-go/v7"

	"github.com/sselab/sselab/internal/fsutil"
	"github.com/sselab/sselab/pkg/adopt"
	"github.com/sselab/sselab/pkg/console"
	"github.com/sselab/sselab/pkg/kesserver"
	"github.com/sselab/sselab/pkg/keystore"
	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/labdir"
	"github.com/sselab/sselab/pkg/miniobin"
	"github.com/sselab/sselab/pkg/pki"
)

// Options are the inputs of Up. Zero values mean "as last time on this
// directory, else the default" (see package labdir for the defaults).
type Options struct {
	// Dir is the state directory. Required.
	Dir string

	// Address, ConsoleAddress and KESAddress are listen addresses
	// (host:port); port 0 picks a free port. Address and ConsoleAddress
	// are MinIO node 1's.
	Address, ConsoleAddress, KESAddress string

	// WebAddress is the lab console's listen address (host:port); port 0
	// picks a free port. NoWeb turns the console off for this run.
	WebAddress string
	NoWeb      bool

	// Key is the default KES key: MinIO's KMS key and the buckets' key.
	Key string

	// Buckets are the buckets to create with bucket-default SSE-KMS.
	Buckets []string

	// Shape is how many MinIO nodes of how many drives each the lab runs;
	// a zero count means as before on this directory, else 1. A lab's
	// shape cannot change once MinIO has written its drives.
	Shape labdir.Shape

	// HTTP, if set, chooses plain HTTP (true) or TLS (false) for S3.
	HTTP *bool

	// Keystore are the keystore flags given (--kms and each kind's own):
	// where KES keeps the keys. Nil means as last time.
	Keystore *keystore.Flags

	// MinIO says where to find the MinIO server binary.
	MinIO miniobin.Options

	// AdoptDrive is the drive of a MinIO that ran with a static key
	// (MINIO_KMS_SECRET_KEY), which a new lab copies and serves;
	// StaticKeyFile holds that key, "NAME:BASE64". Both or neither; see
	// package adopt.
	AdoptDrive, StaticKeyFile string

	// Progress receives one line per step while the lab starts; nil
	// discards them.
	Progress io.Writer

	// Log receives warnings, and what happens while the lab runs, such as
	// MinIO restarts; nil discards it.
	Log io.Writer
}

// Lab is a running lab. Up returns it ready; Wait blocks until it should
// stop; Stop stops it.
type Lab struct {
	layout   labdir.Layout
	settings labdir.Settings
	creds    labdir.Credentials
	pki      *pki.PKI
	http     *http.Client // trusts the lab CA; shared by every request to MinIO
	kind     keystore.Kind
	store    keystore.Store
	log      io.Writer                        // never nil
	step     func(format string, args ...any) // progress while starting
	running  atomic.Bool                      // Up has returned the lab
	adopt    *adopt.Drive                     // the drive this start adopts, or nil

	lock  *labdir.DirLock
	kesLn reservedListener // KES's port, until KES takes it
	kes   *kesserver.Server
	webLn reservedListener // the lab console's port, until it serves
	web   *console.Server
	nodes []*node  // MinIO node 1 first
	minio minioRun // how every node starts; set by startNodes
	// nodeOp serializes node commands (sselab node) and the final stop.
	nodeOp sync.Mutex
	// nodeFailed receives the node of a lab of one node when its
	// supervisor gives up; Wait then returns.
	nodeFailed chan *node

	stateMu   sync.Mutex // guards state once published
	state     labdir.State
	published bool

	control  *controlServer
	stopReq  chan struct{}
	reqOnce  sync.Once
	stopOnce sync.Once
	stopErr  error
}

// Up starts the lab on o.Dir and returns once MinIO is ready and the
// buckets are encrypted. On failure it stops whatever it started, and
// removes what it created if the lab never became ready.
//
// The order: the drive to adopt, settings and the keystore's own checks
// (before anything is written), the directory and its lock, every port,
// the MinIO binary, the PKI and the credentials, the copy of the adopted
// drive. Then KES and MinIO start side by side: KES on the port already
// bound (MinIO's first KMS call waits in the port's queue until KES
// serves) makes sure the keys exist, while MinIO's process starts and
// initializes; a lab that adopts a drive imports its static key before
// MinIO starts. Once MinIO is ready: the buckets, then the state file and
// the control endpoint that other sselab commands use.
func Up(ctx context.Context, o Options) (l *Lab, err error) {
	layout := labdir.Layout{Root: o.Dir}
	if err := checkDir(o.Dir); err != nil {
		return nil, err
	}
	drive, err := checkAdoption(layout, &o)
	if err != nil {
		return nil, err
	}
	settings, kind, err := mergeSettings(layout, o)
	if err != nil {
		return nil, err
	}
	l = &Lab{layout: layout, settings: settings, kind: kind, log: o.Log, stopReq: make(chan struct{}), adopt: drive, nodeFailed: make(chan *node, 1)}
	if l.log == nil {
		l.log = io.Discard
	}
	l.step = func(format string, args ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, format+"\n", args...)
		}
	}
	env := keystore.Env{Layout: layout, Log: l.log, Step: l.step}
	if l.store, err = kind.Open(ctx, &l.settings.Keystore, env); err != nil {
		return nil, err
	}

	// The directory and the lock. What was there is recorded only once we
	// hold the lock, so a failed start never removes another lab's files.
	_, statErr := os.Stat(layout.Root)
	created := errors.Is(statErr, fs.ErrNotExist)
	if err := fsutil.MkdirPrivate(layout.Root); err != nil {
		return nil, fmt.Errorf("runner: cannot use --dir %s: %w; pick a directory you can write to", layout.Root, errors.Unwrap(err))
	}
	if l.lock, err = labdir.Lock(layout); err != nil {
		if created {
			os.Remove(layout.Root) // only if still empty
		}
		return nil, err
	}
	l.lock.Report(l.log)
	undo, err := snapshotDir(layout.Root, created)
	if err != nil {
		l.lock.Release()
		return nil, err
	}
	if err := checkModes(layout, l.log); err != nil {
		l.lock.Release()
		return nil, err
	}
	ready := false
	defer func() {
		if err != nil {
			l.Stop()
			if !ready {
				undoKeepingLog(undo, err)
			}
			l = nil
		}
	}()

	if err := l.reservePorts(ctx, !o.NoWeb); err != nil {
		return l, err
	}
	bin, err := miniobin.Find(ctx, o.MinIO) // may build MinIO the first time
	if err != nil {
		return l, err
	}
	if l.pki, err = pki.LoadOrCreate(pki.Options{Dir: layout.CertsDir(), Hosts: extraHosts(l.settings)}); err != nil {
		return l, err
	}
	l.http = lab.HTTPClient(l.pki, 5*time.Second)
	if l.creds, err = labdir.LoadOrCreateCredentials(layout.CredentialsFile()); err != nil {
		return l, err
	}
	if l.adopt != nil {
		if err := l.copyDrive(); err != nil {
			return l, err
		}
	}
	if err := l.startKESAndMinIO(ctx, bin); err != nil {
		return l, err
	}
	if err := l.setUpBuckets(ctx); err != nil {
		return l, err
	}
	ready = true
	if err := l.publish(bin); err != nil {
		return l, err
	}
	l.running.Store(true)
	return l, nil
}

// startKESAndMinIO starts KES and the MinIO nodes side by side and
// returns once both serve. If KES fails, MinIO's start is stopped and
// KES's error is the one reported: MinIO would only say that it cannot
// reach KES. A lab that adopts a drive starts MinIO only once KES holds
// the static key.
func (l *Lab) startKESAndMinIO(ctx context.Context, bin *miniobin.Binary) error {
	l.state.KESEndpoint = "https://" + dialable(l.kesLn.Addr().String())
	if l.adopt != nil {
		if err := l.startKES(ctx); err != nil {
			return err
		}
		return l.startNodes(ctx, bin)
	}
	minioCtx, stopMinIO := context.WithCancelCause(ctx)
	defer stopMinIO(nil)
	kesErr := make(chan error, 1)
	go func() {
		err := l.startKES(ctx)
		if err != nil {
			stopMinIO(err)
		}
		kesErr <- err
	}()
	minioErr := l.startNodes(minioCtx, bin)
	if err := <-kesErr; err != nil {
		return err
	}
	return minioErr
}

// startKES starts the embedded KES on its reserved listener and makes
// sure the lab's keys exist.
func (l *Lab) startKES(ctx context.Context) error {
	cfg := kesserver.DefaultConfig()
	cfg.Listener = l.kesLn.take() // kesserver.Start closes it, also when it fails
	cfg.TLS = l.pki.ServerTLS(l.pki.KESServer)
	cfg.Policies = Policies(kesapi.Identity(l.pki.MinIOClient.Identity()), kesapi.Identity(l.pki.Operator.Identity()))
	cfg.ErrorLogFile = l.layout.KESErrorLog()
	cfg.AuditLogFile = l.layout.KESAuditLog()
	cfg.Cache = l.store.Cache()
	keys, err := l.store.Connect(ctx)
	if err != nil {
		cfg.Listener.Close()
		return err
	}
	cfg.KeyStore = keys
	if l.kes, err = kesserver.Start(ctx, cfg); err != nil {
		return err
	}
	l.step("KES is serving on %s (%s)", l.state.KESEndpoint, l.kind.Where(l.layout, l.settings.Keystore))

	kc := kesapi.NewClientWithConfig(l.state.KESEndpoint, l.pki.ClientTLS(l.pki.Operator))
	defer kc.HTTPClient.CloseIdleConnections()
	if l.adopt != nil {
		if err := l.importStaticKey(ctx, kc); err != nil {
			return err
		}
	}
	if hasMinIOData(l.layout) {
		// A new default key would not bring MinIO's data back: it would
		// only hide that the old one is lost.
		if _, err := kc.DescribeKey(ctx, l.settings.Key); errors.Is(err, kesapi.ErrKeyNotFound) {
			return fmt.Errorf("runner: MinIO's data in %s is encrypted with the key %s, which %s lacks: put it back with 'sselab restore BACKUP --keys-only --dir %s'; a new key would leave the data unreadable",
				l.layout.MinIODataDir(), l.settings.Key, l.kind.Where(l.layout, l.settings.Keystore), l.layout.Root)
		}
	}
	for _, k := range append([]string{l.settings.Key}, l.store.Keys()...) {
		if err := kc.CreateKey(ctx, k); err != nil && !errors.Is(err, kesapi.ErrKeyExists) {
			return fmt.Errorf("runner: KES does not answer: creating key %q: %w", k, err)
		}
	}
	return nil
}

// s3Client returns a client of the S3 API at endpoint with the root
// credentials that tries each request once: the lab polls a starting
// MinIO at its own pace, not minio-go's backoff.
func (l *Lab) s3Client(endpoint string) (*minio.Client, error) {
	return lab.NewS3Client(endpoint, l.creds, l.http.Transport, 1)
}

// setUpBuckets creates the buckets with bucket-default SSE-KMS.
func (l *Lab) setUpBuckets(ctx context.Context) error {
	s3, err := l.s3Client(l.state.S3Endpoint)
	if err != nil {
		return err
	}
	for _, b := range l.settings.Buckets {
		if err := lab.RetryInitializing(ctx, func() error { return lab.EnsureEncryptedBucket(ctx, s3, b, l.settings.Key) }); err != nil {
			return err
		}
	}
	l.step("buckets ready: %s", strings.Join(l.settings.Buckets, ", "))
	return nil
}

// publish writes the settings, what the keystore keeps in the directory,
// and the state file, and starts the control endpoint: from then on other
// sselab commands find and can stop the lab.
func (l *Lab) publish(bin *miniobin.Binary) error {
	var err error
	if l.control, err = l.serveControl(); err != nil {
		return err
	}
	l.stateMu.Lock()
	st := &l.state
	st.PID = os.Getpid()
	st.Started = time.Now().UTC()
	st.KESVersion = kesserver.Version()
	st.CAFile = l.pki.CAFile()
	st.Keystore = l.settings.Keystore
	st.KeystoreSummary = l.store.Summary()
	st.Key = l.settings.Key
	st.Buckets = l.settings.Buckets
	st.HTTP = l.settings.HTTP
	st.MinIOPath, st.MinIOVersion = bin.Path, miniobin.Describe(bin.Version, bin.Path)
	st.ControlAddress, st.ControlToken = l.control.addr, l.control.token
	if l.webLn.Listener != nil {
		st.WebURL = "https://" + dialable(l.webLn.Addr().String())
	}
	l.stateMu.Unlock()

	if err := labdir.WriteJSON(l.layout.SettingsFile(), l.settings); err != nil {
		return err
	}
	if err := l.store.Keep(); err != nil {
		return err
	}
	if err := keystore.Forget(l.layout, l.kind); err != nil {
		return err
	}
	if err := l.writeState(true); err != nil {
		return err
	}
	return l.serveConsole()
}

// serveConsole starts the lab console on its reserved port, working the
// lab through the same client API as the sselab commands.
func (l *Lab) serveConsole() error {
	if l.webLn.Listener == nil {
		return nil
	}
	h := &lab.Handle{Layout: l.layout, State: l.State(), Credentials: l.creds, PKI: l.pki}
	web, err := console.New(console.Config{Lab: h, Log: l.log})
	if err != nil {
		return err
	}
	l.web = web
	ln := l.webLn.take()
	go func() {
		if err := web.Serve(ln); err != nil {
			fmt.Fprintf(l.log, "sselab: the lab console stopped: %v\n", err)
		}
	}()
	return nil
}

// writeState writes the state file with the nodes' current pids; first
// publishes it, later calls only rewrite a published one.
func (l *Lab) writeState(first bool) error {
	l.stateMu.Lock()
	defer l.stateMu.Unlock()
	if !first && !l.published {
		return nil
	}
	l.state.Nodes = make([]labdir.Node, len(l.nodes))
	for i, n := range l.nodes {
		l.state.Nodes[i] = n.describe()
	}
	l.state.MinIOPID = l.state.Nodes[0].PID
	if err := labdir.WriteState(l.layout, l.state); err != nil {
		return err
	}
	l.published = true
	return nil
}

// State returns what the running lab wrote to its state file.
func (l *Lab) State() labdir.State {
	l.stateMu.Lock()
	defer l.stateMu.Unlock()
	return l.state
}

// Credentials returns MinIO's root credentials.
func (l *Lab) Credentials() labdir.Credentials { return l.creds }

// Layout returns the lab's state directory layout.
func (l *Lab) Layout() labdir.Layout { return l.layout }

// Wait blocks until ctx ends or `sselab down` asks the lab to stop
// (returning nil), or KES or the MinIO of a lab of one node fails for
// good (returning why).
//
// In a lab of several nodes, a node that fails for good leaves the others
// running: the lab's log says so, and 'sselab node start' tries again.
func (l *Lab) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case <-l.stopReq:
		return nil
	case n := <-l.nodeFailed:
		n.mu.Lock()
		err := n.err
		n.mu.Unlock()
		return fmt.Errorf("runner: %s stopped: %w", n.title(), err)
	case err := <-l.kes.Err():
		return fmt.Errorf("runner: KES stopped: %w", err)
	}
}

// requestStop makes Wait return, as `sselab down` asks.
func (l *Lab) requestStop() { l.reqOnce.Do(func() { close(l.stopReq) }) }

// Stop stops the MinIO nodes gracefully, then KES (which closes the
// keystore), removes the state file and releases the directory. It is
// safe to call more than once.
func (l *Lab) Stop() error {
	l.stopOnce.Do(func() {
		l.requestStop()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		l.kesLn.close()
		l.webLn.close()
		if l.web != nil {
			l.web.Shutdown(ctx)
		}
		for _, n := range l.nodes {
			n.release()
		}
		if l.control != nil {
			l.control.shutdown(ctx)
		}
		l.stopErr = l.stopNodes(ctx)
		if l.kes != nil {
			if err := l.kes.Close(); l.stopErr == nil {
				l.stopErr = err
			}
		}
		l.stateMu.Lock()
		if l.published {
			os.Remove(l.layout.StateFile())
			l.published = false
		}
		l.stateMu.Unlock()
		l.lock.Release()
	})
	return l.stopErr
}
