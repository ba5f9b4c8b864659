package runner

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	kesapi "github.com/minio/kms-go/kes"

	"github.com/sselab/sselab/internal/testtools"
)

// kesRoute is one API route of a KES server.
type kesRoute struct{ method, path string }

// kesRoutes are the API routes of KES v0.24.0: the Path* constants of
// github.com/minio/kes@v0.24.0/internal/api/api.go, with the methods
// initRoutes in state.go gives them. That package is internal, so the
// list is copied here; TestKESRoutesMatchServer checks it against the
// route list (/v1/api) of a running embedded server.
var kesRoutes = []kesRoute{
	{http.MethodGet, "/version"},
	{http.MethodGet, "/v1/status"},
	{http.MethodGet, "/v1/ready"},
	{http.MethodGet, "/v1/metrics"},
	{http.MethodGet, "/v1/api"},

	{http.MethodPut, "/v1/key/create/"},
	{http.MethodPut, "/v1/key/import/"},
	{http.MethodGet, "/v1/key/describe/"},
	{http.MethodDelete, "/v1/key/delete/"},
	{http.MethodGet, "/v1/key/list/"},
	{http.MethodPut, "/v1/key/generate/"},
	{http.MethodPut, "/v1/key/encrypt/"},
	{http.MethodPut, "/v1/key/decrypt/"},
	{http.MethodPut, "/v1/key/hmac/"},

	{http.MethodGet, "/v1/policy/describe/"},
	{http.MethodGet, "/v1/policy/read/"},
	{http.MethodGet, "/v1/policy/list/"},

	{http.MethodGet, "/v1/identity/describe/"},
	{http.MethodGet, "/v1/identity/list/"},
	{http.MethodGet, "/v1/identity/self/describe"},

	{http.MethodGet, "/v1/log/error"},
	{http.MethodGet, "/v1/log/audit"},
}

// request returns a path a client sends to r: routes ending in "/" take a
// name (or a pattern for the list routes).
func (r kesRoute) request() string {
	switch {
	case !strings.HasSuffix(r.path, "/"):
		return r.path
	case strings.HasSuffix(r.path, "/list/"):
		return r.path + "*"
	case strings.HasPrefix(r.path, "/v1/identity/"):
		return r.path + strings.Repeat("ab", 32)
	default:
		return r.path + "my-key"
	}
}

// allows reports whether a policy with the allow rules routes lets a
// request for path through, matching the way KES does.
func allows(routes []string, path string) bool {
	p := kesapi.Policy{Allow: make(map[string]kesapi.Rule, len(routes))}
	for _, r := range routes {
		p.Allow[r] = kesapi.Rule{}
	}
	return p.Verify(&http.Request{URL: &url.URL{Path: path}}) == nil
}

func TestRoutePatterns(t *testing.T) {
	t.Parallel()
	for _, set := range []struct {
		name   string
		routes []string
	}{
		{"MinIORoutes", MinIORoutes},
		{"OperatorRoutes", OperatorRoutes},
	} {
		t.Run(set.name, func(t *testing.T) {
			seen := make(map[string]bool)
			for _, pattern := range set.routes {
				if seen[pattern] {
					t.Errorf("pattern %q appears twice", pattern)
				}
				seen[pattern] = true
				matched := false
				for _, r := range kesRoutes {
					if allows([]string{pattern}, r.request()) {
						matched = true
						break
					}
				}
				if !matched {
					t.Errorf("pattern %q matches no KES v0.24.0 API path, want at least one", pattern)
				}
			}
		})
	}

	t.Run("MinIORoutesNoDeleteOrImport", func(t *testing.T) {
		for _, path := range []string{"/v1/key/delete/my-key", "/v1/key/import/my-key"} {
			if allows(MinIORoutes, path) {
				t.Errorf("MinIORoutes allow %s: got allowed, want refused", path)
			}
		}
	})

	// The routes MinIO calls (DESIGN.md) that KES v0.24.0 has, except
	// import, which is an operator action.
	t.Run("MinIORoutesCoverMinIO", func(t *testing.T) {
		for _, path := range []string{
			"/version", "/v1/status", "/v1/api",
			"/v1/key/create/k", "/v1/key/describe/k", "/v1/key/list/*",
			"/v1/key/generate/k", "/v1/key/decrypt/k",
		} {
			if !allows(MinIORoutes, path) {
				t.Errorf("MinIORoutes allow %s: got refused, want allowed", path)
			}
		}
	})

	t.Run("OperatorRoutesCoverKeys", func(t *testing.T) {
		for _, r := range kesRoutes {
			if strings.HasPrefix(r.path, "/v1/key/") && !allows(OperatorRoutes, r.request()) {
				t.Errorf("OperatorRoutes allow %s: got refused, want allowed", r.request())
			}
		}
	})
}

// TestKESRoutesMatchServer checks the hard-coded kesRoutes against the
// routes the embedded server reports.
func TestKESRoutesMatchServer(t *testing.T) {
	t.Parallel()
	ctx := testtools.Context(t)
	l := newLab(t)
	s := start(t, ctx, l.cfg)
	apis, err := l.client(t, s, l.pki.Operator).APIs(ctx)
	if err != nil {
		t.Fatalf("APIs: %v", err)
	}
	var got, want []string
	for _, a := range apis {
		got = append(got, a.Method+" "+a.Path)
	}
	for _, r := range kesRoutes {
		want = append(want, r.method+" "+r.path)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("server routes:\n got %q\nwant %q", got, want)
	}
}
