package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/sselab/sselab/internal/progress"
	"github.com/sselab/sselab/pkg/bench"
	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/labdir"
)

const benchUsage = `Usage: sselab bench [--dir DIR] [--duration D] [--sizes LIST] [--concurrency N] [--modes LIST] [--nodes LIST] [--json]

Measures the lab on DIR. For each encryption mode and object size it
PUTs objects for D with N concurrent workers, then GETs them back for D,
and reports objects/s, MiB/s and the latency percentiles p50, p90 and
p99 of one request. Then it measures KES on its own: data keys generated
and decrypted per second, as MinIO's identity, with the lab's default key.

sse-s3 and sse-kms objects each cost MinIO one KES call per PUT and per
GET; none is the baseline without encryption; sse-c sends a random
customer key with every request and is skipped with a note when the lab
runs with --http (MinIO refuses SSE-C over plain HTTP).

In a lab of several MinIO nodes the workers take turns on the nodes
(worker w on the w-th, round robin): all of them, or those --nodes names.

bench works in a bucket of its own (sselab-bench-<random>) and removes it
with everything it wrote when it ends, also on Ctrl-C and on errors. A
progress bar shows on stderr when it is a terminal. With the defaults a
run takes about half a minute.

{{flags}}

Examples:
  sselab bench
  sselab bench --sizes 4KiB --modes none,sse-kms --duration 5s
  sselab bench --json > bench.json
`

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		dir, sizes, modes string
		nodes             string
		o                 bench.Options
		jsonOut           bool
	)
	fs := newFlags("bench", &dir)
	fs.DurationVar(&o.Duration, "duration", bench.DefaultDuration, "run each PUT, GET and KES phase for `D`")
	fs.StringVar(&sizes, "sizes", joinSizes(bench.DefaultSizes), "object sizes: a `LIST` of sizes in B, KiB, MiB or GiB")
	fs.IntVar(&o.Concurrency, "concurrency", bench.DefaultConcurrency, "`N` concurrent workers")
	fs.StringVar(&modes, "modes", joinModes(bench.AllModes), "a `LIST` of any of none, sse-s3, sse-kms, sse-c")
	fs.StringVar(&nodes, "nodes", "", "in a lab of several MinIO nodes, the workers take turns on the nodes in `LIST` (numbers, as 1,3; default all)")
	fs.BoolVar(&jsonOut, "json", false, "print the report as JSON, with stable field names")
	if err := parse(fs, args, &dir); err != nil {
		return err
	}
	if err := benchOptions(&o, sizes, modes); err != nil {
		return err
	}
	h, err := lab.Open(dir)
	if err != nil {
		return err
	}
	s3, kes := bench.LabTargets(h)
	if s3.Endpoints, err = benchNodes(h.State.Nodes, nodes); err != nil {
		return err
	}
	if len(s3.Endpoints) > 0 {
		s3.Endpoint = s3.Endpoints[0]
	}

	// Ctrl-C and SIGTERM stop the measures; bench still removes what it
	// wrote.
	bar := newBar(stderr, progress.Options{Description: "bench", Fraction: true})
	o.Progress = benchProgress(bar)
	rep, err := bench.Run(ctx, &s3, &kes, o)
	bar.Clear()
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return benchInterrupted(rep, err)
		}
		return err
	}
	if jsonOut {
		return writeJSON(stdout, rep)
	}
	printBench(stdout, rep)
	return nil
}

// benchNodes returns the S3 endpoints of the nodes in list (all nodes if
// list is empty), or none for a lab of one node.
func benchNodes(nodes []labdir.Node, list string) ([]string, error) {
	if list == "" {
		if len(nodes) < 2 {
			return nil, nil
		}
		list = "1-" + strconv.Itoa(len(nodes))
	}
	var endpoints []string
	for _, f := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(f), "-")
		a, err := strconv.Atoi(lo)
		b := a
		if err == nil && isRange {
			b, err = strconv.Atoi(hi)
		}
		if err != nil || a < 1 || b < a || b > len(nodes) {
			return nil, usageError{fmt.Errorf("--nodes %q: give node numbers from 1 to %d, as 1,3 or 2-4", list, len(nodes))}
		}
		for n := a; n <= b; n++ {
			endpoints = append(endpoints, nodes[n-1].S3Endpoint)
		}
	}
	return endpoints, nil
}

// joinSizes writes sizes as --sizes takes them.
func joinSizes(sizes []int64) string {
	s := make([]string, len(sizes))
	for i, n := range sizes {
		s[i] = bench.FormatSize(n)
	}
	return strings.Join(s, ",")
}

// joinModes writes modes as --modes takes them.
func joinModes(modes []bench.Mode) string {
	s := make([]string, len(modes))
	for i, m := range modes {
		s[i] = string(m)
	}
	return strings.Join(s, ",")
}

