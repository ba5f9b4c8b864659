package runner

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sselab/sselab/internal/fsutil"
	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/labdir"
	"github.com/sselab/sselab/pkg/miniobin"
	"github.com/sselab/sselab/pkg/pki"
	"github.com/sselab/sselab/pkg/supervisor"
	"github.com/sselab/sselab/pkg/vault"
)

// node is one MinIO server process of the lab: its ports, drives, log and
// supervisor. Every node gets the same endpoint list, KES settings,
// client identity, default key and root credentials.
type node struct {
	n           int  // 1-based
	several     bool // the lab runs more than one node
	s3, console reservedListener
	// s3Addr and consoleAddr are the node's listen addresses, with the
	// ports reserved (port 0 resolved); they stay the node's when it is
	// started again.
	s3Addr, consoleAddr string
	s3URL, consoleURL   string
	drives              []string
	log                 string

	mu    sync.Mutex
	proc  *supervisor.Process // the current run's supervisor, or nil
	state string              // labdir.NodeRunning, NodeStopped, ...
	err   error               // why a failed node failed
}

// title names the node in messages: "MinIO", or "MinIO node N" in a lab
// of several.
func (n *node) title() string {
	if !n.several {
		return "MinIO"
	}
	return "MinIO node " + strconv.Itoa(n.n)
}

// name names the node's process in the supervisor's messages.
func (n *node) name() string {
	if !n.several {
		return "minio"
	}
	return "minio-" + strconv.Itoa(n.n)
}

// current returns the node's supervisor (nil before it started) and
// state.
func (n *node) current() (*supervisor.Process, string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.proc, n.state
}

// describe returns the node as the state file records it.
func (n *node) describe() labdir.Node {
	d := labdir.Node{S3Endpoint: n.s3URL, ConsoleURL: n.consoleURL, Drives: n.drives, Log: n.log}
	if p, _ := n.current(); p != nil {
		d.PID = p.PID()
	}
	return d
}

// info returns how the node runs, for the control endpoint.
func (n *node) info() labdir.NodeInfo {
	n.mu.Lock()
	defer n.mu.Unlock()
	i := labdir.NodeInfo{State: n.state}
	if n.proc != nil {
		i.PID, i.Restarts = n.proc.PID(), n.proc.Restarts()
	}
	if n.err != nil {
		i.Error = n.err.Error()
	}
	return i
}

// release closes the node's reserved ports, if MinIO has not taken them.
func (n *node) release() {
	n.s3.close()
	n.console.close()
}

// addNodes makes the lab's MinIO nodes of the settings' shape with their
// reserved ports: node 1 at the settings' addresses, the others after
// them (see nodeAddresses).
func (l *Lab) addNodes(ctx context.Context) error {
	shape := l.settings.Shape.Norm()
	s3Addrs, consoleAddrs, err := nodeAddresses(l.settings)
	if err != nil {
		return err
	}
	for i := range shape.Nodes {
		n := &node{n: i + 1, several: shape.Several(), log: l.layout.NodeLog(i + 1)}
		for d := range shape.Drives {
			n.drives = append(n.drives, l.layout.NodeDrive(n.n, d+1))
		}
		l.nodes = append(l.nodes, n)
		if err := n.s3.reserveNode(ctx, n.n, "--address", s3Addrs[i]); err != nil {
			return err
		}
		if err := n.console.reserveNode(ctx, n.n, "--console-address", consoleAddrs[i]); err != nil {
			return err
		}
		n.s3Addr, n.consoleAddr = n.s3.Addr().String(), n.console.Addr().String()
	}
	return nil
}

// minioRun is what every start of a MinIO node uses: the binary, its
// certificates directory, its environment and the endpoint list.
type minioRun struct {
	bin       *miniobin.Binary
	certsDir  string
	env       []string
	endpoints []string
}

