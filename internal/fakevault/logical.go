package fakevault

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// operation is a Vault logical operation.
type operation int

const (
	opRead operation = iota + 1
	opList
	opCreate
	opUpdate
	opDelete
	opPatch
)

// nsState is one namespace: the root one ("") or Options.Namespace.
type nsState struct {
	path   string // "" or "team/"
	id     string
	mounts map[string]*mount // by mount path, e.g. "kv/", "auth/approle/"
}

// mount is a secrets engine or auth method.
type mount struct {
	path     string
	typ      string // "kv", "approle", "token", "system", "cubbyhole", "identity"
	uuid     string
	accessor string
	kv       *kvStore // for typ "kv"
}

func newNamespace(path, id string) *nsState {
	ns := &nsState{path: path, id: id, mounts: map[string]*mount{}}
	ns.addMount("sys/", "system", 0)
	ns.addMount("auth/token/", "token", 0)
	ns.addMount("cubbyhole/", "cubbyhole", 0)
	ns.addMount("identity/", "identity", 0)
	return ns
}

func (ns *nsState) addMount(path, typ string, kvVersion int) *mount {
	m := &mount{path: path, typ: typ, uuid: newUUID()}
	prefix := typ
	if strings.HasPrefix(path, "auth/") {
		prefix = "auth_" + typ
	}
	m.accessor = prefix + "_" + randomHex(4)
	if typ == "kv" {
		m.kv = newKVStore(kvVersion)
	}
	ns.mounts[path] = m
	return m
}

// match finds the mount serving path by longest prefix; like Vault's
// router, "foo" also matches a mount "foo/".
func (ns *nsState) match(path string) *mount {
	var best *mount
	for p, m := range ns.mounts {
		if (strings.HasPrefix(path, p) || path+"/" == p) && (best == nil || len(p) > len(best.path)) {
			best = m
		}
	}
	return best
}

// sub returns path relative to the mount; the mount path itself without
// its slash ("kv" for "kv/") is the mount's root.
func (m *mount) sub(path string) string {
	if path+"/" == m.path {
		return ""
	}
	return strings.TrimPrefix(path, m.path)
}

// token is an issued Vault token.
type token struct {
	id, accessor string
	ns           string // namespace path the token belongs to
	policies     []string
	root         bool
	creationTTL  time.Duration
	issued       time.Time
	expires      time.Time // zero: never
	lastRenewal  time.Time
	renewable    bool
	period       time.Duration // periodic token: each renewal sets this TTL
	usesLeft     int           // requests left (token_num_uses); 0: no limit, -1: used up
	meta         map[string]string
	path         string
	displayName  string
	entityID     string
}

// lockout tracks failed AppRole logins for one role_id (Vault's user
// lockout: 5 failures lock the alias out for 15 minutes).
type lockout struct {
	failures    int
	lastFailure time.Time
}

const (
	lockoutThreshold = 5
	lockoutDuration  = 15 * time.Minute
)

// request is a logical request after HTTP parsing.
type request struct {
	id     string
	op     operation
	ns     *nsState
	path   string // relative to ns; list paths end in "/"
	data   map[string]any
	token  string
	header http.Header
}

// httpResponse is Vault's JSON envelope for logical responses.
type httpResponse struct {
	RequestID     string         `json:"request_id"`
	LeaseID       string         `json:"lease_id"`
	Renewable     bool           `json:"renewable"`
	LeaseDuration int            `json:"lease_duration"`
	Data          map[string]any `json:"data"`
	WrapInfo      any            `json:"wrap_info"`
	Warnings      []string       `json:"warnings"`
	Auth          *httpAuth      `json:"auth"`
	MountType     string         `json:"mount_type"`
}

// httpAuth is the "auth" block of login and renew responses.
type httpAuth struct {
	ClientToken    string            `json:"client_token"`
	Accessor       string            `json:"accessor"`
	Policies       []string          `json:"policies"`
	TokenPolicies  []string          `json:"token_policies,omitempty"`
	Metadata       map[string]string `json:"metadata"`
	LeaseDuration  int               `json:"lease_duration"`
	Renewable      bool              `json:"renewable"`
	EntityID       string            `json:"entity_id"`
	TokenType      string            `json:"token_type"`
	Orphan         bool              `json:"orphan"`
	MFARequirement any               `json:"mfa_requirement"`
	NumUses        int               `json:"num_uses"`
}

