package bench

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	ten := make([]time.Duration, 10)
	for i := range ten {
		ten[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value", []time.Duration{7}, 99, 7},
		{"p50 of 10", ten, 50, 5 * time.Millisecond},
		{"p90 of 10", ten, 90, 9 * time.Millisecond},
		{"p99 of 10 is the maximum", ten, 99, 10 * time.Millisecond},
		{"p100", ten, 100, 10 * time.Millisecond},
		{"tiny p is the minimum", ten, 0.1, time.Millisecond},
		{"p50 of 2 is the lower", []time.Duration{1, 2}, 50, 1},
		{"p51 of 2 is the upper", []time.Duration{1, 2}, 51, 2},
	}
	for _, tt := range tests {
		if got := Percentile(tt.sorted, tt.p); got != tt.want {
			t.Errorf("%s: Percentile(p=%v): got %v, want %v", tt.name, tt.p, got, tt.want)
		}
	}
	// p99 of 1000 values is the 990th, not the maximum.
	thousand := make([]time.Duration, 1000)
	for i := range thousand {
		thousand[i] = time.Duration(i + 1)
	}
	if got := Percentile(thousand, 99); got != 990 {
		t.Errorf("Percentile(1..1000, 99): got %d, want 990", got)
	}
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	// Two workers; the latencies are merged before the percentiles.
	perWorker := [][]time.Duration{
		{10 * time.Millisecond, 1 * time.Millisecond, 3 * time.Millisecond},
		{2 * time.Millisecond, 4 * time.Millisecond},
	}
	st := summarize(perWorker, 2*time.Second)
	if st.ops != 5 {
		t.Errorf("ops: got %d, want 5", st.ops)
	}
	if got := st.opsPerSec(); got != 2.5 {
		t.Errorf("opsPerSec: got %v, want 2.5", got)
	}
	if want := (Latency{P50: 3, P90: 10, P99: 10}); st.latency != want {
		t.Errorf("latency: got %+v, want %+v", st.latency, want)
	}
	if got := (stats{ops: 3}).opsPerSec(); got != 0 {
		t.Errorf("opsPerSec without elapsed time: got %v, want 0", got)
	}
	if got := ms(1500 * time.Microsecond); got != 1.5 {
		t.Errorf("ms(1.5ms): got %v, want 1.5", got)
	}
}
