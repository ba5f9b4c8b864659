package miniobin

import (
	"testing"
	"time"
)

func TestDescribe(t *testing.T) {
	t.Parallel()
	tests := []struct{ version, path, want string }{
		{"RELEASE.2025-09-07T16-13-09Z", "", "RELEASE.2025-09-07T16-13-09Z"},
		{"v0.0.0-20260212201848-7aac2a2c5b7c", "", "source build 2026-02-12 (commit 7aac2a2c5b7c)"},
		{"v1.2.4-0.20260212201848-7aac2a2c5b7c", "", "source build 2026-02-12 (commit 7aac2a2c5b7c)"},
		{"v1.2.3", "", "source build v1.2.3"},
		{"v0.0.0-2026-bad", "", "v0.0.0-2026-bad"},
		{"DEVELOPMENT.GOGET", "", "DEVELOPMENT.GOGET"},
		{"DEVELOPMENT.GOGET", "/nonexistent/minio", "DEVELOPMENT.GOGET"},
		{"download-x", "", "download-x"},
	}
	for _, tt := range tests {
		if got := Describe(tt.version, tt.path); got != tt.want {
			t.Errorf("Describe(%q, %q): got %q, want %q", tt.version, tt.path, got, tt.want)
		}
	}
	if got, ok := CommitTime("v0.0.0-20260212201848-7aac2a2c5b7c"); !ok || !got.Equal(time.Date(2026, 2, 12, 20, 18, 48, 0, time.UTC)) {
		t.Errorf("CommitTime: got %v, %v", got, ok)
	}
}
