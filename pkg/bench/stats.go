package bench

import (
	"math"
	"slices"
	"time"
)

// Latency holds latency percentiles in milliseconds.
type Latency struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
}

// Percentile returns the p-th percentile (0 < p <= 100) of sorted, an
// ascending slice, by the nearest-rank method: the smallest value that at
// least p percent of the values are less than or equal to. It returns 0
// for an empty slice.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// stats is what one phase measured.
type stats struct {
	ops     int
	elapsed time.Duration
	latency Latency
}

// summarize turns the latencies of every operation of a phase, per
// worker, and the phase's wall time into stats.
func summarize(perWorker [][]time.Duration, elapsed time.Duration) stats {
	all := slices.Concat(perWorker...)
	slices.Sort(all)
	return stats{
		ops:     len(all),
		elapsed: elapsed,
		latency: Latency{
			P50: ms(Percentile(all, 50)),
			P90: ms(Percentile(all, 90)),
			P99: ms(Percentile(all, 99)),
		},
	}
}

// opsPerSec is the phase's throughput in operations per second.
func (s stats) opsPerSec() float64 {
	if s.elapsed <= 0 {
		return 0
	}
	return float64(s.ops) / s.elapsed.Seconds()
}

// ms converts d to milliseconds, rounded to microseconds.
func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}

// round3 rounds x to three decimals, to keep reports readable.
func round3(x float64) float64 { return math.Round(x*1000) / 1000 }
