package runner

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
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
// supervisor. A lab has one today; every node gets the same endpoint
// list, KES settings, client identity, default key and root credentials.
type node struct {
	n                 int // 1-based
	s3, console       reservedListener
	s3URL, consoleURL string
	drives            []string
	log               string
	proc              *supervisor.Process
}

// title names the node in messages: "MinIO", or "MinIO node N" in a lab
// of several.
func (n *node) title() string {
	if n.n == 1 {
		return "MinIO"
	}
	return "MinIO node " + strconv.Itoa(n.n)
}

// name names the node's process in the supervisor's messages.
func (n *node) name() string {
	if n.n == 1 {
		return "minio"
	}
	return "minio-" + strconv.Itoa(n.n)
}

// describe returns the node as the state file records it.
func (n *node) describe() labdir.Node {
	d := labdir.Node{S3Endpoint: n.s3URL, ConsoleURL: n.consoleURL, Drives: n.drives, Log: n.log}
	if n.proc != nil {
		d.PID = n.proc.PID()
	}
	return d
}

// info returns how the node runs, for the control endpoint.
func (n *node) info() labdir.NodeInfo {
	if n.proc == nil {
		return labdir.NodeInfo{}
	}
	return labdir.NodeInfo{PID: n.proc.PID(), Restarts: n.proc.Restarts()}
}

// release closes the node's reserved ports, if MinIO has not taken them.
func (n *node) release() {
	n.s3.close()
	n.console.close()
}

// addNodes makes the lab's MinIO nodes with their reserved ports: one,
// at the settings' addresses.
func (l *Lab) addNodes(ctx context.Context) error {
	n := &node{n: 1, drives: []string{l.layout.NodeDrive(1, 1)}, log: l.layout.NodeLog(1)}
	l.nodes = append(l.nodes, n)
	if err := n.s3.reserve(ctx, "--address", l.settings.Address); err != nil {
		return err
	}
	return n.console.reserve(ctx, "--console-address", l.settings.ConsoleAddress)
}

// startNodes starts every MinIO node under supervision, wired to KES, and
// waits until each is ready. Supervisor events go to the progress lines
// while starting and to the lab's log afterwards.
func (l *Lab) startNodes(ctx context.Context, bin *miniobin.Binary) error {
	scheme, certsDir := "https", l.pki.MinIOCertsDir()
	if l.settings.HTTP {
		scheme, certsDir = "http", l.layout.MinIOPlainCertsDir()
	}
	dirs := []string{l.layout.LogsDir(), certsDir}
	for _, n := range l.nodes {
		dirs = append(dirs, n.drives...)
		n.s3URL = scheme + "://" + dialable(n.s3.Addr().String())
		n.consoleURL = scheme + "://" + dialable(n.console.Addr().String())
	}
	for _, d := range dirs {
		if err := fsutil.MkdirPrivate(d); err != nil {
			return err
		}
	}
	l.state.S3Endpoint, l.state.ConsoleURL = l.nodes[0].s3URL, l.nodes[0].consoleURL
	env := minioEnv(os.Environ(), l.creds, l.state.KESEndpoint, l.pki, l.settings.Key)
	l.step("starting MinIO %s (%s)", bin.Version, bin.Path)
	started := make(chan error, len(l.nodes))
	for _, n := range l.nodes {
		go func() { started <- l.startNode(ctx, n, bin, certsDir, env) }()
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
	l.step("MinIO is ready on %s", l.state.S3Endpoint)
	return nil
}

// startNode starts node n and waits until it is ready: until its S3 API
// serves a signed request, which MinIO does only once it has initialized,
// its first KMS round trip included.
func (l *Lab) startNode(ctx context.Context, n *node, bin *miniobin.Binary, certsDir string, env []string) error {
	args := append(append([]string{"server"}, l.endpoints(n)...),
		"--address", n.s3.Addr().String(), "--console-address", n.console.Addr().String(), "--certs-dir", certsDir)
	n.release() // MinIO binds them
	proc, err := supervisor.Start(ctx, supervisor.Config{
		Name:          n.name(),
		Path:          bin.Path,
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
		return &logError{err: fmt.Errorf("runner: %w", err), log: n.log}
	}
	n.proc = proc
	return nil
}

// endpoints are the drives node n serves, as MinIO's arguments: their
// paths, for a lab of one node.
func (l *Lab) endpoints(n *node) []string {
	return slices.Clone(n.drives)
}

// stopNodes stops every MinIO node gracefully, all at once, and returns
// the first error.
func (l *Lab) stopNodes(ctx context.Context) error {
	errs := make(chan error, len(l.nodes))
	for _, n := range l.nodes {
		go func() {
			if n.proc == nil {
				errs <- nil
				return
			}
			errs <- n.proc.Stop(ctx)
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
