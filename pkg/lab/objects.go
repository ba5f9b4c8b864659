package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
)

// Server-side encryption schemes of an object, as Object.Scheme names
// them.
const (
	SchemeKMS  = "SSE-KMS"
	SchemeS3   = "SSE-S3"
	SchemeC    = "SSE-C"
	SchemeNone = "none"
)

// The response headers in which MinIO reports an object's encryption.
const (
	HeaderSSE      = "X-Amz-Server-Side-Encryption"
	HeaderKMSKeyID = "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"
	HeaderSSECAlgo = "X-Amz-Server-Side-Encryption-Customer-Algorithm"
)

// Object is an object with its encryption exactly as MinIO reports it.
type Object struct {
	Bucket       string    `json:"bucket"`
	Key          string    `json:"key"`
	Size         int64     `json:"size"`
	ETag         string    `json:"etag"`
	LastModified time.Time `json:"last_modified"`
	ContentType  string    `json:"content_type,omitempty"`
	// SSE is the X-Amz-Server-Side-Encryption header: "aws:kms",
	// "AES256", or "" when MinIO stores the object in plaintext.
	SSE string `json:"sse,omitempty"`
	// KMSKeyID is the X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id header,
	// as in "arn:aws:kms:sselab-key".
	KMSKeyID string `json:"kms_key_id,omitempty"`
	// Headers are every header of MinIO's answer to a HEAD request.
	Headers http.Header `json:"headers,omitempty"`
	// CustomerKey is true for an SSE-C object: MinIO describes it only to
	// whoever sends its key, so only its name and scheme are known.
	CustomerKey bool `json:"customer_key,omitempty"`
	// VersionID and Latest are set for objects from a listing of
	// versions.
	VersionID string `json:"version_id,omitempty"`
	Latest    bool   `json:"latest,omitempty"`
}

// Scheme names the object's server-side encryption: SchemeKMS, SchemeS3,
// SchemeC or SchemeNone.
func (o Object) Scheme() string {
	switch {
	case o.CustomerKey || o.Headers.Get(HeaderSSECAlgo) != "":
		return SchemeC
	case o.SSE == "aws:kms":
		return SchemeKMS
	case o.SSE == "AES256":
		return SchemeS3
	}
	return SchemeNone
}

// KMSKey returns the name of the KES key of an SSE-KMS object.
func (o Object) KMSKey() string { return strings.TrimPrefix(o.KMSKeyID, "arn:aws:kms:") }

// objectFrom turns minio-go's description into an Object.
func objectFrom(bucket string, st minio.ObjectInfo) Object {
	return Object{
		Bucket: bucket, Key: st.Key, Size: st.Size, ETag: st.ETag,
		LastModified: st.LastModified, ContentType: st.ContentType,
		SSE: st.Metadata.Get(HeaderSSE), KMSKeyID: st.Metadata.Get(HeaderKMSKeyID),
		Headers: st.Metadata,
	}
}

// StatObject describes an object as MinIO's HEAD answer does.
func (h *Handle) StatObject(ctx context.Context, bucket, key string) (Object, error) {
	s3, err := h.S3()
	if err != nil {
		return Object{}, err
	}
	return statObject(ctx, s3, bucket, key, "")
}

// statObject describes an object, or one version of it ("" for the
// latest), as MinIO's HEAD answer does.
func statObject(ctx context.Context, s3 *minio.Client, bucket, key, version string) (Object, error) {
	st, err := s3.StatObject(ctx, bucket, key, minio.StatObjectOptions{VersionID: version})
	if err != nil {
		if customerKeyed(err) {
			return Object{Bucket: bucket, Key: key, CustomerKey: true}, nil
		}
		if version != "" {
			return Object{}, fmt.Errorf("lab: object %s/%s (version %s): %w", bucket, key, version, err)
		}
		return Object{}, fmt.Errorf("lab: object %s/%s: %w", bucket, key, err)
	}
	return objectFrom(bucket, st), nil
}

// customerKeyed reports whether MinIO refused to describe an object
// because it is encrypted with a customer key (SSE-C) that was not sent.
func customerKeyed(err error) bool {
	resp := minio.ToErrorResponse(err)
	return resp.StatusCode == http.StatusBadRequest && resp.Code != "NoSuchKey"
}

// ListObjects lists at most max objects of a bucket (all of them for
// max <= 0), in key order, each with its encryption; more is true when
// the bucket holds more.
func (h *Handle) ListObjects(ctx context.Context, bucket string, max int) (objs []Object, more bool, err error) {
	s3, err := h.S3()
	if err != nil {
		return nil, false, err
	}
	return listObjects(ctx, s3, bucket, "", max)
}

// listObjects lists the objects of bucket under prefix with their
// encryption: which objects are under which scheme and key, for key use,
// the console and rekey. It takes the encryption from one listing with
// metadata (MinIO's extension to ListObjects, which reports each object's
// SSE headers and KMS key id), so it costs one request per thousand
// objects; from a server that lists no metadata it asks for each object.
func listObjects(ctx context.Context, s3 *minio.Client, bucket, prefix string, max int) (objs []Object, more bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the listing when max is reached
	for obj := range s3.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true, Prefix: prefix, WithMetadata: true}) {
		if obj.Err != nil {
			return nil, false, fmt.Errorf("lab: list objects in %s: %w", bucket, obj.Err)
		}
		if max > 0 && len(objs) == max {
			more = true
			break
		}
		o, gone, err := describe(ctx, s3, bucket, obj)
		if err != nil {
			return nil, false, err
		}
		if !gone {
			objs = append(objs, o)
		}
	}
	sort.Slice(objs, func(i, j int) bool { return objs[i].Key < objs[j].Key })
	return objs, more, nil
}

