package lab

import "github.com/minio/minio-go/v7"

// SetRekeyPartSize makes rekey copy objects larger than size in parts of
// at most size (S3's limit is 5 GiB), so that a test reaches the
// multipart copy with small objects. It returns what restores the limit.
func SetRekeyPartSize(size int64) (restore func()) {
	old := rekeyLimits
	rekeyLimits = &minio.UploadLimits{MaxPartSize: size}
	return func() { rekeyLimits = old }
}
