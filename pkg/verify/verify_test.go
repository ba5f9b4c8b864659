package verify

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestScanFileChunkBoundaries(t *testing.T) {
	t.Parallel()
	marker := []byte("MARKER-0123456789")
	other := []byte("OTHER")
	dir := t.TempDir()
	for _, chunk := range []int{1, 2, 3, 7, 16, 17, 64, 1 << 20} {
		for at := 0; at < 40; at += 3 {
			data := slices.Concat(bytes.Repeat([]byte{'x'}, at), marker, bytes.Repeat([]byte{'y'}, 20))
			path := filepath.Join(dir, "f")
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			found, n, err := scanFile(path, [][]byte{marker, other}, chunk)
			if err != nil {
				t.Fatal(err)
			}
			if n != int64(len(data)) {
				t.Errorf("chunk %d, marker at %d: size got %d, want %d", chunk, at, n, len(data))
			}
			if len(found) != 1 || !bytes.Equal(found[0], marker) {
				t.Errorf("chunk %d, marker at %d: found %q, want only the marker", chunk, at, found)
			}
		}
	}
}

func TestScanDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("a/xl.meta", "ciphertext")
	write("b/c/part.1", "header plain-marker trailer")
	write("empty", "")
	s, err := ScanDir(dir, [][]byte{[]byte("plain-marker"), []byte("absent-marker")})
	if err != nil {
		t.Fatal(err)
	}
	if s.Files != 3 {
		t.Errorf("files: got %d, want 3", s.Files)
	}
	if got := s.Found["plain-marker"]; len(got) != 1 || got[0] != filepath.Join("b", "c", "part.1") {
		t.Errorf("plain-marker found in %v, want [b/c/part.1]", got)
	}
	if got := s.Found["absent-marker"]; len(got) != 0 {
		t.Errorf("absent-marker found in %v, want nowhere", got)
	}
	if _, err := ScanDir(filepath.Join(dir, "missing"), nil); err == nil {
		t.Error("scanning a missing directory succeeded; want an error")
	}
}

func TestReportErr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		checks []Check
		want   string
	}{
		{nil, ""},
		{[]Check{{OK: true}, {OK: true, Skipped: true}}, ""},
		{[]Check{{OK: true}, {OK: false}, {OK: false}, {OK: true}, {OK: true}}, "verify: 2 of 5 checks failed"},
	}
	for _, tt := range tests {
		err := Report{Checks: tt.checks}.Err()
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("Err of %+v: got %q, want %q", tt.checks, got, tt.want)
		}
	}
}

func TestSlug(t *testing.T) {
	t.Parallel()
	if got := slug("SSE-KMS (scratch key)"); got != "sse-kms-scratch-key" || strings.ContainsAny(got, " ()") {
		t.Errorf("slug: got %q", got)
	}
}
