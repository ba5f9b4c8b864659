package bench

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Mode is a kind of server-side encryption a benchmark uses for its
// objects.
type Mode string

// The modes Run knows.
const (
	// ModeNone writes objects without encryption.
	ModeNone Mode = "none"
	// ModeSSES3 asks for SSE-S3 (X-Amz-Server-Side-Encryption: AES256).
	// A MinIO wired to a KMS still calls the KMS for every object.
	ModeSSES3 Mode = "sse-s3"
	// ModeSSEKMS asks for SSE-KMS with Target.KMSKey: one KMS generate
	// per PUT and one decrypt per GET.
	ModeSSEKMS Mode = "sse-kms"
	// ModeSSEC sends a customer key with every request; it needs TLS.
	ModeSSEC Mode = "sse-c"
)

// AllModes are the modes in the order Run measures them.
var AllModes = []Mode{ModeNone, ModeSSES3, ModeSSEKMS, ModeSSEC}

// MaxSize is the largest object size Run accepts: every size is held in
// memory once while it is measured.
const MaxSize = 1 << 30

// units are the size suffixes ParseSize accepts, case-insensitively.
var units = []struct {
	name string
	mult int64
}{
	{"GiB", 1 << 30},
	{"MiB", 1 << 20},
	{"KiB", 1 << 10},
	{"B", 1},
}

// ParseSize parses an object size: a whole number of bytes, optionally
// followed by B, KiB, MiB or GiB (any case), such as "4KiB" or "512".
// Sizes from 1 byte to MaxSize are accepted.
func ParseSize(s string) (int64, error) {
	in := strings.TrimSpace(s)
	end := strings.IndexFunc(in, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(in)
	}
	digits, unit := in[:end], strings.TrimSpace(in[end:])
	if digits == "" {
		return 0, fmt.Errorf("bench: size %q is not a number of bytes; use a whole number with B, KiB, MiB or GiB, as in 4KiB", s)
	}
	mult := int64(1)
	if unit != "" {
		mult = 0
		for _, u := range units {
			if strings.EqualFold(unit, u.name) {
				mult = u.mult
			}
		}
	}
	if mult == 0 {
		return 0, fmt.Errorf("bench: size %q has an unknown unit %q; use B, KiB, MiB or GiB, as in 4KiB", s, unit)
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n > MaxSize/mult {
		return 0, fmt.Errorf("bench: size %q is larger than %s, the largest size bench holds in memory", s, FormatSize(MaxSize))
	}
	if n == 0 {
		return 0, fmt.Errorf("bench: size %q is empty; use at least 1B", s)
	}
	return n * mult, nil
}

// ParseSizes parses a comma-separated list of sizes (see ParseSize).
// Repeated sizes are measured once; the order is kept.
func ParseSizes(s string) ([]int64, error) {
	var sizes []int64
	for _, f := range strings.Split(s, ",") {
		if strings.TrimSpace(f) == "" {
			continue
		}
		n, err := ParseSize(f)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(sizes, n) {
			sizes = append(sizes, n)
		}
	}
	if len(sizes) == 0 {
		return nil, fmt.Errorf("bench: no size given; list one or more, as in 4KiB,1MiB")
	}
	return sizes, nil
}

// FormatSize writes n in the largest binary unit that divides it, such as
// "4KiB" for 4096 and "1000B" for 1000; ParseSize reads it back.
func FormatSize(n int64) string {
	for _, u := range units {
		if n >= u.mult && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}

// ParseModes parses a comma-separated list of modes, such as
// "none,sse-kms". Repeated modes are measured once; they are measured in
// the order of AllModes.
func ParseModes(s string) ([]Mode, error) {
	seen := map[Mode]bool{}
	for _, f := range strings.Split(s, ",") {
		m := Mode(strings.ToLower(strings.TrimSpace(f)))
		if m == "" {
			continue
		}
		if !slices.Contains(AllModes, m) {
			return nil, fmt.Errorf("bench: unknown mode %q; use none, sse-s3, sse-kms or sse-c", strings.TrimSpace(f))
		}
		seen[m] = true
	}
	var modes []Mode
	for _, m := range AllModes {
		if seen[m] {
			modes = append(modes, m)
		}
	}
	if len(modes) == 0 {
		return nil, fmt.Errorf("bench: no mode given; list one or more of none, sse-s3, sse-kms and sse-c")
	}
	return modes, nil
}
