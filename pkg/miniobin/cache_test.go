package miniobin

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// seedAt seeds a cached version created at the given time.
func seedAt(t *testing.T, cacheDir, version string, created time.Time) string {
	t.Helper()
	bin := seedCache(t, cacheDir, version)
	writeManifest(t, filepath.Dir(bin), Manifest{Version: version, SHA256: masterSum, Source: "https://example.com/" + version, Created: created})
	return bin
}

func TestListNewestFirst(t *testing.T) {
	t.Parallel()
	cacheDir := t.TempDir()
	now := time.Now().UTC()
	seedAt(t, cacheDir, "RELEASE.2025-01-01T00-00-00Z", now.Add(-2*time.Hour))
	seedAt(t, cacheDir, "RELEASE.2025-09-07T16-13-09Z", now)
	seedAt(t, cacheDir, testVersion, now.Add(-time.Hour))
	os.MkdirAll(filepath.Join(minioDir(cacheDir), ".tmp-x-1"), 0o700) // a leftover: not listed
	entries, err := List(Options{CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Version)
		if e.Size == 0 || e.Problem != "" || e.Selected {
			t.Errorf("%s: got size %d, problem %q, selected %v; want a usable, unselected entry", e.Version, e.Size, e.Problem, e.Selected)
		}
	}
	want := []string{"RELEASE.2025-09-07T16-13-09Z", testVersion, "RELEASE.2025-01-01T00-00-00Z"}
	if !slices.Equal(got, want) {
		t.Errorf("List: got %v, want %v", got, want)
	}
	if entries, err := List(Options{CacheDir: filepath.Join(t.TempDir(), "none")}); err != nil || len(entries) != 0 {
		t.Errorf("List of a missing cache: got %v, %v; want nothing and no error", entries, err)
	}
}

func TestFindPrefersSelectionThenNewest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cacheDir := t.TempDir()
	now := time.Now().UTC()
	older := seedAt(t, cacheDir, "RELEASE.2025-01-01T00-00-00Z", now.Add(-time.Hour))
	newer := seedAt(t, cacheDir, "RELEASE.2025-09-07T16-13-09Z", now)
	o := Options{CacheDir: cacheDir, LookPath: lookPath(nil), Download: true, Build: true}

	b, err := Find(ctx, o)
	if err != nil || b.Path != newer || b.Source != SourceCache {
		t.Fatalf("Find without a selection: got %+v, %v; want the newest, %s, from the cache", b, err, newer)
	}

	if _, err := Use(ctx, o, "RELEASE.2025-01-01T00-00-00Z"); err != nil {
		t.Fatal(err)
	}
	b, err = Find(ctx, o)
	if err != nil || b.Path != older || b.Source != SourceSelected {
		t.Fatalf("Find after Use(version): got %+v, %v; want the selected %s", b, err, older)
	}
	entries, _ := List(o)
	for _, e := range entries {
		if e.Selected != (e.Path == older) {
			t.Errorf("List: %s selected=%v", e.Version, e.Selected)
		}
	}

	elsewhere := fake(t, filepath.Join(t.TempDir(), "bin"), "minio", master)
	if _, err := Use(ctx, o, elsewhere); err != nil {
		t.Fatal(err)
	}
	if b, err = Find(ctx, o); err != nil || b.Path != elsewhere || b.Source != SourceSelected {
		t.Fatalf("Find after Use(path): got %+v, %v; want %s", b, err, elsewhere)
	}
	// The flag still wins over a selection.
	flag := fake(t, filepath.Join(t.TempDir(), "flag"), "minio", master)
	o.Flag = flag
	if b, err = Find(ctx, o); err != nil || b.Path != flag {
		t.Fatalf("Find with --minio and a selection: got %+v, %v; want the flag's %s", b, err, flag)
	}
}

