package verify

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"
)

// fakeS3 answers like a MinIO that misbehaves in one chosen way, so each
// check can be shown to fail for the right reason.
type fakeS3 struct {
	headers    http.Header // returned for HEAD and GET of any object
	body       string      // returned for GET of any object
	encryption string      // GetBucketEncryption: "" answers "not found"
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, ok := r.URL.Query()["encryption"]; ok {
		if f.encryption == "" {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`<Error><Code>ServerSideEncryptionConfigurationNotFoundError</Code><Message>The server side encryption configuration was not found</Message></Error>`))
			return
		}
		w.Write([]byte(f.encryption))
		return
	}
	for k, v := range f.headers {
		w.Header()[k] = v
	}
	w.Header().Set("Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT")
	w.Header().Set("Content-Length", strconv.Itoa(len(f.body)))
	if r.Method == http.MethodGet {
		w.Write([]byte(f.body))
	}
}

func newFake(t *testing.T, f *fakeS3) *minio.Client {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	c, err := minio.New(u.Host, &minio.Options{Creds: credentials.NewStaticV4("a", "b", ""), Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestHeadersCheckFails(t *testing.T) {
	t.Parallel()
	ssecKey := make([]byte, 32)
	ssec, _ := encrypt.NewSSEC(ssecKey)
	sum := md5.Sum(ssecKey)
	goodMD5 := base64.StdEncoding.EncodeToString(sum[:])
	tests := []struct {
		name    string
		m       *mode
		headers http.Header
		ok      bool
		want    string
	}{
		{"SSE-KMS as asked", &mode{kmsKey: "k"}, http.Header{"X-Amz-Server-Side-Encryption": {"aws:kms"}, "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id": {"arn:aws:kms:k"}}, true, "aws:kms, key arn:aws:kms:k"},
		{"SSE-KMS stored as SSE-S3", &mode{kmsKey: "k"}, http.Header{"X-Amz-Server-Side-Encryption": {"AES256"}}, false, "want aws:kms, key arn:aws:kms:k"},
		{"SSE-KMS with another key", &mode{kmsKey: "k"}, http.Header{"X-Amz-Server-Side-Encryption": {"aws:kms"}, "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id": {"arn:aws:kms:other"}}, false, "key arn:aws:kms:other; want"},
		{"SSE-S3 not encrypted", &mode{}, http.Header{}, false, "X-Amz-Server-Side-Encryption: (none); want AES256"},
		{"SSE-C with another key", &mode{ssecKey: ssecKey, sse: ssec}, http.Header{"X-Amz-Server-Side-Encryption-Customer-Algorithm": {"AES256"}, "X-Amz-Server-Side-Encryption-Customer-Key-Md5": {"bm90IHRoZSBrZXk="}}, false, "want AES256, key MD5 " + goodMD5},
		{"SSE-C as asked", &mode{ssecKey: ssecKey, sse: ssec}, http.Header{"X-Amz-Server-Side-Encryption-Customer-Algorithm": {"AES256"}, "X-Amz-Server-Side-Encryption-Customer-Key-Md5": {goodMD5}}, true, "key MD5 " + goodMD5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s3 := newFake(t, &fakeS3{headers: tt.headers})
			tt.m.object = "o"
			ok, ev := headers(context.Background(), s3, "bkt", tt.m)
			if ok != tt.ok || !strings.Contains(ev, tt.want) {
				t.Errorf("headers: got %v %q, want %v and %q", ok, ev, tt.ok, tt.want)
			}
		})
	}
}

func TestReadBackCheckFails(t *testing.T) {
	t.Parallel()
	s3 := newFake(t, &fakeS3{body: "12345"})
	m := &mode{object: "o", body: []byte("abcde")}
	if ok, ev := readBack(context.Background(), s3, "bkt", m); ok || !strings.Contains(ev, "differ") {
		t.Errorf("readBack of changed content: got %v %q, want a failure saying the bytes differ", ok, ev)
	}
	m.body = []byte("12345")
	if ok, ev := readBack(context.Background(), s3, "bkt", m); !ok {
		t.Errorf("readBack of the same content: got %v %q, want ok", ok, ev)
	}
}

func TestBucketDefaultCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, xml string
		ok        bool
		want      string
	}{
		{"none", "", false, "stored in plaintext"},
		{"SSE-KMS", `<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>arn:aws:kms:k</KMSMasterKeyID></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>`, true, "SSE-KMS with key k"},
		{"SSE-S3", `<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>`, true, "SSE-S3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s3 := newFake(t, &fakeS3{encryption: tt.xml})
			if ok, ev := bucketDefault(context.Background(), s3, "bkt", "k"); ok != tt.ok || !strings.Contains(ev, tt.want) {
				t.Errorf("bucketDefault: got %v %q, want %v and %q", ok, ev, tt.ok, tt.want)
			}
		})
	}
}

func TestKeyRefusal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want bool
	}{
		{minio.ErrorResponse{Code: "kms:KeyNotFound", Message: "key with given key ID does not exist"}, true},
		{minio.ErrorResponse{Code: "AccessDenied", Message: "Access Denied."}, false},
		{context.DeadlineExceeded, false}, // a network failure proves nothing
	}
	for _, tt := range tests {
		if got := keyRefusal(tt.err); got != tt.want {
			t.Errorf("keyRefusal(%v): got %v, want %v", tt.err, got, tt.want)
		}
	}
}
