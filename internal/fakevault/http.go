package fakevault

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxRequestSize is Vault's default max_request_size (32 MiB).
const maxRequestSize = 32 << 20

// Error texts Vault uses verbatim.
const (
	errSealed           = "Vault is sealed"
	errPermissionDenied = "permission denied"
)

// multiError renders err the way hashicorp/go-multierror renders a single
// wrapped error, which is how Vault reports errors that went through its
// request pipeline (e.g. an ACL denial).
func multiError(err string) string {
	return "1 error occurred:\n\t* " + err + "\n\n"
}

// reply is a response computed under the server lock and written after.
type reply struct {
	status int
	body   any // nil: no body
}

type errorBody struct {
	Errors []string `json:"errors"`
}

func errReply(status int, errs ...string) reply {
	if errs == nil {
		errs = []string{}
	}
	return reply{status: status, body: errorBody{Errors: errs}}
}

// statusRecorder remembers the status written through it.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// ServeHTTP answers one request of Vault's HTTP API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if d := time.Duration(s.latency.Load()); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	rec := &statusRecorder{ResponseWriter: w}
	token := requestToken(r)
	defer func() {
		s.record(Request{
			Time:         time.Now(),
			Method:       r.Method,
			Path:         r.URL.Path,
			Query:        r.URL.RawQuery,
			Namespace:    r.Header.Get("X-Vault-Namespace"),
			Status:       rec.status,
			TokenPresent: token != "",
		})
	}()
	writeReply(rec, r, s.handleHTTP(r))
}

// writeReply writes rp with the headers Vault puts on every response.
func writeReply(w http.ResponseWriter, r *http.Request, rp reply) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "application/json")
	if ns := r.Header.Get("X-Vault-Namespace"); ns != "" {
		h.Set("X-Vault-Namespace", ns)
	}
	w.WriteHeader(rp.status)
	if rp.body == nil || r.Method == http.MethodHead {
		return
	}
	if raw, ok := rp.body.(rawJSON); ok {
		_, _ = w.Write(raw)
		return
	}
	_ = json.NewEncoder(w).Encode(rp.body)
}

// rawJSON is a body already encoded (Vault's RespondWithStatusCode).
type rawJSON []byte

// requestToken returns the client token from X-Vault-Token or, failing
// that, from "Authorization: Bearer", as Vault does.
func requestToken(r *http.Request) string {
	if t := r.Header.Get("X-Vault-Token"); t != "" {
		return t
	}
	for _, v := range r.Header.Values("Authorization") {
		if t, ok := strings.CutPrefix(v, "Bearer "); ok {
			return strings.TrimSpace(t)
		}
	}
	return ""
}

// restrictedNonLogical are the sys/ endpoints OpenBao refuses with a
// namespace header ("operation unavailable in namespaces").
var restrictedNonLogical = []string{
	"raw", "generate-recovery-token", "init", "seal", "step-down", "unseal",
	"health", "rekey-recovery-key", "rekey", "storage", "generate-root",
	"metrics", "pprof", "in-flight-req",
}

func isRestrictedNonLogical(sysPath string) bool {
	first, _, _ := strings.Cut(sysPath, "/")
	for _, p := range restrictedNonLogical {
		if first == p {
			return true
		}
	}
	return false
}