// benchOptions checks the flags and fills in the sizes and modes; every
// mistake is a usage error.
func benchOptions(o *bench.Options, sizes, modes string) (err error) {
	switch {
	case o.Concurrency < 1:
		return usageError{fmt.Errorf("--concurrency %d: use 1 or more workers", o.Concurrency)}
	case o.Concurrency > bench.MaxConcurrency:
		return usageError{fmt.Errorf("--concurrency %d: use at most %d workers", o.Concurrency, bench.MaxConcurrency)}
	case o.Duration <= 0:
		return usageError{fmt.Errorf("--duration %v: use a positive duration, as in 2s", o.Duration)}
	}
	if o.Sizes, err = bench.ParseSizes(sizes); err != nil {
		return usageError{err}
	}
	if o.Modes, err = bench.ParseModes(modes); err != nil {
		return usageError{err}
	}
	return nil
}

// benchInterrupted says that a run was stopped and whether its bucket is
// gone.
func benchInterrupted(rep bench.Report, err error) error {
	if errors.As(err, new(*bench.LeftBehindError)) {
		return err
	}
	if rep.Bucket == "" {
		return errors.New("bench: interrupted")
	}
	return fmt.Errorf("bench: interrupted; bucket %s and everything in it were removed", rep.Bucket)
}

// printBench prints the report as tables.
func printBench(w io.Writer, rep bench.Report) {
	fmt.Fprintf(w, "%d workers, %s per phase", rep.Concurrency, time.Duration(rep.DurationSeconds*float64(time.Second)))
	if rep.Bucket != "" {
		fmt.Fprintf(w, ", bucket %s (removed)", rep.Bucket)
	}
	fmt.Fprintln(w)
	if len(rep.S3) > 0 {
		if len(rep.S3Endpoints) > 1 {
			fmt.Fprintf(w, "\nS3 %s (round robin)\n", strings.Join(rep.S3Endpoints, ", "))
		} else {
			fmt.Fprintf(w, "\nS3 %s\n", rep.S3Endpoint)
		}
		rows := [][]string{{"mode", "size", "op", "objects/s", "MiB/s", "p50", "p90", "p99", "ops"}}
		for _, r := range rep.S3 {
			rows = append(rows, []string{string(r.Mode), r.Size, strings.ToUpper(r.Op),
				rate(r.ObjectsPerSec), rate(r.MiBPerSec), latency(r.LatencyMS.P50), latency(r.LatencyMS.P90), latency(r.LatencyMS.P99), strconv.Itoa(r.Ops)})
		}
		printTable(w, rows, 3)
	}
	if len(rep.KES) > 0 {
		fmt.Fprintf(w, "\nKES %s, key %s, as MinIO's identity\n", rep.KESEndpoint, rep.KESKey)
		rows := [][]string{{"op", "ops/s", "p50", "p90", "p99", "ops"}}
		for _, r := range rep.KES {
			rows = append(rows, []string{r.Op, rate(r.OpsPerSec), latency(r.LatencyMS.P50), latency(r.LatencyMS.P90), latency(r.LatencyMS.P99), strconv.Itoa(r.Ops)})
		}
		printTable(w, rows, 1)
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "\n%s skipped: %s\n", s.Mode, s.Reason)
	}
}

// printTable prints rows as columns two spaces apart: the first left
// columns aligned left (names), the others aligned right (numbers).
func printTable(w io.Writer, rows [][]string, left int) {
	var widths []int
	for _, row := range rows {
		for i, c := range row {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], len(c))
		}
	}
	for _, row := range rows {
		var b strings.Builder
		for i, c := range row {
			pad := strings.Repeat(" ", widths[i]-len(c))
			if i > 0 {
				b.WriteString("  ")
			}
			if i < left {
				b.WriteString(c + pad)
			} else {
				b.WriteString(pad + c)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// rate formats a throughput with three significant digits or more.
func rate(x float64) string {
	switch {
	case x >= 100:
		return fmt.Sprintf("%.0f", x)
	case x >= 10:
		return fmt.Sprintf("%.1f", x)
	}
	return fmt.Sprintf("%.2f", x)
}

// latency formats milliseconds with a unit, three significant digits.
func latency(ms float64) string {
	switch {
	case ms >= 1000:
		return fmt.Sprintf("%.2fs", ms/1000)
	case ms >= 100:
		return fmt.Sprintf("%.0fms", ms)
	case ms >= 10:
		return fmt.Sprintf("%.1fms", ms)
	}
	return fmt.Sprintf("%.2fms", ms)
}

// newBar is the progress display of a command on w (its standard
// error): an updating bar on a terminal, else a plain line every few
// seconds.
func newBar(w io.Writer, o progress.Options) *progress.Bar {
	o.Terminal = isTerminal(w)
	return progress.New(w, o)
}

// benchProgress shows bench's progress on bar.
func benchProgress(bar *progress.Bar) func(bench.Progress) {
	return func(p bench.Progress) {
		bar.Describe(fmt.Sprintf("bench %d/%d %s", p.Phase, p.Phases, p.Label))
		bar.SetFraction(p.Done)
	}
}
