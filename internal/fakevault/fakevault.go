// Package fakevault is an in-process stand-in for a HashiCorp Vault (or
// OpenBao) server, for tests and demos on machines where no real Vault can
// run. It speaks Vault's HTTP API for the parts a KES key store uses:
// sys/health, sys/seal-status, sys/leader, sys/mounts, sys/internal/ui/mounts,
// AppRole login, token lookup/renewal, and the KV v1 and v2 secrets engines,
// with Vault's status codes, JSON bodies, error texts and ACL policy
// evaluation. Switches (Seal, SetStandby, SetDown, Deny, Remount, ...) put
// it into the states a real server can be in, so that client code can be
// tested against them.
//
// Where Vault and OpenBao differ, the package follows Vault's wording and
// OpenBao's namespace handling (OpenBao is the server the flows are later
// checked against); the differences are noted where they occur.
package fakevault

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Version is the Vault version the fake reports in sys/health and
// sys/seal-status.
const Version = "1.17.6"

// Options configure a fake Vault server. The zero value is a usable
// server: plain HTTP on a random loopback port with one KV v2 mount "kv".
type Options struct {
	// Addr is the listen address; default "127.0.0.1:0" (a random port).
	Addr string

	// TLS makes the server speak HTTPS with a certificate signed by a CA
	// made for this server (see CAPEM and WriteCAFile); else plain HTTP.
	TLS bool

	// Mounts are the KV secrets engines: path without slashes (e.g. "kv")
	// -> KV version 1 or 2. Default {"kv": 2}.
	Mounts map[string]int

	// RoleID and SecretID are the AppRole credentials accepted at
	// auth/approle/login. Empty means a random UUID (see Server.RoleID and
	// Server.SecretID).
	RoleID, SecretID string

	// TokenTTL is the lease_duration of tokens issued by AppRole login;
	// default 1h. The tokens are renewable, up to Vault's default maximum
	// TTL of 768h from their issue time.
	TokenTTL time.Duration

	// TokenMaxTTL caps a token's lifetime, counted from its issue time and
	// across renewals, as an AppRole's token_max_ttl does: a renewal past
	// it is granted only the time left. Default: Vault's system max TTL
	// of 768h.
	TokenMaxTTL time.Duration

	// TokenPeriod, if set, makes the tokens periodic (token_period): a
	// renewal sets the TTL to the period again, and only an explicit
	// TokenMaxTTL caps it.
	TokenPeriod time.Duration

	// TokenNumUses limits how many requests a token may make
	// (token_num_uses); the request that uses it up revokes it. 0 means
	// no limit.
	TokenNumUses int

	// SecretIDTTL, if set, is how long a secret_id logs in after it was
	// issued (secret_id_ttl): the server's start, or NewSecretID.
	SecretIDTTL time.Duration

	// Policy is the ACL policy attached to AppRole tokens, in Vault's
	// syntax: path (trailing "*" glob, "+" segment wildcard) ->
	// capabilities ("create", "read", "update", "patch", "delete", "list",
	// "sudo", "deny"). The tokens also carry Vault's "default" policy
	// (lookup-self, renew-self, revoke-self). Nil means full access to
	// every KV mount ("<mount>/*" with all capabilities but sudo), following
	// mounts added or removed by Remount.
	Policy map[string][]string

	// Namespace, if set, puts the KV mounts and the AppRole auth method
	// into this namespace (as on Vault Enterprise or OpenBao 2.3+): requests
	// must name it in the X-Vault-Namespace header or as a path prefix.
	// Requests without it are evaluated in the root namespace, where those
	// mounts do not exist.
	Namespace string
}

// Request is one HTTP request the server answered, for assertions.
type Request struct {
	Time         time.Time
	Method       string
	Path         string // URL path, e.g. "/v1/kv/data/lab/key"
	Query        string // raw query string
	Namespace    string // X-Vault-Namespace header, if any
	Status       int
	TokenPresent bool // an X-Vault-Token or "Authorization: Bearer" header was sent
}

// maxRecorded bounds the request log kept for Requests.
const maxRecorded = 10000

// defaultMaxTTL is Vault's default system max lease TTL (768h).
const defaultMaxTTL = 768 * time.Hour

// Server is a running fake Vault. Its methods are safe for concurrent use.
type Server struct {
	scheme    string
	tlsConfig *tls.Config
	caPEM     []byte
	addr      string // host:port the listener is bound to
	started   time.Time

	clusterName, clusterID string
	roleID, secretID       string
	tokenTTL               time.Duration
	tokenMaxTTL            time.Duration // 0: the system max TTL
	tokenPeriod            time.Duration
	tokenNumUses           int
	secretIDTTL            time.Duration
	secretIssued           time.Time
	logins                 int    // successful AppRole logins
	rolePolicy             policy // nil: full access to the KV mounts
	kvNS                   string // namespace path holding KV and AppRole ("" or "ns/")

	latency atomic.Int64

	mu            sync.Mutex
	sealed        bool
	uninitialized bool
	standby       bool
	leaderAddr    string
	down          bool
	closed        bool
	httpSrv       *http.Server
	serveDone     chan struct{}
	denies        map[string]int
	namespaces    map[string]*nsState
	tokens        map[string]*token
	rootToken     string
	lockouts      map[string]*lockout
	requests      []Request
}