// startNodes starts every MinIO node under supervision, wired to KES, and
// waits until each is ready and, with several drives, until the erasure
// sets have write quorum. If one node fails to start, the others are stopped
// and its error (with its last log lines) is the one returned.
// Supervisor events go to the progress lines while starting and to the
// lab's log afterwards.
func (l *Lab) startNodes(ctx context.Context, bin *miniobin.Binary) error {
	shape := l.settings.Shape.Norm()
	scheme, certsDir := "https", l.pki.MinIOCertsDir()
	if l.settings.HTTP {
		scheme, certsDir = "http", l.layout.MinIOPlainCertsDir()
	}
	dirs := []string{l.layout.LogsDir(), certsDir}
	for _, n := range l.nodes {
		dirs = append(dirs, n.drives...)
		n.s3URL = scheme + "://" + dialable(n.s3Addr)
		n.consoleURL = scheme + "://" + dialable(n.consoleAddr)
	}
	for _, d := range dirs {
		if err := fsutil.MkdirPrivate(d); err != nil {
			return err
		}
	}
	l.state.S3Endpoint, l.state.ConsoleURL = l.nodes[0].s3URL, l.nodes[0].consoleURL
	l.state.Shape = shape
	env := minioEnv(os.Environ(), l.creds, l.state.KESEndpoint, l.pki, l.settings.Key)
	if shape.Total() > 1 {
		// MinIO refuses several drives on the root disk otherwise.
		env = append(env, "MINIO_CI_CD=1")
	}
	endpoints, err := endpointList(scheme, l.nodes, shape)
	if err != nil {
		return err
	}
	l.minio = minioRun{bin: bin, certsDir: certsDir, env: env, endpoints: endpoints}
	if shape.Several() {
		l.step("starting %d MinIO nodes %s (%s): %s", shape.Nodes, bin.Version, bin.Path, shape.Describe())
	} else {
		l.step("starting MinIO %s (%s)", bin.Version, bin.Path)
	}

	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	started := make(chan error, len(l.nodes))
	for _, n := range l.nodes {
		go func() {
			err := l.startNode(sctx, n)
			if err != nil {
				cancel(err) // the others would wait for it in vain
			}
			started <- err
		}()
	}
	var first error
	for range l.nodes {
		if err := <-started; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return first
	}
	if shape.Total() > 1 {
		if err := l.waitQuorum(ctx); err != nil {
			return err
		}
	}
	if shape.Several() {
		l.step("MinIO is ready on %d nodes, node 1 on %s", shape.Nodes, l.state.S3Endpoint)
		return nil
	}
	l.step("MinIO is ready on %s", l.state.S3Endpoint)
	return nil
}

