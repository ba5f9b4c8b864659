package bench

import (
	"slices"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64
		err  string // substring of the error, "" for none
	}{
		{"4KiB", 4 << 10, ""},
		{"4kib", 4 << 10, ""},
		{"1MiB", 1 << 20, ""},
		{"64MiB", 64 << 20, ""},
		{"1GiB", 1 << 30, ""},
		{"512", 512, ""},
		{"512B", 512, ""},
		{" 4 KiB ", 4 << 10, ""},
		{"1073741824", 1 << 30, ""},
		{"", 0, "is not a number of bytes"},
		{"KiB", 0, "is not a number of bytes"},
		{"-4KiB", 0, "is not a number of bytes"},
		{"1.5MiB", 0, `unknown unit ".5MiB"`},
		{"4KB", 0, `unknown unit "KB"; use B, KiB, MiB or GiB, as in 4KiB`},
		{"4k", 0, `unknown unit "k"`},
		{"0", 0, "is empty; use at least 1B"},
		{"0KiB", 0, "is empty"},
		{"2GiB", 0, "larger than 1GiB"},
		{"1073741825", 0, "larger than 1GiB"},
		{"99999999999999999999", 0, "larger than 1GiB"},
		{"9223372036854775807GiB", 0, "larger than 1GiB"},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("ParseSize(%q): got error %v, want %d", tt.in, err, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("ParseSize(%q): got %d, %v; want an error containing %q", tt.in, got, err, tt.err)
		case tt.err != "" && !strings.HasPrefix(err.Error(), "bench: "):
			t.Errorf("ParseSize(%q): error %q lacks the package prefix", tt.in, err)
		case got != tt.want:
			t.Errorf("ParseSize(%q): got %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestParseSizes(t *testing.T) {
	t.Parallel()
	got, err := ParseSizes("4KiB,1MiB, 64MiB,4096,")
	if want := []int64{4 << 10, 1 << 20, 64 << 20}; err != nil || !slices.Equal(got, want) {
		t.Errorf("ParseSizes: got %v, %v; want %v (duplicates dropped, order kept)", got, err, want)
	}
	for _, in := range []string{"", ",", "4KiB,x"} {
		if got, err := ParseSizes(in); err == nil {
			t.Errorf("ParseSizes(%q): got %v, want an error", in, got)
		}
	}
}

func TestFormatSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   int64
		want string
	}{
		{1, "1B"}, {1000, "1000B"}, {1024, "1KiB"}, {4096, "4KiB"}, {1536, "1536B"},
		{1 << 20, "1MiB"}, {3 << 19, "1536KiB"}, {64 << 20, "64MiB"}, {1 << 30, "1GiB"},
	}
	for _, tt := range tests {
		got := FormatSize(tt.in)
		if got != tt.want {
			t.Errorf("FormatSize(%d): got %q, want %q", tt.in, got, tt.want)
		}
		if back, err := ParseSize(got); err != nil || back != tt.in {
			t.Errorf("ParseSize(FormatSize(%d)) = %d, %v; want the same size back", tt.in, back, err)
		}
	}
}

func TestParseModes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []Mode
		err  string
	}{
		{"none,sse-s3,sse-kms,sse-c", AllModes, ""},
		{"sse-kms,none", []Mode{ModeNone, ModeSSEKMS}, ""},
		{" SSE-KMS , sse-kms", []Mode{ModeSSEKMS}, ""},
		{"sse-x", nil, `unknown mode "sse-x"; use none, sse-s3, sse-kms or sse-c`},
		{"none,ssekms", nil, `unknown mode "ssekms"`},
		{"", nil, "no mode given"},
	}
	for _, tt := range tests {
		got, err := ParseModes(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseModes(%q): got %v, %v; want an error containing %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ParseModes(%q): got %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		o    Options
		err  string
	}{
		{"defaults", Options{}, ""},
		{"negative concurrency", Options{Concurrency: -1}, "concurrency -1 is less than 1"},
		{"too many workers", Options{Concurrency: MaxConcurrency + 1}, "use fewer workers"},
		{"negative duration", Options{Duration: -1}, "is negative"},
		{"empty size", Options{Sizes: []int64{0}}, "out of range"},
		{"huge size", Options{Sizes: []int64{MaxSize + 1}}, "out of range"},
		{"unknown mode", Options{Modes: []Mode{"rot13"}}, `unknown mode "rot13"`},
	}
	for _, tt := range tests {
		err := tt.o.Validate()
		if (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("%s: Validate: got %v, want %q", tt.name, err, tt.err)
		}
	}
}
