package main

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sselab/sselab/internal/progress"
	"github.com/sselab/sselab/pkg/bench"
	"github.com/sselab/sselab/pkg/labdir"
)

func TestBenchBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir() // no lab runs there: flags are checked first
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"bad size", []string{"--sizes", "4KB"}, 2, `sselab: bench: size "4KB" has an unknown unit "KB"; use B, KiB, MiB or GiB, as in 4KiB; see 'sselab bench --help'`},
		{"size not a number", []string{"--sizes", "4KiB,big"}, 2, `sselab: bench: size "big" is not a number of bytes; use a whole number with B, KiB, MiB or GiB, as in 4KiB; see 'sselab bench --help'`},
		{"size too large", []string{"--sizes", "2GiB"}, 2, `sselab: bench: size "2GiB" is larger than 1GiB, the largest size bench holds in memory; see 'sselab bench --help'`},
		{"no size", []string{"--sizes", ""}, 2, "sselab: bench: no size given; list one or more, as in 4KiB,1MiB; see 'sselab bench --help'"},
		{"unknown mode", []string{"--modes", "none,sse-x"}, 2, `sselab: bench: unknown mode "sse-x"; use none, sse-s3, sse-kms or sse-c; see 'sselab bench --help'`},
		{"no workers", []string{"--concurrency", "0"}, 2, "sselab: --concurrency 0: use 1 or more workers; see 'sselab bench --help'"},
		{"negative workers", []string{"--concurrency", "-3"}, 2, "sselab: --concurrency -3: use 1 or more workers; see 'sselab bench --help'"},
		{"too many workers", []string{"--concurrency", "1000"}, 2, "sselab: --concurrency 1000: use at most 256 workers; see 'sselab bench --help'"},
		{"zero duration", []string{"--duration", "0s"}, 2, "sselab: --duration 0s: use a positive duration, as in 2s; see 'sselab bench --help'"},
		{"duration without unit", []string{"--duration", "5"}, 2, `sselab: invalid argument "5" for "--duration" flag: must be a duration like "30s" or "5m"; see 'sselab bench --help'`},
		{"stray argument", []string{"now"}, 2, `sselab: unexpected argument "now"; see 'sselab bench --help'`},
		{"lab not running", nil, 1, "sselab: lab: no lab is running on " + dir + "; start it with 'sselab up --dir " + dir + "'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), append([]string{"bench", "--dir", dir}, tt.args...), &stdout, &stderr)
			if code != tt.code || stderr.String() != tt.stderr+"\n" {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr.String(), tt.code, tt.stderr+"\n")
			}
			if stdout.Len() > 0 {
				t.Errorf("stdout: got %q, want nothing", stdout.String())
			}
		})
	}
}

func TestBenchHelp(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"bench", "--help"}, &stdout, &stderr); code != 0 || !strings.HasPrefix(stdout.String(), "Usage: sselab bench") {
		t.Errorf("bench --help: exit %d, stdout %q", code, stdout.String())
	}
}

func TestPrintBench(t *testing.T) {
	t.Parallel()
	rep := bench.Report{
		S3Endpoint: "https://127.0.0.1:9000", Bucket: "sselab-bench-0a1b2c3d",
		KESEndpoint: "https://127.0.0.1:7373", KESKey: "sselab-key",
		Concurrency: 8, DurationSeconds: 1,
		S3: []bench.S3Result{
			{Mode: bench.ModeNone, Size: "4KiB", Op: "put", Ops: 1234, ObjectsPerSec: 1233.6, MiBPerSec: 4.819, LatencyMS: bench.Latency{P50: 5.123, P90: 9.87, P99: 15.5}},
			{Mode: bench.ModeSSEKMS, Size: "64MiB", Op: "get", Ops: 9, ObjectsPerSec: 4.25, MiBPerSec: 272, LatencyMS: bench.Latency{P50: 1500, P90: 1800.4, P99: 2345}},
		},
		KES:     []bench.KESResult{{Op: "generate", Ops: 5000, OpsPerSec: 4990.1, LatencyMS: bench.Latency{P50: 0.5, P90: 1.2, P99: 3}}},
		Skipped: []bench.Skip{{Mode: bench.ModeSSEC, Reason: "SSE-C needs TLS"}},
	}
	var out bytes.Buffer
	printBench(&out, rep)
	want := `8 workers, 1s per phase, bucket sselab-bench-0a1b2c3d (removed)

S3 https://127.0.0.1:9000
mode     size   op   objects/s  MiB/s     p50     p90     p99   ops
none     4KiB   PUT       1234   4.82  5.12ms  9.87ms  15.5ms  1234
sse-kms  64MiB  GET       4.25    272   1.50s   1.80s   2.35s     9

KES https://127.0.0.1:7373, key sselab-key, as MinIO's identity
op        ops/s     p50     p90     p99   ops
generate   4990  0.50ms  1.20ms  3.00ms  5000

sse-c skipped: SSE-C needs TLS
`
	if out.String() != want {
		t.Errorf("printBench:\ngot:\n%s\nwant:\n%s", out.String(), want)
	}

	// Only KES measured: no S3 table, no bucket.
	out.Reset()
	printBench(&out, bench.Report{Concurrency: 2, DurationSeconds: 0.5, KES: rep.KES, KESEndpoint: rep.KESEndpoint, KESKey: rep.KESKey})
	if strings.Contains(out.String(), "S3") || strings.Contains(out.String(), "bucket") || !strings.HasPrefix(out.String(), "2 workers, 500ms per phase\n") {
		t.Errorf("printBench of a KES-only report:\n%s", out.String())
	}
}

func TestBenchProgress(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	bar := newBar(&out, progress.Options{Description: "bench", Fraction: true, Every: time.Nanosecond})
	show := benchProgress(bar)
	show(bench.Progress{Phase: 14, Phases: 26, Label: "GET sse-kms 1MiB", Done: 0.5})
	if got, want := out.String(), "bench 14/26 GET sse-kms 1MiB: 50%, "; !strings.HasPrefix(got, want) {
		t.Errorf("not a terminal: got %q, want a plain line starting %q", got, want)
	}
	out.Reset()
	bar.Clear()
	if out.Len() != 0 {
		t.Errorf("Clear in plain mode wrote %q, want nothing", out.String())
	}
}

func TestBenchNodes(t *testing.T) {
	t.Parallel()
	nodes := []labdir.Node{{S3Endpoint: "https://n1"}, {S3Endpoint: "https://n2"}, {S3Endpoint: "https://n3"}, {S3Endpoint: "https://n4"}}
	for _, tt := range []struct {
		list string
		want []string
	}{
		{"", []string{"https://n1", "https://n2", "https://n3", "https://n4"}},
		{"1,3", []string{"https://n1", "https://n3"}},
		{"2-4", []string{"https://n2", "https://n3", "https://n4"}},
		{" 4 ,1", []string{"https://n4", "https://n1"}},
	} {
		got, err := benchNodes(nodes, tt.list)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("benchNodes(%q) = %v, %v; want %v", tt.list, got, err, tt.want)
		}
	}
	if got, err := benchNodes(nodes[:1], ""); err != nil || got != nil {
		t.Errorf("one node: got %v, %v; want nothing (the lab's endpoint)", got, err)
	}
	for _, list := range []string{"0", "5", "a", "3-2", "1,", "1-9"} {
		if _, err := benchNodes(nodes, list); !errors.As(err, new(usageError)) {
			t.Errorf("benchNodes(%q): got %v, want a usage error", list, err)
		}
	}
}
