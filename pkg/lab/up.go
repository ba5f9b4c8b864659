package lab

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	kesapi "github.com/minio/kms-go/kes"

	"github.com/sselab/sselab/embedded"
	"github.com/sselab/sselab/internal/fsutil"
	"github.com/sselab/sselab/pkg/miniobin"
	"github.com/sselab/sselab/pkg/pki"
	"github.com/sselab/sselab/pkg/supervisor"
	"github.com/sselab/sselab/pkg/vault"
)

// Defaults for a lab's settings.
const (
	DefaultAddress        = "127.0.0.1:9000"
	DefaultConsoleAddress = "127.0.0.1:9001"
	DefaultKESAddress     = embedded.DefaultAddress
	DefaultKey            = "sselab-key"
	DefaultBucket         = "encrypted"
)

// Options are the inputs of Up. Zero values mean "as last time on this
// directory, else the default".
type Options struct {
	// Dir is the state directory. Required.
	Dir string

	// Address, ConsoleAddress and KESAddress are listen addresses
	// (host:port); port 0 picks a free port.
	Address, ConsoleAddress, KESAddress string

	// Key is the default KES key: MinIO's KMS key and the buckets' key.
	Key string

	// Buckets are the buckets to create with bucket-default SSE-KMS.
	Buckets []string

	// HTTP, if set, chooses plain HTTP (true) or TLS (false) for S3.
	HTTP *bool

	// KESConfig is a KES server configuration file whose keystore, cache
	// and pre-defined keys the embedded KES uses instead of the file
	// keystore in the state directory; "-" goes back to that one.
	KESConfig string

	// KMS chooses where KES keeps the keys: KMSFS (the keystore in DIR)
	// or KMSVault; empty means as last time. Vault holds the --vault-*
	// flags.
	KMS   string
	Vault *VaultOptions

	// MinIO says where to find the MinIO server binary.
	MinIO miniobin.Options

	// Progress receives one line per step while the lab starts; nil
	// discards them.
	Progress io.Writer

	// Log receives what happens while the lab runs, such as MinIO
	// restarts; nil discards it.
	Log io.Writer
}

// Lab is a running lab. Up returns it ready; Wait blocks until it should
// stop; Stop stops it.
type Lab struct {
	layout   Layout
	settings Settings
	creds    Credentials
	pki      *pki.PKI
	state    State
	step     func(format string, args ...any) // progress while starting
	running  atomic.Bool                      // Up has returned the lab

	lock    *dirLock
	kes     *embedded.Server
	minio   *supervisor.Process
	control *http.Server

	// Listeners that hold the ports until their server takes them:
	// kesLn goes to KES, the others are closed just before MinIO starts.
	kesLn, s3Ln, consoleLn net.Listener

	// kesFile is the --kes-config file, nil for the built-in keystore.
	kesFile *kesFile
	// vaultStore is KES's Vault keystore and vaultWatch follows Vault's
	// seal state, when the keys live there.
	vaultStore io.Closer
	vaultWatch *vault.Watcher

	stopReq  chan struct{}
	stopOnce sync.Once
	stopErr  error
	reqOnce  sync.Once
}

