package lab_test

import (
	"bytes"
	"crypto/rand"
	"io"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/tags"

	"github.com/sselab/sselab/internal/labtest"
	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/runner"
)

// TestRekeyMultipartCopy re-encrypts an object too large for one
// CopyObject, on a real lab: with the part size lowered to 8 MiB, a
// 20 MiB object takes rekey's multipart copy (as an object over 5 GiB
// does with S3's limits) and keeps its content, content type, user
// metadata, other standard headers and tags; a small object beside it takes the single copy.
func TestRekeyMultipartCopy(t *testing.T) {
	h := labtest.Up(t, runner.Options{})
	ctx := t.Context()
	defer lab.SetRekeyPartSize(8 << 20)()
	if err := h.CreateKey(ctx, "big-target"); err != nil {
		t.Fatal(err)
	}
	const bucket = "big"
	if err := h.CreateBucket(ctx, bucket, lab.BucketMode{Mode: lab.ModeNone}); err != nil {
		t.Fatal(err)
	}
	s3, err := h.S3()
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 20<<20)
	rand.Read(big)
	objTags, _ := tags.NewTags(map[string]string{"project": "lab"}, true)
	for name, data := range map[string][]byte{"big": big, "small": []byte("small object")} {
		_, err := s3.PutObject(ctx, bucket, name, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{
			ContentType: "image/x-test", ContentDisposition: "attachment", CacheControl: "max-age=60",
			UserMetadata: map[string]string{"Owner": "alice"}, UserTags: objTags.ToMap(),
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	rep, err := h.Rekey(ctx, bucket, lab.RekeyOptions{Target: lab.BucketMode{Mode: lab.ModeSSEKMS, Key: "big-target"}, Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rekeyed != 2 || rep.Verified != 2 || rep.Failed != 0 {
		t.Fatalf("rekey: %+v; want 2 objects re-encrypted and verified", rep)
	}
	for name, data := range map[string][]byte{"big": big, "small": []byte("small object")} {
		r, err := s3.GetObject(ctx, bucket, name, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		st, serr := r.Stat()
		r.Close()
		if err != nil || serr != nil {
			t.Fatalf("read %s: %v %v", name, err, serr)
		}
		if !bytes.Equal(got, data) {
			t.Errorf("%s: content changed", name)
		}
		if sse, key := st.Metadata.Get(lab.HeaderSSE), st.Metadata.Get(lab.HeaderKMSKeyID); sse != "aws:kms" || key != "arn:aws:kms:big-target" {
			t.Errorf("%s: encryption %q %q, want aws:kms under big-target", name, sse, key)
		}
		if st.ContentType != "image/x-test" || st.UserMetadata["Owner"] != "alice" ||
			st.Metadata.Get("Content-Disposition") != "attachment" || st.Metadata.Get("Cache-Control") != "max-age=60" {
			t.Errorf("%s: content type %q, user metadata %v, headers %v; want image/x-test, Owner alice, attachment, max-age=60", name, st.ContentType, st.UserMetadata, st.Metadata)
		}
		got2, err := s3.GetObjectTagging(ctx, bucket, name, minio.GetObjectTaggingOptions{})
		if err != nil || got2.ToMap()["project"] != "lab" {
			t.Errorf("%s: tags %v (%v), want project=lab", name, got2, err)
		}
		// A multipart object's ETag ends in the number of its parts.
		if multipart := strings.HasSuffix(strings.Trim(st.ETag, `"`), "-3"); multipart != (name == "big") {
			t.Errorf("%s: ETag %s: multipart copy %v, want %v", name, st.ETag, multipart, name == "big")
		}
	}
}
