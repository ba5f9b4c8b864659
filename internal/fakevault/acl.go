package fakevault

import (
	"fmt"
	"sort"
	"strings"
)

// capSet is a bitmap of Vault ACL capabilities.
type capSet uint16

const (
	capDeny capSet = 1 << iota
	capCreate
	capRead
	capUpdate
	capDelete
	capList
	capSudo
	capPatch
	capSubscribe
)

var capNames = map[string]capSet{
	"deny":      capDeny,
	"create":    capCreate,
	"read":      capRead,
	"update":    capUpdate,
	"delete":    capDelete,
	"list":      capList,
	"sudo":      capSudo,
	"patch":     capPatch,
	"subscribe": capSubscribe,
}

// policy is a parsed Vault ACL policy: path pattern -> capabilities.
type policy map[string]capSet

// parsePolicy validates a policy given as path glob -> capability names,
// following the rules of Vault's policy parser: a leading "/" is dropped,
// "*" may only end a path, "+" must be a whole segment.
func parsePolicy(raw map[string][]string) (policy, error) {
	p := make(policy, len(raw))
	for path, names := range raw {
		path = strings.TrimPrefix(path, "/")
		if i := strings.Index(path, "*"); i >= 0 && i != len(path)-1 {
			return nil, fmt.Errorf("fakevault: policy path %q: invalid use of wildcards ('*' is only permitted at the end)", path)
		}
		for _, seg := range strings.Split(strings.TrimSuffix(path, "*"), "/") {
			if strings.Contains(seg, "+") && seg != "+" {
				return nil, fmt.Errorf("fakevault: policy path %q: '+' must be a whole path segment", path)
			}
		}
		var caps capSet
		for _, n := range names {
			c, ok := capNames[strings.ToLower(strings.TrimSpace(n))]
			if !ok {
				return nil, fmt.Errorf("fakevault: policy path %q: invalid capability %q", path, n)
			}
			caps |= c
		}
		if caps&capDeny != 0 {
			caps = capDeny
		}
		p[path] = mergeCaps(p[path], caps)
	}
	return p, nil
}

// mergeCaps merges the capabilities two policies grant on the same path
// pattern; an explicit deny wins, as in Vault.
func mergeCaps(a, b capSet) capSet {
	if a&capDeny != 0 || b&capDeny != 0 {
		return capDeny
	}
	return a | b
}

// defaultPolicy is the subset of Vault's built-in "default" policy that
// matters for this fake: a token may look itself up, renew and revoke
// itself, and ask for its own capabilities.
var defaultPolicy = policy{
	"auth/token/lookup-self": capRead,
	"auth/token/renew-self":  capUpdate,
	"auth/token/revoke-self": capUpdate,
	"sys/capabilities-self":  capUpdate,
}

// acl evaluates a set of policies the way Vault's ACL does.
type acl struct {
	root    bool
	exact   map[string]capSet
	prefix  map[string]capSet // glob rules without '+'; key is the path without '*'
	segment map[string]capSet // rules containing a '+' segment; key is the full pattern
}

func newACL(root bool, policies ...policy) *acl {
	a := &acl{
		root:    root,
		exact:   map[string]capSet{},
		prefix:  map[string]capSet{},
		segment: map[string]capSet{},
	}
	for _, p := range policies {
		for path, caps := range p {
			switch {
			case hasSegmentWildcard(path):
				a.segment[path] = mergeCaps(a.segment[path], caps)
			case strings.HasSuffix(path, "*"):
				k := strings.TrimSuffix(path, "*")
				a.prefix[k] = mergeCaps(a.prefix[k], caps)
			default:
				a.exact[path] = mergeCaps(a.exact[path], caps)
			}
		}
	}
	return a
}

func hasSegmentWildcard(path string) bool {
	for _, seg := range strings.Split(path, "/") {
		if seg == "+" {
			return true
		}
	}
	return false
}

// capabilities returns the capabilities the ACL grants on path. For list
// operations Vault also accepts an exact rule without the trailing slash.
func (a *acl) capabilities(path string, list bool) capSet {
	if a.root {
		return capCreate | capRead | capUpdate | capDelete | capList | capSudo | capPatch | capSubscribe
	}
	if c, ok := a.exact[path]; ok {
		return c
	}
	if list {
		if c, ok := a.exact[strings.TrimSuffix(path, "/")]; ok {
			return c
		}
	}
	if c, ok := a.nonExact(path, false); ok {
		return c
	}
	return 0
}

// wcMatch describes one glob or segment-wildcard rule matching a path.
type wcMatch struct {
	firstWC   int // index of the first '+' or of the glob
	isPrefix  bool
	wildcards int
	pattern   string // without the trailing '*'
	caps      capSet
}

