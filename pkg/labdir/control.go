package labdir

import "github.com/sselab/sselab/pkg/vault"

// The control endpoint: a running lab serves it on the loopback address
// in State.ControlAddress, to requests that carry "Authorization: Bearer "
// and State.ControlToken.
const (
	// ControlStop (POST) asks the lab to stop; it answers 202 at once.
	ControlStop = "/v1/stop"
	// ControlInfo (GET) answers with an Info.
	ControlInfo = "/v1/info"
	// ControlSeal (POST) seals the lab's keystore: 204, or 409 with why
	// not as text.
	ControlSeal = "/v1/seal"
	// ControlUnseal (POST, the passphrase as the body) unseals it: 204,
	// or 409 with why not as text.
	ControlUnseal = "/v1/unseal"
)

// Info is what the running lab reports about itself on its control
// endpoint.
type Info struct {
	PID int `json:"pid"`
	// MinIOPID and MinIORestarts are node 1's, as Nodes[0].
	MinIOPID      int `json:"minio_pid"`
	MinIORestarts int `json:"minio_restarts"`
	// Nodes are the MinIO nodes, node 1 first.
	Nodes []NodeInfo `json:"nodes"`
	// Keystore is the lab's check of its keystore, made when asked.
	Keystore *KeystoreHealth `json:"keystore,omitempty"`
	// Vault is the lab's check of Vault, when the keys live there (the
	// same as Keystore.Vault).
	Vault *vault.Health `json:"vault,omitempty"`
}

// NodeInfo is how a MinIO node runs.
type NodeInfo struct {
	PID      int `json:"pid"`
	Restarts int `json:"restarts"`
}

// KeystoreHealth is how the lab's keystore is doing.
type KeystoreHealth struct {
	// Kind is the kind of keystore, as --kms names it.
	Kind string `json:"kind"`
	// Where says where the keys are.
	Where string `json:"where"`
	// OK is false when KES cannot use the keystore.
	OK bool `json:"ok"`
	// State is a word or two about the keystore, such as "sealed".
	State string `json:"state,omitempty"`
	// Error says what is wrong and what to do, on one line.
	Error string `json:"error,omitempty"`
	// Vault is the check of Vault, for a keystore there.
	Vault *vault.Health `json:"vault,omitempty"`
}