// Up starts the lab on o.Dir and returns once MinIO is ready and the
// buckets are encrypted. On failure it stops whatever it started, and
// removes what it created if the lab never became ready.
//
// The order: lock the directory, reserve the ports, find MinIO, load or
// create the PKI and credentials, start KES, make sure the default key
// exists, start MinIO and wait until it is ready, set up the buckets,
// then publish the state file that other sselab commands read.
func Up(ctx context.Context, o Options) (l *Lab, err error) {
	layout := Layout{Root: o.Dir}
	if err := checkDir(o.Dir); err != nil {
		return nil, err
	}
	settings, err := mergeSettings(layout, o)
	if err != nil {
		return nil, err
	}
	warn := o.Log
	if warn == nil {
		warn = io.Discard
	}
	var kf *kesFile
	switch {
	case settings.KESConfig != "":
		if kf, err = readKESFile(settings.KESConfig); err != nil {
			return nil, err
		}
	case settings.KMS == KMSVault:
		var secretFile string
		if o.Vault != nil {
			secretFile = o.Vault.SecretFile
		}
		report, err := prepareVault(ctx, layout, &settings, secretFile, warn)
		if err != nil {
			return nil, err
		}
		for _, n := range report.Notes {
			fmt.Fprintln(warn, "sselab: note:", n)
		}
	}

	// The directory and the lock. What was there is recorded only once we
	// hold the lock, so a failed start never removes another lab's files.
	_, statErr := os.Stat(layout.Root)
	created := errors.Is(statErr, fs.ErrNotExist)
	if err := fsutil.MkdirPrivate(layout.Root); err != nil {
		return nil, fmt.Errorf("lab: cannot use --dir %s: %w; pick a directory you can write to", layout.Root, errors.Unwrap(err))
	}
	lock, err := lockDir(layout.LockFile())
	if err != nil {
		if created {
			os.Remove(layout.Root) // only if still empty
		}
		return nil, err
	}
	lock.report(warn)
	undo, err := snapshotDir(layout.Root, created)
	if err != nil {
		lock.Release()
		return nil, err
	}
	if err := checkModes(layout, warn); err != nil {
		lock.Release()
		return nil, err
	}
	l = &Lab{layout: layout, settings: settings, lock: lock, kesFile: kf, stopReq: make(chan struct{})}
	l.step = func(format string, args ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, format+"\n", args...)
		}
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

	if err := l.reservePorts(ctx); err != nil {
		return l, err
	}
	bin, err := miniobin.Find(ctx, o.MinIO) // may build MinIO the first time
	if err != nil {
		return l, err
	}
	if l.pki, err = pki.LoadOrCreate(pki.Options{Dir: layout.CertsDir(), Hosts: extraHosts(settings)}); err != nil {
		return l, err
	}
	if l.creds, err = loadOrCreateCredentials(layout.CredentialsFile()); err != nil {
		return l, err
	}
	if err := l.startKES(ctx); err != nil {
		return l, err
	}
	if err := l.startMinIO(ctx, bin, o.Log); err != nil {
		return l, err
	}
	if err := l.setUpBuckets(ctx); err != nil {
		return l, err
	}
	ready = true
	if err := l.publish(bin); err != nil {
		return l, err
	}
	if settings.KMS == KMSVault {
		l.watchVault(warn)
	}
	l.running.Store(true)
	return l, nil
}

// reservePorts listens on the three addresses, so that a port in use is
// reported before anything starts and a port 0 becomes a concrete one.
func (l *Lab) reservePorts(ctx context.Context) (err error) {
	if l.kesLn, err = reserve(ctx, "--kes-address", l.settings.KESAddress); err != nil {
		return err
	}
	if l.s3Ln, err = reserve(ctx, "--address", l.settings.Address); err != nil {
		return err
	}
	l.consoleLn, err = reserve(ctx, "--console-address", l.settings.ConsoleAddress)
	return err
}

// startKES starts the embedded KES on its reserved listener and makes
// sure the default key exists before MinIO asks for it.
func (l *Lab) startKES(ctx context.Context) (err error) {
	cfg := embedded.DefaultConfig()
	cfg.Listener, l.kesLn = l.kesLn, nil // embedded.Start closes it, also when it fails
	cfg.TLS = l.pki.ServerTLS(l.pki.KESServer)
	cfg.KeyStoreDir = l.layout.KeyStoreDir()
	cfg.MinIOIdentity = kesapi.Identity(l.pki.MinIOClient.Identity())
	cfg.OperatorIdentity = kesapi.Identity(l.pki.Operator.Identity())
	cfg.ErrorLogFile = l.layout.KESErrorLog()
	cfg.AuditLogFile = l.layout.KESAuditLog()
	if l.settings.KMS == KMSVault {
		if err := l.vaultKES(ctx, &cfg); err != nil {
			cfg.Listener.Close()
			return err
		}
	}
	if f := l.kesFile; f != nil {
		l.step("KES takes its keystore, cache and keys from %s; replaced by sselab:", f.path)
		for _, o := range f.Overridden {
			l.step("  %s", o)
		}
		if cfg.KeyStore, err = f.keyStore(ctx); err != nil {
			cfg.Listener.Close()
			return err
		}
		cfg.Cache = f.cache(cfg.Cache)
	}
	if l.kes, err = embedded.Start(ctx, cfg); err != nil {
		return err
	}
	l.state.KESEndpoint = "https://" + dialable(l.kes.Addr().String())
	l.step("KES is serving on %s (%s)", l.state.KESEndpoint, keystoreName(l.layout, l.settings))

	kc := kesapi.NewClientWithConfig(l.state.KESEndpoint, l.pki.ClientTLS(l.pki.Operator))
	keys := []string{l.settings.Key}
	if l.kesFile != nil {
		keys = append(keys, l.kesFile.keys()...)
	}
	for _, k := range keys {
		if err := kc.CreateKey(ctx, k); err != nil && !errors.Is(err, kesapi.ErrKeyExists) {
			return fmt.Errorf("lab: KES does not answer: creating key %q: %w", k, err)
		}
	}
	return nil
}

