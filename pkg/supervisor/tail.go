package supervisor

import (
	"bytes"
	"io"
	"strings"
	"sync"
)

// maxLineBytes caps one line kept in the tail; the rest of a longer line
// is dropped (it still goes to the log file whole).
const maxLineBytes = 4096

// truncMark ends a line that was cut at maxLineBytes.
const truncMark = " [...]"

// tailWriter receives the child's stdout and stderr. It appends everything
// to the log file, if any, and keeps the last lines in a ring buffer, so
// its memory stays bounded whatever the child writes.
type tailWriter struct {
	mu        sync.Mutex
	file      io.WriteCloser // nil: no log file, or closed
	fileErr   func(error)    // called once, for the first failed write
	failed    bool
	ring      []string // the last complete lines; ring[next] is the oldest when full
	next, n   int
	line      []byte // the line being written, without its newline
	truncated bool   // line was cut at maxLineBytes
}

// newTailWriter returns a writer that keeps the last lines lines and
// appends to file unless file is nil (an untyped nil, not a nil *os.File).
func newTailWriter(lines int, file io.WriteCloser, fileErr func(error)) *tailWriter {
	return &tailWriter{file: file, ring: make([]string, lines), fileErr: fileErr}
}

// Write never fails: an error would make os/exec stop reading the pipe,
// and the child would then block on a full pipe or die of SIGPIPE. A
// failed log file write is reported once through fileErr, and the tail is
// kept regardless.
func (w *tailWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	var ferr error
	if w.file != nil && !w.failed {
		if _, err := w.file.Write(b); err != nil {
			w.failed, ferr = true, err
		}
	}
	for rest := b; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			w.add(rest)
			break
		}
		w.add(rest[:i])
		w.pushLine()
		rest = rest[i+1:]
	}
	w.mu.Unlock()
	if ferr != nil && w.fileErr != nil {
		w.fileErr(ferr)
	}
	return len(b), nil
}

// add appends b to the current line, up to maxLineBytes.
func (w *tailWriter) add(b []byte) {
	if room := maxLineBytes - len(w.line); len(b) > room {
		b = b[:room]
		w.truncated = true
	}
	w.line = append(w.line, b...)
}

// current returns the line being written as text.
func (w *tailWriter) current() string {
	s := strings.TrimSuffix(string(w.line), "\r")
	// A cut may have split a UTF-8 sequence; error messages want valid text.
	s = strings.ToValidUTF8(s, "\uFFFD")
	if w.truncated {
		s += truncMark
	}
	return s
}

// pushLine ends the current line and keeps it in the ring.
func (w *tailWriter) pushLine() {
	w.ring[w.next] = w.current()
	w.next = (w.next + 1) % len(w.ring)
	w.n = min(w.n+1, len(w.ring))
	w.line = w.line[:0]
	w.truncated = false
}

// endLine ends an unfinished line, so that the next run's output starts
// on a line of its own.
func (w *tailWriter) endLine() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.line) > 0 || w.truncated {
		w.pushLine()
	}
}

// lines returns the last lines, oldest first, including an unfinished one.
func (w *tailWriter) lines() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, 0, w.n+1)
	for i := range w.n {
		out = append(out, w.ring[(w.next-w.n+i+len(w.ring))%len(w.ring)])
	}
	if len(w.line) > 0 || w.truncated {
		out = append(out, w.current())
		if len(out) > len(w.ring) {
			out = out[1:]
		}
	}
	return out
}

// close ends an unfinished line and closes the log file. Writes after
// close only reach the tail.
func (w *tailWriter) close() {
	w.endLine()
	w.mu.Lock()
	f := w.file
	w.file = nil
	w.mu.Unlock()
	if f != nil {
		if err := f.Close(); err != nil && w.fileErr != nil {
			w.fileErr(err)
		}
	}
}
