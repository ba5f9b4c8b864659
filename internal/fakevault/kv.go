package fakevault

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// kvLeaseTTL is the lease_duration KV v1 reads report: the mount's
// default lease TTL, Vault's system default of 768h (2764800 s).
const kvLeaseTTL = 2764800

// defaultMaxVersions is the number of versions KV v2 keeps by default.
const defaultMaxVersions = 10

// kvStore is the data of one KV mount, version 1 or 2.
type kvStore struct {
	version int
	v1      map[string]map[string]any
	v2      map[string]*kvEntry
	cfg     kvConfig // KV v2 engine configuration (kv/config)
}

type kvConfig struct {
	maxVersions        int
	casRequired        bool
	deleteVersionAfter time.Duration
}

// kvEntry is a KV v2 secret: its key metadata and versions.
type kvEntry struct {
	current, oldest    uint64
	created, updated   time.Time
	versions           map[uint64]*kvVersion
	maxVersions        int
	casRequired        bool
	deleteVersionAfter time.Duration
	custom             map[string]string
}

type kvVersion struct {
	data      map[string]any
	created   time.Time
	deleted   time.Time // zero: not deleted
	destroyed bool
}

func newKVStore(version int) *kvStore {
	return &kvStore{version: version, v1: map[string]map[string]any{}, v2: map[string]*kvEntry{}}
}

// upgrade turns a KV v1 store into v2 the way Vault's upgrade does: every
// entry becomes version 1 of a v2 secret.
func (kv *kvStore) upgrade() {
	now := time.Now().UTC()
	for key, data := range kv.v1 {
		kv.v2[key] = &kvEntry{
			current: 1, created: now, updated: now,
			versions: map[uint64]*kvVersion{1: {data: data, created: now}},
		}
	}
	kv.v1 = map[string]map[string]any{}
	kv.version = 2
}

// deletedAt reports whether a version is soft-deleted at now.
func (v *kvVersion) deletedAt(now time.Time) bool {
	return !v.deleted.IsZero() && !v.deleted.After(now)
}

// exists is the existence check Vault runs to tell create from update;
// checked is false where the backend has none (the write is an update).
func (kv *kvStore) exists(sub string) (exists, checked bool) {
	if kv.version == 1 {
		_, ok := kv.v1[sub]
		return ok, true
	}
	for _, p := range []string{"data/", "metadata/"} {
		if key, ok := strings.CutPrefix(sub, p); ok {
			return kv.v2[key] != nil, true
		}
	}
	return false, false
}

// current returns a copy of the live data at key.
func (kv *kvStore) current(key string, now time.Time) (map[string]any, bool) {
	if kv.version == 1 {
		d, ok := kv.v1[key]
		return copyMap(d), ok
	}
	e := kv.v2[key]
	if e == nil {
		return nil, false
	}
	v := e.versions[e.current]
	if v == nil || v.destroyed || v.deletedAt(now) {
		return nil, false
	}
	return copyMap(v.data), true
}

// list returns the keys directly below prefix ("" or ending in "/"),
// folders with a trailing "/", sorted as Vault's storage lists them.
func (kv *kvStore) list(prefix string) []string {
	seen := map[string]bool{}
	add := func(key string) {
		rest, ok := strings.CutPrefix(key, prefix)
		if !ok || rest == "" {
			return
		}
		if i := strings.Index(rest, "/"); i >= 0 {
			rest = rest[:i+1]
		}
		seen[rest] = true
	}
	if kv.version == 1 {
		for k := range kv.v1 {
			add(k)
		}
	} else {
		for k := range kv.v2 {
			add(k)
		}
	}
	if len(seen) == 0 {
		return nil
	}
	return sortedKeys(seen)
}

func (kv *kvStore) handle(req *request, sub string) reply {
	if kv.version == 1 {
		return kv.handleV1(req, sub)
	}
	return kv.handleV2(req, sub)
}

