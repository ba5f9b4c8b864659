// Package verify proves, end to end, that a running lab encrypts data at
// rest: it writes objects holding random markers with each kind of
// server-side encryption, checks MinIO's response headers, reads them
// back, scans MinIO's drive for the markers, and shows that deleting a
// KMS key makes the objects encrypted with it unreadable.
package verify

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	kesapi "github.com/minio/kms-go/kes"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/encrypt"

	"github.com/sselab/sselab/pkg/lab"
)

// Check is one verified fact and the evidence for it.
type Check struct {
	// Name says what was checked, e.g. "SSE-KMS (default key): headers".
	Name string `json:"name"`
	// OK is true when the check passed or was skipped.
	OK bool `json:"ok"`
	// Evidence is what was observed.
	Evidence string `json:"evidence"`
	// Skipped is true when the check could not run in this lab.
	Skipped bool `json:"skipped,omitempty"`
}

// Report is the outcome of Run.
type Report struct {
	// Bucket is the bucket the objects were written to.
	Bucket string `json:"bucket"`
	// Checks are in the order they ran.
	Checks []Check `json:"checks"`
	// OK is true when no check failed.
	OK bool `json:"ok"`
}

// Failed returns the number of failed checks.
func (r Report) Failed() int {
	n := 0
	for _, c := range r.Checks {
		if !c.OK {
			n++
		}
	}
	return n
}

// Err returns an error saying how many checks failed, or nil.
func (r Report) Err() error {
	if n := r.Failed(); n > 0 {
		return fmt.Errorf("verify: %d of %d checks failed", n, len(r.Checks))
	}
	return nil
}

// Prefix is where Run writes its objects in the bucket.
const Prefix = "sselab-verify/"

// KeyPrefix starts the name of every scratch key Run creates.
const KeyPrefix = "sselab-verify-"

// cleanupTimeout bounds the cleanup, which also runs after ctx ended.
const cleanupTimeout = 30 * time.Second

// mode is one kind of server-side encryption under test.
type mode struct {
	name    string
	sse     encrypt.ServerSide // nil: skipped
	skip    string             // why the mode is skipped
	kmsKey  string             // SSE-KMS key name
	ssecKey []byte             // SSE-C customer key

	object  string
	version string
	body    []byte
	marker  []byte
	putErr  error
	sent    bool // the PUT went out: MinIO may have stored it even if its answer was lost
	written bool
	checks  []Check
}

// add records a check on m.
func (m *mode) add(what string, ok bool, format string, a ...any) {
	m.checks = append(m.checks, Check{Name: m.name + ": " + what, OK: ok, Evidence: fmt.Sprintf(format, a...)})
}