// listVersions lists every version of every object of bucket with its
// encryption, as listObjects does for the latest ones; delete markers
// are left out. Older versions are objects too: they need their key.
func listVersions(ctx context.Context, s3 *minio.Client, bucket string) ([]Object, error) {
	var objs []Object
	for obj := range s3.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true, WithVersions: true, WithMetadata: true}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("lab: list the versions in %s: %w", bucket, obj.Err)
		}
		if obj.IsDeleteMarker {
			continue
		}
		o, gone, err := describe(ctx, s3, bucket, obj)
		if err != nil {
			return nil, err
		}
		if gone {
			continue
		}
		o.VersionID, o.Latest = obj.VersionID, obj.IsLatest
		objs = append(objs, o)
	}
	return objs, nil
}

// describe returns a listed object (or version) with its encryption: from
// the listing's metadata, or, from a server that lists none (not MinIO),
// from a HEAD request. gone is true for one deleted since the listing.
func describe(ctx context.Context, s3 *minio.Client, bucket string, obj minio.ObjectInfo) (o Object, gone bool, err error) {
	if obj.UserMetadata != nil {
		return objectFromListing(bucket, obj), false, nil
	}
	o, err = statObject(ctx, s3, bucket, obj.Key, obj.VersionID)
	switch s3Code(err) {
	case "NoSuchKey", "NoSuchVersion":
		return o, true, nil
	}
	return o, false, err
}

// objectFromListing turns an entry of a listing with metadata into an
// Object; MinIO lists the same SSE headers a HEAD answers with.
func objectFromListing(bucket string, obj minio.ObjectInfo) Object {
	h := make(http.Header, len(obj.UserMetadata))
	for k, v := range obj.UserMetadata {
		h.Set(k, v)
	}
	return Object{
		Bucket: bucket, Key: obj.Key, Size: obj.Size, ETag: obj.ETag,
		LastModified: obj.LastModified, ContentType: h.Get("Content-Type"),
		SSE: h.Get(HeaderSSE), KMSKeyID: h.Get(HeaderKMSKeyID),
		Headers:     h,
		CustomerKey: h.Get(HeaderSSECAlgo) != "",
	}
}

// PutObject stores an object read from r; size is -1 when unknown. The
// bucket's default encryption applies.
func (h *Handle) PutObject(ctx context.Context, bucket, key string, r io.Reader, size int64, contentType string) (Object, error) {
	s3, err := h.S3()
	if err != nil {
		return Object{}, err
	}
	opts := minio.PutObjectOptions{ContentType: contentType}
	if size < 0 {
		// An object that fits in one part goes up in one request, as
		// with a known size (a multipart upload would give it a
		// multipart ETag); a bigger one in 16 MiB parts (minio-go would
		// otherwise buffer parts sized for a 5 TiB object).
		const partSize = 16 << 20
		head, err := io.ReadAll(io.LimitReader(r, partSize))
		if err != nil {
			return Object{}, fmt.Errorf("lab: upload %s/%s: %w", bucket, key, err)
		}
		if len(head) < partSize {
			size = int64(len(head))
		}
		r = io.MultiReader(bytes.NewReader(head), r)
		opts.PartSize = partSize
	}
	if _, err := s3.PutObject(ctx, bucket, key, r, size, opts); err != nil {
		return Object{}, fmt.Errorf("lab: upload %s/%s: %w", bucket, key, err)
	}
	return statObject(ctx, s3, bucket, key, "")
}

// GetObject opens an object for reading; its Stat fails if MinIO cannot
// decrypt it.
func (h *Handle) GetObject(ctx context.Context, bucket, key string) (*minio.Object, error) {
	s3, err := h.S3()
	if err != nil {
		return nil, err
	}
	obj, err := s3.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("lab: download %s/%s: %w", bucket, key, err)
	}
	return obj, nil
}

// RemoveObject deletes an object.
func (h *Handle) RemoveObject(ctx context.Context, bucket, key string) error {
	s3, err := h.S3()
	if err != nil {
		return err
	}
	if err := s3.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("lab: delete %s/%s: %w", bucket, key, err)
	}
	return nil
}

// Bucket is a bucket with its default encryption.
type Bucket struct {
	Name       string           `json:"name"`
	Created    time.Time        `json:"created"`
	Encryption BucketEncryption `json:"encryption"`
}

// ListBuckets lists every bucket with its default encryption.
func (h *Handle) ListBuckets(ctx context.Context) ([]Bucket, error) {
	s3, err := h.S3()
	if err != nil {
		return nil, err
	}
	infos, err := s3.ListBuckets(ctx)
	if err != nil {
		return nil, fmt.Errorf("lab: list buckets: %w", err)
	}
	buckets := make([]Bucket, len(infos))
	for i, b := range infos {
		buckets[i] = Bucket{Name: b.Name, Created: b.CreationDate}
		enc, err := bucketEncryption(ctx, s3, b.Name)
		if err != nil && !errors.Is(err, errNoEncryption) {
			return nil, err
		}
		buckets[i].Encryption = enc
	}
	return buckets, nil
}