func (s *Server) handleHTTP(r *http.Request) reply {
	if rp, ok := s.forcedReply(r.URL.Path); ok {
		return rp
	}
	path := r.URL.Path
	if r.Header.Get("X-Vault-Namespace") != "" {
		if rest, ok := strings.CutPrefix(path, "/v1/sys/"); ok && isRestrictedNonLogical(rest) {
			return errReply(http.StatusBadRequest, "operation unavailable in namespaces")
		}
	}
	switch path {
	case "/v1/sys/health":
		return s.handleHealth(r)
	case "/v1/sys/seal-status":
		if r.Method != http.MethodGet {
			return errReply(http.StatusMethodNotAllowed)
		}
		return s.handleSealStatus()
	case "/v1/sys/leader":
		if r.Method != http.MethodGet {
			return errReply(http.StatusMethodNotAllowed)
		}
		return s.handleLeader()
	case "/v1/sys/init":
		if r.Method != http.MethodGet {
			return errReply(http.StatusMethodNotAllowed)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		return reply{http.StatusOK, map[string]bool{"initialized": !s.uninitialized}}
	}
	if !strings.HasPrefix(path, "/v1/") || path == "/v1/" {
		return errReply(http.StatusNotFound)
	}
	return s.handleLogical(r)
}

// forcedReply applies a Deny rule to path.
func (s *Server) forcedReply(path string) (reply, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	best, status := "", 0
	for prefix, st := range s.denies {
		if strings.HasPrefix(path, prefix) && (status == 0 || len(prefix) > len(best)) {
			best, status = prefix, st
		}
	}
	if status == 0 {
		return reply{}, false
	}
	switch status {
	case http.StatusForbidden:
		return errReply(status, errPermissionDenied), true
	case http.StatusServiceUnavailable:
		return errReply(status, errSealed), true
	case http.StatusBadRequest:
		return errReply(status, multiError("invalid request")), true
	case http.StatusInternalServerError:
		return errReply(status, multiError("internal error")), true
	case http.StatusTooManyRequests:
		return errReply(status, fmt.Sprintf("request path %q: rate limit quota exceeded", strings.TrimPrefix(path, "/v1/"))), true
	case http.StatusPreconditionFailed:
		return errReply(status, multiError("required index state not present")), true
	case http.StatusNoContent:
		return reply{status: status}, true
	default:
		return errReply(status), true
	}
}

// healthResponse is the body of sys/health (Vault 1.17 field set).
type healthResponse struct {
	Initialized                       bool   `json:"initialized"`
	Sealed                            bool   `json:"sealed"`
	Standby                           bool   `json:"standby"`
	PerformanceStandby                bool   `json:"performance_standby"`
	ReplicationPerformanceMode        string `json:"replication_performance_mode"`
	ReplicationDRMode                 string `json:"replication_dr_mode"`
	ServerTimeUTC                     int64  `json:"server_time_utc"`
	Version                           string `json:"version"`
	Enterprise                        bool   `json:"enterprise"`
	ClusterName                       string `json:"cluster_name,omitempty"`
	ClusterID                         string `json:"cluster_id,omitempty"`
	EchoDurationMillis                int64  `json:"echo_duration_ms"`
	ClockSkewMillis                   int64  `json:"clock_skew_ms"`
	ReplicationPrimaryCanaryAgeMillis int64  `json:"replication_primary_canary_age_ms"`
}

// handleHealth follows Vault's http/sys_health.go: query parameters choose
// the status codes, initialization beats seal beats standby, and a bad
// parameter value is a 400 with an empty error list.
func (s *Server) handleHealth(r *http.Request) reply {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return errReply(http.StatusMethodNotAllowed)
	}
	q := r.URL.Query()
	boolParam := func(name string) (bool, bool) {
		v, ok := q[name]
		if !ok {
			return false, true
		}
		b, err := parseBool(v[0])
		return b, err == nil
	}
	standbyOK, ok1 := boolParam("standbyok")
	_, ok2 := boolParam("perfstandbyok")
	if !ok1 || !ok2 {
		return errReply(http.StatusBadRequest)
	}
	codes := map[string]int{
		"uninitcode": 501, "sealedcode": 503, "standbycode": 429, "activecode": 200,
		"drsecondarycode": 472, "performancestandbycode": 473,
	}
	for name := range codes {
		if v, ok := q[name]; ok {
			c, err := strconv.Atoi(v[0])
			if err != nil {
				return errReply(http.StatusBadRequest)
			}
			codes[name] = c
		}
	}

	s.mu.Lock()
	initialized, sealed, standby := !s.uninitialized, s.sealed || s.uninitialized, s.standby
	s.mu.Unlock()

	code := codes["activecode"]
	switch {
	case !initialized:
		code = codes["uninitcode"]
	case sealed:
		code = codes["sealedcode"]
	case standby && !standbyOK:
		code = codes["standbycode"]
	}
	body := healthResponse{
		Initialized:                initialized,
		Sealed:                     sealed,
		Standby:                    standby || sealed, // a sealed Vault is a standby
		ReplicationPerformanceMode: "disabled",
		ReplicationDRMode:          "disabled",
		ServerTimeUTC:              time.Now().UTC().Unix(),
		Version:                    Version,
	}
	if !sealed {
		body.ClusterName, body.ClusterID = s.clusterName, s.clusterID
	}
	return reply{status: code, body: body}
}

