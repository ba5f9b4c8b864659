package adopt

import (
	"errors"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
)

// errCannotTell means the platform shows no other process's arguments.
var errCannotTell = errors.New("adopt: cannot see other processes' arguments here")

// servesDrive reports whether a process with these arguments, started in
// cwd ("" if unknown), is a MinIO server with drive among its drives: as
// a path, relative to cwd, or in an endpoint URL. MinIO itself keeps no
// lock on a drive, so its command line is what tells.
func servesDrive(args []string, cwd, drive string) bool {
	if !slices.Contains(args, "server") {
		return false
	}
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			continue
		}
		p := a
		if u, err := url.Parse(a); err == nil && u.Scheme != "" && u.Host != "" {
			p = u.Path
		}
		if !filepath.IsAbs(p) {
			if cwd == "" {
				continue
			}
			p = filepath.Join(cwd, p)
		}
		p = filepath.Clean(p)
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		if p == drive {
			return true
		}
	}
	return false
}

// shorten keeps a command line short enough for a one-line message.
func shorten(cmdline string) string {
	const max = 120
	if len(cmdline) <= max {
		return cmdline
	}
	return cmdline[:max] + "..."
}
