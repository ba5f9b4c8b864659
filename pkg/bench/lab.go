package bench

import "github.com/sselab/sselab/pkg/lab"

// LabTargets describes the running lab h: its S3 API with the root
// credentials and the lab's default key for SSE-KMS, and its KES server
// as MinIO's identity (the identity whose policy allows generate and
// decrypt) with the same key.
func LabTargets(h *lab.Handle) (Target, KESTarget) {
	s3 := Target{
		Endpoint:  h.S3Endpoint(),
		AccessKey: h.Credentials.RootUser,
		SecretKey: h.Credentials.RootPassword,
		TLS:       h.PKI.ClientTLS(nil),
		KMSKey:    h.State.Key,
	}
	kes := KESTarget{
		Endpoint: h.State.KESEndpoint,
		TLS:      h.PKI.ClientTLS(h.PKI.MinIOClient),
		Key:      h.State.Key,
	}
	return s3, kes
}
