package miniobin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sselab/sselab/internal/fsutil"
	"github.com/sselab/sselab/internal/lockfile"
)

// Entry is one cached MinIO binary.
type Entry struct {
	// Version names the cache entry: a release tag for a download, a
	// module version for a build.
	Version string `json:"version"`
	// Path is the binary.
	Path string `json:"path"`
	// Size is the binary's size in bytes.
	Size int64 `json:"size"`
	// Manifest is what was recorded when it was cached.
	Manifest Manifest `json:"manifest"`
	// Selected says 'sselab minio use' chose it.
	Selected bool `json:"selected"`
	// Problem is why the entry cannot be used, "" if it can.
	Problem string `json:"problem,omitempty"`
}

// Selection is what 'sselab minio use' chose: a cached version or a path.
type Selection struct {
	Version string `json:"version,omitempty"`
	Path    string `json:"path,omitempty"`
}

// selectionFile is CACHE/minio/selected.json.
func selectionFile(cacheDir string) string {
	return filepath.Join(minioDir(cacheDir), "selected.json")
}

// List returns the cached binaries, newest first. It does not hash them:
// a modified binary is found when it is about to run.
func List(o Options) ([]Entry, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	dirs, err := os.ReadDir(minioDir(o.CacheDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("miniobin: %w", err)
	}
	sel, err := readSelection(o.CacheDir)
	if err != nil {
		return nil, err
	}
	var entries []Entry
	for _, d := range dirs {
		if !d.IsDir() || strings.HasPrefix(d.Name(), ".") || d.Name() == "downloads" {
			continue
		}
		e := Entry{Version: d.Name(), Path: filepath.Join(minioDir(o.CacheDir), d.Name(), binaryName)}
		e.Selected = sel.Version == e.Version
		if fi, err := os.Stat(e.Path); err != nil {
			e.Problem = "no binary"
		} else {
			e.Size = fi.Size()
		}
		if m, err := readManifest(filepath.Dir(e.Path)); err != nil {
			e.Problem = "no readable manifest"
		} else {
			e.Manifest = m
		}
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b Entry) int { return b.Manifest.Created.Compare(a.Manifest.Created) })
	return entries, nil
}

// readManifest reads dir/manifest.json.
func readManifest(dir string) (Manifest, error) {
	var m Manifest
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return m, err
	}
	if m.SHA256 == "" {
		return m, errors.New("no sha256")
	}
	return m, nil
}

// readSelection returns the selection; the zero Selection if none.
func readSelection(cacheDir string) (Selection, error) {
	var s Selection
	raw, err := os.ReadFile(selectionFile(cacheDir))
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err == nil {
		err = json.Unmarshal(raw, &s)
	}
	if err != nil {
		return s, fmt.Errorf("miniobin: %s is damaged (%w); run 'sselab minio use VERSION|PATH' again", selectionFile(cacheDir), err)
	}
	return s, nil
}

// Selected returns what 'sselab minio use' chose; the zero Selection if
// nothing.
func Selected(o Options) (Selection, error) {
	o, err := o.withDefaults()
	if err != nil {
		return Selection{}, err
	}
	return readSelection(o.CacheDir)
}

// Use selects the binary Find returns after --minio and SSELAB_MINIO: a
// cached version (as 'sselab minio list' shows it) or the path of a MinIO
// binary. The choice is checked first: a version must be cached and
// intact, a path must be a MinIO server binary.
func Use(ctx context.Context, o Options, versionOrPath string) (*Binary, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	var sel Selection
	var b *Binary
	if strings.ContainsAny(versionOrPath, `/\`) || versionOrPath == "." || versionOrPath == ".." {
		b, err = explicit(ctx, o.CacheDir, versionOrPath, versionOrPath, SourcePATH)
		if err != nil {
			return nil, err
		}
		sel.Path = b.Path
	} else {
		if _, err := os.Stat(versionDir(o.CacheDir, versionOrPath)); err != nil {
			return nil, fmt.Errorf("miniobin: %s is not cached; see 'sselab minio list', or get it with 'sselab minio fetch --release %s' or 'sselab minio build --version %s'", versionOrPath, versionOrPath, versionOrPath)
		}
		o.Version = versionOrPath
		if b, err = cached(ctx, o); err != nil {
			return nil, err
		}
		sel.Version = versionOrPath
	}
	raw, _ := json.Marshal(sel)
	if err := fsutil.MkdirPrivate(minioDir(o.CacheDir)); err != nil {
		return nil, err
	}
	if err := fsutil.WriteFile(selectionFile(o.CacheDir), append(raw, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("miniobin: %w", err)
	}
	return b, nil
}

// Prune removes every cached binary except the one Find would use from
// the cache (the selected one, else the newest), and the leftovers of
// interrupted downloads and builds. It returns what it removed.
func Prune(ctx context.Context, o Options) ([]string, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	entries, err := List(o)
	if err != nil {
		return nil, err
	}
	sel, err := readSelection(o.CacheDir)
	if err != nil {
		return nil, err
	}
	keep := sel.Version
	if keep == "" && sel.Path == "" && len(entries) > 0 {
		keep = entries[0].Version
	}
	var removed []string
	for _, e := range entries {
		if e.Version == keep {
			continue
		}
		v := o
		v.Version = e.Version
		unlock, err := acquireLock(ctx, lockPath(v), o.Progress)
		if err != nil {
			return removed, err
		}
		err = os.RemoveAll(filepath.Dir(e.Path))
		unlock()
		if err != nil {
			return removed, fmt.Errorf("miniobin: %w", err)
		}
		removed = append(removed, filepath.Dir(e.Path))
	}
	// Partial downloads, unless a fetch holds their lock right now.
	parts, _ := filepath.Glob(filepath.Join(minioDir(o.CacheDir), "downloads", "*.part"))
	for _, p := range parts {
		v := o
		v.Version = "download-" + strings.TrimSuffix(filepath.Base(p), ".part")
		if lockfile.Held(lockPath(v)) {
			continue
		}
		if err := os.Remove(p); err != nil {
			return removed, fmt.Errorf("miniobin: %w", err)
		}
		removed = append(removed, p)
	}
	return removed, nil
}