// startMinIO starts MinIO under supervision, wired to KES, and waits
// until it is ready. Supervisor events go to the progress lines while
// starting and to log afterwards.
func (l *Lab) startMinIO(ctx context.Context, bin *miniobin.Binary, log io.Writer) (err error) {
	scheme, certsDir := "https", l.pki.MinIOCertsDir()
	if l.settings.HTTP {
		scheme, certsDir = "http", l.layout.MinIOPlainCertsDir()
	}
	for _, d := range []string{l.layout.MinIODataDir(), l.layout.LogsDir(), certsDir} {
		if err := fsutil.MkdirPrivate(d); err != nil {
			return err
		}
	}
	s3Addr, consoleAddr := l.s3Ln.Addr().String(), l.consoleLn.Addr().String()
	l.state.S3Endpoint = scheme + "://" + dialable(s3Addr)
	l.state.ConsoleURL = scheme + "://" + dialable(consoleAddr)
	l.state.MinIOPath, l.state.MinIOVersion = bin.Path, bin.Version
	if log == nil {
		log = io.Discard
	}
	probe := l.httpClient()

	l.step("starting MinIO %s (%s)", bin.Version, bin.Path)
	l.closeReserved()
	l.minio, err = supervisor.Start(ctx, supervisor.Config{
		Name: "minio",
		Path: bin.Path,
		Args: []string{"server", l.layout.MinIODataDir(),
			"--address", s3Addr, "--console-address", consoleAddr,
			"--certs-dir", certsDir},
		Env:           minioEnv(os.Environ(), l.creds, l.state.KESEndpoint, l.pki, l.settings.Key),
		Dir:           l.layout.Root,
		LogFile:       l.layout.MinIOLog(),
		Ready:         func(ctx context.Context) error { return probeReady(ctx, probe, l.state.S3Endpoint) },
		ReadyTimeout:  2 * time.Minute,
		ReadyInterval: 10 * time.Millisecond,
		Restart:       true,
		// A MinIO that was ready and up for 2 s and then dies was killed
		// or crashed once: restart it at once, however often that happens.
		HealthyAfter: 2 * time.Second,
		Logf: func(format string, args ...any) {
			if !l.running.Load() {
				l.step(format, args...)
				return
			}
			fmt.Fprintf(log, time.Now().Format(time.DateTime)+" "+format+"\n", args...)
		},
	})
	if err != nil {
		return &logError{err: fmt.Errorf("lab: %w", err), log: l.layout.MinIOLog()}
	}
	l.step("MinIO is ready on %s", l.state.S3Endpoint)
	return nil
}

// httpClient returns an HTTP client that trusts the lab CA.
func (l *Lab) httpClient() *http.Client {
	return labHTTPClient(l.pki, 5*time.Second)
}

// setUpBuckets creates the buckets with bucket-default SSE-KMS.
func (l *Lab) setUpBuckets(ctx context.Context) error {
	s3, err := newS3Client(l.state.S3Endpoint, l.creds, l.httpClient().Transport)
	if err != nil {
		return err
	}
	for _, b := range l.settings.Buckets {
		if err := retryInitializing(ctx, func() error { return ensureEncryptedBucket(ctx, s3, b, l.settings.Key) }); err != nil {
			return err
		}
	}
	l.step("buckets ready: %s", strings.Join(l.settings.Buckets, ", "))
	return nil
}

// publish starts the control endpoint and writes the settings and the
// state file: from then on other sselab commands find and can stop the
// lab.
func (l *Lab) publish(bin *miniobin.Binary) error {
	token := randomToken()
	controlAddr, err := l.serveControl(token)
	if err != nil {
		return err
	}
	l.state.PID = os.Getpid()
	l.state.Started = time.Now().UTC()
	l.state.KESVersion = embedded.Version()
	l.state.CAFile = l.pki.CAFile()
	if f := l.kesFile; f != nil {
		l.state.KESConfig, l.state.KESReplaced = f.path, f.Replaced
	}
	l.state.Vault = l.settings.Vault
	l.state.Key = l.settings.Key
	l.state.Buckets = l.settings.Buckets
	l.state.HTTP = l.settings.HTTP
	l.state.ControlAddress, l.state.ControlToken = controlAddr, token
	if err := writeJSON(l.layout.SettingsFile(), l.settings); err != nil {
		return err
	}
	if err := saveVaultSecret(l.layout, l.settings); err != nil {
		return err
	}
	return writeJSON(l.layout.StateFile(), l.state)
}

