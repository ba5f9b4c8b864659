// Package perf is the comparison harness behind docs/PERFORMANCE.md: it
// starts sselab, a bare MinIO with a static key and a standalone KES
// server on the same machine, measures them in turn, and writes the
// figures as Markdown. Its command is ./internal/perf/cmd/perf; the
// spawn-to-ready measure is also BenchmarkSpawnToReady in ./e2e.
package perf

import (
	"fmt"
	"math"
	"slices"
)

// Series is one quantity measured several times, in run order.
type Series []float64

// Median returns the middle value, or the mean of the two middle values
// of an even number; 0 for no values.
func (s Series) Median() float64 {
	v := slices.Sorted(slices.Values(s))
	switch n := len(v); {
	case n == 0:
		return 0
	case n%2 == 1:
		return v[n/2]
	default:
		return (v[n/2-1] + v[n/2]) / 2
	}
}

// Min returns the smallest value; 0 for no values.
func (s Series) Min() float64 {
	if len(s) == 0 {
		return 0
	}
	return slices.Min(s)
}

// Max returns the largest value; 0 for no values.
func (s Series) Max() float64 {
	if len(s) == 0 {
		return 0
	}
	return slices.Max(s)
}

// Ratios divides num by den run by run: both were measured in the same
// run, one right after the other, so slow drifts of the machine cancel.
// Runs where den is 0 are left out.
func Ratios(num, den Series) Series {
	var r Series
	for i := range min(len(num), len(den)) {
		if den[i] != 0 {
			r = append(r, num[i]/den[i])
		}
	}
	return r
}

// Format writes the median and the range of s with the given number of
// decimals and unit, as in "812 ms (790–905)".
func (s Series) Format(decimals int, unit string) string {
	if len(s) == 0 {
		return "n/a"
	}
	f := func(x float64) string { return fmt.Sprintf("%.*f", decimals, x) }
	if unit != "" {
		unit = " " + unit
	}
	if len(s) == 1 {
		return f(s[0]) + unit
	}
	return fmt.Sprintf("%s%s (%s–%s)", f(s.Median()), unit, f(s.Min()), f(s.Max()))
}

// Target is a bound a measure must stay within.
type Target struct {
	// AtLeast is true for "value >= Bound" (throughput), false for
	// "value <= Bound" (time, memory).
	AtLeast bool
	Bound   float64
	// Unit is the bound's unit; "" for a ratio.
	Unit string
}

// String writes the target as in "≥ 0.90" or "≤ 50 MiB".
func (t Target) String() string {
	op := "≤"
	if t.AtLeast {
		op = "≥"
	}
	if t.Unit != "" {
		return fmt.Sprintf("%s %g %s", op, t.Bound, t.Unit)
	}
	return fmt.Sprintf("%s %.2f", op, t.Bound)
}

// Met reports whether the median of s is within the target.
func (t Target) Met(s Series) bool {
	if len(s) == 0 || math.IsNaN(s.Median()) {
		return false
	}
	if t.AtLeast {
		return s.Median() >= t.Bound
	}
	return s.Median() <= t.Bound
}