// Start starts a fake Vault server configured by o.
func Start(o Options) (*Server, error) {
	s := &Server{
		scheme:      "http",
		started:     time.Now(),
		clusterName: "vault-cluster-" + randomHex(4),
		clusterID:   newUUID(),
		roleID:      o.RoleID,
		secretID:    o.SecretID,
		tokenTTL:    o.TokenTTL,
		tokenMaxTTL: o.TokenMaxTTL,
		tokenPeriod: o.TokenPeriod,
		secretIDTTL: o.SecretIDTTL,
		denies:      map[string]int{},
		namespaces:  map[string]*nsState{},
		tokens:      map[string]*token{},
		lockouts:    map[string]*lockout{},
	}
	if s.roleID == "" {
		s.roleID = newUUID()
	}
	if s.secretID == "" {
		s.secretID = newUUID()
	}
	s.secretIssued = s.started
	s.tokenNumUses = o.TokenNumUses
	switch {
	case o.TokenMaxTTL < 0 || o.TokenPeriod < 0 || o.TokenNumUses < 0 || o.SecretIDTTL < 0:
		return nil, errors.New("fakevault: negative token or secret_id setting")
	case s.tokenPeriod > 0:
		s.tokenTTL = s.tokenPeriod // a periodic token starts with its period
	}
	switch {
	case s.tokenTTL < 0:
		return nil, fmt.Errorf("fakevault: negative TokenTTL %v", o.TokenTTL)
	case s.tokenTTL == 0:
		s.tokenTTL = time.Hour
	case s.tokenTTL > defaultMaxTTL:
		s.tokenTTL = defaultMaxTTL // Vault caps token TTLs at the max TTL
	}
	if s.tokenMaxTTL > 0 && s.tokenTTL > s.tokenMaxTTL {
		s.tokenTTL = s.tokenMaxTTL
	}
	if o.Policy != nil {
		p, err := parsePolicy(o.Policy)
		if err != nil {
			return nil, err
		}
		s.rolePolicy = p
	}

	root := newNamespace("", "root")
	s.namespaces[""] = root
	kvNS := root
	if ns := normalizeNamespace(o.Namespace); ns != "" {
		if strings.Contains(ns, "//") || strings.Contains(ns, "..") {
			return nil, fmt.Errorf("fakevault: invalid namespace %q", o.Namespace)
		}
		kvNS = newNamespace(ns, randomBase62(5))
		s.namespaces[ns] = kvNS
	}
	s.kvNS = kvNS.path
	kvNS.addMount("auth/approle/", "approle", 0)

	mounts := o.Mounts
	if mounts == nil {
		mounts = map[string]int{"kv": 2}
	}
	names := make([]string, 0, len(mounts))
	for name := range mounts {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		path, err := kvMountPath(name)
		if err != nil {
			return nil, err
		}
		v := mounts[name]
		if v != 1 && v != 2 {
			return nil, fmt.Errorf("fakevault: mount %q: KV version must be 1 or 2, not %d", name, v)
		}
		if kvNS.mounts[path] != nil {
			return nil, fmt.Errorf("fakevault: mount %q given twice", name)
		}
		kvNS.addMount(path, "kv", v)
	}

	s.rootToken = "hvs." + randomBase62(24)
	s.tokens[s.rootToken] = &token{
		id:          s.rootToken,
		accessor:    randomBase62(24),
		ns:          "",
		policies:    []string{"root"},
		root:        true,
		issued:      s.started,
		path:        "auth/token/root",
		displayName: "root",
	}

	if o.TLS {
		cert, caPEM, err := selfSignedTLS()
		if err != nil {
			return nil, err
		}
		s.scheme = "https"
		s.caPEM = caPEM
		s.tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	addr := o.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fakevault: %w", err)
	}
	s.addr = ln.Addr().String()
	s.serve(ln)
	return s, nil
}