// State returns what the running lab wrote to its state file.
func (l *Lab) State() State { return l.state }

// Credentials returns MinIO's root credentials.
func (l *Lab) Credentials() Credentials { return l.creds }

// Layout returns the lab's state directory layout.
func (l *Lab) Layout() Layout { return l.layout }

// Wait blocks until ctx ends or `sselab down` asks the lab to stop
// (returning nil), or MinIO or KES fails for good (returning why).
func (l *Lab) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case <-l.stopReq:
		return nil
	case <-l.minio.Done():
		return fmt.Errorf("lab: MinIO stopped: %w", l.minio.Err())
	case err := <-l.kes.Err():
		return fmt.Errorf("lab: KES stopped: %w", err)
	}
}

// Stop stops MinIO gracefully, then KES, removes the state file and
// releases the directory. It is safe to call more than once.
func (l *Lab) Stop() error {
	l.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		l.closeReserved()
		if l.control != nil {
			// Shutdown lets the stop request that got us here finish its
			// answer; Close would cut it off and 'down' would see EOF.
			sctx, scancel := context.WithTimeout(ctx, 2*time.Second)
			if l.control.Shutdown(sctx) != nil {
				l.control.Close()
			}
			scancel()
		}
		l.vaultWatch.Stop()
		if l.minio != nil {
			l.stopErr = l.minio.Stop(ctx)
		}
		if l.kes != nil {
			if err := l.kes.Close(); l.stopErr == nil {
				l.stopErr = err
			}
		}
		if l.vaultStore != nil {
			l.vaultStore.Close()
		}
		if l.state.PID != 0 {
			os.Remove(l.layout.StateFile())
		}
		l.lock.Release()
	})
	return l.stopErr
}

// closeReserved releases the ports still reserved.
func (l *Lab) closeReserved() {
	for _, ln := range []*net.Listener{&l.kesLn, &l.s3Ln, &l.consoleLn} {
		if *ln != nil {
			(*ln).Close()
			*ln = nil
		}
	}
}

// mergeSettings combines the options with the remembered settings and the
// defaults, and validates the result.
func mergeSettings(layout Layout, o Options) (Settings, error) {
	var s Settings
	if err := readJSON(layout.SettingsFile(), &s); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return s, err
	}
	old := s
	if old.Vault != nil {
		v := *old.Vault
		old.Vault = &v // mergeKMS changes s.Vault in place
	}
	pick := func(dst *string, given, def string) {
		switch {
		case given != "":
			*dst = given
		case *dst == "":
			*dst = def
		}
	}
	pick(&s.Address, o.Address, DefaultAddress)
	pick(&s.ConsoleAddress, o.ConsoleAddress, DefaultConsoleAddress)
	pick(&s.KESAddress, o.KESAddress, DefaultKESAddress)
	pick(&s.Key, o.Key, DefaultKey)
	if len(o.Buckets) > 0 {
		s.Buckets = slices.Compact(slices.Sorted(slices.Values(o.Buckets)))
	} else if len(s.Buckets) == 0 {
		s.Buckets = []string{DefaultBucket}
	}
	if o.HTTP != nil {
		s.HTTP = *o.HTTP
	}
	if err := mergeKMS(&s, o); err != nil {
		return s, err
	}
	if err := checkKeystoreKept(layout, old, s); err != nil {
		return s, err
	}

	for _, a := range []struct{ flag, addr string }{
		{"--address", s.Address}, {"--console-address", s.ConsoleAddress}, {"--kes-address", s.KESAddress},
	} {
		if err := checkAddress(a.flag, a.addr); err != nil {
			return s, err
		}
	}
	if err := checkDistinct(s); err != nil {
		return s, err
	}
	if err := CheckKeyName(s.Key); err != nil {
		return s, err
	}
	for _, b := range s.Buckets {
		if err := CheckBucketName(b); err != nil {
			return s, err
		}
	}
	return s, nil
}

// checkDir fails unless dir is a directory or can become one.
func checkDir(dir string) error {
	if dir == "" {
		return errors.New("lab: no state directory given")
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("lab: cannot use --dir %s: %w; pick a directory you can write to", dir, errors.Unwrap(err))
	case !fi.IsDir():
		return fmt.Errorf("lab: cannot use --dir %s: it is not a directory; pick a directory, or a path that does not exist yet", dir)
	}
	return nil
}

