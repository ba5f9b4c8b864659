package perf

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/sse"

	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/labdir"
	"github.com/sselab/sselab/pkg/runner"
)

// stopTimeout is how long a process may take to stop after SIGTERM
// before it is killed.
const stopTimeout = 30 * time.Second

// readyTimeout bounds every wait for a server to become ready.
const readyTimeout = 2 * time.Minute

// proc is a child process whose output goes to a log file.
type proc struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
	// group is true for a shell that runs several servers in its
	// session: stop signals its whole process group.
	group bool
}

// start runs name with args and env (added to a copy of the
// environment without MINIO_ variables) in a session of its own, its
// output to logFile.
func start(name string, args, env []string, logFile string) (*proc, error) {
	out, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("perf: %w", err)
	}
	defer out.Close() // the child has its own copy
	cmd := exec.Command(name, args...)
	cmd.Env = append(cleanEnv(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = ownSession()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("perf: start %s: %w", filepath.Base(name), err)
	}
	p := &proc{cmd: cmd, log: logFile, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

// cleanEnv is the environment without MINIO_ and SSELAB_ variables, so
// that both sides of a comparison get exactly what the harness gives.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(strings.ToUpper(kv), "=")
		if !strings.HasPrefix(name, "MINIO_") && !strings.HasPrefix(name, "SSELAB_") {
			env = append(env, kv)
		}
	}
	return env
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// lastLines returns the end of the process's log, for error messages.
func (p *proc) lastLines() string {
	data, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	return strings.Join(lines[max(0, len(lines)-10):], "\n")
}

// stop asks the process to stop with SIGTERM and kills it if it has not
// ended after stopTimeout.
func (p *proc) stop() error {
	if p.exited() {
		return nil
	}
	signal := p.cmd.Process.Signal
	if p.group {
		signal = func(sig os.Signal) error { return signalGroup(p.cmd.Process, sig.(syscall.Signal)) }
	}
	if err := signal(syscall.SIGTERM); err != nil {
		p.cmd.Process.Kill() // no SIGTERM on Windows
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(stopTimeout):
		signal(syscall.SIGKILL)
		<-p.done
		return fmt.Errorf("perf: %s did not stop within %v of SIGTERM", filepath.Base(p.cmd.Path), stopTimeout)
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("perf: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// secret returns n random bytes in base64.
func secret(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// poll calls f every interval until it succeeds, ctx ends or
// readyTimeout passes, and returns f's last error in that case.
func poll(ctx context.Context, p *proc, interval time.Duration, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for {
		err := f(ctx)
		if err == nil {
			return nil
		}
		if p != nil && p.exited() {
			return fmt.Errorf("perf: %s exited: %v\n%s", filepath.Base(p.cmd.Path), p.err, p.lastLines())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("perf: not ready after %v: %w", readyTimeout, err)
		case <-time.After(interval):
		}
	}
}

// MinIOOptions describe a bare MinIO: one drive, a static KMS key
// (MINIO_KMS_SECRET_KEY) or a standalone KES server, and otherwise the
// same environment the lab gives its MinIO.
type MinIOOptions struct {
	// Binary is the MinIO server binary.
	Binary string
	// Dir holds the drive (Dir/data) and the log (Dir/minio.log).
	Dir string
	// CertsDir, if set, is MinIO's --certs-dir: S3 over TLS.
	CertsDir string
	// KeyName is the name of the static KMS key. Default: "bench-key".
	KeyName string
	// Key is the static KMS key's 32 bytes in base64. Default: random.
	Key string
	// KES, if set, is the KMS instead of a static key, wired as the lab
	// wires its MinIO to the embedded KES; KeyName is then its key.
	KES *KES
}

// MinIO is a running bare MinIO.
type MinIO struct {
	// Endpoint is the S3 API URL.
	Endpoint string
	// User and Password are the root credentials.
	User, Password string
	// KeyName is the static KMS key's name.
	KeyName string
	// PID is the MinIO process's id.
	PID int

	proc *proc
}

// Stop stops MinIO.
func (m *MinIO) Stop() error { return m.proc.stop() }

// launchMinIO starts a bare MinIO without waiting for it.
func launchMinIO(o MinIOOptions) (*MinIO, error) {
	c, err := launchCluster(o, 1)
	if err != nil {
		return nil, err
	}
	return c.Nodes[0], nil
}

// Cluster is a bare MinIO of several server processes on this machine,
// one drive each, as MinIO's own CI runs one (buildscripts/
// verify-healing.sh): every process gets the same endpoint list.
type Cluster struct {
	// Nodes are its processes, node 1 first.
	Nodes []*MinIO
}

// Endpoints are the nodes' S3 API URLs, node 1 first.
func (c *Cluster) Endpoints() []string {
	var e []string
	for _, m := range c.Nodes {
		e = append(e, m.Endpoint)
	}
	return e
}

// Stop stops every node, all at once, and returns the first error.
func (c *Cluster) Stop() error {
	errs := make(chan error, len(c.Nodes))
	for _, m := range c.Nodes {
		go func() {
			if m.proc == nil {
				errs <- nil
				return
			}
			errs <- m.Stop()
		}()
	}
	var first error
	for range c.Nodes {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// launchCluster starts n bare MinIO processes of one drive each without
// waiting for them: one server for n = 1, else one cluster, node k's
// drive in o.Dir/nodeK, all with the same credentials and KMS.
func launchCluster(o MinIOOptions, n int) (*Cluster, error) {
	if o.KeyName == "" {
		o.KeyName = "bench-key"
	}
	if o.Key == "" && o.KES == nil {
		o.Key = secret(32)
	}
	scheme := "http"
	if o.CertsDir != "" {
		scheme = "https"
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("perf: %w", err)
	}
	user, password := "perfadmin", secret(18)
	ports := make([]int, 2*n) // S3, then console, of each node
	for i := range ports {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	drives := []string{filepath.Join(o.Dir, "data")}
	if n > 1 {
		drives = drives[:0]
		for k := range n {
			drives = append(drives, fmt.Sprintf("%s://127.0.0.1:%d%s", scheme, ports[2*k], filepath.ToSlash(filepath.Join(o.Dir, fmt.Sprintf("node%d", k+1)))))
		}
	}
	// Secrets go through the environment, never argv.
	env := []string{"MINIO_ROOT_USER=" + user, "MINIO_ROOT_PASSWORD=" + password}
	if o.KES != nil {
		env = append(env, runner.KESEnv(o.KES.Target.Endpoint, o.KES.pki, o.KeyName)...)
	} else {
		env = append(env, "MINIO_KMS_SECRET_KEY="+o.KeyName+":"+o.Key)
	}
	env = append(env, runner.QuietEnv()...)
	if n > 1 {
		env = append(env, "MINIO_CI_CD=1") // several drives on the root disk
	}
	c := &Cluster{}
	var cmds []sessionCmd
	for k := range n {
		s3, console := fmt.Sprint("127.0.0.1:", ports[2*k]), fmt.Sprint("127.0.0.1:", ports[2*k+1])
		args := append(append([]string{"server"}, drives...), "--address", s3, "--console-address", console)
		if o.CertsDir != "" {
			args = append(args, "--certs-dir", o.CertsDir)
		}
		c.Nodes = append(c.Nodes, &MinIO{Endpoint: scheme + "://" + s3, User: user, Password: password, KeyName: o.KeyName})
		// As the lab does: in a container MinIO would otherwise wait
		// forever for 127.0.0.1 to resolve to another address.
		cmds = append(cmds, sessionCmd{env: []string{"_MINIO_SERVER_LOCAL=" + s3}, argv: append([]string{o.Binary}, args...)})
	}
	if n == 1 {
		p, err := start(o.Binary, cmds[0].argv[1:], env, filepath.Join(o.Dir, "minio.log"))
		if err != nil {
			return nil, err
		}
		c.Nodes[0].proc, c.Nodes[0].PID = p, p.cmd.Process.Pid
		return c, nil
	}
	if sharedSession {
		// One shell in a session of its own starts every node, so that
		// they share one session as the lab's nodes share the lab's.
		p, err := start("/bin/sh", shellArgs(cmds), env, filepath.Join(o.Dir, "minio.log"))
		if err != nil {
			return nil, err
		}
		p.group = true
		for _, m := range c.Nodes {
			m.proc = p // PID stays 0: no node's own
		}
		return c, nil
	}
	for k, m := range c.Nodes {
		p, err := start(o.Binary, cmds[k].argv[1:], append(append([]string(nil), env...), cmds[k].env...), filepath.Join(o.Dir, fmt.Sprintf("minio-%d.log", k+1)))
		if err != nil {
			c.Stop()
			return nil, err
		}
		m.proc, m.PID = p, p.cmd.Process.Pid
	}
	return c, nil
}

// client returns a minio-go client for m over transport.
func (m *MinIO) client(transport http.RoundTripper) (*minio.Client, error) {
	host := strings.TrimPrefix(strings.TrimPrefix(m.Endpoint, "https://"), "http://")
	c, err := minio.New(host, &minio.Options{
		Creds:     credentials.NewStaticV4(m.User, m.Password, ""),
		Secure:    strings.HasPrefix(m.Endpoint, "https://"),
		Transport: transport,
	})
	if err != nil {
		return nil, fmt.Errorf("perf: %w", err)
	}
	return c, nil
}

// s3Ready returns a probe that succeeds once m's S3 API serves a signed
// request (ListBuckets), sent once per call: the probe sselab polls its
// own MinIO with. minio-go's client would retry a refused connection
// after a backoff of up to 200 ms and hide when MinIO became ready.
func (m *MinIO) s3Ready(transport http.RoundTripper) func(context.Context) error {
	c := &http.Client{Transport: transport, Timeout: time.Second}
	creds := labdir.Credentials{RootUser: m.User, RootPassword: m.Password}
	return func(ctx context.Context) error { return lab.ProbeS3(ctx, c, m.Endpoint, creds) }
}

// StartMinIO starts a bare MinIO and returns once its S3 API serves a
// signed request. transport carries the probes (and must trust the
// certificate in o.CertsDir).
func StartMinIO(ctx context.Context, o MinIOOptions, transport http.RoundTripper) (*MinIO, error) {
	m, err := launchMinIO(o)
	if err != nil {
		return nil, err
	}
	if err := poll(ctx, m.proc, 10*time.Millisecond, m.s3Ready(transport)); err != nil {
		m.Stop()
		return nil, err
	}
	return m, nil
}

// BareSpawn is how long a bare MinIO took from spawn to each state.
type BareSpawn struct {
	// Health is until /minio/health/ready answered 200. Bucket calls may
	// still fail then with XMinioServerNotInitialized.
	Health time.Duration
	// S3 is until the S3 API served a signed request (ListBuckets): the
	// time the comparisons use.
	S3 time.Duration
	// Bucket is until it had also created a bucket with default SSE-KMS,
	// the work sselab's readiness includes.
	Bucket time.Duration
}

// SpawnBareMinIO starts a bare MinIO over plain HTTP on a fresh
// directory under dir, times it until it is ready (polling every 5 ms),
// and stops it.
func SpawnBareMinIO(ctx context.Context, binary, dir string) (BareSpawn, error) {
	var s BareSpawn
	start := time.Now()
	m, err := launchMinIO(MinIOOptions{Binary: binary, Dir: dir})
	if err != nil {
		return s, err
	}
	defer m.Stop()
	httpc := &http.Client{Timeout: time.Second}
	err = poll(ctx, m.proc, 5*time.Millisecond, func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m.Endpoint+"/minio/health/ready", nil)
		resp, err := httpc.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New(resp.Status)
		}
		return nil
	})
	if err != nil {
		return s, err
	}
	s.Health = time.Since(start)
	if err := poll(ctx, m.proc, 5*time.Millisecond, m.s3Ready(http.DefaultTransport)); err != nil {
		return s, err
	}
	s.S3 = time.Since(start)
	c, err := m.client(http.DefaultTransport)
	if err != nil {
		return s, err
	}
	if err := c.MakeBucket(ctx, "encrypted", minio.MakeBucketOptions{}); err != nil {
		return s, fmt.Errorf("perf: bare MinIO: %w", err)
	}
	if err := c.SetBucketEncryption(ctx, "encrypted", sse.NewConfigurationSSEKMS(m.KeyName)); err != nil {
		return s, fmt.Errorf("perf: bare MinIO: %w", err)
	}
	s.Bucket = time.Since(start)
	return s, m.Stop()
}

// SpawnManualMinIO starts MinIO as the manual setup does, on a fresh
// directory under dir: with its TLS certificate (certs) and wired to a
// kes server that already runs, as the lab wires its own. It times it
// until its S3 API serves a signed request (polling every 5 ms), and stops
// it. transport must trust the certificate.
func SpawnManualMinIO(ctx context.Context, binary, dir, certs string, kes *KES, key string, transport http.RoundTripper) (time.Duration, error) {
	start := time.Now()
	m, err := launchMinIO(MinIOOptions{Binary: binary, Dir: dir, CertsDir: certs, KES: kes, KeyName: key})
	if err != nil {
		return 0, err
	}
	defer m.Stop()
	if err := poll(ctx, m.proc, 5*time.Millisecond, m.s3Ready(transport)); err != nil {
		return 0, err
	}
	took := time.Since(start)
	return took, m.Stop()
}

// freePortFlags are the `sselab up` flags that pick free ports.
var freePortFlags = []string{"--address", "127.0.0.1:0", "--console-address", "127.0.0.1:0", "--kes-address", "127.0.0.1:0", "--web-address", "127.0.0.1:0"}

// SpawnSselab runs `sselab up` on dir with minio and the extra flags,
// times it until it prints that the lab is ready, and stops it (SIGTERM:
// MinIO, then KES).
func SpawnSselab(ctx context.Context, sselab, minio, dir string, extra ...string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, sselab, append(append([]string{"up", "--dir", dir}, freePortFlags...), extra...)...)
	cmd.Env = append(cleanEnv(), "SSELAB_MINIO="+minio)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, fmt.Errorf("perf: %w", err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.SysProcAttr = ownSession() // as the bare MinIO it is compared with
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("perf: start sselab: %w", err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	ready := make(chan time.Duration, 1)
	go func() {
		// The summary holds the root password: it is read, never kept.
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "the lab is ready") {
				ready <- time.Since(start)
			}
		}
		p.err = cmd.Wait()
		close(p.done)
	}()
	select {
	case d := <-ready:
		return d, p.stop()
	case <-p.done:
		return 0, fmt.Errorf("perf: sselab up ended before it was ready: %v\n%s", p.err, stderr.String())
	case <-time.After(readyTimeout):
		p.stop()
		return 0, fmt.Errorf("perf: sselab up not ready after %v", readyTimeout)
	}
}

// RSS returns the resident set size (VmRSS) and its peak (VmHWM) of
// process pid in bytes, from /proc/PID/status (Linux only).
func RSS(pid int) (rss, peak int64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("perf: resident memory of process %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var kb int64
		if _, err := fmt.Sscanf(strings.TrimSpace(value), "%d kB", &kb); err != nil {
			continue
		}
		switch name {
		case "VmRSS":
			rss = kb << 10
		case "VmHWM":
			peak = kb << 10
		}
	}
	if rss == 0 {
		return 0, 0, fmt.Errorf("perf: no VmRSS in /proc/%d/status", pid)
	}
	return rss, peak, nil
}

// userHZ is the unit of the CPU times in /proc/PID/stat on Linux.
const userHZ = 100

// CPUTime returns the CPU time (user and system) process pid has used,
// from /proc/PID/stat (Linux only).
func CPUTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("perf: CPU time of process %d: %w", pid, err)
	}
	// The command name (field 2) may hold spaces: count from its ')'.
	i := strings.LastIndexByte(string(data), ')')
	f := strings.Fields(string(data)[i+1:])
	if i < 0 || len(f) < 13 {
		return 0, fmt.Errorf("perf: CPU time of process %d: unexpected /proc/%d/stat", pid, pid)
	}
	var user, sys int64
	if _, err := fmt.Sscan(f[11], &user); err != nil {
		return 0, fmt.Errorf("perf: CPU time of process %d: %w", pid, err)
	}
	if _, err := fmt.Sscan(f[12], &sys); err != nil {
		return 0, fmt.Errorf("perf: CPU time of process %d: %w", pid, err)
	}
	return time.Duration(user+sys) * time.Second / userHZ, nil
}
