package perf

import (
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestSeries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s             Series
		med, min, max float64
	}{
		{nil, 0, 0, 0},
		{Series{3}, 3, 3, 3},
		{Series{5, 1, 3}, 3, 1, 5},
		{Series{4, 1, 3, 2}, 2.5, 1, 4},
	}
	for _, tt := range tests {
		if m := tt.s.Median(); m != tt.med {
			t.Errorf("Median(%v): got %v, want %v", tt.s, m, tt.med)
		}
		if m := tt.s.Min(); m != tt.min {
			t.Errorf("Min(%v): got %v, want %v", tt.s, m, tt.min)
		}
		if m := tt.s.Max(); m != tt.max {
			t.Errorf("Max(%v): got %v, want %v", tt.s, m, tt.max)
		}
	}
	s := Series{5, 1, 3}
	s.Median()
	if s[0] != 5 || s[1] != 1 {
		t.Errorf("Median sorted its receiver: %v", s)
	}
}

func TestRatios(t *testing.T) {
	t.Parallel()
	got := Ratios(Series{10, 20, 30, 40}, Series{5, 0, 10})
	want := Series{2, 3} // run 2 has no reference, run 4 no pair
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("Ratios: got %v, want %v", got, want)
	}
}

func TestFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s    Series
		dec  int
		unit string
		want string
	}{
		{nil, 0, "ms", "n/a"},
		{Series{812.4}, 0, "ms", "812 ms"},
		{Series{812.4, 790, 905.6}, 0, "ms", "812 ms (790–906)"},
		{Series{1.234, 1.1}, 2, "", "1.17 (1.10–1.23)"},
	}
	for _, tt := range tests {
		if got := tt.s.Format(tt.dec, tt.unit); got != tt.want {
			t.Errorf("Format(%v, %d, %q): got %q, want %q", tt.s, tt.dec, tt.unit, got, tt.want)
		}
	}
}

func TestTarget(t *testing.T) {
	t.Parallel()
	atMost := Target{Bound: 1.10}
	atLeast := Target{AtLeast: true, Bound: 0.90}
	mem := Target{Bound: 50, Unit: "MiB"}
	tests := []struct {
		t    Target
		s    Series
		met  bool
		text string
	}{
		{atMost, Series{1.05, 1.2, 1.08}, true, "≤ 1.10"}, // the median counts, not the worst run
		{atMost, Series{1.11}, false, "≤ 1.10"},
		{atMost, Series{1.10}, true, "≤ 1.10"},
		{atLeast, Series{0.9}, true, "≥ 0.90"},
		{atLeast, Series{0.89, 0.95, 0.5}, false, "≥ 0.90"},
		{atLeast, nil, false, "≥ 0.90"},
		{mem, Series{33.5}, true, "≤ 50 MiB"},
	}
	for _, tt := range tests {
		if got := tt.t.Met(tt.s); got != tt.met {
			t.Errorf("%v Met(%v): got %v, want %v", tt.t, tt.s, got, tt.met)
		}
		if got := tt.t.String(); got != tt.text {
			t.Errorf("String: got %q, want %q", got, tt.text)
		}
	}
}

func TestRowVerdict(t *testing.T) {
	t.Parallel()
	cmp := Row{Sselab: Series{110, 120}, Ref: Series{100, 100}, Target: &Target{Bound: 1.10}}
	if got := cmp.Checked(); got.Median() != 1.15 {
		t.Errorf("Checked of a comparison: got %v, want the ratios", got)
	}
	if cmp.Verdict() != "**missed**" {
		t.Errorf("Verdict: got %q, want missed (median ratio 1.15)", cmp.Verdict())
	}
	alone := Row{Sselab: Series{33, 34}, Target: &Target{Bound: 50, Unit: "MiB"}}
	if alone.Verdict() != "met" {
		t.Errorf("Verdict of a single figure: got %q, want met", alone.Verdict())
	}
	if (Row{Sselab: Series{1}}).Verdict() != "" {
		t.Error("Verdict without a target: want none")
	}
}

func TestRotate(t *testing.T) {
	t.Parallel()
	for run, want := range []string{"ab", "ba", "ab"} {
		var got string
		rotate(run, func() error { got += "a"; return nil }, func() error { got += "b"; return nil })
		if got != want {
			t.Errorf("two, run %d: got order %q, want %q", run, got, want)
		}
	}
	for run, want := range []string{"abc", "bca", "cab", "abc"} {
		var got string
		add := func(s string) func() error { return func() error { got += s; return nil } }
		rotate(run, add("a"), add("b"), add("c"))
		if got != want {
			t.Errorf("three, run %d: got order %q, want %q", run, got, want)
		}
	}
	boom := errors.New("boom")
	called := false
	if err := rotate(0, func() error { return boom }, func() error { called = true; return nil }); err != boom || called {
		t.Errorf("rotate after a failure: got %v, second called %v; want the error and no second call", err, called)
	}
}

