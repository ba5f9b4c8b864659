// Command sselab runs a MinIO server-side-encryption lab on one machine:
// an mTLS PKI, an embedded KES key server, and a supervised MinIO whose
// buckets are encrypted with SSE-KMS.
//
//	sselab up        start the lab (runs until Ctrl-C or 'sselab down')
//	sselab env       print the client environment (mc, AWS CLI, kes CLI)
//	sselab status    check every part of a running lab
//	sselab down      stop the lab
//	sselab version   print versions
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/sselab/sselab/pkg/lab"
)

const usage = `sselab runs a MinIO server-side-encryption lab on this machine: an mTLS
PKI, an embedded KES key server, and MinIO with SSE-KMS encrypted buckets.

Usage:
  sselab <command> [flags]

Commands:
  up        start the lab and run it until Ctrl-C or 'sselab down'
  down      stop the lab running on a directory
  status    check KES, its keystore, MinIO, the default key and the buckets
  env       print the environment for mc, the AWS CLI and the kes CLI
  minio     fetch, build, list and choose the MinIO server binary
  key       create, import, list, describe and delete KES keys
  bucket    create buckets and set their default encryption
  verify    prove that data at rest is encrypted, check by check
  bench     measure S3 throughput and latency per encryption mode, and KES's rate
  identity  print the KES identity of a certificate (as 'kes identity of')
  pki       show the lab's certificates, their identities and expiry
  version   print the versions of sselab, KES and Go

Every command takes --dir DIR (default: $SSELAB_DIR, else the per-user
config directory). Run 'sselab <command> --help' for its flags.

Example:
  sselab up --detach
  eval "$(sselab env)"
  mc cp file.txt sselab/encrypted/ && mc stat sselab/encrypted/file.txt
`

// command is one subcommand: its usage text and its entry point.
type command struct {
	usage string
	run   func(args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{
	"up":      {upUsage, runUp},
	"down":    {downUsage, runDown},
	"status":  {statusUsage, runStatus},
	"env":     {envUsage, runEnv},
	"minio":   {minioUsage, runMinIO},
	"key":     {keyUsage, runKey},
	"bucket":  {bucketUsage, runBucket},
	"version": {versionUsage, runVersion},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches to a subcommand and turns its error into one line on
// stderr and an exit code: 2 for usage errors, 1 for everything else.
func run(args []string, stdout, stderr io.Writer) int {
	if wantsHelp(args) || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	name := args[0]
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "sselab: unknown command %q; see 'sselab --help'\n", name)
		return 2
	}
	err := cmd.run(args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, pflag.ErrHelp):
		fmt.Fprint(stdout, cmd.usage)
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "sselab: %v; see 'sselab %s --help'\n", err, name)
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

// newFlags returns a flag set for a subcommand with the --dir flag every
// command has.
func newFlags(name string, dir *string) *pflag.FlagSet {
	fs := newFlagSet(name)
	fs.StringVar(dir, "dir", "", "state directory of the lab")
	return fs
}

// newFlagSet returns a quiet flag set: errors are returned, usage texts
// are ours.
func newFlagSet(name string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
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

// errHelp asks run to print the command's usage and exit 0.
var errHelp = pflag.ErrHelp

// wantsHelp reports whether a command with subcommands was given none, or
// was asked for help.
func wantsHelp(args []string) bool {
	return len(args) == 0 || args[0] == "-h" || args[0] == "--help"
}

// parseFlags parses args; a flag error becomes a usage error, --help is
// returned as pflag.ErrHelp so that run prints the command's usage.
func parseFlags(fs *pflag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err == nil || errors.Is(err, pflag.ErrHelp) {
		return err
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
		d, err := lab.DefaultDir()
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
	if d, err := lab.DefaultDir(); err == nil && d == dir {
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
