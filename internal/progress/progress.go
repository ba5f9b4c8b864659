// Package progress is sselab's one progress display, for downloads,
// builds, bench and rekey: on a terminal an updating bar
// (github.com/schollz/progressbar/v3), elsewhere (a pipe, a log file, CI)
// a plain line every few seconds. Colour only on a terminal, and never
// with NO_COLOR set (https://no-color.org).
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// DefaultEvery is how often plain lines are written.
const DefaultEvery = 5 * time.Second

// Options say what a Bar counts and where it shows.
type Options struct {
	// Description names what progresses, such as "downloading MinIO".
	Description string
	// Total is the amount at the end; -1 when it is not known.
	Total int64
	// Bytes counts bytes (shown in MiB, with a rate); otherwise Unit.
	Bytes bool
	// Unit names what is counted, such as "packages" or "objects".
	Unit string
	// Fraction shows only the percentage: the amount counts thousandths
	// of a task whose parts differ (Total is then 1000).
	Fraction bool
	// Terminal draws an updating bar; otherwise plain lines.
	Terminal bool
	// Every is how often plain lines are written; 0 is DefaultEvery.
	Every time.Duration
}

// A Bar shows the progress of one task. Its methods may be called from
// several goroutines.
type Bar struct {
	o     Options
	w     io.Writer
	pb    *progressbar.ProgressBar
	mu    sync.Mutex
	n     int64 // done so far
	last  time.Time
	start time.Time
	ended bool
}

// New returns a Bar writing to w.
func New(w io.Writer, o Options) *Bar {
	if o.Every <= 0 {
		o.Every = DefaultEvery
	}
	if o.Total == 0 {
		o.Total = -1
	}
	theme := progressbar.Theme{Saucer: "=", SaucerHead: ">", SaucerPadding: " ", BarStart: "[", BarEnd: "]"}
	color := o.Terminal && os.Getenv("NO_COLOR") == ""
	if color {
		theme.Saucer, theme.SaucerHead = "[green]=[reset]", "[green]>[reset]"
	}
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(o.Description),
		progressbar.OptionSetTheme(theme),
		progressbar.OptionEnableColorCodes(color),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetPredictTime(o.Total > 0),
		progressbar.OptionSetVisibility(o.Terminal),
		progressbar.OptionUseANSICodes(o.Terminal),
	}
	if o.Fraction {
		o.Total = 1000
	}
	switch {
	case o.Bytes:
		opts = append(opts, progressbar.OptionShowBytes(true), progressbar.OptionUseIECUnits(true))
	case o.Fraction:
	default:
		opts = append(opts, progressbar.OptionShowCount(), progressbar.OptionSetItsString(o.Unit))
	}
	now := time.Now()
	return &Bar{o: o, w: w, pb: progressbar.NewOptions64(o.Total, opts...), last: now, start: now}
}

// SetFraction sets the part done, from 0 to 1, of a Fraction bar.
func (b *Bar) SetFraction(f float64) {
	b.Set(int64(min(max(f, 0), 1) * 1000))
}

// Set sets the amount done.
func (b *Bar) Set(n int64) {
	b.mu.Lock()
	b.n = n
	b.mu.Unlock()
	if b.o.Terminal {
		b.pb.Set64(n)
	}
	b.plain(false)
}

// Add adds to the amount done.
func (b *Bar) Add(n int64) {
	b.mu.Lock()
	b.n += n
	b.mu.Unlock()
	if b.o.Terminal {
		b.pb.Add64(n)
	}
	b.plain(false)
}

// Write counts len(p) bytes done, so that a Bar can be an io.Copy target.
func (b *Bar) Write(p []byte) (int, error) {
	b.Add(int64(len(p)))
	return len(p), nil
}

// SetTotal changes the amount at the end.
func (b *Bar) SetTotal(n int64) {
	b.mu.Lock()
	b.o.Total = n
	b.mu.Unlock()
	b.pb.ChangeMax64(n)
}

// Describe changes the description.
func (b *Bar) Describe(s string) {
	b.mu.Lock()
	b.o.Description = s
	b.mu.Unlock()
	b.pb.Describe(s)
}

// Finish shows the final state and ends the bar's line.
func (b *Bar) Finish() {
	if !b.o.Terminal {
		b.plain(true)
		return
	}
	b.end(func() {
		b.pb.Finish()
		fmt.Fprintln(b.w)
	})
}

// Clear removes a terminal bar, for output that follows it; in plain
// mode it writes nothing.
func (b *Bar) Clear() {
	if b.o.Terminal {
		b.end(func() { b.pb.Clear() })
	}
}

// end runs f to end a terminal bar, once.
func (b *Bar) end(f func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.ended {
		b.ended = true
		f()
	}
}

// plain writes a plain line when one is due (or final is set).
func (b *Bar) plain(final bool) {
	if b.o.Terminal {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if b.ended || !final && now.Sub(b.last) < b.o.Every {
		return
	}
	b.last = now
	b.ended = final
	fmt.Fprintln(b.w, b.line(now.Sub(b.start)))
}

// line is a plain line: "DESCRIPTION: 45% (1234 of 2730 packages), 1m5s
// elapsed"; b.mu is held.
func (b *Bar) line(elapsed time.Duration) string {
	done, total := fmt.Sprint(b.n), fmt.Sprint(b.o.Total)
	if b.o.Bytes {
		done, total = mib(b.n), mib(b.o.Total)
	}
	line := b.o.Description + ": " + done
	if b.o.Fraction {
		line = fmt.Sprintf("%s: %d%%", b.o.Description, b.n/10)
	} else if b.o.Total > 0 {
		line = fmt.Sprintf("%s: %d%% (%s of %s", b.o.Description, min(100, b.n*100/b.o.Total), done, total)
		if b.o.Unit != "" && !b.o.Bytes {
			line += " " + b.o.Unit
		}
		line += ")"
	} else if b.o.Unit != "" && !b.o.Bytes {
		line += " " + b.o.Unit
	}
	if b.o.Bytes && elapsed > 0 {
		line += fmt.Sprintf(", %s/s", mib(int64(float64(b.n)/max(elapsed.Seconds(), 0.001))))
	}
	return line + fmt.Sprintf(", %s elapsed", elapsed.Round(time.Second))
}

// mib formats a byte count in MiB.
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
