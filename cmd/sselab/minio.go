package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/sselab/sselab/pkg/miniobin"
)

const minioUsage = `Usage: sselab minio <command> [flags]

Gets, lists and chooses the MinIO server binary 'sselab up' runs. Binaries
live in the cache ($SSELAB_CACHE_DIR, else the per-user cache directory,
e.g. ~/.cache/sselab), each with a manifest (version, sha256, source,
time); a cached binary's sha256 is checked again before every run.

Commands:
  fetch [--release TAG] [--url URL] [--sha256 HEX] [--insecure-url]
            download and verify a MinIO binary (default: the last community
            release with binaries, ` + miniobin.LastRelease + `)
  build [--version V]
            build MinIO from source with Go (default ` + miniobin.DefaultVersion + `)
  list [--json]
            the cached binaries, newest first, and which one is selected
  use VERSION|PATH
            choose the binary 'up' runs (a cached version or a file)
  path      print the binary 'up' would run
  prune     remove every cached binary but the one 'up' would run

'up' looks, in order, at --minio, $SSELAB_MINIO, the binary chosen with
'use', the newest cached one, 'minio' on PATH, a download of the last
release, and a build from source.

Examples:
  sselab minio fetch
  sselab minio fetch --url https://mirror.example.com/minio --sha256 0123abcd...
  sselab minio build && sselab minio list
`

// minioCommands are the subcommands of 'sselab minio'.
var minioCommands = map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) error{
	"fetch": runMinIOFetch,
	"build": runMinIOBuild,
	"list":  runMinIOList,
	"use":   runMinIOUse,
	"path":  runMinIOPath,
	"prune": runMinIOPrune,
}

func runMinIO(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if wantsHelp(args) {
		return errHelp // run prints the usage
	}
	run, ok := minioCommands[args[0]]
	if !ok {
		return usageError{fmt.Errorf("unknown command 'minio %s'", args[0])}
	}
	return run(ctx, args[1:], stdout, stderr)
}

// minioFlags returns a flag set for a 'sselab minio' subcommand.
func minioFlags(name string) *pflag.FlagSet { return newFlagSet("minio " + name) }

// parseMinIO parses a subcommand's flags and wants exactly nargs arguments.
func parseMinIO(fs *pflag.FlagSet, args []string, nargs int) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != nargs {
		return usageError{fmt.Errorf("'%s' takes %d argument(s), got %d", fs.Name(), nargs, fs.NArg())}
	}
	return nil
}

func runMinIOFetch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o miniobin.FetchOptions
	fs := minioFlags("fetch")
	fs.StringVar(&o.Release, "release", "", "")
	fs.StringVar(&o.URL, "url", "", "")
	fs.StringVar(&o.SHA256, "sha256", "", "")
	fs.BoolVar(&o.InsecureURL, "insecure-url", false, "")
	if err := parseMinIO(fs, args, 0); err != nil {
		return err
	}
	o.Progress = stderr
	o.ProgressBar = isTerminal(stderr)
	b, err := miniobin.Fetch(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "MinIO %s is at %s\n", miniobin.Describe(b.Version, b.Path), b.Path)
	return nil
}

func runMinIOBuild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := miniobin.Options{Progress: stderr, ProgressBar: isTerminal(stderr)}
	fs := minioFlags("build")
	fs.StringVar(&o.Version, "version", "", "")
	if err := parseMinIO(fs, args, 0); err != nil {
		return err
	}
	b, err := miniobin.Build(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "MinIO %s is at %s\n", miniobin.Describe(b.Version, b.Path), b.Path)
	return nil
}

func runMinIOList(ctx context.Context, args []string, stdout, _ io.Writer) error {
	var jsonOut bool
	fs := minioFlags("list")
	fs.BoolVar(&jsonOut, "json", false, "")
	if err := parseMinIO(fs, args, 0); err != nil {
		return err
	}
	entries, err := miniobin.List(miniobin.Options{})
	if err != nil {
		return err
	}
	if jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if entries == nil {
			entries = []miniobin.Entry{}
		}
		return enc.Encode(entries)
	}
	if sel, err := miniobin.Selected(miniobin.Options{}); err == nil && sel.Path != "" {
		fmt.Fprintf(stdout, "selected with 'sselab minio use': %s (outside the cache)\n", sel.Path)
		if v, err := miniobin.Check(ctx, sel.Path); err == nil {
			defer printSecurityNotice(stdout, v, sel.Path)
		}
	}
	if len(entries) == 0 {
		fmt.Fprintln(stdout, "no MinIO binary is cached; get one with 'sselab minio fetch' or 'sselab minio build'")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\tVERSION\tMINIO\tSIZE\tCACHED\tSOURCE")
	for _, e := range entries {
		mark := ""
		if e.Selected {
			mark = "*"
		}
		source := e.Manifest.Source
		if e.Manifest.Signature != "" {
			source += " (signature " + e.Manifest.Signature + ")"
		}
		if e.Problem != "" {
			source = "damaged: " + e.Problem
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d MiB\t%s\t%s\n", mark, e.Version, miniobin.Describe(e.Version, e.Path), e.Size>>20, e.Manifest.Created.Local().Format("2006-01-02 15:04"), source)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, e := range entries {
		if e.Selected || len(entries) == 1 {
			printSecurityNotice(stdout, e.Version, e.Path)
		}
	}
	return nil
}

func runMinIOUse(ctx context.Context, args []string, stdout, _ io.Writer) error {
	fs := minioFlags("use")
	if err := parseMinIO(fs, args, 1); err != nil {
		return err
	}
	b, err := miniobin.Use(ctx, miniobin.Options{}, fs.Arg(0))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "'sselab up' now runs MinIO %s (%s)\n", miniobin.Describe(b.Version, b.Path), b.Path)
	return nil
}

func runMinIOPath(ctx context.Context, args []string, stdout, _ io.Writer) error {
	fs := minioFlags("path")
	if err := parseMinIO(fs, args, 0); err != nil {
		return err
	}
	b, err := miniobin.Find(ctx, miniobin.Options{Env: os.Getenv("SSELAB_MINIO")})
	if errors.Is(err, miniobin.ErrNotFound) {
		return errors.New("no MinIO server binary is chosen, cached or on PATH; 'sselab up' would download the last release or build one from source, or run 'sselab minio fetch' or 'sselab minio build' now")
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, b.Path)
	return nil
}

func runMinIOPrune(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := minioFlags("prune")
	if err := parseMinIO(fs, args, 0); err != nil {
		return err
	}
	removed, err := miniobin.Prune(ctx, miniobin.Options{Progress: stderr})
	for _, r := range removed {
		fmt.Fprintln(stdout, "removed", r)
	}
	if err == nil && len(removed) == 0 {
		fmt.Fprintln(stdout, "nothing to remove")
	}
	return err
}