// handleV1 is Vault's KV v1 (passthrough) backend: every path is a key.
func (kv *kvStore) handleV1(req *request, key string) reply {
	switch req.op {
	case opRead:
		d, ok := kv.v1[key]
		if !ok {
			return errReply(http.StatusNotFound)
		}
		ttl := time.Duration(kvLeaseTTL) * time.Second
		for _, f := range []string{"ttl", "lease"} {
			if _, ok := d[f]; ok {
				if t, err := durationField(d, f); err == nil {
					ttl = t
				}
				break
			}
		}
		return reply{http.StatusOK, httpResponse{
			RequestID: req.id, LeaseDuration: int(ttl / time.Second), Data: copyMap(d), MountType: "kv",
		}}
	case opList:
		keys := kv.list(key)
		if len(keys) == 0 {
			return errReply(http.StatusNotFound)
		}
		return req.ok("kv", map[string]any{"keys": keys})
	case opCreate, opUpdate:
		if len(req.data) == 0 {
			return errReply(http.StatusBadRequest, "missing data fields")
		}
		kv.v1[key] = copyMap(req.data)
		return reply{status: http.StatusNoContent}
	case opDelete:
		delete(kv.v1, key)
		return reply{status: http.StatusNoContent}
	}
	return errUnsupportedOperation
}

// handleV2 is Vault's versioned KV backend (vault-plugin-secrets-kv).
func (kv *kvStore) handleV2(req *request, sub string) reply {
	write := req.op == opCreate || req.op == opUpdate
	switch {
	case sub == "config":
		return kv.config(req)
	case strings.HasPrefix(sub, "data/"):
		key := strings.TrimPrefix(sub, "data/")
		switch {
		case req.op == opRead:
			return kv.readData(req, key)
		case write:
			return kv.writeData(req, key)
		case req.op == opPatch:
			return kv.patchData(req, key)
		case req.op == opDelete:
			kv.softDelete(key)
			return reply{status: http.StatusNoContent}
		}
		return errUnsupportedOperation
	case strings.HasPrefix(sub, "metadata/"):
		return kv.metadata(req, strings.TrimPrefix(sub, "metadata/"))
	case strings.HasPrefix(sub, "delete/"), strings.HasPrefix(sub, "undelete/"), strings.HasPrefix(sub, "destroy/"):
		if !write {
			return errUnsupportedOperation
		}
		action, key, _ := strings.Cut(sub, "/")
		return kv.versionsAction(req, action, key)
	case strings.HasPrefix(sub, "subkeys/"):
		if req.op != opRead {
			return errUnsupportedOperation
		}
		return kv.subkeys(req, strings.TrimPrefix(sub, "subkeys/"))
	}
	// Vault's pathInvalid catch-all.
	switch sub {
	case "metadata", "data", "delete", "undelete", "destroy":
		return req.respondWithStatusCode(http.StatusNotFound, nil,
			[]string{"Non-listing operations on the root of a K/V v2 mount are not supported."})
	}
	cmd := map[operation]string{opCreate: "put", opUpdate: "put", opPatch: "patch", opRead: "get", opList: "list", opDelete: "delete"}[req.op]
	return req.respondWithStatusCode(http.StatusNotFound, nil, []string{fmt.Sprintf(
		"Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the Vault CLI, use 'vault kv %s' for this operation.", cmd)})
}

func (kv *kvStore) config(req *request) reply {
	switch req.op {
	case opRead:
		return req.ok("kv", map[string]any{
			"cas_required":         kv.cfg.casRequired,
			"delete_version_after": formatDuration(kv.cfg.deleteVersionAfter),
			"max_versions":         kv.cfg.maxVersions,
		})
	case opCreate, opUpdate:
		if err := applySettings(req.data, &kv.cfg.maxVersions, &kv.cfg.casRequired, &kv.cfg.deleteVersionAfter, nil); err != nil {
			return errReply(http.StatusBadRequest, err.Error())
		}
		return reply{status: http.StatusNoContent}
	}
	return errUnsupportedOperation
}

// versionMetadata is the per-version metadata KV v2 returns.
func (e *kvEntry) versionMetadata(n uint64) map[string]any {
	v := e.versions[n]
	return map[string]any{
		"version":         n,
		"created_time":    formatTime(v.created),
		"deletion_time":   formatTime(v.deleted),
		"destroyed":       v.destroyed,
		"custom_metadata": customOrNil(e.custom),
	}
}

func customOrNil(c map[string]string) any {
	if c == nil {
		return nil
	}
	return c
}

