package lab

import (
	"context"
	"errors"
	"fmt"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/sse"

	"github.com/sselab/sselab/pkg/labdir"
)

// Encryption modes of a bucket's default encryption.
const (
	ModeSSEKMS = "sse-kms"
	ModeSSES3  = "sse-s3"
	ModeNone   = "none"
)

// BucketMode is a requested default encryption: Mode and, for SSE-KMS,
// the key.
type BucketMode struct {
	Mode string
	Key  string
}

// String names the encryption for people: "SSE-KMS with key K",
// "SSE-S3" or "no default encryption".
func (m BucketMode) String() string {
	switch m.Mode {
	case ModeSSEKMS:
		return "SSE-KMS with key " + m.Key
	case ModeSSES3:
		return "SSE-S3"
	}
	return "no default encryption"
}

// checkMode makes sure an SSE-KMS key exists before MinIO is asked.
func (h *Handle) checkMode(ctx context.Context, m BucketMode) error {
	if m.Mode != ModeSSEKMS {
		return nil
	}
	if err := labdir.CheckKeyName(m.Key); err != nil {
		return err
	}
	_, err := h.DescribeKey(ctx, m.Key)
	return err
}

// CreateBucket creates a bucket with the given default encryption.
func (h *Handle) CreateBucket(ctx context.Context, name string, m BucketMode) error {
	if err := labdir.CheckBucketName(name); err != nil {
		return err
	}
	if err := h.checkMode(ctx, m); err != nil {
		return err
	}
	s3, err := h.S3()
	if err != nil {
		return err
	}
	if exists, err := s3.BucketExists(ctx, name); err != nil {
		return fmt.Errorf("lab: bucket %s: %w", name, err)
	} else if exists {
		return fmt.Errorf("lab: bucket %s already exists; change its encryption with 'sselab bucket encryption %s'", name, name)
	}
	if err := s3.MakeBucket(ctx, name, minio.MakeBucketOptions{}); err != nil {
		return fmt.Errorf("lab: create bucket %s: %w", name, err)
	}
	if err := h.setEncryption(ctx, s3, name, m); err != nil {
		s3.RemoveBucket(ctx, name) // nothing half-done
		return err
	}
	return nil
}

// SetBucketEncryption changes a bucket's default encryption; ModeNone
// clears it.
func (h *Handle) SetBucketEncryption(ctx context.Context, name string, m BucketMode) error {
	if err := h.checkMode(ctx, m); err != nil {
		return err
	}
	s3, err := h.S3()
	if err != nil {
		return err
	}
	if err := requireBucket(ctx, s3, name); err != nil {
		return err
	}
	return h.setEncryption(ctx, s3, name, m)
}

func (h *Handle) setEncryption(ctx context.Context, s3 *minio.Client, name string, m BucketMode) error {
	var err error
	switch m.Mode {
	case ModeSSEKMS:
		err = s3.SetBucketEncryption(ctx, name, sse.NewConfigurationSSEKMS(m.Key))
	case ModeSSES3:
		err = s3.SetBucketEncryption(ctx, name, sse.NewConfigurationSSES3())
	case ModeNone:
		err = s3.RemoveBucketEncryption(ctx, name)
	default:
		return fmt.Errorf("lab: unknown encryption mode %q", m.Mode)
	}
	if err != nil {
		return fmt.Errorf("lab: set the encryption of bucket %s: %w", name, err)
	}
	return nil
}

// BucketEncryption returns a bucket's default encryption; Algorithm is ""
// when it has none.
func (h *Handle) BucketEncryption(ctx context.Context, name string) (BucketEncryption, error) {
	s3, err := h.S3()
	if err != nil {
		return BucketEncryption{}, err
	}
	if err := requireBucket(ctx, s3, name); err != nil {
		return BucketEncryption{}, err
	}
	enc, err := bucketEncryption(ctx, s3, name)
	if errors.Is(err, errNoEncryption) {
		return BucketEncryption{}, nil
	}
	return enc, err
}

// requireBucket fails, saying how to create it, unless the bucket exists.
func requireBucket(ctx context.Context, s3 *minio.Client, name string) error {
	exists, err := s3.BucketExists(ctx, name)
	if err != nil {
		return fmt.Errorf("lab: bucket %s: %w", name, err)
	}
	if !exists {
		return fmt.Errorf("lab: bucket %s does not exist; create it with 'sselab bucket create %s'", name, name)
	}
	return nil
}