func TestWriteMarkdown(t *testing.T) {
	t.Parallel()
	rep := Report{
		Command: "go run ./internal/perf/cmd/perf -runs 2",
		Started: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), Took: 90 * time.Second,
		Runs: 2, Duration: 3 * time.Second, Workers: 8,
		Machine: Machine{CPU: "Test CPU", Cores: 2, OS: "TestOS", Go: "go1.26", MinIO: "minio X", KES: "v0.24.0", LoadAvg: "1.50 1.00 0.50", LoadEnd: "0.10 0.10 0.10"},
		Sections: []Section{{
			ID: "P1", Title: "Spawn to ready", Method: "How.", SselabName: "sselab up", RefName: "bare",
			Rows: []Row{
				{Name: "fresh dir", Unit: "ms", Sselab: Series{550, 560}, Ref: Series{500, 500}, Target: &Target{Bound: 1.10}},
				{Name: "info only", Unit: "ms", Sselab: Series{1, 2}, Ref: Series{1, 1}},
			},
			Notes: []string{"A note."},
		}, {
			ID: "P4", Title: "Memory", SselabName: "sselab process",
			Rows: []Row{{Name: "idle", Unit: "MiB", Decimals: 1, Sselab: Series{33.25}, Target: &Target{Bound: 50, Unit: "MiB"}}},
		}},
		Problems: []string{"P2: kes would not start"},
	}
	var b strings.Builder
	if err := rep.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"Generated by `go run ./internal/perf/cmd/perf -runs 2` on 2026-01-02 03:04 UTC (1m30s)",
		"Each measure was taken 2 times",
		"> **Noisy figures.** The machine was busy (load average 1.50 1.00 0.50 at the start",
		"| CPU | Test CPU, 2 logical cores |",
		"| P1 | fresh dir | 555 ms (550–560) | 500 ms (500–500) | 1.11 (1.10–1.12) | ≤ 1.10 | **missed** |",
		"| P4 | idle | 33.2 MiB |  |  | ≤ 50 MiB | met |",
		"Not measured: P2: kes would not start",
		"## P1 Spawn to ready\n\nHow.",
		"| fresh dir | 550 / 500 = 1.10 | 560 / 500 = 1.12 |",
		"| info only | 2 ms (1–2) | 1 ms (1–1) | 1.50 (1.00–2.00) |  |  |",
		"- A note.",
		"| idle | 33.2 | – |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "| P1 | info only") {
		t.Error("a measure without a target is in the summary")
	}
	rep.Machine.LoadAvg, rep.Machine.LoadEnd = "0.20 0.1 0.1", "0.40 0.1 0.1"
	b.Reset()
	rep.WriteMarkdown(&b)
	if strings.Contains(b.String(), "Noisy") {
		t.Error("a quiet machine (load 0.4 on 2 cores) is called busy")
	}
}

// TestKeep checks that a run of some measures keeps the sections of the
// report it replaces that it did not measure, in their place, saying
// when they were measured, and replaces the ones it did.
func TestKeep(t *testing.T) {
	t.Parallel()
	section := func(id, title string, v float64) Section {
		return Section{ID: id, Title: title, SselabName: "sselab", RefName: "ref",
			Rows: []Row{{Name: title + " row", Unit: "ms", Sselab: Series{v}, Ref: Series{100}, Target: &Target{Bound: 1.10}}}}
	}
	write := func(r Report) string {
		var b strings.Builder
		if err := r.WriteMarkdown(&b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	first := Report{Command: "perf", Started: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), Runs: 1,
		Sections: []Section{section("P1", "Spawn", 105), section("P3", "S3", 90), section("P3b", "S3 again", 95), section("P5", "Rekey", 200)}}
	old := write(first)

	second := Report{Command: "perf -only p3", Started: time.Date(2026, 2, 3, 4, 5, 0, 0, time.UTC), Runs: 1,
		Sections: []Section{section("P3", "S3", 80)}}
	second.Keep([]byte(old))
	md := write(second)
	for _, want := range []string{
		"| P1 | Spawn row | 105 ms | 100 ms | 1.05 | ≤ 1.10 | met |\n| P3 | S3 row | 80 ms |",
		"| P3b | S3 again row | 95 ms |",
		"| P5 | Rekey row | 200 ms |",
		"## P1 Spawn\n\n> Kept from the run of 2026-01-02 03:04 UTC: this run did not measure it again.\n",
		"## P3 S3\n\n| measure",
		"## P3b S3 again\n\n> Kept from the run of 2026-01-02 03:04 UTC",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "90 ms") {
		t.Errorf("the old P3 figure survived its new measure:\n%s", md)
	}
	if !(strings.Index(md, "## P1 ") < strings.Index(md, "## P3 ") && strings.Index(md, "## P3b ") < strings.Index(md, "## P5 ")) {
		t.Errorf("sections out of order:\n%s", md)
	}

	// Kept again by a third run, a section keeps the date of the run
	// that measured it.
	third := Report{Command: "perf -only p1", Started: time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC), Runs: 1,
		Sections: []Section{section("P1", "Spawn", 101)}}
	third.Keep([]byte(md))
	md = write(third)
	if n := strings.Count(md, keptMark); n != 3 {
		t.Errorf("%d kept sections marked, want 3 (P3 of the second run, P3b and P5 of the first):\n%s", n, md)
	}
	if !strings.Contains(md, "## P5 Rekey\n\n> Kept from the run of 2026-01-02 03:04 UTC") || !strings.Contains(md, "## P3 S3\n\n> Kept from the run of 2026-02-03 04:05 UTC") {
		t.Errorf("a kept section lost the date of its run:\n%s", md)
	}
}

func TestRSS(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	rss, peak, err := RSS(os.Getpid())
	if err != nil || rss <= 0 || peak < rss {
		t.Errorf("RSS of this test: %d, peak %d, %v; want 0 < rss <= peak", rss, peak, err)
	}
	if _, _, err := RSS(-1); err == nil {
		t.Error("RSS of no process: want an error")
	}
}

func TestCPUTime(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	before, err := CPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; {
	}
	after, err := CPUTime(os.Getpid())
	if err != nil || after < before {
		t.Errorf("CPU time of this test: %v then %v, %v; want it to grow", before, after, err)
	}
	if _, err := CPUTime(-1); err == nil {
		t.Error("CPU time of no process: want an error")
	}
}