// readVersion answers a read of the version ?version= names (default the
// current one) of key: field is set to what show makes of its data, next to
// the version's metadata; a deleted or destroyed version answers 404 with
// the metadata, as Vault does.
func (kv *kvStore) readVersion(req *request, key, field string, show func(data map[string]any) (any, error)) reply {
	e := kv.v2[key]
	if e == nil {
		return errReply(http.StatusNotFound)
	}
	n := e.current
	if v, err := intField(req.data, "version"); err != nil {
		return errReply(http.StatusBadRequest, err.Error())
	} else if v > 0 {
		n = uint64(v)
	}
	ver := e.versions[n]
	if ver == nil {
		return errReply(http.StatusNotFound)
	}
	data := map[string]any{field: nil, "metadata": e.versionMetadata(n)}
	if ver.destroyed || ver.deletedAt(time.Now()) {
		return req.respondWithStatusCode(http.StatusNotFound, data, nil)
	}
	shown, err := show(ver.data)
	if err != nil {
		return errReply(http.StatusBadRequest, err.Error())
	}
	data[field] = shown
	return req.ok("kv", data)
}

func (kv *kvStore) readData(req *request, key string) reply {
	return kv.readVersion(req, key, "data", func(data map[string]any) (any, error) { return copyMap(data), nil })
}

// checkAndSet validates options.cas as Vault's validateCheckAndSetOption.
func (kv *kvStore) checkAndSet(req *request, e *kvEntry) error {
	var current uint64
	casRequired := kv.cfg.casRequired
	if e != nil {
		current = e.current
		casRequired = casRequired || e.casRequired
	}
	opts, _ := req.data["options"].(map[string]any)
	raw, ok := opts["cas"]
	if !ok {
		if casRequired {
			return errors.New("check-and-set parameter required for this call")
		}
		return nil
	}
	cas, err := weakInt(raw)
	if err != nil {
		return errors.New("error parsing check-and-set parameter")
	}
	if uint64(cas) != current {
		return errors.New("check-and-set parameter did not match the current version")
	}
	return nil
}

func (kv *kvStore) writeData(req *request, key string) reply {
	if key == "" {
		return errReply(http.StatusBadRequest, "missing path")
	}
	raw, ok := req.data["data"]
	if !ok || raw == nil {
		return errReply(http.StatusBadRequest, "no data provided")
	}
	data, ok := raw.(map[string]any)
	if !ok {
		return errReply(http.StatusBadRequest, fmt.Sprintf("error converting input %v for field %q", raw, "data"))
	}
	e := kv.v2[key]
	if err := kv.checkAndSet(req, e); err != nil {
		return errReply(http.StatusBadRequest, err.Error())
	}
	e = kv.addVersion(key, copyMap(data))
	return req.ok("kv", e.versionMetadata(e.current))
}

// addVersion stores a new version of key and drops the oldest versions
// beyond max_versions.
func (kv *kvStore) addVersion(key string, data map[string]any) *kvEntry {
	now := time.Now().UTC()
	e := kv.v2[key]
	if e == nil {
		e = &kvEntry{created: now, versions: map[uint64]*kvVersion{}}
		kv.v2[key] = e
	}
	v := &kvVersion{data: data, created: now}
	dva := e.deleteVersionAfter
	if dva == 0 {
		dva = kv.cfg.deleteVersionAfter
	}
	if dva > 0 {
		v.deleted = now.Add(dva)
	}
	e.current++
	e.versions[e.current] = v
	e.updated = now
	max := e.maxVersions
	if max == 0 {
		max = kv.cfg.maxVersions
	}
	if max == 0 {
		max = defaultMaxVersions
	}
	for len(e.versions) > max {
		oldest := e.current
		for n := range e.versions {
			oldest = min(oldest, n)
		}
		delete(e.versions, oldest)
		e.oldest = oldest + 1
	}
	return e
}