func (req *request) ok(mountType string, data map[string]any) reply {
	return reply{http.StatusOK, httpResponse{RequestID: req.id, Data: data, MountType: mountType}}
}

// respondWithStatusCode is Vault's logical.RespondWithStatusCode: the
// whole response envelope as a raw body with a chosen status (used by KV
// v2 for 404s that still carry metadata or warnings).
func (req *request) respondWithStatusCode(status int, data map[string]any, warnings []string) reply {
	b, err := json.Marshal(httpResponse{RequestID: req.id, Data: data, Warnings: warnings})
	if err != nil {
		return errReply(http.StatusInternalServerError, multiError("internal error"))
	}
	return reply{status, rawJSON(b)}
}

var (
	errUnsupportedPath      = errReply(http.StatusNotFound, multiError("unsupported path"))
	errUnsupportedOperation = errReply(http.StatusMethodNotAllowed, multiError("unsupported operation"))
)

// handleLogical builds a logical request the way Vault's
// buildLogicalRequest does and runs it.
func (s *Server) handleLogical(r *http.Request) reply {
	path := strings.TrimPrefix(r.URL.Path, "/v1/")
	req := &request{id: newUUID(), header: r.Header}
	req.token = requestToken(r)
	query := r.URL.Query()
	switch r.Method {
	case http.MethodGet:
		req.op = opRead
		if ls := query.Get("list"); ls != "" {
			list, err := parseBool(ls)
			if err != nil {
				return errReply(http.StatusBadRequest)
			}
			if list {
				req.op = opList
				query.Del("list")
			}
		}
		req.data = queryData(query)
	case "LIST":
		req.op = opList
		req.data = queryData(query)
	case http.MethodDelete:
		req.op = opDelete
		req.data = queryData(query)
	case http.MethodPut, http.MethodPost:
		req.op = opUpdate
		data, status, err := readBody(r)
		if err != nil {
			return errReply(status, err.Error())
		}
		req.data = data
	case http.MethodPatch:
		req.op = opPatch
		ct := r.Header.Get("Content-Type")
		mt, _, err := mimeType(ct)
		if err != nil {
			return errReply(http.StatusBadRequest, err.Error())
		}
		if mt != "application/merge-patch+json" {
			return errReply(http.StatusUnsupportedMediaType,
				fmt.Sprintf("PATCH requires Content-Type of application/merge-patch+json, provided %s", mt))
		}
		data, status, err := readBody(r)
		if err != nil {
			return errReply(status, err.Error())
		}
		req.data = data
	default:
		return errReply(http.StatusMethodNotAllowed)
	}
	if req.op == opList && !strings.HasSuffix(path, "/") {
		path += "/"
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sealed || s.uninitialized {
		return errReply(http.StatusServiceUnavailable, errSealed)
	}
	if s.standby && s.leaderAddr == "" {
		return errReply(http.StatusInternalServerError, "local node not active but active cluster node not found")
	}
	req.ns, req.path = s.resolveNamespace(r.Header.Get("X-Vault-Namespace"), path)
	return s.handle(req)
}

func queryData(q map[string][]string) map[string]any {
	data := map[string]any{}
	for k, v := range q {
		switch {
		case k == "help" || len(v) == 0:
		case len(v) == 1:
			data[k] = v[0]
		default:
			data[k] = v
		}
	}
	if len(data) == 0 {
		return nil
	}
	return data
}

// resolveNamespace joins the namespace header and the path and picks the
// longest existing namespace that prefixes the result, as Vault Enterprise
// and OpenBao do; the rest is the path inside that namespace.
func (s *Server) resolveNamespace(header, path string) (*nsState, string) {
	full := normalizeNamespace(header) + path
	best := s.namespaces[""]
	for p, ns := range s.namespaces {
		if p != "" && strings.HasPrefix(full, p) && len(p) > len(best.path) {
			best = ns
		}
	}
	return best, full[len(best.path):]
}

// lookupToken returns the live token with the given id, dropping it if it
// has expired. The caller holds s.mu.
func (s *Server) lookupToken(id string) *token {
	t := s.tokens[id]
	if t == nil {
		return nil
	}
	if !t.expires.IsZero() && !time.Now().Before(t.expires) {
		delete(s.tokens, id)
		return nil
	}
	return t
}

// acl returns the ACL of a token's policies.
func (s *Server) acl(t *token) *acl {
	if t.root {
		return newACL(true)
	}
	var ps []policy
	for _, name := range t.policies {
		switch name {
		case "default":
			ps = append(ps, defaultPolicy)
		case rolePolicyName:
			ps = append(ps, s.roleACLPolicy())
		}
	}
	return newACL(false, ps...)
}

// roleACLPolicy is Options.Policy, or full access to the current KV mounts.
func (s *Server) roleACLPolicy() policy {
	if s.rolePolicy != nil {
		return s.rolePolicy
	}
	p := policy{}
	for path, m := range s.namespaces[s.kvNS].mounts {
		if m.typ == "kv" {
			p[path+"*"] = capCreate | capRead | capUpdate | capDelete | capList | capPatch
		}
	}
	return p
}

// policyPath is the path an ACL of a token from namespace tokNS sees for
// path in namespace reqNS; false if reqNS is outside tokNS.
func policyPath(tokNS, reqNS, path string) (string, bool) {
	if !strings.HasPrefix(reqNS, tokNS) {
		return "", false
	}
	return reqNS[len(tokNS):] + path, true
}

const (
	roleName       = "fakevault"
	rolePolicyName = "fakevault"
)

// handle runs a logical request through Vault's pipeline: write-path
// check, login paths, token check, existence check, ACL, routing. The
// caller holds s.mu.
func (s *Server) handle(req *request) reply {
	if strings.HasSuffix(req.path, "/") && (req.op == opUpdate || req.op == opCreate || req.op == opPatch) {
		return errReply(http.StatusBadRequest, "cannot write to a path ending in '/'")
	}
	if req.path == "auth/approle/login" && req.ns.mounts["auth/approle/"] != nil {
		return s.login(req)
	}
	if req.path == "sys/internal/ui/mounts" || strings.HasPrefix(req.path, "sys/internal/ui/mounts/") {
		return s.uiMounts(req)
	}

	tok := s.lookupToken(req.token)
	if tok == nil {
		return errReply(http.StatusForbidden, errPermissionDenied)
	}
	if tok.usesLeft > 0 {
		// Vault serves the request that uses a token up, then revokes
		// it; meanwhile the token shows num_uses -1 (revocation pending).
		if tok.usesLeft--; tok.usesLeft == 0 {
			tok.usesLeft = -1
			delete(s.tokens, tok.id)
		}
	}
	m := req.ns.match(req.path)
	if req.op == opUpdate && m != nil && m.kv != nil {
		if exists, checked := m.kv.exists(m.sub(req.path)); checked && !exists {
			req.op = opCreate
		}
	}
	pp, ok := policyPath(tok.ns, req.ns.path, req.path)
	if !ok || !s.acl(tok).allowed(pp, req.op, isRootPath(req.path)) {
		return errReply(http.StatusForbidden, multiError(errPermissionDenied))
	}
	if m == nil {
		return errReply(http.StatusNotFound, fmt.Sprintf("no handler for route %q. route entry not found.", req.path))
	}
	sub := m.sub(req.path)
	switch m.typ {
	case "kv":
		return m.kv.handle(req, sub)
	case "token":
		return s.tokenBackend(req, tok, sub)
	case "system":
		return s.sysBackend(req, sub)
	case "approle":
		if sub == "login" {
			return errUnsupportedOperation
		}
		return errUnsupportedPath
	default:
		return errUnsupportedPath
	}
}

// login is auth/approle/login (Vault's approle path_login.go), including
// Vault's user lockout for AppRole.
func (s *Server) login(req *request) reply {
	if req.op != opUpdate && req.op != opCreate {
		return errUnsupportedOperation
	}
	roleID := strings.TrimSpace(stringField(req.data, "role_id"))
	if roleID == "" {
		return errReply(http.StatusBadRequest, "missing role_id")
	}
	now := time.Now()
	lo := s.lockouts[roleID]
	if lo != nil && now.Sub(lo.lastFailure) >= lockoutDuration {
		delete(s.lockouts, roleID)
		lo = nil
	}
	if lo != nil && lo.failures >= lockoutThreshold {
		return errReply(http.StatusForbidden, errPermissionDenied)
	}
	if roleID != s.roleID {
		return errReply(http.StatusBadRequest, "invalid role or secret ID")
	}
	secretID := strings.TrimSpace(stringField(req.data, "secret_id"))
	if secretID == "" {
		return errReply(http.StatusBadRequest, "missing secret_id")
	}
	expired := s.secretIDTTL > 0 && !now.Before(s.secretIssued.Add(s.secretIDTTL))
	if secretID != s.secretID || expired {
		if lo == nil {
			lo = &lockout{}
			s.lockouts[roleID] = lo
		}
		lo.failures++
		lo.lastFailure = now
		return errReply(http.StatusBadRequest, "invalid role or secret ID")
	}
	delete(s.lockouts, roleID)

	s.logins++
	id := "hvs." + randomBase62(24)
	if req.ns.path != "" {
		id += "." + req.ns.id // namespaced tokens carry the namespace ID
	}
	t := &token{
		id:          id,
		accessor:    randomBase62(24),
		ns:          req.ns.path,
		policies:    []string{"default", rolePolicyName},
		creationTTL: s.tokenTTL,
		issued:      now,
		expires:     now.Add(s.tokenTTL),
		renewable:   true,
		period:      s.tokenPeriod,
		usesLeft:    s.tokenNumUses,
		meta:        map[string]string{"role_name": roleName},
		path:        "auth/approle/login",
		displayName: "approle",
		entityID:    newUUID(),
	}
	s.tokens[id] = t
	return reply{http.StatusOK, httpResponse{RequestID: req.id, Auth: t.auth(s.tokenTTL)}}
}

func (t *token) auth(ttl time.Duration) *httpAuth {
	return &httpAuth{
		ClientToken:   t.id,
		Accessor:      t.accessor,
		Policies:      t.policies,
		TokenPolicies: t.policies,
		Metadata:      t.meta,
		LeaseDuration: int(ttl / time.Second),
		Renewable:     t.renewable,
		EntityID:      t.entityID,
		TokenType:     "service",
		Orphan:        true,
	}
}

// tokenBackend is the part of auth/token/ a KES key store uses.
func (s *Server) tokenBackend(req *request, tok *token, sub string) reply {
	switch sub {
	case "lookup-self":
		if req.op != opRead && req.op != opUpdate {
			return errUnsupportedOperation
		}
		return req.ok("token", s.lookupData(tok))
	case "lookup":
		if req.op != opUpdate && req.op != opRead {
			return errUnsupportedOperation
		}
		id := stringField(req.data, "token")
		if id == "" {
			id = tok.id
		}
		t := s.lookupToken(id)
		if t == nil {
			return errReply(http.StatusForbidden, "bad token")
		}
		return req.ok("token", s.lookupData(t))
	case "renew-self":
		if req.op != opUpdate {
			return errUnsupportedOperation
		}
		return s.renew(req, tok)
	case "revoke-self":
		if req.op != opUpdate {
			return errUnsupportedOperation
		}
		delete(s.tokens, tok.id)
		return reply{status: http.StatusNoContent}
	}
	return errUnsupportedPath
}

func (s *Server) lookupData(t *token) map[string]any {
	now := time.Now()
	d := map[string]any{
		"accessor":         t.accessor,
		"creation_time":    t.issued.Unix(),
		"creation_ttl":     int(t.creationTTL / time.Second),
		"display_name":     t.displayName,
		"entity_id":        t.entityID,
		"expire_time":      nil,
		"explicit_max_ttl": 0,
		"id":               t.id,
		"issue_time":       t.issued.Format(time.RFC3339Nano),
		"meta":             t.meta,
		"num_uses":         t.usesLeft,
		"orphan":           true,
		"path":             t.path,
		"policies":         t.policies,
		"renewable":        t.renewable,
		"ttl":              0,
		"type":             "service",
	}
	if !t.expires.IsZero() {
		d["expire_time"] = t.expires.Format(time.RFC3339Nano)
		d["ttl"] = int(t.expires.Sub(now) / time.Second)
	}
	if t.period > 0 {
		d["period"] = int(t.period / time.Second)
	}
	if !t.lastRenewal.IsZero() {
		d["last_renewal"] = t.lastRenewal.Format(time.RFC3339Nano)
		d["last_renewal_time"] = t.lastRenewal.Unix()
	}
	if t.ns != "" {
		d["namespace_path"] = t.ns
	}
	return d
}

// renew is auth/token/renew-self: the new TTL is the increment, or the
// role's token TTL without one (a periodic token's period, whatever the
// increment), capped by the max TTL counted from the token's issue time:
// the role's token_max_ttl, else the system's (a periodic token has only
// the role's).
func (s *Server) renew(req *request, t *token) reply {
	if !t.renewable || t.expires.IsZero() {
		return errReply(http.StatusBadRequest, "lease is not renewable")
	}
	incr, err := durationField(req.data, "increment")
	if err != nil {
		return errReply(http.StatusBadRequest, err.Error())
	}
	ttl := t.creationTTL
	if incr > 0 {
		ttl = incr
	}
	maxTTL := s.tokenMaxTTL
	if t.period > 0 {
		ttl = t.period
	} else if maxTTL == 0 {
		maxTTL = defaultMaxTTL
	}
	// Vault counts whole seconds: it truncates now and the issue time.
	now := time.Now()
	if left := t.issued.Truncate(time.Second).Add(maxTTL).Sub(now.Truncate(time.Second)); maxTTL > 0 && ttl > left {
		ttl = left
	}
	t.expires = now.Add(ttl)
	t.lastRenewal = now
	return reply{http.StatusOK, httpResponse{RequestID: req.id, Auth: t.auth(ttl)}}
}

// sysBackend is the part of sys/ served through the logical pipeline.
func (s *Server) sysBackend(req *request, sub string) reply {
	switch {
	case sub == "mounts":
		if req.op != opRead {
			return errUnsupportedOperation
		}
		data := map[string]any{}
		for p, m := range req.ns.mounts {
			if !strings.HasPrefix(p, "auth/") {
				data[p] = m.info()
			}
		}
		return injected(req, data)
	case strings.HasPrefix(sub, "mounts/"):
		p := strings.Trim(strings.TrimPrefix(sub, "mounts/"), "/") + "/"
		switch req.op {
		case opRead:
			m := req.ns.match(p)
			if m == nil || strings.HasPrefix(m.path, "auth/") {
				return errReply(http.StatusBadRequest, fmt.Sprintf("No secret engine mount at %s", p))
			}
			return injected(req, m.info())
		case opCreate, opUpdate:
			return s.enableMount(req, p)
		case opDelete:
			if m := req.ns.mounts[p]; m != nil && m.typ == "kv" {
				delete(req.ns.mounts, p)
			}
			return reply{status: http.StatusNoContent}
		}
		return errUnsupportedOperation
	}
	return errUnsupportedPath
}

// injected answers like Vault's sys routes that copy "data" to the top
// level of the JSON body (handleLogicalWithInjector).
func injected(req *request, data map[string]any) reply {
	body := map[string]any{
		"request_id":     req.id,
		"lease_id":       "",
		"renewable":      false,
		"lease_duration": 0,
		"data":           data,
		"wrap_info":      nil,
		"warnings":       nil,
		"auth":           nil,
		"mount_type":     "system",
	}
	for k, v := range data {
		if _, taken := body[k]; !taken {
			body[k] = v
		}
	}
	return reply{http.StatusOK, body}
}

// enableMount is POST sys/mounts/:path for KV engines.
func (s *Server) enableMount(req *request, p string) reply {
	typ := stringField(req.data, "type")
	version := 1
	if opts, ok := req.data["options"].(map[string]any); ok {
		if v := fmt.Sprint(opts["version"]); v == "2" {
			version = 2
		}
	}
	switch typ {
	case "kv":
	case "kv-v2":
		version = 2
	case "":
		return errReply(http.StatusBadRequest, "backend type must be specified as a string")
	default:
		return errReply(http.StatusBadRequest, fmt.Sprintf("plugin not found in the catalog: %s", typ))
	}
	if _, err := kvMountPath(p); err != nil {
		return errReply(http.StatusBadRequest, fmt.Sprintf("cannot mount to %q", p))
	}
	for existing := range req.ns.mounts {
		if strings.HasPrefix(p, existing) || strings.HasPrefix(existing, p) {
			return errReply(http.StatusBadRequest, fmt.Sprintf("path is already in use at %s", p))
		}
	}
	req.ns.addMount(p, "kv", version)
	return reply{status: http.StatusNoContent}
}

// info is the mount description returned by sys/mounts.
func (m *mount) info() map[string]any {
	var options map[string]string
	version := ""
	if m.kv != nil {
		version = strconv.Itoa(m.kv.version)
		options = map[string]string{"version": version}
	}
	running := "v" + Version + "+builtin.vault"
	if m.typ == "kv" {
		running = "v0.19.0+builtin"
	}
	return map[string]any{
		"accessor":                m.accessor,
		"config":                  map[string]any{"default_lease_ttl": 0, "force_no_cache": false, "max_lease_ttl": 0},
		"deprecation_status":      "supported",
		"description":             mountDescription(m.typ),
		"external_entropy_access": false,
		"local":                   m.typ == "cubbyhole",
		"options":                 options,
		"plugin_version":          "",
		"running_plugin_version":  running,
		"running_sha256":          "",
		"seal_wrap":               m.typ == "system",
		"type":                    m.typ,
		"uuid":                    m.uuid,
	}
}

func mountDescription(typ string) string {
	switch typ {
	case "system":
		return "system endpoints used for control, policy and debugging"
	case "cubbyhole":
		return "per-token private secret storage"
	case "identity":
		return "identity store"
	case "token":
		return "token based credentials"
	}
	return ""
}

// uiMounts is sys/internal/ui/mounts[/path], an unauthenticated path that
// checks the token itself (Vault's pathInternalUIMountRead).
func (s *Server) uiMounts(req *request) reply {
	if req.op != opRead {
		return errUnsupportedOperation
	}
	tok := s.lookupToken(req.token)
	if req.path == "sys/internal/ui/mounts" || req.path == "sys/internal/ui/mounts/" {
		secret, auth := map[string]any{}, map[string]any{}
		if tok != nil {
			a := s.acl(tok)
			for p, m := range req.ns.mounts {
				pp, ok := policyPath(tok.ns, req.ns.path, p)
				if !ok || !a.hasMountAccess(pp) {
					continue
				}
				if strings.HasPrefix(p, "auth/") {
					auth[strings.TrimPrefix(p, "auth/")] = m.info()
				} else {
					secret[p] = m.info()
				}
			}
		}
		return req.ok("system", map[string]any{"secret": secret, "auth": auth})
	}
	p := strings.Trim(strings.TrimPrefix(req.path, "sys/internal/ui/mounts/"), "/") + "/"
	preflight := errReply(http.StatusForbidden, fmt.Sprintf(
		"preflight capability check returned 403, please ensure client's policies grant access to path %q", p))
	m := req.ns.match(p)
	if m == nil {
		return preflight
	}
	if tok == nil {
		return errReply(http.StatusForbidden, multiError(errPermissionDenied))
	}
	pp, ok := policyPath(tok.ns, req.ns.path, m.path)
	if !ok || !s.acl(tok).hasMountAccess(pp) {
		return preflight
	}
	data := m.info()
	data["path"] = m.path
	return req.ok("system", data)
}

// stringField reads a string parameter the way Vault's TypeString does.
func stringField(data map[string]any, key string) string {
	switch v := data[key].(type) {
	case nil:
		return ""
	case string:
		return v
	case json.Number:
		return v.String()
	default:
		return fmt.Sprint(v)
	}
}

// durationField reads a TypeDurationSecond parameter: seconds as a number
// or a string, or a Go-style duration like "1h".
func durationField(data map[string]any, key string) (time.Duration, error) {
	var s string
	switch v := data[key].(type) {
	case nil:
		return 0, nil
	case json.Number:
		s = v.String()
	case string:
		s = v
	case float64:
		return time.Duration(v) * time.Second, nil
	default:
		return 0, fmt.Errorf("invalid %s %v", key, v)
	}
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("error converting input %s for field %q: %w", s, key, err)
	}
	return d, nil
}

func mimeType(ct string) (string, map[string]string, error) {
	if ct == "" {
		return "", nil, fmt.Errorf("mime: no media type")
	}
	return mime.ParseMediaType(ct)
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
