package lab

import (
	"fmt"
	"net/url"
	"strings"
)

// EnvVar is one variable of a client environment.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// EndpointsVar lists the S3 endpoints of every MinIO node, node 1 first,
// comma-separated, in the environment of a lab of several nodes; the
// other variables name node 1.
const EndpointsVar = "SSELAB_S3_ENDPOINTS"

// MCAlias is the mc alias `sselab env` defines through MC_HOST_sselab.
const MCAlias = "sselab"

// Env returns the variables that point mc, the AWS CLI and SDKs, and the
// kes CLI at the lab: S3 with the root credentials, KES with the operator
// identity, and the lab CA as the trusted CA; and, when it is on, the
// address of the lab console in SSELAB_WEB_URL. S3 is node 1; a lab of
// several nodes lists all of them in EndpointsVar.
func (h *Handle) Env() ([]EnvVar, error) {
	u, err := url.Parse(h.State.S3Endpoint)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("lab: %s has a bad S3 endpoint %q; restart the lab", h.Layout.StateFile(), h.State.S3Endpoint)
	}
	u.User = url.UserPassword(h.Credentials.RootUser, h.Credentials.RootPassword)
	ca := h.PKI.CAFile()
	vars := []EnvVar{
		{"MC_HOST_" + MCAlias, u.String()},
		{"AWS_ACCESS_KEY_ID", h.Credentials.RootUser},
		{"AWS_SECRET_ACCESS_KEY", h.Credentials.RootPassword},
		{"AWS_ENDPOINT_URL", h.State.S3Endpoint},
		{"AWS_REGION", Region},
		{"AWS_CA_BUNDLE", ca},
		{"SSL_CERT_FILE", ca},
		{"KES_SERVER", h.State.KESEndpoint},
		{"KES_CLIENT_CERT", h.PKI.Operator.CertFile},
		{"KES_CLIENT_KEY", h.PKI.Operator.KeyFile},
	}
	if h.State.WebURL != "" {
		vars = append(vars, EnvVar{"SSELAB_WEB_URL", h.State.WebURL})
	}
	if len(h.State.Nodes) > 1 {
		all := make([]string, len(h.State.Nodes))
		for i, n := range h.State.Nodes {
			all[i] = n.S3Endpoint
		}
		vars = append(vars, EnvVar{EndpointsVar, strings.Join(all, ",")})
	}
	return vars, nil
}