// sealStatusResponse is the body of sys/seal-status.
type sealStatusResponse struct {
	Type         string `json:"type"`
	Initialized  bool   `json:"initialized"`
	Sealed       bool   `json:"sealed"`
	T            int    `json:"t"`
	N            int    `json:"n"`
	Progress     int    `json:"progress"`
	Nonce        string `json:"nonce"`
	Version      string `json:"version"`
	BuildDate    string `json:"build_date"`
	Migration    bool   `json:"migration"`
	ClusterName  string `json:"cluster_name,omitempty"`
	ClusterID    string `json:"cluster_id,omitempty"`
	RecoverySeal bool   `json:"recovery_seal"`
	StorageType  string `json:"storage_type,omitempty"`
}

// buildDate is the build_date reported in sys/seal-status.
const buildDate = "2024-09-24T19:48:40Z"

func (s *Server) handleSealStatus() reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := sealStatusResponse{
		Type:        "shamir",
		Initialized: !s.uninitialized,
		Sealed:      s.sealed || s.uninitialized,
		Version:     Version,
		BuildDate:   buildDate,
		StorageType: "raft",
	}
	if !s.uninitialized {
		st.T, st.N = 1, 1
	}
	if !st.Sealed {
		st.ClusterName, st.ClusterID = s.clusterName, s.clusterID
	}
	return reply{http.StatusOK, st}
}

// leaderResponse is the body of sys/leader.
type leaderResponse struct {
	HAEnabled                bool      `json:"ha_enabled"`
	IsSelf                   bool      `json:"is_self"`
	ActiveTime               time.Time `json:"active_time"`
	LeaderAddress            string    `json:"leader_address"`
	LeaderClusterAddress     string    `json:"leader_cluster_address"`
	PerfStandby              bool      `json:"performance_standby"`
	PerfStandbyLastRemoteWAL uint64    `json:"performance_standby_last_remote_wal"`
}

// handleLeader answers sys/leader as an HA-enabled node (integrated
// storage). Vault's core.Leader fails with "Vault is sealed" while sealed.
func (s *Server) handleLeader() reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sealed || s.uninitialized {
		return errReply(http.StatusServiceUnavailable, errSealed)
	}
	lr := leaderResponse{HAEnabled: true}
	if s.standby {
		lr.LeaderAddress = s.leaderAddr
		lr.LeaderClusterAddress = clusterAddress(s.leaderAddr)
	} else {
		lr.IsSelf = true
		lr.ActiveTime = s.started.UTC()
		lr.LeaderAddress = s.URL()
		lr.LeaderClusterAddress = clusterAddress(s.URL())
	}
	return reply{http.StatusOK, lr}
}

// parseBool accepts what Go's strconv.ParseBool accepts, as Vault's
// parseutil.ParseBool does for strings.
func parseBool(v string) (bool, error) { return strconv.ParseBool(v) }

// readBody decodes a JSON object from a PUT/POST/PATCH body, as Vault's
// parseJSONRequest does (numbers kept as json.Number). An empty body gives
// nil data. Like Vault it also takes form-encoded bodies. A body over
// Vault's 32 MiB limit is a 413.
func readBody(r *http.Request) (map[string]any, int, error) {
	raw, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxRequestSize))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, http.StatusRequestEntityTooLarge, errors.New("error parsing JSON")
		}
		return nil, http.StatusBadRequest, errors.New("error reading data")
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/x-www-form-urlencoded" && !looksLikeJSON(raw) {
		form, err := url.ParseQuery(string(raw))
		if err != nil {
			return nil, http.StatusBadRequest, errors.New("error parsing form data")
		}
		if len(form) == 0 {
			return nil, 0, nil
		}
		data := map[string]any{}
		for k, v := range form {
			data[k] = strings.Join(v, ",")
		}
		return data, 0, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var data map[string]any
	if err := dec.Decode(&data); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, 0, nil
		}
		return nil, http.StatusBadRequest, errors.New("error parsing JSON")
	}
	return data, 0, nil
}

func looksLikeJSON(head []byte) bool {
	for _, c := range head {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{', '[':
			return true
		default:
			return false
		}
	}
	return false
}
