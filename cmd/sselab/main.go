// Command sselab runs a MinIO server-side-encryption lab on one machine:
// an mTLS PKI, an embedded KES key server, and a supervised MinIO whose
// buckets are encrypted with SSE-KMS. 'sselab --help' lists its
// commands; each is one file of this package and one line in the table
// in commands.go.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/sselab/sselab/internal/selfcmd"
	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/labdir"
)

func main() {
	// One interrupt context for every command: Ctrl-C and SIGTERM end
	// what a command does, and each cleans up before it returns.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches to a subcommand and turns its error into one line on
// stderr and an exit code: 2 for usage errors (a mistake on the command
// line, including a value the command cannot take), 1 for everything
// else.
//
// Every command in quotes in what a command prints ('sselab up') names
// this binary as the user can run it (see selfcmd); help texts are left
// as written.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if wantsHelp(args) || args[0] == "help" {
		fmt.Fprint(stdout, topUsage())
		return 0
	}
	helpOut := stdout
	stdout, stderr = selfcmd.Writer{W: stdout}, selfcmd.Writer{W: stderr}
	cmd, ok := lookup(args[0])
	if !ok {
		fmt.Fprintf(stderr, "sselab: unknown command %q; see 'sselab --help'\n", args[0])
		return 2
	}
	err := cmd.run(ctx, args[1:], stdout, stderr)
	var help *helpRequest
	switch {
	case err == nil:
		return 0
	case errors.As(err, &help):
		fmt.Fprint(helpOut, cmd.help(help.flags))
		return 0
	case errors.As(err, new(usageError)), errors.As(err, new(*labdir.InvalidError)):
		fmt.Fprintf(stderr, "sselab: %v; see 'sselab %s --help'\n", err, cmd.name)
		return 2
	case errors.Is(err, errSilent):
		return 1
	}
	fmt.Fprintf(stderr, "sselab: %s\n", oneLine(err))
	return 1
}

// errSilent is returned by commands that already printed their failure.
var errSilent = errors.New("failed")

// usageError is a mistake on the command line.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// helpRequest asks run to print the command's help: --help was given, or
// a command with subcommands was given none. flags, if set, are the
// command's flags, listed in the help.
type helpRequest struct{ flags *pflag.FlagSet }

func (*helpRequest) Error() string { return "help requested" }

// errHelp asks for the help of a command without a flag list of its own.
var errHelp = &helpRequest{}

// newFlags returns a flag set for a subcommand with the --dir flag every
// command has.
func newFlags(name string, dir *string) *pflag.FlagSet {
	fs := newFlagSet(name)
	fs.StringVar(dir, "dir", "", "state directory of the lab (default: $SSELAB_DIR, else the per-user config directory)")
	fs.SetAnnotation("dir", argAnnotation, []string{"DIR"})
	return fs
}

// newFlagSet returns a quiet flag set: errors are returned, usage texts
// are ours, flags are listed in the order they were defined.
func newFlagSet(name string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.SortFlags = false
	return fs
}

// parse parses args, marks flag errors as usage errors, and resolves the
// default state directory.
func parse(fs *pflag.FlagSet, args []string, dir *string) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return resolveDir(dir)
}

// wantsHelp reports whether a command with subcommands was given none, or
// was asked for help.
func wantsHelp(args []string) bool {
	return len(args) == 0 || args[0] == "-h" || args[0] == "--help"
}

// parseFlags parses args; a flag error becomes a usage error, --help a
// helpRequest with fs's flags.
func parseFlags(fs *pflag.FlagSet, args []string) error {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pflag.ErrHelp):
		return &helpRequest{flags: fs}
	}
	return usageError{err}
}

// openLab resolves the default directory and opens the running lab.
func openLab(dir *string) (*lab.Handle, error) {
	if err := resolveDir(dir); err != nil {
		return nil, err
	}
	return lab.Open(*dir)
}

// resolveDir fills in the default state directory.
func resolveDir(dir *string) error {
	if *dir == "" {
		d, err := labdir.DefaultDir()
		if err != nil {
			return err
		}
		*dir = d
	}
	// MinIO runs in DIR and gets paths inside it: they must not depend
	// on the working directory.
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return fmt.Errorf("--dir %s: %w", *dir, err)
	}
	*dir = abs
	return nil
}

// oneLine keeps an error on one line for the terminal: multi-line details
// (such as a child's last log lines) follow on their own lines, indented.
func oneLine(err error) string {
	first, rest, ok := strings.Cut(err.Error(), "\n")
	if !ok {
		return first
	}
	return first + "\n  " + strings.ReplaceAll(strings.TrimRight(rest, "\n"), "\n", "\n  ")
}

// dirFlag returns " --dir DIR" when dir is not the default, for hints.
func dirFlag(dir string) string {
	if d, err := labdir.DefaultDir(); err == nil && d == dir {
		return ""
	}
	return " --dir " + shellQuote(dir)
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
