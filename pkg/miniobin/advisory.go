package miniobin

import (
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sselab/sselab/internal/fsutil"
)

// An Advisory is a published MinIO vulnerability: what it allows, and the
// builds it affects, by date. Fixed is the first release with the fix;
// for these it is a MinIO AIStor release, and the community source (the
// newest the lab builds is of 2026-02-12) has no fix at all.
type Advisory struct {
	ID      string
	Summary string
	// Affected builds are from From (inclusive) to Fixed (exclusive).
	From, Fixed time.Time
	// FixedIn names the first fixed release.
	FixedIn string
}

// advisories are the MinIO vulnerabilities sselab warns about. Each is
// taken from its published record (NVD, 2026-04-22): affected from
// RELEASE.2023-05-18T00-05-36Z, fixed in AIStor RELEASE.2026-04-11T03-20-12Z.
var advisories = []Advisory{
	{
		ID:      "CVE-2026-41145",
		Summary: "a PUT with STREAMING-UNSIGNED-PAYLOAD-TRAILER and credentials in the query string writes objects without a valid signature",
		From:    time.Date(2023, 5, 18, 0, 5, 36, 0, time.UTC),
		Fixed:   time.Date(2026, 4, 11, 3, 20, 12, 0, time.UTC),
		FixedIn: "MinIO AIStor RELEASE.2026-04-11T03-20-12Z",
	},
	{
		ID:      "CVE-2026-40344",
		Summary: "the Snowball auto-extract upload with STREAMING-UNSIGNED-PAYLOAD-TRAILER writes objects without a valid signature",
		From:    time.Date(2023, 5, 18, 0, 5, 36, 0, time.UTC),
		Fixed:   time.Date(2026, 4, 11, 3, 20, 12, 0, time.UTC),
		FixedIn: "MinIO AIStor RELEASE.2026-04-11T03-20-12Z",
	},
}

// BuildTime returns when a MinIO build was made, from its version (a
// release tag or a module pseudo-version) or else (DEVELOPMENT.GOGET, or
// a Describe text) from the module version in the binary at path. It is
// false for a build it cannot date, or one of another module (a fork).
func BuildTime(version, path string) (time.Time, bool) {
	if tag, ok := strings.CutPrefix(version, "RELEASE."); ok {
		t, err := time.Parse("2006-01-02T15-04-05Z", tag)
		return t, err == nil
	}
	if t, ok := CommitTime(version); ok || path == "" {
		return t, ok
	}
	bi, err := buildinfo.ReadFile(path)
	if err != nil || bi.Main.Path != serverPackage {
		return time.Time{}, false
	}
	return CommitTime(bi.Main.Version)
}

// Advisories returns the advisories that affect the MinIO build with the
// given version (see BuildTime), or none when it cannot be dated.
func Advisories(version, path string) []Advisory {
	t, ok := BuildTime(version, path)
	if !ok {
		return nil
	}
	var out []Advisory
	for _, a := range advisories {
		if !t.Before(a.From) && t.Before(a.Fixed) {
			out = append(out, a)
		}
	}
	return out
}

// SecurityNotice returns a note on the advisories that affect the MinIO
// build (version as reported, binary at path), and how to run another
// build; "" when none does.
func SecurityNotice(version, path string) string {
	adv := Advisories(version, path)
	if len(adv) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Security: this MinIO (%s) predates the fixes for", Describe(version, path))
	for i, a := range adv {
		sep := ","
		if i == 0 {
			sep = ""
		} else if i == len(adv)-1 {
			sep = " and"
		}
		fmt.Fprintf(&b, "%s %s", sep, a.ID)
	}
	fmt.Fprintf(&b, ":\n")
	for _, a := range adv {
		fmt.Fprintf(&b, "  %s: %s (fixed in %s).\n", a.ID, a.Summary, a.FixedIn)
	}
	b.WriteString("The community source has no fix; forks and MinIO AIStor do. The lab listens on loopback only\n" +
		"unless you pass other addresses: keep it so. To run another build: 'sselab up --minio PATH', or\n" +
		"'sselab minio fetch --url URL --sha256 HEX' and 'sselab minio use VERSION'.\n")
	return b.String()
}

// noticesFile remembers, in the cache directory, the builds whose
// security notice was shown.
const noticesFile = "notices.json"

var noticesMu sync.Mutex

// FirstNotice reports whether the notice for the build with this version
// and path has not been shown yet, and records that it now is. Without a
// writable cache directory every call is the first.
func FirstNotice(version, path string) bool {
	noticesMu.Lock()
	defer noticesMu.Unlock()
	dir, err := CacheDir()
	if err != nil {
		return true
	}
	key := version
	if t, ok := BuildTime(version, path); ok {
		key = t.UTC().Format(time.RFC3339)
	}
	file := filepath.Join(dir, noticesFile)
	shown := map[string]time.Time{}
	if raw, err := os.ReadFile(file); err == nil {
		_ = json.Unmarshal(raw, &shown) // a damaged file only repeats a notice
	} else if !errors.Is(err, fs.ErrNotExist) {
		return true
	}
	if _, ok := shown[key]; ok {
		return false
	}
	shown[key] = time.Now().UTC()
	raw, err := json.MarshalIndent(shown, "", "  ")
	if err == nil && fsutil.MkdirPrivate(dir) == nil {
		_ = fsutil.WriteFile(file, raw, fsutil.PrivatePerm)
	}
	return true
}