func TestUseRefuses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cacheDir := t.TempDir()
	o := Options{CacheDir: cacheDir}
	notMinIO := filepath.Join(t.TempDir(), "tool")
	os.WriteFile(notMinIO, []byte("#!/bin/sh\necho hello\n"), 0o755)
	tests := []struct{ arg, want string }{
		{"RELEASE.2024-01-01T00-00-00Z", "is not cached"},
		{filepath.Join(t.TempDir(), "missing", "minio"), "no such file"},
	}
	if exeSuffix == "" {
		tests = append(tests, struct{ arg, want string }{notMinIO, "not a MinIO server binary"})
	}
	for _, tt := range tests {
		if _, err := Use(ctx, o, tt.arg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Use(%s): got %v, want an error containing %q", tt.arg, err, tt.want)
		}
	}
	if _, err := os.Stat(selectionFile(cacheDir)); err == nil {
		t.Error("a refused Use wrote a selection")
	}
}

func TestSelectionGone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cacheDir := t.TempDir()
	bin := seedAt(t, cacheDir, "RELEASE.2025-01-01T00-00-00Z", time.Now())
	o := Options{CacheDir: cacheDir, LookPath: lookPath(nil)}
	if _, err := Use(ctx, o, "RELEASE.2025-01-01T00-00-00Z"); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Dir(bin))
	if _, err := Find(ctx, o); err == nil || !strings.Contains(err.Error(), "no longer cached") {
		t.Errorf("Find with a selection that was removed: got %v, want 'no longer cached'", err)
	}
}

func TestPrune(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Now().UTC()
	t.Run("keeps the selection", func(t *testing.T) {
		t.Parallel()
		cacheDir := t.TempDir()
		keep := seedAt(t, cacheDir, "RELEASE.2025-01-01T00-00-00Z", now.Add(-time.Hour))
		gone := seedAt(t, cacheDir, "RELEASE.2025-09-07T16-13-09Z", now)
		o := Options{CacheDir: cacheDir}
		if _, err := Use(ctx, o, "RELEASE.2025-01-01T00-00-00Z"); err != nil {
			t.Fatal(err)
		}
		removed, err := Prune(ctx, o)
		if err != nil || len(removed) != 1 || removed[0] != filepath.Dir(gone) {
			t.Errorf("Prune: got %v, %v; want only %s removed", removed, err, filepath.Dir(gone))
		}
		if _, err := os.Stat(keep); err != nil {
			t.Errorf("the selected binary is gone: %v", err)
		}
	})
	t.Run("keeps the newest without a selection", func(t *testing.T) {
		t.Parallel()
		cacheDir := t.TempDir()
		gone := seedAt(t, cacheDir, "RELEASE.2025-01-01T00-00-00Z", now.Add(-time.Hour))
		keep := seedAt(t, cacheDir, testVersion, now)
		removed, err := Prune(ctx, Options{CacheDir: cacheDir})
		if err != nil || len(removed) != 1 || removed[0] != filepath.Dir(gone) {
			t.Errorf("Prune: got %v, %v; want only %s removed", removed, err, filepath.Dir(gone))
		}
		if _, err := os.Stat(keep); err != nil {
			t.Errorf("the newest binary is gone: %v", err)
		}
	})
	t.Run("partial downloads unless a fetch holds their lock", func(t *testing.T) {
		t.Parallel()
		cacheDir := t.TempDir()
		downloads := filepath.Join(minioDir(cacheDir), "downloads")
		os.MkdirAll(downloads, 0o700)
		lockOf := func(name string) string {
			return lockPath(Options{CacheDir: cacheDir, Version: "download-" + name})
		}
		fetching := filepath.Join(downloads, "aaaa.part") // a fetch runs
		holdLock(t, lockOf("aaaa"))
		left := filepath.Join(downloads, "bbbb.part") // its fetch was killed
		os.WriteFile(lockOf("bbbb"), []byte("999999999\n"), 0o600)
		for _, p := range []string{fetching, left} {
			os.WriteFile(p, []byte("partial"), 0o600)
		}
		removed, err := Prune(ctx, Options{CacheDir: cacheDir})
		if err != nil || !slices.Equal(removed, []string{left}) {
			t.Errorf("Prune: got %v, %v; want only %s removed", removed, err, left)
		}
		if _, err := os.Stat(fetching); err != nil {
			t.Errorf("the partial download of a running fetch is gone: %v", err)
		}
	})
}