// Run verifies encryption at rest on the lab h, writing to bucket (the
// lab's first bucket if empty). Failed checks are in the report; the error
// is for a lab Run cannot work with at all. Everything Run creates is
// removed before it returns, also when checks fail; the last check says so.
func Run(ctx context.Context, h *lab.Handle, bucket string) (rep Report, err error) {
	if bucket == "" {
		if len(h.State.Buckets) == 0 {
			return rep, errors.New("verify: the lab has no bucket; pass --bucket")
		}
		bucket = h.State.Buckets[0]
	}
	rep.Bucket = bucket
	s3, err := h.S3()
	if err != nil {
		return rep, fmt.Errorf("verify: %w", err)
	}
	exists, err := s3.BucketExists(ctx, bucket)
	if err != nil {
		return rep, fmt.Errorf("verify: bucket %s: %w", bucket, err)
	}
	if !exists {
		return rep, fmt.Errorf("verify: bucket %s does not exist; create it or pass one of the lab's buckets (%s)", bucket, strings.Join(h.State.Buckets, ", "))
	}
	kes := h.KES()
	add := func(name string, ok bool, format string, a ...any) {
		rep.Checks = append(rep.Checks, Check{Name: name, OK: ok, Evidence: fmt.Sprintf(format, a...)})
	}
	addResult := func(name string, ok bool, evidence string) {
		rep.Checks = append(rep.Checks, Check{Name: name, OK: ok, Evidence: evidence})
	}

	run := strings.ToLower(rand.Text()[:10])
	scratchKey := KeyPrefix + run
	var (
		modes      []*mode
		keyCreated bool
		keyDeleted bool
	)
	defer func() {
		for _, m := range modes {
			rep.Checks = append(rep.Checks, m.checks...)
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		var problems []string
		removed := 0
		for _, m := range modes {
			if !m.sent {
				continue
			}
			// A PUT cut short by ctx may still have been stored: removing
			// an object that is not there succeeds.
			if err := s3.RemoveObject(cctx, bucket, m.object, minio.RemoveObjectOptions{VersionID: m.version}); err != nil {
				problems = append(problems, fmt.Sprintf("remove %s: %v", m.object, err))
				continue
			}
			if m.written {
				removed++
			}
		}
		what := fmt.Sprintf("removed %d objects under %s", removed, Prefix+run+"/")
		if keyCreated && !keyDeleted {
			switch err := kes.DeleteKey(cctx, scratchKey); {
			case errors.Is(err, kesapi.ErrKeyNotFound):
				// Its create never reached KES.
			case err != nil:
				problems = append(problems, fmt.Sprintf("delete key %s: %v", scratchKey, err))
			default:
				what += " and key " + scratchKey
			}
		} else if keyDeleted {
			what += "; key " + scratchKey + " was deleted above"
		}
		if len(problems) > 0 {
			add("cleanup", false, "%s; left behind: %s", what, strings.Join(problems, "; "))
		} else {
			add("cleanup", true, "%s", what)
		}
		rep.OK = rep.Failed() == 0
	}()

	// The bucket's default decides what happens to objects written
	// without SSE headers.
	ok, ev := bucketDefault(ctx, s3, bucket, h.State.Key)
	addResult("bucket default encryption", ok, ev)
	if h.State.KMS == "sealed" {
		rep.Checks = append(rep.Checks, KeysAtRest(h.Layout, h.State.Keystore))
	}

	// The modes, each with its own object and marker.
	drives := len(labDrives(h))
	ssecKey := make([]byte, 32)
	rand.Read(ssecKey)
	modes = []*mode{
		{name: "SSE-S3", sse: encrypt.NewSSE()},
		{name: "SSE-KMS (default key)", kmsKey: h.State.Key},
		{name: "SSE-KMS (scratch key)", kmsKey: scratchKey},
		{name: "SSE-C", ssecKey: ssecKey},
	}
	for i, m := range modes {
		m.object = fmt.Sprintf("%s%s/%d-%s.txt", Prefix, run, i, slug(m.name))
		m.marker = []byte("sselab-verify-marker-" + rand.Text())
		m.body = []byte(fmt.Sprintf("sselab verify %s object\n%s\n", m.name, m.marker))
		if drives > 1 {
			// Erasure coding cuts an object into one shard per data
			// drive: with the marker on enough lines, every shard holds
			// whole markers, and plaintext on any drive would show.
			m.body = append(m.body, bytes.Repeat(append(m.marker, '\n'), markerCopies)...)
		}
		var err error
		switch {
		case m.kmsKey != "":
			if m.kmsKey == scratchKey {
				// A create cut short by ctx may have reached KES: the
				// cleanup deletes the key unless it never came to be.
				keyCreated = true
				if err := kes.CreateKey(ctx, scratchKey); err != nil {
					m.putErr = fmt.Errorf("create KES key %s: %w", scratchKey, err)
					continue
				}
				keyCreated = true
			}
			m.sse, err = encrypt.NewSSEKMS(m.kmsKey, nil)
		case m.ssecKey != nil:
			if h.State.HTTP {
				m.skip = "skipped: needs TLS (lab runs with --http)"
				continue
			}
			m.sse, err = encrypt.NewSSEC(m.ssecKey)
		}
		if err != nil {
			m.putErr = err
			continue
		}
		m.sent = true
		info, err := s3.PutObject(ctx, bucket, m.object, bytes.NewReader(m.body), int64(len(m.body)),
			minio.PutObjectOptions{ServerSideEncryption: m.sse, ContentType: "text/plain"})
		if err != nil {
			m.putErr = fmt.Errorf("put %s: %w", m.object, err)
			continue
		}
		m.written, m.version = true, info.VersionID
	}

	// Headers and read-back, per mode.
	for _, m := range modes {
		if m.skip != "" {
			for _, what := range []string{"headers", "read back", "no plaintext on the drive", "read without the key refused"} {
				m.checks = append(m.checks, Check{Name: m.name + ": " + what, OK: true, Skipped: true, Evidence: m.skip})
			}
			continue
		}
		if !m.written {
			m.add("headers", false, "not written: %v", m.putErr)
			m.add("read back", false, "not written")
			continue
		}
		ok, ev := headers(ctx, s3, bucket, m)
		m.add("headers", ok, "%s", ev)
		ok, ev = readBack(ctx, s3, bucket, m)
		m.add("read back", ok, "%s", ev)
	}

	// One scan of the drive for every marker.
	var markers [][]byte
	for _, m := range modes {
		if m.written {
			markers = append(markers, m.marker)
		}
	}
	dataDir := h.Layout.MinIODataDir()
	scan, scanErr := ScanDrives(h.Layout.MinIODir(), labDrives(h), markers)
	where := dataDir
	if drives > 1 {
		where = fmt.Sprintf("the %d drives in %s", drives, h.Layout.MinIODir())
	}
	for _, m := range modes {
		switch {
		case m.skip != "":
		case !m.written:
			m.add("no plaintext on the drive", false, "not written")
		case scanErr != nil:
			m.add("no plaintext on the drive", false, "scan failed: %v", scanErr)
		case len(scan.Found[string(m.marker)]) > 0:
			m.add("no plaintext on the drive", false, "marker %s found in plaintext in %s", m.marker, strings.Join(scan.Found[string(m.marker)], ", "))
		default:
			m.add("no plaintext on the drive", true, "marker not found in %d files (%s) under %s", scan.Files, size(scan.Bytes), where)
		}
	}

	// SSE-C: the key is the customer's; without it the object is refused.
	for _, m := range modes {
		if m.ssecKey == nil || m.skip != "" {
			continue
		}
		if !m.written {
			m.add("read without the key refused", false, "not written")
			continue
		}
		_, err := get(ctx, s3, bucket, m.object, minio.GetObjectOptions{})
		switch {
		case err == nil:
			m.add("read without the key refused", false, "GET without the customer key returned the object")
		case minio.ToErrorResponse(err).Code == "":
			m.add("read without the key refused", false, "GET without the customer key failed, but not with a refusal from MinIO: %v", err)
		default:
			m.add("read without the key refused", true, "GET without the customer key: %s", errText(err))
		}
	}

	// The scratch key: deleting it makes its objects unreadable forever.
	for _, m := range modes {
		if m.kmsKey != scratchKey {
			continue
		}
		const name = "unreadable once its key is deleted"
		if !m.written {
			m.add(name, false, "not written")
			continue
		}
		if err := kes.DeleteKey(ctx, scratchKey); err != nil {
			m.add(name, false, "delete KES key %s: %v", scratchKey, err)
			continue
		}
		keyDeleted = true
		_, err := get(ctx, s3, bucket, m.object, minio.GetObjectOptions{})
		switch {
		case err == nil:
			m.add(name, false, "after deleting key %s, GET %s still returned the object", scratchKey, m.object)
		case !keyRefusal(err):
			m.add(name, false, "after deleting key %s, GET %s failed, but not because of the key: %v", scratchKey, m.object, err)
		default:
			m.add(name, true, "after deleting key %s, GET %s: %s", scratchKey, m.object, errText(err))
		}
	}
	return rep, nil
}

// bucketDefault describes the default encryption of bucket.
func bucketDefault(ctx context.Context, s3 *minio.Client, bucket, key string) (bool, string) {
	cfg, err := s3.GetBucketEncryption(ctx, bucket)
	if err != nil {
		if minio.ToErrorResponse(err).Code == "ServerSideEncryptionConfigurationNotFoundError" {
			return false, fmt.Sprintf("none: objects without SSE headers are stored in plaintext ; set one with 'mc encrypt set sse-kms %s %s/%s'", key, lab.MCAlias, bucket)
		}
		return false, fmt.Sprintf("GetBucketEncryption: %v", err)
	}
	if cfg == nil || len(cfg.Rules) == 0 {
		return false, "none: objects without SSE headers are stored in plaintext"
	}
	r := cfg.Rules[0].Apply
	switch r.SSEAlgorithm {
	case "aws:kms":
		return true, fmt.Sprintf("SSE-KMS with key %s", strings.TrimPrefix(r.KmsMasterKeyID, "arn:aws:kms:"))
	case "AES256":
		return true, "SSE-S3 (AES256)"
	}
	return false, fmt.Sprintf("unknown algorithm %q", r.SSEAlgorithm)
}

// headers checks the encryption headers MinIO returns for m's object.
func headers(ctx context.Context, s3 *minio.Client, bucket string, m *mode) (bool, string) {
	opts := minio.StatObjectOptions{}
	if m.ssecKey != nil {
		opts.ServerSideEncryption = m.sse
	}
	info, err := s3.StatObject(ctx, bucket, m.object, opts)
	if err != nil {
		return false, fmt.Sprintf("StatObject: %s", errText(err))
	}
	hd := info.Metadata
	const (
		algo   = "X-Amz-Server-Side-Encryption"
		keyID  = "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"
		cAlgo  = "X-Amz-Server-Side-Encryption-Customer-Algorithm"
		cKeyMD = "X-Amz-Server-Side-Encryption-Customer-Key-Md5"
	)
	var ok bool
	var got, want string
	switch {
	case m.kmsKey != "":
		arn := "arn:aws:kms:" + m.kmsKey
		ok = hd.Get(algo) == "aws:kms" && hd.Get(keyID) == arn
		got = fmt.Sprintf("%s: %s, key %s", algo, orNone(hd.Get(algo)), orNone(hd.Get(keyID)))
		want = "aws:kms, key " + arn
	case m.ssecKey != nil:
		sum := md5.Sum(m.ssecKey)
		md := base64.StdEncoding.EncodeToString(sum[:])
		ok = hd.Get(cAlgo) == "AES256" && hd.Get(cKeyMD) == md
		got = fmt.Sprintf("%s: %s, key MD5 %s", cAlgo, orNone(hd.Get(cAlgo)), orNone(hd.Get(cKeyMD)))
		want = "AES256, key MD5 " + md
	default:
		ok = hd.Get(algo) == "AES256"
		got = fmt.Sprintf("%s: %s", algo, orNone(hd.Get(algo)))
		want = "AES256"
	}
	if !ok {
		return false, got + "; want " + want
	}
	return true, got
}

// orNone shows an absent header.
func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// readBack reads m's object and compares it with what was written.
func readBack(ctx context.Context, s3 *minio.Client, bucket string, m *mode) (bool, string) {
	opts := minio.GetObjectOptions{}
	if m.ssecKey != nil {
		opts.ServerSideEncryption = m.sse
	}
	got, err := get(ctx, s3, bucket, m.object, opts)
	if err != nil {
		return false, fmt.Sprintf("GET: %s", errText(err))
	}
	if !bytes.Equal(got, m.body) {
		return false, fmt.Sprintf("got %d bytes that differ from the %d bytes written", len(got), len(m.body))
	}
	return true, fmt.Sprintf("%d bytes byte-identical, marker included", len(got))
}

// get reads a whole object; minio-go's GetObject reports most errors only
// on the first read.
func get(ctx context.Context, s3 *minio.Client, bucket, object string, opts minio.GetObjectOptions) ([]byte, error) {
	obj, err := s3.GetObject(ctx, bucket, object, opts)
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	return io.ReadAll(obj)
}

// keyRefusal reports whether err is MinIO refusing an object because
// its KMS key is gone (MinIO answers "kms:KeyNotFound").
func keyRefusal(err error) bool {
	r := minio.ToErrorResponse(err)
	return r.Code != "" && strings.Contains(strings.ToLower(r.Code+" "+r.Message), "key")
}

// errText is an S3 error as "refused, status code: message", or err's
// text.
func errText(err error) string {
	if r := minio.ToErrorResponse(err); r.Code != "" {
		return fmt.Sprintf("refused, %d %s: %s", r.StatusCode, r.Code, r.Message)
	}
	return err.Error()
}

// slug turns a mode name into part of an object name.
func slug(s string) string {
	s = strings.ToLower(s)
	s = strings.NewReplacer(" ", "-", "(", "", ")", "").Replace(s)
	return s
}

// size formats a byte count.
func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// Scan is what ScanDir found.
type Scan struct {
	// Files and Bytes count the regular files read.
	Files int
	Bytes int64
	// Found maps a marker to the files (relative to the scanned
	// directory) that contain it.
	Found map[string][]string
}

// markerCopies is how many more times the marker is in an object of a
// lab of several drives: enough for a whole marker in each of up to 16
// data shards.
const markerCopies = 64

// labDrives returns every drive of every MinIO node of the lab h.
func labDrives(h *lab.Handle) []string {
	var drives []string
	for _, n := range h.State.Nodes {
		drives = append(drives, n.Drives...)
	}
	if len(drives) == 0 {
		drives = []string{h.Layout.MinIODataDir()}
	}
	return drives
}

// ScanDrives scans every drive like ScanDir, and reports the files as
// relative to root (the directory that holds the drives).
func ScanDrives(root string, drives []string, markers [][]byte) (Scan, error) {
	all := Scan{Found: map[string][]string{}}
	for _, d := range drives {
		s, err := ScanDir(d, markers)
		if err != nil {
			return all, err
		}
		all.Files += s.Files
		all.Bytes += s.Bytes
		prefix, err := filepath.Rel(root, d)
		if err != nil || strings.HasPrefix(prefix, "..") {
			prefix = d
		}
		for m, files := range s.Found {
			for _, f := range files {
				all.Found[m] = append(all.Found[m], filepath.Join(prefix, f))
			}
		}
	}
	return all, nil
}

// scanChunk is how much of a file ScanDir holds in memory at once.
const scanChunk = 1 << 20

// ScanDir reads every regular file under dir and reports which of markers
// each contains. Files that vanish during the scan (MinIO's temporary
// files) are skipped.
func ScanDir(dir string, markers [][]byte) (Scan, error) {
	s := Scan{Found: map[string][]string{}}
	if _, err := os.Stat(dir); err != nil {
		return s, err
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		found, n, err := scanFile(path, markers, scanChunk)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		s.Files++
		s.Bytes += n
		rel, _ := filepath.Rel(dir, path)
		for _, m := range found {
			s.Found[string(m)] = append(s.Found[string(m)], rel)
		}
		return nil
	})
	return s, err
}

// scanFile streams path in chunks of chunk bytes and returns the markers
// it contains and its size. Consecutive chunks overlap so that a marker
// across a chunk boundary is found.
func scanFile(path string, markers [][]byte, chunk int) (found [][]byte, n int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	longest := 0
	for _, m := range markers {
		longest = max(longest, len(m))
	}
	overlap := max(longest-1, 0)
	buf := make([]byte, overlap+chunk)
	have := 0 // bytes in buf carried over from the previous chunk
	seen := make([]bool, len(markers))
	for {
		k, rerr := io.ReadFull(f, buf[have:])
		n += int64(k)
		window := buf[:have+k]
		for i, m := range markers {
			if !seen[i] && len(m) > 0 && bytes.Contains(window, m) {
				seen[i] = true
				found = append(found, m)
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			return found, n, nil
		}
		if rerr != nil {
			return found, n, rerr
		}
		have = min(overlap, len(window))
		copy(buf, window[len(window)-have:])
	}
}
