package verify_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/sselab/sselab/internal/labtest"
	"github.com/sselab/sselab/internal/testtools"
	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/runner"
	"github.com/sselab/sselab/pkg/verify"
)

const (
	smallSize = 1 << 10 // below MinIO's inline threshold
	largeSize = 1 << 20 // above it
	headSize  = 4096
)

// storedLab is a running lab for the StoredBytes tests.
type storedLab struct {
	h       *lab.Handle
	s3      *minio.Client
	dataDir string
}

// TestStoredBytes runs a real lab and reads what MinIO stored for objects
// written to it: plaintext in a bucket without default encryption,
// ciphertext in one with SSE-KMS, the latest of several versions, and an
// error for objects that are not there.
func TestStoredBytes(t *testing.T) {
	h := labtest.Up(t, runner.Options{})
	ctx := testtools.Context(t)
	s3, err := h.S3()
	if err != nil {
		t.Fatal(err)
	}
	sl := &storedLab{h: h, s3: s3, dataDir: h.Layout.MinIODataDir()}

	t.Run("plaintext", func(t *testing.T) { testStoredPlain(ctx, t, sl) })
	t.Run("sse-kms", func(t *testing.T) { testStoredKMS(ctx, t, sl) })
	t.Run("versions", func(t *testing.T) { testStoredVersions(ctx, t, sl) })
	t.Run("missing", func(t *testing.T) { testStoredMissing(ctx, t, sl) })
	t.Run("truncated xl.meta", func(t *testing.T) { testStoredTruncated(ctx, t, sl) })
}

func testStoredPlain(ctx context.Context, t *testing.T, sl *storedLab) {
	const bucket = "stored-plain"
	sl.createBucket(ctx, t, bucket, lab.BucketMode{Mode: lab.ModeNone})

	small := sl.put(ctx, t, bucket, "dir/sub/small.bin", smallSize, "")
	s := sl.stored(t, bucket, "dir/sub/small.bin", headSize)
	wantInline(t, s, bucket, "dir/sub/small.bin")
	if !bytes.Contains(s.Head, small) {
		t.Errorf("small object: head %d bytes at %s+%d does not contain the whole %d-byte plaintext", len(s.Head), s.File, s.Offset, len(small))
	}
	if s.Size < smallSize {
		t.Errorf("small object: got Size %d, want at least the plaintext's %d", s.Size, smallSize)
	}

	large := sl.put(ctx, t, bucket, "dir/large.bin", largeSize, "")
	s = sl.stored(t, bucket, "dir/large.bin", headSize)
	wantPart(t, s, bucket, "dir/large.bin")
	if !bytes.Contains(s.Head, large[:64]) {
		t.Errorf("large object: head %d bytes of %s does not contain the plaintext's first 64 bytes", len(s.Head), s.File)
	}
	if s.Size < largeSize {
		t.Errorf("large object: got Size %d, want at least the plaintext's %d", s.Size, largeSize)
	}

	// n larger than what is stored: all of it, and no more.
	s = sl.stored(t, bucket, "dir/sub/small.bin", 1<<20)
	if int64(len(s.Head)) != s.Size {
		t.Errorf("n beyond the data: got %d head bytes, want Size %d", len(s.Head), s.Size)
	}
	if s = sl.stored(t, bucket, "dir/large.bin", 0); len(s.Head) != 0 {
		t.Errorf("n = 0: got %d head bytes, want none", len(s.Head))
	}
}

func testStoredKMS(ctx context.Context, t *testing.T, sl *storedLab) {
	const bucket = "stored-kms"
	sl.createBucket(ctx, t, bucket, lab.BucketMode{Mode: lab.ModeSSEKMS, Key: sl.h.State.Key})
	for _, tt := range []struct {
		object string
		size   int
		inline bool
	}{
		{"small.bin", smallSize, true},
		{"a/b/large.bin", largeSize, false},
	} {
		plain := sl.put(ctx, t, bucket, tt.object, tt.size, "aws:kms")
		s := sl.stored(t, bucket, tt.object, headSize)
		if tt.inline {
			wantInline(t, s, bucket, tt.object)
		} else {
			wantPart(t, s, bucket, tt.object)
		}
		if len(s.Head) == 0 {
			t.Errorf("%s: got an empty head", tt.object)
		}
		if i, j := commonWindow(s.Head, plain, 16); i >= 0 {
			t.Errorf("%s: stored head holds plaintext: head[%d:%d] = plaintext[%d:%d]", tt.object, i, i+16, j, j+16)
		}
		// Encryption adds a header and tags: more is stored than written.
		if s.Size <= int64(tt.size) {
			t.Errorf("%s: got Size %d, want more than the %d plaintext bytes", tt.object, s.Size, tt.size)
		}
	}
}

