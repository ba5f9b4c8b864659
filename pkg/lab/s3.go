package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/signer"
	"github.com/minio/minio-go/v7/pkg/sse"

	"github.com/sselab/sselab/pkg/labdir"
)

// NewS3Client returns a minio-go client for the lab's S3 endpoint. It
// tries a failed request up to tries times (minio-go's default for 0),
// with a backoff that starts at 200ms: code that polls a starting MinIO
// asks for 1 and keeps its own, quicker pace.
func NewS3Client(endpoint string, c labdir.Credentials, transport http.RoundTripper, tries int) (*minio.Client, error) {
	return newS3Client(endpoint, c, transport, tries, nil)
}

// newS3Client is NewS3Client with upload limits; nil keeps S3's.
func newS3Client(endpoint string, c labdir.Credentials, transport http.RoundTripper, tries int, limits *minio.UploadLimits) (*minio.Client, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("lab: S3 endpoint %q: %w", endpoint, err)
	}
	client, err := minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(c.RootUser, c.RootPassword, ""),
		Secure:       u.Scheme == "https",
		Region:       Region, // no request to look up each bucket's region
		Transport:    transport,
		MaxRetries:   tries,
		UploadLimits: limits,
	})
	if err != nil {
		return nil, fmt.Errorf("lab: S3 client: %w", err)
	}
	return client, nil
}

// EnsureEncryptedBucket creates bucket if missing and gives it
// bucket-default SSE-KMS with key, unless it already has an encryption
// configuration: one the user set (with mc or sselab) is kept. It asks
// MinIO as little as it can: once for a bucket that is set up already.
func EnsureEncryptedBucket(ctx context.Context, s3 *minio.Client, bucket, key string) error {
	_, err := bucketEncryption(ctx, s3, bucket)
	switch {
	case err == nil:
		return nil
	case s3Code(err) == "NoSuchBucket":
		if err := s3.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil && s3Code(err) != "BucketAlreadyOwnedByYou" {
			return fmt.Errorf("lab: create bucket %s: %w", bucket, err)
		}
	case !errors.Is(err, errNoEncryption):
		return err
	}
	if err := s3.SetBucketEncryption(ctx, bucket, sse.NewConfigurationSSEKMS(key)); err != nil {
		return fmt.Errorf("lab: set SSE-KMS on bucket %s: %w", bucket, err)
	}
	return nil
}

// errNoEncryption means a bucket has no default encryption.
var errNoEncryption = errors.New("lab: no default encryption")

// BucketEncryption describes a bucket's default encryption.
type BucketEncryption struct {
	// Algorithm is "aws:kms", "AES256", or "" for none.
	Algorithm string `json:"algorithm"`
	// KeyID is the KMS key for aws:kms.
	KeyID string `json:"key_id,omitempty"`
}

// bucketEncryption reads a bucket's default encryption; errNoEncryption
// when there is none.
func bucketEncryption(ctx context.Context, s3 *minio.Client, bucket string) (BucketEncryption, error) {
	cfg, err := s3.GetBucketEncryption(ctx, bucket)
	if err != nil {
		if s3Code(err) == "ServerSideEncryptionConfigurationNotFoundError" {
			return BucketEncryption{}, errNoEncryption
		}
		return BucketEncryption{}, fmt.Errorf("lab: encryption of bucket %s: %w", bucket, err)
	}
	if cfg == nil || len(cfg.Rules) == 0 {
		return BucketEncryption{}, errNoEncryption
	}
	r := cfg.Rules[0].Apply
	return BucketEncryption{Algorithm: r.SSEAlgorithm, KeyID: r.KmsMasterKeyID}, nil
}

// initWait bounds how long S3 calls wait for MinIO to finish initializing.
const initWait = 30 * time.Second

// RetryInitializing runs f until it stops failing with MinIO's "server
// not initialized yet": /minio/health/ready can answer 200 a moment
// before the S3 API accepts bucket operations.
func RetryInitializing(ctx context.Context, f func() error) error {
	deadline := time.Now().Add(initWait)
	for {
		err := f()
		if err == nil || s3Code(err) != "XMinioServerNotInitialized" || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// s3Code returns the S3 error code inside err, or "".
func s3Code(err error) string {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		return resp.Code
	}
	return ""
}

// Region is the region of the lab's S3 API: MinIO's default.
const Region = "us-east-1"

// emptySHA256 is the hex SHA-256 of an empty request body.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// ProbeS3 succeeds once the S3 API at endpoint serves a signed request
// (a bucket listing, sent once, without minio-go's retries and their
// backoff): MinIO is initialized, its first KMS round trip included,
// and takes bucket operations.
func ProbeS3(ctx context.Context, c *http.Client, endpoint string, creds labdir.Credentials) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/", nil)
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
	resp, err := c.Do(signer.SignV4(*req, creds.RootUser, creds.RootPassword, "", Region))
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body) // so the next probe reuses the connection
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("lab: %s answered %s to a bucket listing", endpoint, resp.Status)
	}
	return nil
}

// ProbeReady succeeds once MinIO's readiness endpoint at endpoint answers
// 200, which includes a successful KMS round trip.
func ProbeReady(ctx context.Context, c *http.Client, endpoint string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/minio/health/ready", nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body) // so the next probe reuses the TLS connection
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("lab: %s/minio/health/ready answered %s", endpoint, resp.Status)
	}
	return nil
}

// Which quorum ClusterHealth asks about.
const (
	// QuorumWrite asks whether every erasure set has write quorum.
	QuorumWrite = "/minio/health/cluster"
	// QuorumRead asks whether every erasure set has read quorum.
	QuorumRead = "/minio/health/cluster/read"
	// QuorumWithout asks whether every erasure set would keep write
	// quorum without the drives of the node asked (MinIO's maintenance
	// check).
	QuorumWithout = "/minio/health/cluster?maintenance=true"
)

// ClusterHealth asks the MinIO node at endpoint about the quorum of the
// whole deployment, as that node sees it: quorum is one of QuorumWrite,
// QuorumRead and QuorumWithout. It reports true when MinIO answers 200,
// false when it answers that the quorum is missing, and an error when it
// gives no such answer.
func ClusterHealth(ctx context.Context, c *http.Client, endpoint, quorum string) (bool, error) {
	h, err := clusterHealth(ctx, c, endpoint, quorum)
	return h.ok, err
}

// health is MinIO's answer to a cluster health check.
type health struct {
	ok      bool
	healing int // drives being healed, as MinIO counts them
}

// clusterHealth is ClusterHealth, with the number of drives healing.
func clusterHealth(ctx context.Context, c *http.Client, endpoint, quorum string) (health, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+quorum, nil)
	if err != nil {
		return health{}, fmt.Errorf("lab: %w", err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return health{}, fmt.Errorf("lab: %w", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	healing, _ := strconv.Atoi(resp.Header.Get("X-Minio-Healing-Drives"))
	switch resp.StatusCode {
	case http.StatusOK:
		return health{ok: true, healing: healing}, nil
	case http.StatusServiceUnavailable, http.StatusPreconditionFailed:
		return health{healing: healing}, nil
	}
	return health{}, fmt.Errorf("lab: %s%s answered %s", endpoint, quorum, resp.Status)
}
