package miniobin

import (
	"debug/buildinfo"
	"regexp"
	"strings"
	"time"
)

// pseudoVersion matches a Go module pseudo-version, as the module proxy
// gives MinIO's commits: v0.0.0-20260212201848-7aac2a2c5b7c (and the
// vX.Y.(Z+1)-0.TIME-COMMIT form after a tag).
var pseudoVersion = regexp.MustCompile(`^v\d+\.\d+\.\d+-(?:[0-9A-Za-z.]+\.)?(\d{14})-([0-9a-f]{12})$`)

// semver matches a plain module tag.
var semver = regexp.MustCompile(`^v\d+\.\d+\.\d+$`)

// Describe names a MinIO version for people. A release tag
// (RELEASE.2025-09-07T16-13-09Z) stays as it is. A source build reports
// "DEVELOPMENT.GOGET"; Describe then reads the module version from the
// binary at path (Go's build information) and, as for a module version
// given directly, says "source build 2026-02-12 (commit 7aac2a2c5b7c)".
// A semver tag becomes "source build v1.2.3". Anything else is returned
// unchanged.
func Describe(version, path string) string {
	if strings.HasPrefix(version, "DEVELOPMENT.") && path != "" {
		if bi, err := buildinfo.ReadFile(path); err == nil && bi.Main.Path == serverPackage && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			return describeModule(bi.Main.Version, version)
		}
		return version
	}
	if strings.HasPrefix(version, "v") {
		return describeModule(version, version)
	}
	return version
}

// describeModule names a module version of MinIO, or returns fallback.
func describeModule(v, fallback string) string {
	if t, ok := CommitTime(v); ok {
		return "source build " + t.Format(time.DateOnly) + " (commit " + pseudoVersion.FindStringSubmatch(v)[2] + ")"
	}
	if semver.MatchString(v) {
		return "source build " + v
	}
	return fallback
}

// CommitTime returns the commit time of a source build's module
// pseudo-version, or false for anything else.
func CommitTime(v string) (time.Time, bool) {
	m := pseudoVersion.FindStringSubmatch(v)
	if m == nil {
		return time.Time{}, false
	}
	t, err := time.Parse("20060102150405", m[1])
	return t, err == nil
}