// serve starts an HTTP server on ln. The caller holds s.mu or is Start.
func (s *Server) serve(ln net.Listener) {
	if s.tlsConfig != nil {
		ln = tls.NewListener(ln, s.tlsConfig)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 30 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	done := make(chan struct{})
	s.httpSrv, s.serveDone = srv, done
	go func() {
		defer close(done)
		_ = srv.Serve(ln) // returns http.ErrServerClosed on Close
	}()
}

// stopServing closes the listener and every open connection and waits
// for the serving goroutine. The caller holds s.mu.
func (s *Server) stopServing() {
	if s.httpSrv == nil {
		return
	}
	_ = s.httpSrv.Close()
	<-s.serveDone
	s.httpSrv, s.serveDone = nil, nil
}

// URL returns the server's base URL, http(s)://127.0.0.1:PORT.
func (s *Server) URL() string {
	host, port, _ := net.SplitHostPort(s.addr)
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return s.scheme + "://" + net.JoinHostPort(host, port)
}

// CAPEM returns the PEM-encoded certificate of the CA that signed the
// server's TLS certificate, or nil for a plain-HTTP server.
func (s *Server) CAPEM() []byte {
	if s.caPEM == nil {
		return nil
	}
	return append([]byte(nil), s.caPEM...)
}

// WriteCAFile writes CAPEM to path (mode 0644).
func (s *Server) WriteCAFile(path string) error {
	if s.caPEM == nil {
		return errors.New("fakevault: server has no TLS CA (started without TLS)")
	}
	if err := os.WriteFile(path, s.caPEM, 0o644); err != nil {
		return fmt.Errorf("fakevault: %w", err)
	}
	return nil
}

// WriteFiles writes what a client of the server needs into dir: the CA
// certificate (vault-ca.pem, for a TLS server; "" otherwise) and the
// AppRole secret_id (secret-id, mode 0600), and returns their paths.
func (s *Server) WriteFiles(dir string) (caFile, secretFile string, err error) {
	if s.caPEM != nil {
		caFile = filepath.Join(dir, "vault-ca.pem")
		if err := s.WriteCAFile(caFile); err != nil {
			return "", "", err
		}
	}
	secretFile = filepath.Join(dir, "secret-id")
	if err := os.WriteFile(secretFile, []byte(s.secretID+"\n"), 0o600); err != nil {
		return "", "", fmt.Errorf("fakevault: %w", err)
	}
	return caFile, secretFile, nil
}

// Logins is how many AppRole logins succeeded.
func (s *Server) Logins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

// NewSecretID issues a new AppRole secret_id, as 'vault write -f
// auth/approle/role/ROLE/secret-id' does, and returns it; the old one no
// longer logs in.
func (s *Server) NewSecretID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secretID, s.secretIssued = newUUID(), time.Now()
	return s.secretID
}

// RevokeTokens revokes every token the AppRole logins issued, as an
// admin's 'vault token revoke -mode=path auth/approle/login' does; the
// root token stays.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, t := range s.tokens {
		if t.path == "auth/approle/login" {
			delete(s.tokens, id)
		}
	}
}

// RoleID returns the AppRole role_id accepted at auth/approle/login.
func (s *Server) RoleID() string { return s.roleID }

// SecretID returns the AppRole secret_id accepted at auth/approle/login.
func (s *Server) SecretID() string { return s.secretID }

// RootToken returns a root token: every capability on every path,
// including sudo, in every namespace. It never expires.
func (s *Server) RootToken() string { return s.rootToken }

// Close stops the server. It is safe to call more than once.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.stopServing()
}

// Seal seals the server: sys/health answers 503 (or its sealedcode),
// sys/seal-status reports sealed, and every other API request gets
// 503 {"errors":["Vault is sealed"]}. Tokens and data survive.
func (s *Server) Seal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sealed = true
}

// Unseal unseals the server again.
func (s *Server) Unseal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sealed = false
}

// SetInitialized switches between an initialized server and one that was
// never initialized: sys/health answers 501 (or its uninitcode),
// sys/seal-status reports initialized:false with no key shares, and every
// other API request gets 503 "Vault is sealed", since an uninitialized
// Vault is sealed. Seal state is kept separately.
func (s *Server) SetInitialized(initialized bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.uninitialized = !initialized
}

// SetStandby makes the server an unsealed HA standby whose active node is
// leaderAddress: sys/health reports standby:true with 429 (unless
// standbyok or standbycode), sys/leader reports is_self:false and the
// leader's address, and other requests are answered as if forwarded to
// the active node. With an empty leaderAddress, requests fail as on a
// standby that cannot find its active node.
func (s *Server) SetStandby(standby bool, leaderAddress string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.standby = standby
	s.leaderAddr = leaderAddress
}

