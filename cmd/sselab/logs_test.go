package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseSince(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		in      string
		want    time.Time
		wantErr string
	}{
		{"10m", now.Add(-10 * time.Minute), ""},
		{"2h30m", now.Add(-150 * time.Minute), ""},
		{"0s", now, ""},
		{"2026-11-30T12:00:00Z", time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC), ""},
		{"2026-11-30T12:00:00+01:00", time.Date(2026, 11, 30, 11, 0, 0, 0, time.UTC), ""},
		{"-5m", time.Time{}, "cannot be negative"},
		{"yesterday", time.Time{}, `--since "yesterday" is neither a duration`},
		{"2026-11-30", time.Time{}, "neither a duration"},
		{"", time.Time{}, "neither a duration"},
	}
	for _, tt := range tests {
		got, err := parseSince(tt.in, now)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseSince(%q): got %v, %v; want error %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("parseSince(%q): got %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}