// snapshotDir records which top-level entries of dir exist, and returns a
// function that removes every entry created since; if created says this
// process made dir and dir held nothing but the lock file, the function
// removes dir itself. It runs only when the lab never became ready, so no
// object was written; still, it never removes a keystore while MinIO data
// that the keys may protect stays behind. The lock file is left to the
// lock's Release.
func snapshotDir(dir string, created bool) (undo func(), err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("lab: cannot use --dir %s: %w", dir, err)
	}
	had := map[string]bool{filepath.Base(Layout{Root: dir}.LockFile()): true}
	for _, e := range entries {
		had[e.Name()] = true
	}
	if created && len(had) == 1 {
		return func() { os.RemoveAll(dir) }, nil
	}
	return func() {
		if !had["kes"] && had["minio"] {
			had["kes"] = true // keep new keys: existing data may use them
		}
		now, _ := os.ReadDir(dir)
		for _, e := range now {
			if !had[e.Name()] {
				os.RemoveAll(filepath.Join(dir, e.Name()))
			}
		}
	}, nil
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
		return nil, fmt.Errorf("lab: port %s is in use by another program; pass %s %s or stop it", port, flag, net.JoinHostPort(host, strconv.Itoa(n)))
	}
	return nil, fmt.Errorf("lab: cannot listen on %s (%s): %w", addr, flag, err)
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

// extraHosts returns the hosts of the listen addresses that the server
// certificates must name besides localhost and the loopback addresses.
func extraHosts(s Settings) []string {
	var hosts []string
	for _, a := range []string{s.Address, s.ConsoleAddress, s.KESAddress} {
		host, _, err := net.SplitHostPort(a)
		if err != nil || host == "" || host == "localhost" {
			continue
		}
		if ip := net.ParseIP(host); ip != nil && (ip.IsLoopback() || ip.IsUnspecified()) {
			continue
		}
		if !slices.Contains(hosts, host) {
			hosts = append(hosts, host)
		}
	}
	return hosts
}

// minioEnv is the child environment of MinIO: the caller's environment
// without any MINIO_* variable (a stray MINIO_KMS_SECRET_KEY would clash
// with KES) and without the Vault secret MinIO has no use for, plus the root credentials and the KES connection. Secrets
// travel here, never in MinIO's arguments.
func minioEnv(base []string, c Credentials, kesEndpoint string, p *pki.PKI, key string) []string {
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

// probeReady succeeds once MinIO's readiness endpoint answers 200, which
// includes a successful KMS round trip.
func probeReady(ctx context.Context, c *http.Client, endpoint string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/minio/health/ready", nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body) // so the next probe reuses the TLS connection
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("lab: %s/minio/health/ready answered %s", endpoint, resp.Status)
	}
	return nil
}

// randomToken returns a secret for the control endpoint.
func randomToken() string {
	return rand.Text() + rand.Text()
}

// serveControl starts the loopback control endpoint `sselab down` and
// `sselab status` use, and returns its address.
func (l *Lab) serveControl(token string) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("lab: control endpoint: %w", err)
	}
	authorized := func(r *http.Request) bool {
		return subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+token)) == 1
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/stop", func(w http.ResponseWriter, r *http.Request) {
		if !authorized(r) {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		l.reqOnce.Do(func() { close(l.stopReq) })
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("GET /v1/info", func(w http.ResponseWriter, r *http.Request) {
		if !authorized(r) {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		info := Info{PID: os.Getpid(), MinIOPID: l.minio.PID(), MinIORestarts: l.minio.Restarts()}
		if l.vaultWatch != nil {
			h := l.vaultWatch.Health()
			info.Vault = &h
		}
		writeInfo(w, info)
	})
	l.control = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go l.control.Serve(ln)
	return ln.Addr().String(), nil
}

// logError is a failure whose details are in a log file, which it names on
// a line of its own.
type logError struct {
	err error
	log string
}

func (e *logError) Error() string { return fmt.Sprintf("%v\nfull log: %s", e.err, e.log) }
func (e *logError) Unwrap() error { return e.err }

// undoKeepingLog runs undo, but first saves the log that err names, if
// any: undo may remove it with the new directory, and the user needs it
// to see why MinIO failed. The copy goes to the temporary directory, and
// err is changed to name it.
func undoKeepingLog(undo func(), err error) {
	var le *logError
	if !errors.As(err, &le) {
		undo()
		return
	}
	saved, serr := copyToTemp(le.log)
	undo()
	switch _, statErr := os.Stat(le.log); {
	case serr != nil:
	case statErr == nil:
		os.Remove(saved) // the log is still where the error says
	default:
		le.log = saved
	}
}

// copyToTemp copies the file at path to a new private file in the
// temporary directory and returns its name.
func copyToTemp(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp("", "sselab-"+filepath.Base(path)+"-*")
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}