func (kv *kvStore) patchData(req *request, key string) reply {
	raw, ok := req.data["data"]
	if !ok || raw == nil {
		return errReply(http.StatusBadRequest, "no data provided")
	}
	patch, ok := raw.(map[string]any)
	if !ok {
		return errReply(http.StatusBadRequest, fmt.Sprintf("error converting input %v for field %q", raw, "data"))
	}
	e := kv.v2[key]
	if e == nil {
		return reply{http.StatusNotFound, rawJSON(nil)}
	}
	if err := kv.checkAndSet(req, e); err != nil {
		return errReply(http.StatusBadRequest, err.Error())
	}
	cur := e.versions[e.current]
	if cur == nil {
		return reply{http.StatusNotFound, rawJSON(nil)}
	}
	if cur.destroyed || cur.deletedAt(time.Now()) {
		return req.respondWithStatusCode(http.StatusNotFound, e.versionMetadata(e.current), nil)
	}
	e = kv.addVersion(key, mergePatch(copyMap(cur.data), patch))
	return req.ok("kv", e.versionMetadata(e.current))
}

// mergePatch applies an RFC 7386 JSON merge patch to doc.
func mergePatch(doc, patch map[string]any) map[string]any {
	for k, pv := range patch {
		switch pv := pv.(type) {
		case nil:
			delete(doc, k)
		case map[string]any:
			dv, _ := doc[k].(map[string]any)
			if dv == nil {
				dv = map[string]any{}
			}
			doc[k] = mergePatch(dv, pv)
		default:
			doc[k] = copyValue(pv)
		}
	}
	return doc
}

// softDelete marks the current version deleted (DELETE data/:path).
func (kv *kvStore) softDelete(key string) {
	e := kv.v2[key]
	if e == nil {
		return
	}
	v := e.versions[e.current]
	now := time.Now().UTC()
	if v == nil || v.destroyed || v.deletedAt(now) {
		return
	}
	v.deleted = now
}

func (kv *kvStore) metadata(req *request, key string) reply {
	switch req.op {
	case opList:
		keys := kv.list(key)
		if len(keys) == 0 {
			return errReply(http.StatusNotFound)
		}
		return req.ok("kv", map[string]any{"keys": keys})
	case opRead:
		e := kv.v2[key]
		if e == nil {
			return errReply(http.StatusNotFound)
		}
		versions := map[string]any{}
		for n, v := range e.versions {
			versions[strconv.FormatUint(n, 10)] = map[string]any{
				"created_time":  formatTime(v.created),
				"deletion_time": formatTime(v.deleted),
				"destroyed":     v.destroyed,
			}
		}
		return req.ok("kv", map[string]any{
			"cas_required":         e.casRequired,
			"created_time":         formatTime(e.created),
			"current_version":      e.current,
			"custom_metadata":      customOrNil(e.custom),
			"delete_version_after": formatDuration(e.deleteVersionAfter),
			"max_versions":         e.maxVersions,
			"oldest_version":       e.oldest,
			"updated_time":         formatTime(e.updated),
			"versions":             versions,
		})
	case opCreate, opUpdate, opPatch:
		if key == "" {
			return errReply(http.StatusBadRequest, "missing path")
		}
		e := kv.v2[key]
		if e == nil {
			if req.op == opPatch {
				return reply{http.StatusNotFound, rawJSON(nil)}
			}
			now := time.Now().UTC()
			e = &kvEntry{created: now, updated: now, versions: map[uint64]*kvVersion{}}
		}
		if err := applySettings(req.data, &e.maxVersions, &e.casRequired, &e.deleteVersionAfter, &e.custom); err != nil {
			return errReply(http.StatusBadRequest, err.Error())
		}
		kv.v2[key] = e
		return reply{status: http.StatusNoContent}
	case opDelete:
		delete(kv.v2, key)
		return reply{status: http.StatusNoContent}
	}
	return errUnsupportedOperation
}

// applySettings applies max_versions, cas_required, delete_version_after
// and (for metadata) custom_metadata, leaving absent fields unchanged.
func applySettings(data map[string]any, maxVersions *int, casRequired *bool, dva *time.Duration, custom *map[string]string) error {
	if _, ok := data["max_versions"]; ok {
		n, err := intField(data, "max_versions")
		if err != nil {
			return err
		}
		*maxVersions = n
	}
	if raw, ok := data["cas_required"]; ok {
		b, err := parseBool(fmt.Sprint(raw))
		if err != nil {
			return fmt.Errorf("error converting input %v for field %q", raw, "cas_required")
		}
		*casRequired = b
	}
	if _, ok := data["delete_version_after"]; ok {
		d, err := durationField(data, "delete_version_after")
		if err != nil {
			return err
		}
		*dva = d
	}
	if raw, ok := data["custom_metadata"]; ok && custom != nil {
		m, ok := raw.(map[string]any)
		if !ok {
			return fmt.Errorf("error converting input %v for field %q", raw, "custom_metadata")
		}
		*custom = map[string]string{}
		for k, v := range m {
			(*custom)[k] = fmt.Sprint(v)
		}
	}
	return nil
}

