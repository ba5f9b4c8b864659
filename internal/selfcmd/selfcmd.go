// Package selfcmd names the running sselab the way its user can type it,
// for every hint sselab prints ("start it with 'sselab up'"): "sselab"
// when that is what PATH finds, "go run ./cmd/sselab" under 'go run', and
// the binary's absolute path otherwise.
//
// Hints are written as 'sselab ...' everywhere; Rewrite, applied where
// sselab prints (cmd/sselab wraps its standard output and error with
// Writer), puts the real name in.
package selfcmd

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// GoRun is how a binary built by 'go run' is run again: from the root of
// a clone, as the README says.
const GoRun = "go run ./cmd/sselab"

var (
	nameOnce sync.Once
	name     string
)

// Name returns how the user runs the sselab that is running.
func Name() string {
	nameOnce.Do(func() {
		exe, err := os.Executable()
		if err != nil {
			name = "sselab"
			return
		}
		onPath, _ := exec.LookPath("sselab")
		name = nameFor(exe, onPath)
	})
	return name
}

// nameFor decides Name: exe is the running binary, onPath what PATH finds
// as "sselab" ("" for nothing).
func nameFor(exe, onPath string) string {
	if onPath != "" && sameFile(exe, onPath) {
		return "sselab"
	}
	if base := strings.TrimSuffix(filepath.Base(exe), ".exe"); strings.HasSuffix(base, ".test") {
		return "sselab" // a Go test binary stands in for sselab
	}
	if builtByGoRun(exe) {
		return GoRun
	}
	if strings.ContainsAny(exe, " '\"$`&;()") {
		return `"` + exe + `"`
	}
	return exe
}

// goCacheExe is the directory 'go run' (Go 1.24 and later) keeps a
// binary in, inside the build cache: GOCACHE/xx/<sha256>-d/.
var goCacheExe = regexp.MustCompile(`^[0-9a-f]{64}-d$`)

// builtByGoRun reports whether exe is a binary 'go run' built: in a
// go-build* directory under the temporary directory (older Go), or in the
// build cache.
func builtByGoRun(exe string) bool {
	dir := filepath.Dir(exe)
	if goCacheExe.MatchString(filepath.Base(dir)) {
		return true
	}
	for ; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		if strings.HasPrefix(filepath.Base(dir), "go-build") {
			return true
		}
	}
	return false
}

// sameFile reports whether a and b are one file.
func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}

// commandRef finds "sselab" where it starts a command in a hint: after a
// single quote, a backquote or "$(", and followed by a space (its
// arguments) or ")". A name alone in quotes ('sselab') is left alone: it
// may be a key or a bucket.
var commandRef = regexp.MustCompile("(['`]|\\$\\()sselab([ )])")

// Rewrite puts Name in place of "sselab" in every command s quotes.
func Rewrite(s string) string {
	return rewriteWith(s, Name())
}

func rewriteWith(s, name string) string {
	if name == "sselab" || !strings.Contains(s, "sselab") {
		return s
	}
	return commandRef.ReplaceAllString(s, "${1}"+strings.ReplaceAll(name, "$", "$$")+"${2}")
}

// InstallHint is a line that says how to put sselab on PATH when it runs
// under 'go run', else "".
func InstallHint() string {
	if Name() != GoRun {
		return ""
	}
	return "sselab is not installed: 'go install ./cmd/sselab' puts it in $(go env GOPATH)/bin; until then each command is 'go run ./cmd/sselab ...'"
}

// Writer is w with Rewrite applied to everything written: each Write is
// taken to hold whole hints, as fmt's functions write. File returns the
// file under it, so that terminal checks still see it.
type Writer struct {
	W io.Writer
}

func (w Writer) Write(p []byte) (int, error) {
	s := Rewrite(string(p))
	if s == string(p) {
		return w.W.Write(p)
	}
	if _, err := io.WriteString(w.W, s); err != nil {
		return 0, err
	}
	return len(p), nil
}

// File returns the *os.File w writes to, or nil.
func (w Writer) File() *os.File {
	f, _ := w.W.(*os.File)
	return f
}
