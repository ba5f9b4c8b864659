package lab

import (
	"fmt"
	"net/url"
	"strings"
)

// EnvVar is one variable of a client environment: set to Value, or, with
// Unset, removed.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	Unset bool   `json:"unset,omitempty"`
}

// EndpointsVar lists the S3 endpoints of every MinIO node, node 1 first,
// comma-separated, in the environment of a lab of several nodes; the
// other variables name node 1.
const EndpointsVar = "SSELAB_S3_ENDPOINTS"

// MCAlias is the mc alias `sselab env` defines through MC_HOST_sselab.
const MCAlias = "sselab"

// RcloneRemote is the rclone remote `sselab env` defines through
// RCLONE_CONFIG_SSELAB_*.
const RcloneRemote = "sselab"

// Env returns the variables that point mc, rclone, the AWS CLI and SDKs,
// and the kes CLI at the lab: S3 with the root credentials, KES with the
// operator identity, and the lab CA as the trusted CA; and, when it is on,
// the address of the lab console in SSELAB_WEB_URL.
//
// The CA reaches the AWS CLI through REQUESTS_CA_BUNDLE (botocore reads
// it), not AWS_CA_BUNDLE: with AWS_CA_BUNDLE set, rclone 1.60's S3 backend
// fails before any request ("LoadCustomCABundleError ... unsupported
// transport"), and botocore prefers it to REQUESTS_CA_BUNDLE; so Env
// unsets an AWS_CA_BUNDLE the shell may have. rclone takes the CA from
// RCLONE_CA_CERT.
//
// The rclone remote asks for SSE-KMS on every upload
// (server_side_encryption aws:kms, no key id): an SSE-KMS object's ETag is
// not the MD5 of its content, and only with that setting does rclone
// check the MD5 it stores in the object's metadata instead. MinIO then
// encrypts with its default KMS key, the lab's default key, whatever the
// bucket's default encryption says; see RclonePath.
//
// S3 is node 1; a lab of several nodes lists all of them in EndpointsVar.
func (h *Handle) Env() ([]EnvVar, error) {
	u, err := h.s3URL()
	if err != nil {
		return nil, err
	}
	endpoint := h.State.S3Endpoint
	u.User = url.UserPassword(h.Credentials.RootUser, h.Credentials.RootPassword)
	ca := h.PKI.CAFile()
	rc := "RCLONE_CONFIG_" + strings.ToUpper(RcloneRemote) + "_"
	vars := []EnvVar{
		{Name: "MC_HOST_" + MCAlias, Value: u.String()},
		{Name: "AWS_ACCESS_KEY_ID", Value: h.Credentials.RootUser},
		{Name: "AWS_SECRET_ACCESS_KEY", Value: h.Credentials.RootPassword},
		{Name: "AWS_ENDPOINT_URL", Value: endpoint},
		{Name: "AWS_REGION", Value: Region},
		{Name: rc + "TYPE", Value: "s3"},
		{Name: rc + "PROVIDER", Value: "Minio"},
		{Name: rc + "ENDPOINT", Value: endpoint},
		{Name: rc + "ACCESS_KEY_ID", Value: h.Credentials.RootUser},
		{Name: rc + "SECRET_ACCESS_KEY", Value: h.Credentials.RootPassword},
		{Name: rc + "REGION", Value: Region},
		{Name: rc + "SERVER_SIDE_ENCRYPTION", Value: "aws:kms"},
		{Name: "AWS_CA_BUNDLE", Unset: true},
		{Name: "SSL_CERT_FILE", Value: ca},
		{Name: "REQUESTS_CA_BUNDLE", Value: ca},
		{Name: "RCLONE_CA_CERT", Value: ca},
		{Name: "KES_SERVER", Value: h.State.KESEndpoint},
		{Name: "KES_CLIENT_CERT", Value: h.PKI.Operator.CertFile},
		{Name: "KES_CLIENT_KEY", Value: h.PKI.Operator.KeyFile},
	}
	if h.State.WebURL != "" {
		vars = append(vars, EnvVar{Name: "SSELAB_WEB_URL", Value: h.State.WebURL})
	}
	if len(h.State.Nodes) > 1 {
		all := make([]string, len(h.State.Nodes))
		for i, n := range h.State.Nodes {
			all[i] = n.S3Endpoint
		}
		vars = append(vars, EnvVar{Name: EndpointsVar, Value: strings.Join(all, ",")})
	}
	return vars, nil
}

// s3URL parses the lab's S3 endpoint.
func (h *Handle) s3URL() (*url.URL, error) {
	u, err := url.Parse(h.State.S3Endpoint)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("lab: %s has a bad S3 endpoint %q; restart the lab", h.Layout.StateFile(), h.State.S3Endpoint)
	}
	return u, nil
}

// RclonePath returns the rclone path of bucket through the remote Env
// defines, with the overrides that keep enc, the bucket's default
// encryption: the remote alone asks for SSE-KMS with the lab's default
// key (defaultKey), so a bucket with another key needs sse_kms_key_id,
// and one with SSE-S3 or none its own server_side_encryption (their ETags
// are MD5s, so rclone's check passes without it).
func RclonePath(bucket string, enc BucketEncryption, defaultKey string) string {
	var opts string
	switch enc.Algorithm {
	case "aws:kms":
		if enc.KeyID != "" && enc.KeyID != defaultKey {
			opts = ",sse_kms_key_id=" + enc.KeyID
		}
	case "":
		opts = ",server_side_encryption=''"
	default:
		opts = ",server_side_encryption=" + enc.Algorithm
	}
	return RcloneRemote + opts + ":" + bucket
}

// S3cmdConfig returns an s3cmd configuration file for the lab: path-style
// requests to its S3 API with the root credentials, trusting the lab CA.
// s3cmd sends no encryption header, so each bucket's default encryption
// applies, and it skips its MD5 check on SSE-KMS objects by itself.
func (h *Handle) S3cmdConfig() (string, error) {
	u, err := h.s3URL()
	if err != nil {
		return "", err
	}
	lines := []struct{ k, v string }{
		{"access_key", h.Credentials.RootUser},
		{"secret_key", h.Credentials.RootPassword},
		{"host_base", u.Host},
		{"host_bucket", u.Host},
		{"bucket_location", Region},
		{"use_https", map[bool]string{true: "True", false: "False"}[u.Scheme == "https"]},
		{"check_ssl_certificate", "True"},
		{"ca_certs_file", h.PKI.CAFile()},
		{"signature_v2", "False"},
	}
	var b strings.Builder
	b.WriteString("# s3cmd configuration for the sselab lab at " + h.State.S3Endpoint + "\n")
	b.WriteString("# use it with: s3cmd -c FILE ls\n[default]\n")
	for _, l := range lines {
		if strings.ContainsAny(l.v, "\r\n") {
			return "", fmt.Errorf("lab: the s3cmd setting %s contains a line break, which s3cmd cannot read", l.k)
		}
		fmt.Fprintf(&b, "%s = %s\n", l.k, l.v)
	}
	return b.String(), nil
}