// versionsAction is POST delete/, undelete/ and destroy/ :path.
func (kv *kvStore) versionsAction(req *request, action, key string) reply {
	versions, err := intSliceField(req.data, "versions")
	if err != nil {
		return errReply(http.StatusBadRequest, err.Error())
	}
	if len(versions) == 0 {
		return errReply(http.StatusBadRequest, "no version number provided")
	}
	e := kv.v2[key]
	if e == nil {
		return reply{status: http.StatusNoContent}
	}
	now := time.Now().UTC()
	for _, n := range versions {
		v := e.versions[uint64(n)]
		if v == nil {
			continue
		}
		switch action {
		case "delete":
			if !v.destroyed && !v.deletedAt(now) {
				v.deleted = now
			}
		case "undelete":
			if !v.destroyed {
				v.deleted = time.Time{}
			}
		case "destroy":
			v.destroyed, v.data = true, nil
		}
	}
	return reply{status: http.StatusNoContent}
}

// subkeys is GET subkeys/:path: the data's keys with leaf values as null.
func (kv *kvStore) subkeys(req *request, key string) reply {
	return kv.readVersion(req, key, "subkeys", func(data map[string]any) (any, error) {
		depth, err := intField(req.data, "depth")
		if err != nil {
			return nil, err
		}
		return subkeyTree(data, depth, 1), nil
	})
}

func subkeyTree(m map[string]any, depth, level int) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok && (depth == 0 || level < depth) {
			out[k] = subkeyTree(sub, depth, level+1)
		} else {
			out[k] = nil
		}
	}
	return out
}

// formatTime formats like Vault's ptypesTimestampToString: RFC 3339 with
// nanoseconds in UTC, "" for no time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// formatDuration formats like Go's time.Duration.String, which Vault uses
// for delete_version_after ("0s", "1h0m0s").
func formatDuration(d time.Duration) string { return d.String() }

// intField reads a TypeInt parameter (number or numeric string).
func intField(data map[string]any, key string) (int, error) {
	raw, ok := data[key]
	if !ok || raw == nil {
		return 0, nil
	}
	n, err := weakInt(raw)
	if err != nil {
		return 0, fmt.Errorf("error converting input %v for field %q: %w", raw, key, err)
	}
	return n, nil
}

// weakInt converts like mapstructure.WeakDecode into an int.
func weakInt(raw any) (int, error) {
	switch v := raw.(type) {
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return int(n), nil
		}
		f, err := v.Float64()
		if err != nil {
			return 0, err
		}
		return int(f), nil
	case float64:
		return int(v), nil
	case int:
		return v, nil
	case bool:
		if v {
			return 1, nil
		}
		return 0, nil
	case string:
		if v == "" {
			return 0, nil
		}
		n, err := strconv.ParseInt(v, 0, 0)
		return int(n), err
	}
	return 0, fmt.Errorf("cannot parse %T as int", raw)
}

// intSliceField reads a TypeCommaIntSlice parameter: a JSON array or a
// comma-separated string.
func intSliceField(data map[string]any, key string) ([]int, error) {
	var items []any
	switch v := data[key].(type) {
	case nil:
		return nil, nil
	case []any:
		items = v
	case string:
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				items = append(items, p)
			}
		}
	default:
		items = []any{v}
	}
	out := make([]int, 0, len(items))
	for _, it := range items {
		n, err := weakInt(it)
		if err != nil {
			return nil, fmt.Errorf("error converting input %v for field %q", data[key], key)
		}
		out = append(out, n)
	}
	sort.Ints(out)
	return out, nil
}

func copyMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = copyValue(v)
	}
	return out
}

func copyValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return copyMap(v)
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = copyValue(x)
		}
		return out
	}
	return v
}
