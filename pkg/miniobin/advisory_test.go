package miniobin

import (
	"strings"
	"testing"
	"time"
)

func TestAdvisories(t *testing.T) {
	t.Parallel()
	tests := []struct {
		version string
		want    int
	}{
		{"v0.0.0-20260212201848-7aac2a2c5b7c", 2}, // the source the lab builds
		{"RELEASE.2025-09-07T16-13-09Z", 2},       // the last community binaries
		{"RELEASE.2023-05-18T00-05-36Z", 2},       // the first affected
		{"RELEASE.2023-05-04T21-44-30Z", 0},       // before
		{"RELEASE.2026-04-11T03-20-12Z", 0},       // fixed
		{"v0.0.0-20260501000000-aaaaaaaaaaaa", 0}, // a later source
		{"DEVELOPMENT.GOGET", 0},                  // undatable without a binary
		{"something else", 0},
	}
	for _, tt := range tests {
		if got := Advisories(tt.version, ""); len(got) != tt.want {
			t.Errorf("Advisories(%q): got %d, want %d", tt.version, len(got), tt.want)
		}
	}
	if bt, ok := BuildTime("RELEASE.2025-09-07T16-13-09Z", ""); !ok || !bt.Equal(time.Date(2025, 9, 7, 16, 13, 9, 0, time.UTC)) {
		t.Errorf("BuildTime of a release: got %v, %v", bt, ok)
	}
	n := SecurityNotice("v0.0.0-20260212201848-7aac2a2c5b7c", "")
	for _, want := range []string{"source build 2026-02-12 (commit 7aac2a2c5b7c)", "CVE-2026-41145 and CVE-2026-40344", "'sselab up --minio PATH'", "'sselab minio fetch --url URL --sha256 HEX'"} {
		if !strings.Contains(n, want) {
			t.Errorf("notice lacks %q:\n%s", want, n)
		}
	}
	if n := SecurityNotice("RELEASE.2026-04-11T03-20-12Z", ""); n != "" {
		t.Errorf("notice for a fixed release: %q", n)
	}
}

func TestFirstNotice(t *testing.T) {
	t.Setenv("SSELAB_CACHE_DIR", t.TempDir())
	v := "v0.0.0-20260212201848-7aac2a2c5b7c"
	if !FirstNotice(v, "") {
		t.Fatal("first: got false")
	}
	if FirstNotice(v, "") {
		t.Error("second: got true, want the notice shown once")
	}
	if !FirstNotice("RELEASE.2025-09-07T16-13-09Z", "") {
		t.Error("another build: got false")
	}
}