// waitQuorum waits until node 1 reports write quorum for the cluster.
func (l *Lab) waitQuorum(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var last error
	for {
		ok, err := lab.ClusterHealth(ctx, l.http, l.nodes[0].s3URL, lab.QuorumWrite)
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last == nil {
				last = errors.New("MinIO answers that some erasure set lacks write quorum")
			}
			return fmt.Errorf("runner: every MinIO node is ready, but the cluster has no write quorum after a minute: %w; see the logs in %s", last, l.layout.LogsDir())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// startNode starts node n and waits until it is ready: until its S3 API
// serves a signed request, which MinIO does only once it has initialized,
// its first KMS round trip included (in a cluster, once it has joined the
// others).
func (l *Lab) startNode(ctx context.Context, n *node) error {
	args := append(append([]string{"server"}, l.minio.endpoints...),
		"--address", n.s3Addr, "--console-address", n.consoleAddr, "--certs-dir", l.minio.certsDir)
	env := l.minio.env
	if n.several {
		// Inside a container (/.dockerenv, Kubernetes) MinIO does not
		// take a loopback host for its own and waits for it to resolve
		// to another address, forever. This names its own endpoints,
		// host and port; elsewhere MinIO ignores it.
		env = append(slices.Clone(env), "_MINIO_SERVER_LOCAL="+dialable(n.s3Addr))
	}
	n.release() // MinIO binds them
	proc, err := supervisor.Start(ctx, supervisor.Config{
		Name:          n.name(),
		Path:          l.minio.bin.Path,
		Args:          args,
		Env:           env,
		Dir:           l.layout.Root,
		LogFile:       n.log,
		Ready:         func(ctx context.Context) error { return lab.ProbeS3(ctx, l.http, n.s3URL, l.creds) },
		ReadyTimeout:  2 * time.Minute,
		ReadyInterval: 5 * time.Millisecond,
		Restart:       true,
		// A MinIO that was ready and up for 2 s and then dies was killed
		// or crashed once: restart it at once, however often that happens.
		HealthyAfter: 2 * time.Second,
		Started: func(int) {
			if err := l.writeState(false); err != nil {
				fmt.Fprintf(l.log, "%s cannot record %s's new pid: %v\n", time.Now().Format(time.DateTime), n.name(), err)
			}
		},
		Logf: func(format string, args ...any) {
			if !l.running.Load() {
				l.step(format, args...)
				return
			}
			fmt.Fprintf(l.log, time.Now().Format(time.DateTime)+" "+format+"\n", args...)
		},
	})
	if err != nil {
		return &logError{err: fmt.Errorf("runner: %s: %w", n.title(), err), log: n.log}
	}
	n.mu.Lock()
	n.proc, n.state, n.err = proc, labdir.NodeRunning, nil
	n.mu.Unlock()
	go l.watchNode(n, proc)
	return nil
}

// watchNode waits until the supervision of node n's run p ends. If the
// supervisor gave up on a crashing node, the node is failed: a lab of one
// node ends (Wait returns), a lab of several keeps running without it.
func (l *Lab) watchNode(n *node, p *supervisor.Process) {
	<-p.Done()
	err := p.Err()
	if err == nil {
		return // stopped on request
	}
	n.mu.Lock()
	if n.proc == p {
		n.state, n.err = labdir.NodeFailed, err
	}
	n.mu.Unlock()
	if err := l.writeState(false); err != nil {
		fmt.Fprintf(l.log, "%s cannot record that %s failed: %v\n", time.Now().Format(time.DateTime), n.name(), err)
	}
	if !n.several {
		select {
		case l.nodeFailed <- n:
		default:
		}
		return
	}
	fmt.Fprintf(l.log, "%s %s failed for good: %v; 'sselab node start %d' starts it again\n", time.Now().Format(time.DateTime), n.title(), err, n.n)
}

// endpointList is the list of drives every node is given, in MinIO's
// order (labdir.Shape.Order): the paths of the drives for a lab of one
// node; for several, URLs that name each drive's node by its S3 address,
// which is how a MinIO process tells its own drives from the others'.
func endpointList(scheme string, nodes []*node, shape labdir.Shape) ([]string, error) {
	var list []string
	for _, r := range shape.Order() {
		n := nodes[r.Node-1]
		drive := n.drives[r.Drive-1]
		if !shape.Several() {
			list = append(list, drive)
			continue
		}
		abs, err := filepath.Abs(drive)
		if err != nil {
			return nil, fmt.Errorf("runner: %w", err)
		}
		p := filepath.ToSlash(abs)
		if !strings.HasPrefix(p, "/") {
			p = "/" + p // C:/... on Windows; MinIO takes /C:/... and drops the slash
		}
		list = append(list, (&url.URL{Scheme: scheme, Host: dialable(n.s3Addr), Path: p}).String())
	}
	return list, nil
}

// stopNodes stops every MinIO node gracefully, all at once, and returns
// the first error. It waits for a node command in progress.
func (l *Lab) stopNodes(ctx context.Context) error {
	l.nodeOp.Lock()
	defer l.nodeOp.Unlock()
	errs := make(chan error, len(l.nodes))
	for _, n := range l.nodes {
		go func() {
			p, _ := n.current()
			if p == nil {
				errs <- nil
				return
			}
			errs <- p.Stop(ctx)
		}()
	}
	var first error
	for range l.nodes {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// minioEnv is the child environment of MinIO: the caller's environment
// without any MINIO_* variable (a stray MINIO_KMS_SECRET_KEY would clash
// with KES) and without the Vault secret MinIO has no use for, plus the
// root credentials and the KES connection. Secrets travel here, never in
// MinIO's arguments.
func minioEnv(base []string, c labdir.Credentials, kesEndpoint string, p *pki.PKI, key string) []string {
	env := slices.DeleteFunc(slices.Clone(base), func(kv string) bool {
		name, _, _ := strings.Cut(strings.ToUpper(kv), "=") // Windows names ignore case
		return strings.HasPrefix(name, "MINIO_") || name == vault.SecretEnv
	})
	env = append(env, "MINIO_ROOT_USER="+c.RootUser, "MINIO_ROOT_PASSWORD="+c.RootPassword)
	env = append(env, KESEnv(kesEndpoint, p, key)...)
	return append(env, QuietEnv()...)
}

// KESEnv is the environment that wires a MinIO to the KES server at
// endpoint the way the lab wires its own: as MinIO's identity from p,
// trusting p's CA, with key as the default key. It holds no secret.
func KESEnv(endpoint string, p *pki.PKI, key string) []string {
	return []string{
		"MINIO_KMS_KES_ENDPOINT=" + endpoint,
		"MINIO_KMS_KES_CERT_FILE=" + p.MinIOClient.CertFile,
		"MINIO_KMS_KES_KEY_FILE=" + p.MinIOClient.KeyFile,
		"MINIO_KMS_KES_CAPATH=" + p.CAFile(),
		"MINIO_KMS_KES_KEY_NAME=" + key,
	}
}

// QuietEnv is the environment that turns off what MinIO would otherwise
// do over the network on its own: its update check and call-home. The
// lab gives it to its MinIO.
func QuietEnv() []string {
	return []string{"MINIO_UPDATE=off", "MINIO_CALLHOME_ENABLE=off"}
}
