package miniobin

import (
	"fmt"
	"io"
	"time"
)

// progress reports a download's bytes and rate: one updating line for a
// terminal, else a plain line every few seconds.
type progress struct {
	w         io.Writer
	bar       bool
	start     time.Time
	last      time.Time
	base, got int64 // bytes before this attempt, bytes in it
	total     int64 // -1 if unknown
}

// plainEvery is how often plain progress lines are written.
const plainEvery = 5 * time.Second

func newProgress(w io.Writer, bar bool, offset, total int64) *progress {
	now := time.Now()
	return &progress{w: w, bar: bar, start: now, last: now, base: offset, total: total}
}

func (p *progress) Write(b []byte) (int, error) {
	p.got += int64(len(b))
	if now := time.Now(); p.bar && now.Sub(p.last) >= 100*time.Millisecond || now.Sub(p.last) >= plainEvery {
		p.last = now
		p.report()
	}
	return len(b), nil
}

// report writes the current state.
func (p *progress) report() {
	got := p.base + p.got
	rate := float64(p.got) / max(time.Since(p.start).Seconds(), 0.001)
	line := fmt.Sprintf("downloading MinIO: %s", mib(got))
	if p.total > 0 {
		line += fmt.Sprintf(" of %s (%d%%)", mib(p.total), got*100/p.total)
	}
	line += fmt.Sprintf(", %s/s", mib(int64(rate)))
	if p.bar {
		fmt.Fprintf(p.w, "\r%-70s", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
}

// done writes the final state and ends the updating line.
func (p *progress) finish() {
	p.report()
	if p.bar {
		fmt.Fprintln(p.w)
	}
}

// mib formats a byte count in MiB.
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