// SetDown takes the server off the network (down: connections to its port
// are refused and open connections are cut) or puts it back on the same
// port. Bringing it back retries for a few seconds if the port is briefly
// unavailable; if it stays unavailable the server stays down.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || down == s.down {
		return
	}
	if down {
		s.stopServing()
		s.down = true
		return
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ln, err := net.Listen("tcp", s.addr)
		if err == nil {
			s.serve(ln)
			s.down = false
			return
		}
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// SetLatency makes every request wait d before it is handled.
func (s *Server) SetLatency(d time.Duration) { s.latency.Store(int64(d)) }

// Deny forces status on every request whose URL path starts with
// pathPrefix (e.g. "/v1/kv/data/"), with the body Vault sends for it:
// 403 {"errors":["permission denied"]}, 503 {"errors":["Vault is sealed"]},
// 429 the rate-limit quota error, 400/412/500 the multi-error form of
// "invalid request", "required index state not present" and "internal
// error", 204 no body, anything else {"errors":[]}. Rules apply before any
// other processing, sealed or not; the longest matching prefix wins.
// Status 0 removes the rule for pathPrefix.
func (s *Server) Deny(pathPrefix string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if status == 0 {
		delete(s.denies, pathPrefix)
		return
	}
	s.denies[pathPrefix] = status
}

// Remount changes the KV version of the mount at path (no slashes), adds
// the mount if it does not exist, or removes it when version is 0. Going
// from version 1 to 2 upgrades the data as Vault does (every entry becomes
// version 1 of a KV v2 secret); going from 2 to 1 starts empty, as a v2
// mount cannot be downgraded in Vault and must be disabled and enabled
// again. Remount panics on an invalid path or version: it is test setup.
func (s *Server) Remount(path string, version int) {
	mp, err := kvMountPath(path)
	if err != nil {
		panic(err)
	}
	if version < 0 || version > 2 {
		panic(fmt.Sprintf("fakevault: Remount %q: KV version must be 0, 1 or 2, not %d", path, version))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ns := s.namespaces[s.kvNS]
	old := ns.mounts[mp]
	switch {
	case version == 0:
		delete(ns.mounts, mp)
	case old == nil || old.typ != "kv":
		ns.addMount(mp, "kv", version)
	case old.kv.version == version:
	case version == 2:
		old.kv.upgrade()
	default:
		old.kv = newKVStore(1)
	}
}

// Secret returns a copy of the current data of the KV entry at path in
// mount (for KV v2 the latest version, unless it is deleted or destroyed).
// JSON numbers come back as json.Number, as Vault stores them verbatim.
func (s *Server) Secret(mount, path string) (map[string]any, bool) {
	mp, err := kvMountPath(mount)
	if err != nil {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.namespaces[s.kvNS].mounts[mp]
	if m == nil || m.kv == nil {
		return nil, false
	}
	return m.kv.current(strings.TrimPrefix(path, "/"), time.Now())
}

// List returns, sorted, the keys Vault would list in mount at prefix:
// entries directly below it, and sub-folders with a trailing "/". For KV v2
// it is the metadata listing (soft-deleted entries included).
func (s *Server) List(mount, prefix string) []string {
	mp, err := kvMountPath(mount)
	if err != nil {
		return nil
	}
	prefix = strings.TrimPrefix(prefix, "/")
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.namespaces[s.kvNS].mounts[mp]
	if m == nil || m.kv == nil {
		return nil
	}
	return m.kv.list(prefix)
}

// Requests returns the requests answered so far (the last 10000), oldest
// first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

func (s *Server) record(r Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) >= maxRecorded {
		s.requests = append(s.requests[:0], s.requests[1:]...)
	}
	s.requests = append(s.requests, r)
}

// kvMountPath turns a mount name like "kv" or "/kv/" into Vault's mount
// path "kv/", rejecting the paths Vault reserves.
func kvMountPath(name string) (string, error) {
	p := strings.Trim(name, "/")
	if p == "" || strings.Contains(p, "//") {
		return "", fmt.Errorf("fakevault: invalid mount path %q", name)
	}
	switch first, _, _ := strings.Cut(p, "/"); first {
	case "sys", "auth", "cubbyhole", "identity":
		return "", fmt.Errorf("fakevault: mount path %q is reserved by Vault", name)
	}
	return p + "/", nil
}

// normalizeNamespace turns "team", "/team/" into "team/"; "" and "/" are
// the root namespace "".
func normalizeNamespace(ns string) string {
	ns = strings.Trim(strings.TrimSpace(ns), "/")
	if ns == "" || ns == "root" {
		return ""
	}
	return ns + "/"
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func randomBase62(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = base62[int(b[i])%len(base62)]
	}
	return string(b)
}

func newUUID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// clusterAddress derives the cluster address Vault would advertise for an
// API address: https, port + 1.
func clusterAddress(apiAddr string) string {
	rest, ok := strings.CutPrefix(apiAddr, "https://")
	if !ok {
		rest, ok = strings.CutPrefix(apiAddr, "http://")
	}
	if !ok {
		return ""
	}
	host, port, err := net.SplitHostPort(strings.TrimSuffix(rest, "/"))
	if err != nil {
		return ""
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return ""
	}
	return "https://" + net.JoinHostPort(host, strconv.Itoa(p+1))
}