// nonExact implements Vault's choice among glob and '+' rules: the
// longest glob prefix competes with every matching segment-wildcard rule,
// and the most specific one wins (first wildcard later, not a glob, fewer
// '+' segments, longer, lexically smaller).
func (a *acl) nonExact(path string, bareMount bool) (capSet, bool) {
	var matches []wcMatch
	best := ""
	found := false
	for pfx := range a.prefix {
		if strings.HasPrefix(path, pfx) && (!found || len(pfx) > len(best)) {
			best, found = pfx, true
		}
	}
	if found {
		matches = append(matches, wcMatch{firstWC: len(best), isPrefix: true, pattern: best, caps: a.prefix[best]})
	}
	parts := strings.Split(path, "/")
NEXT:
	for full, caps := range a.segment {
		m := wcMatch{firstWC: strings.Index(full, "+"), caps: caps}
		pattern := full
		if strings.HasSuffix(pattern, "*") {
			m.isPrefix = true
			pattern = strings.TrimSuffix(pattern, "*")
		}
		m.pattern = pattern
		segs := strings.Split(pattern, "/")
		if len(parts) < len(segs) && !bareMount {
			continue
		}
		if !m.isPrefix && !bareMount && len(segs) != len(parts) {
			continue
		}
		for i, seg := range segs {
			if i >= len(parts) {
				break // bareMount: the mount path is a prefix of the rule
			}
			switch {
			case seg == "+":
				m.wildcards++
			case seg == parts[i]:
			case m.isPrefix && i == len(segs)-1 && strings.HasPrefix(parts[i], seg):
			case bareMount && i == len(parts)-1 && parts[i] == "":
			default:
				continue NEXT
			}
		}
		matches = append(matches, m)
	}
	if len(matches) == 0 {
		return 0, false
	}
	sort.Slice(matches, func(i, j int) bool {
		x, y := matches[i], matches[j]
		if x.firstWC != y.firstWC {
			return x.firstWC < y.firstWC
		}
		if x.isPrefix != y.isPrefix {
			return x.isPrefix
		}
		if x.wildcards != y.wildcards {
			return x.wildcards > y.wildcards
		}
		if len(x.pattern) != len(y.pattern) {
			return len(x.pattern) < len(y.pattern)
		}
		return x.pattern > y.pattern
	})
	return matches[len(matches)-1].caps, true
}

// allowed reports whether op on path is permitted; sudo demands the sudo
// capability in addition (root-protected paths).
func (a *acl) allowed(path string, op operation, sudo bool) bool {
	caps := a.capabilities(path, op == opList)
	if caps&capDeny != 0 {
		return false
	}
	if sudo && caps&capSudo == 0 {
		return false
	}
	var need capSet
	switch op {
	case opRead:
		need = capRead
	case opList:
		need = capList
	case opCreate:
		need = capCreate
	case opUpdate:
		need = capUpdate
	case opDelete:
		need = capDelete
	case opPatch:
		need = capPatch
	default:
		return false
	}
	return caps&need != 0
}

// hasMountAccess mirrors Vault's check behind sys/internal/ui/mounts: the
// token may see a mount if it holds any non-deny capability on the mount
// path itself or on any path below it.
func (a *acl) hasMountAccess(mountPath string) bool {
	if a.root {
		return true
	}
	if c := a.capabilities(mountPath, false); c != 0 && c&capDeny == 0 {
		return true
	}
	const anyCap = capCreate | capRead | capUpdate | capDelete | capList | capSudo | capPatch
	for path, c := range a.exact {
		if strings.HasPrefix(path, mountPath) && c&capDeny == 0 && c&anyCap != 0 {
			return true
		}
	}
	for path, c := range a.prefix {
		if strings.HasPrefix(path, mountPath) && c&capDeny == 0 && c&anyCap != 0 {
			return true
		}
	}
	if c, ok := a.nonExact(mountPath, true); ok && c&capDeny == 0 && c&anyCap != 0 {
		return true
	}
	return false
}

// rootPaths are the paths Vault protects with the sudo capability
// (PathsSpecial.Root of the system backend and the token store).
var rootPaths = []string{
	"sys/auth/*", "sys/remount", "sys/audit", "sys/audit/*", "sys/raw", "sys/raw/*",
	"sys/rotate", "sys/config/cors", "sys/config/auditing/*", "sys/config/ui/headers/*",
	"sys/plugins/catalog/*", "sys/revoke-prefix/*", "sys/revoke-force/*",
	"sys/leases/revoke-prefix/*", "sys/leases/revoke-force/*", "sys/leases/lookup/*",
	"sys/leases", "sys/internal/inspect/*", "sys/storage/raft/snapshot-auto/config/*",
	"auth/token/revoke-orphan/*", "auth/token/accessors*",
}

func isRootPath(path string) bool {
	for _, p := range rootPaths {
		if strings.HasSuffix(p, "*") {
			if strings.HasPrefix(path, strings.TrimSuffix(p, "*")) {
				return true
			}
		} else if path == p {
			return true
		}
	}
	return false
}
