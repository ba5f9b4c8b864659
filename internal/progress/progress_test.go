package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestPlain(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	b := New(&out, Options{Description: "building MinIO", Total: 200, Unit: "packages", Every: time.Hour})
	b.Set(50)
	if out.Len() != 0 {
		t.Fatalf("a line before it is due: %q", out.String())
	}
	b.Finish()
	b.Finish()
	got := out.String()
	if strings.Count(got, "\n") != 1 || !strings.HasPrefix(got, "building MinIO: 25% (50 of 200 packages), ") || !strings.HasSuffix(got, " elapsed\n") {
		t.Errorf("plain final line: got %q", got)
	}
	if strings.ContainsAny(got, "\r\x1b") {
		t.Errorf("plain output has terminal codes: %q", got)
	}

	out.Reset()
	b = New(&out, Options{Description: "downloading MinIO", Total: 4 << 20, Bytes: true, Every: time.Nanosecond})
	b.Write(make([]byte, 1<<20))
	if got := out.String(); !strings.HasPrefix(got, "downloading MinIO: 25% (1.0 MiB of 4.0 MiB), ") || !strings.Contains(got, "MiB/s") {
		t.Errorf("plain bytes line: got %q", got)
	}

	out.Reset()
	b = New(&out, Options{Description: "bench 3/26 PUT sse-kms 4KiB", Fraction: true, Every: time.Nanosecond})
	b.SetFraction(0.173)
	if got := out.String(); !strings.HasPrefix(got, "bench 3/26 PUT sse-kms 4KiB: 17%, ") {
		t.Errorf("fraction: got %q", got)
	}

	out.Reset()
	b = New(&out, Options{Description: "waiting", Total: -1, Unit: "objects"})
	b.Set(7)
	b.Finish()
	if got := out.String(); !strings.HasPrefix(got, "waiting: 7 objects, ") {
		t.Errorf("unknown total: got %q", got)
	}
}

func TestTerminal(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	for _, noColor := range []string{"", "1"} {
		t.Setenv("NO_COLOR", noColor)
		var out bytes.Buffer
		b := New(&out, Options{Description: "rekey", Total: 10, Unit: "objects", Terminal: true})
		b.Set(5)
		time.Sleep(150 * time.Millisecond) // past the throttle
		b.Set(10)
		b.Finish()
		got := out.String()
		if !strings.Contains(got, "\r") || !strings.Contains(got, "rekey") || !strings.Contains(got, "100%") {
			t.Errorf("NO_COLOR=%q: terminal bar: got %q", noColor, got)
		}
		if hasColor := strings.Contains(got, "\x1b[32m"); hasColor != (noColor == "") {
			t.Errorf("NO_COLOR=%q: colour %v in %q", noColor, hasColor, got)
		}
	}
}
