// Package passphrase reads the passphrase of a sealed keystore or of a
// backup, in sselab's one order: --passphrase-file FILE, then
// $SSELAB_PASSPHRASE, then a prompt at a terminal. A passphrase never
// comes from argv and is never echoed.
package passphrase

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"

	"golang.org/x/term"
)

// EnvVar is the environment variable a passphrase may come from.
const EnvVar = "SSELAB_PASSPHRASE"

// MinLength is the shortest passphrase New accepts.
const MinLength = 8

// ErrNone means that no passphrase was given and there is no terminal to
// ask at.
var ErrNone = errors.New("passphrase: no passphrase given: pass --passphrase-file FILE (mode 0600) or set " + EnvVar)

// Source says where a passphrase comes from.
type Source struct {
	// File is the value of --passphrase-file, if given.
	File string

	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string

	// Terminal is where a prompt reads from; nil means standard input
	// when it is a terminal, and no prompt otherwise.
	Terminal *os.File

	// Prompt is where a prompt is written; nil means standard error.
	Prompt io.Writer
}

// Interactive reports whether Read would ask at a terminal, so that a
// caller may let the user try again.
func (s Source) Interactive() bool {
	return s.File == "" && s.getenv(EnvVar) == "" && s.terminal() != nil
}

// Read returns the passphrase: the file's content without its final line
// break, the environment variable, or what is typed after prompt.
func (s Source) Read(prompt string) ([]byte, error) {
	switch {
	case s.File != "":
		return readFile(s.File)
	case s.getenv(EnvVar) != "":
		return []byte(s.getenv(EnvVar)), nil
	}
	t := s.terminal()
	if t == nil {
		return nil, ErrNone
	}
	p, err := s.ask(t, prompt)
	if err != nil {
		return nil, err
	}
	if len(p) == 0 {
		return nil, errors.New("passphrase: the passphrase is empty")
	}
	return p, nil
}

// New returns a new passphrase, as Read does, asking twice at a terminal;
// it must be at least MinLength bytes long.
func (s Source) New(prompt string) ([]byte, error) {
	p, err := s.Read(prompt)
	if err != nil {
		return nil, err
	}
	if len(p) < MinLength {
		return nil, fmt.Errorf("passphrase: the passphrase is %d characters long; use at least %d", len(p), MinLength)
	}
	if t := s.terminal(); t != nil && s.Interactive() {
		again, err := s.ask(t, "Repeat it: ")
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(p, again) {
			return nil, errors.New("passphrase: the two passphrases differ; nothing was changed")
		}
	}
	return p, nil
}

func (s Source) getenv(k string) string {
	if s.Getenv != nil {
		return s.Getenv(k)
	}
	return os.Getenv(k)
}

func (s Source) terminal() *os.File {
	if s.Terminal != nil {
		return s.Terminal
	}
	if term.IsTerminal(int(os.Stdin.Fd())) {
		return os.Stdin
	}
	return nil
}

// ask prompts and reads a line without echo.
func (s Source) ask(t *os.File, prompt string) ([]byte, error) {
	w := s.Prompt
	if w == nil {
		w = os.Stderr
	}
	fmt.Fprint(w, prompt)
	defer fmt.Fprintln(w)
	if term.IsTerminal(int(t.Fd())) {
		p, err := term.ReadPassword(int(t.Fd()))
		if err != nil {
			return nil, fmt.Errorf("passphrase: %w", err)
		}
		return p, nil
	}
	// A file standing in for a terminal (tests): one line, read byte by
	// byte so that the next prompt reads the next line.
	var line []byte
	b := make([]byte, 1)
	for {
		n, err := t.Read(b)
		if n == 1 && b[0] != '\n' {
			line = append(line, b[0])
		}
		if n == 1 && b[0] == '\n' || errors.Is(err, io.EOF) {
			return bytes.TrimRight(line, "\r"), nil
		}
		if err != nil {
			return nil, fmt.Errorf("passphrase: %w", err)
		}
	}
}

// readFile reads a passphrase file, which only its owner may read.
func readFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("passphrase: --passphrase-file: %w", err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("passphrase: %s can be read by others (mode %04o); run 'chmod 600 %s'", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("passphrase: --passphrase-file: %w", err)
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	if len(b) == 0 {
		return nil, fmt.Errorf("passphrase: %s is empty", path)
	}
	return b, nil
}

// Tries is how often a passphrase may be typed at a terminal.
const Tries = 3

// Try reads a passphrase and calls use with it, and does so again, up to
// Tries times, while the passphrase is typed at a terminal and use fails
// with an error that wrong recognizes. It clears the passphrase after
// each use.
func (s Source) Try(prompt string, use func(pass []byte) error, wrong func(error) bool) error {
	for try := 1; ; try++ {
		pass, err := s.Read(prompt)
		if err != nil {
			return err
		}
		err = use(pass)
		clear(pass)
		if err == nil || !wrong(err) || !s.Interactive() || try == Tries {
			return err
		}
		w := s.Prompt
		if w == nil {
			w = os.Stderr
		}
		fmt.Fprintln(w, "Wrong passphrase; try again.")
	}
}
