package runner

import (
	"github.com/minio/kes"

	"github.com/sselab/sselab/pkg/kesserver"
)

// Policy names bound to the lab's two client identities.
const (
	PolicyMinIO    = "minio"
	PolicyOperator = "operator"
)

// MinIORoutes are exactly the KES API routes a MinIO server calls: key
// creation and description at start, generate/decrypt for every object,
// encrypt for its IAM and config data, HMAC to derive secrets, list for
// `mc admin kms key list`, and status/API/metrics for health and
// `mc admin kms key status`. Delete and import are missing on purpose:
// those are operator actions, and a compromised MinIO must not be able to
// destroy keys.
var MinIORoutes = []string{
	"/version",
	"/v1/status",
	"/v1/api",
	"/v1/metrics",
	"/v1/key/create/*",
	"/v1/key/describe/*",
	"/v1/key/generate/*",
	"/v1/key/decrypt/*",
	"/v1/key/encrypt/*",
	"/v1/key/hmac/*",
	"/v1/key/list/*",
}

// OperatorRoutes are the routes sselab's own commands use: every key
// operation, status, and read access to policies, identities and logs.
var OperatorRoutes = []string{
	"/version",
	"/v1/status",
	"/v1/ready",
	"/v1/api",
	"/v1/metrics",
	"/v1/key/*",
	"/v1/policy/describe/*",
	"/v1/policy/read/*",
	"/v1/policy/list/*",
	"/v1/identity/describe/*",
	"/v1/identity/list/*",
	"/v1/log/error",
	"/v1/log/audit",
}

// Policies are the lab's KES policies: PolicyMinIO for MinIO's client
// identity and PolicyOperator for sselab's own. No other identity may
// use the lab's KES.
func Policies(minio, operator kes.Identity) []kesserver.Policy {
	return []kesserver.Policy{
		{Name: PolicyMinIO, Allow: MinIORoutes, Identities: []kes.Identity{minio}},
		{Name: PolicyOperator, Allow: OperatorRoutes, Identities: []kes.Identity{operator}},
	}
}