func testStoredVersions(ctx context.Context, t *testing.T, sl *storedLab) {
	const bucket, object = "stored-versions", "v.bin"
	sl.createBucket(ctx, t, bucket, lab.BucketMode{Mode: lab.ModeNone})
	if err := sl.s3.EnableVersioning(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	first := sl.put(ctx, t, bucket, object, smallSize, "")
	second := sl.put(ctx, t, bucket, object, smallSize, "")
	s := sl.stored(t, bucket, object, headSize)
	wantInline(t, s, bucket, object)
	if !bytes.Contains(s.Head, second) {
		t.Errorf("two small versions: head does not hold the latest version's plaintext")
	}
	if bytes.Contains(s.Head, first[:64]) {
		t.Errorf("two small versions: head holds the older version's plaintext")
	}

	third := sl.put(ctx, t, bucket, object, largeSize, "")
	s = sl.stored(t, bucket, object, headSize)
	wantPart(t, s, bucket, object)
	if !bytes.Contains(s.Head, third[:64]) {
		t.Errorf("large latest version over small ones: head does not hold its plaintext")
	}

	if err := sl.s3.RemoveObject(ctx, bucket, object, minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := verify.StoredBytes(sl.dataDir, bucket, object, headSize)
	testtools.WantErrContains(t, err, "verify: ", "delete marker")
}

func testStoredMissing(ctx context.Context, t *testing.T, sl *storedLab) {
	const bucket = "stored-missing"
	sl.createBucket(ctx, t, bucket, lab.BucketMode{Mode: lab.ModeNone})
	sl.put(ctx, t, bucket, "dir/there.bin", smallSize, "")
	for _, tt := range []struct{ bucket, object string }{
		{bucket, "absent.bin"},
		{bucket, "dir/absent.bin"},
		{bucket, "dir"}, // a prefix, not an object
		{"no-such-bucket", "dir/there.bin"},
	} {
		_, err := verify.StoredBytes(sl.dataDir, tt.bucket, tt.object, headSize)
		testtools.WantErrContains(t, err, "verify: ", "not on the drive")
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s/%s: error %v does not wrap fs.ErrNotExist", tt.bucket, tt.object, err)
		}
	}
	for _, tt := range []struct{ bucket, object string }{
		{bucket, "../stored-plain/dir/large.bin"},
		{bucket, "dir//there.bin"},
		{bucket, ""},
		{"", "dir/there.bin"},
		{"a/b", "x"},
	} {
		_, err := verify.StoredBytes(sl.dataDir, tt.bucket, tt.object, headSize)
		testtools.WantErrContains(t, err, "verify: ", "is not")
	}
	_, err := verify.StoredBytes(sl.dataDir, bucket, "dir/there.bin", -1)
	testtools.WantErrContains(t, err, "verify: ")
	// The right names on another directory.
	_, err = verify.StoredBytes(t.TempDir(), bucket, "dir/there.bin", headSize)
	testtools.WantErrContains(t, err, "not on the drive")
}

// testStoredTruncated copies a real xl.meta to a drive of its own, cuts it
// short everywhere and damages its header: StoredBytes must fail, never
// panic, read past the end or return data.
func testStoredTruncated(ctx context.Context, t *testing.T, sl *storedLab) {
	const bucket, object = "stored-truncated", "obj"
	sl.createBucket(ctx, t, bucket, lab.BucketMode{Mode: lab.ModeSSEKMS, Key: sl.h.State.Key})
	sl.put(ctx, t, bucket, object, smallSize, "aws:kms")
	want := sl.stored(t, bucket, object, headSize)
	buf, err := os.ReadFile(filepath.Join(sl.dataDir, bucket, object, "xl.meta"))
	if err != nil {
		t.Fatal(err)
	}
	drive := t.TempDir()
	meta := filepath.Join(drive, bucket, object, "xl.meta")
	if err := os.MkdirAll(filepath.Dir(meta), 0o700); err != nil {
		t.Fatal(err)
	}
	read := func(b []byte) (verify.Stored, error) {
		t.Helper()
		if err := os.WriteFile(meta, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return verify.StoredBytes(drive, bucket, object, headSize)
	}
	if got, err := read(buf); err != nil || !got.Inline || got.Offset != want.Offset || !bytes.Equal(got.Head, want.Head) {
		t.Fatalf("copied xl.meta: got %+v, %v; want the inline data at offset %d", got, err, want.Offset)
	}
	for i := range len(buf) {
		if got, err := read(buf[:i]); err == nil {
			t.Errorf("xl.meta cut to %d of %d bytes: got %d head bytes at %s+%d and no error", i, len(buf), len(got.Head), got.File, got.Offset)
		}
	}
	for _, tt := range []struct {
		i    int
		b    byte
		what string
	}{
		{0, 'x', "magic"},
		{3, 'x', "magic"},
		{4, 2, "major version 2"},
		{5, 1, "major version 257"},
		{6, 2, "minor version 2"},
		{8, 0xc0, "metadata not binary"},
	} {
		bad := bytes.Clone(buf)
		bad[tt.i] = tt.b
		_, err := read(bad)
		testtools.WantErrContains(t, err, "verify: ")
	}
}

// createBucket creates a bucket with the given default encryption.
func (sl *storedLab) createBucket(ctx context.Context, t *testing.T, name string, m lab.BucketMode) {
	t.Helper()
	if err := sl.h.CreateBucket(ctx, name, m); err != nil {
		t.Fatal(err)
	}
}

// put writes size random bytes as object and returns them; sse is the
// server-side encryption MinIO must report ("" for none).
func (sl *storedLab) put(ctx context.Context, t *testing.T, bucket, object string, size int, sse string) []byte {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	if _, err := sl.s3.PutObject(ctx, bucket, object, bytes.NewReader(data), int64(size), minio.PutObjectOptions{}); err != nil {
		t.Fatalf("put %s/%s: %v", bucket, object, err)
	}
	info, err := sl.s3.StatObject(ctx, bucket, object, minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Metadata.Get("X-Amz-Server-Side-Encryption"); got != sse {
		t.Fatalf("%s/%s: MinIO reports server-side encryption %q, want %q", bucket, object, got, sse)
	}
	return data
}

// stored calls StoredBytes and checks that Head is what File holds at
// Offset.
func (sl *storedLab) stored(t *testing.T, bucket, object string, n int) verify.Stored {
	t.Helper()
	s, err := verify.StoredBytes(sl.dataDir, bucket, object, n)
	if err != nil {
		t.Fatalf("StoredBytes(%s, %s, %d): %v", bucket, object, n, err)
	}
	t.Logf("%s/%s: File %s, Offset %d, Inline %v, Size %d, %d head bytes", bucket, object, s.File, s.Offset, s.Inline, s.Size, len(s.Head))
	if len(s.Head) > n || int64(len(s.Head)) > s.Size {
		t.Errorf("%s/%s: got %d head bytes, want at most n = %d and Size = %d", bucket, object, len(s.Head), n, s.Size)
	}
	f, err := os.Open(filepath.Join(sl.dataDir, filepath.FromSlash(s.File)))
	if err != nil {
		t.Fatalf("%s/%s: File %s: %v", bucket, object, s.File, err)
	}
	defer f.Close()
	onDisk := make([]byte, len(s.Head))
	if _, err := f.ReadAt(onDisk, s.Offset); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, s.Head) {
		t.Errorf("%s/%s: Head is not what %s holds at offset %d", bucket, object, s.File, s.Offset)
	}
	return s
}

func wantInline(t *testing.T, s verify.Stored, bucket, object string) {
	t.Helper()
	if want := bucket + "/" + object + "/xl.meta"; !s.Inline || s.File != want || s.Offset <= 0 {
		t.Errorf("%s/%s: got Inline %v, File %s, Offset %d; want inline in %s after its metadata", bucket, object, s.Inline, s.File, s.Offset, want)
	}
}

var partFile = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/part\.1$`)

func wantPart(t *testing.T, s verify.Stored, bucket, object string) {
	t.Helper()
	prefix := bucket + "/" + object + "/"
	rest, ok := bytes.CutPrefix([]byte(s.File), []byte(prefix))
	if s.Inline || !ok || !partFile.Match(rest) || s.Offset != 0 {
		t.Errorf("%s/%s: got Inline %v, File %s, Offset %d; want offset 0 of %s<data-dir-uuid>/part.1", bucket, object, s.Inline, s.File, s.Offset, prefix)
	}
}

// commonWindow returns where a's and b's first common run of w bytes
// starts in each, or -1, -1.
func commonWindow(a, b []byte, w int) (int, int) {
	at := map[string]int{}
	for i := 0; i+w <= len(a); i++ {
		if _, ok := at[string(a[i:i+w])]; !ok {
			at[string(a[i:i+w])] = i
		}
	}
	for j := 0; j+w <= len(b); j++ {
		if i, ok := at[string(b[j:j+w])]; ok {
			return i, j
		}
	}
	return -1, -1
}

func TestCommonWindow(t *testing.T) {
	a := []byte("0123456789abcdefghijklmnopqrstuvwxyz")
	if i, j := commonWindow(a, []byte("xx"+string(a[5:21])+"yy"), 16); i != 5 || j != 2 {
		t.Errorf("got %d, %d; want 5, 2", i, j)
	}
	if i, j := commonWindow(a, []byte("xx"+string(a[5:20])+"yy"), 16); i != -1 || j != -1 {
		t.Errorf("15 common bytes: got %d, %d; want -1, -1", i, j)
	}
}
