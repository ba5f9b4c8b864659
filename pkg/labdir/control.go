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
	// ControlNode (POST, a NodeRequest as JSON) stops, kills or starts a
	// MinIO node: 204 once done, or 409 with why not as text.
	ControlNode = "/v1/node"
)

// What a NodeRequest asks of a node.
const (
	// NodeStop stops the node gracefully; it stays stopped.
	NodeStop = "stop"
	// NodeKill kills the node (SIGKILL); it stays stopped.
	NodeKill = "kill"
	// NodeStart starts a stopped node again and waits until it is ready.
	NodeStart = "start"
)

// NodeRequest asks the lab to stop, kill or start one MinIO node.
type NodeRequest struct {
	// Node is the node's number, from 1.
	Node int `json:"node"`
	// Action is NodeStop, NodeKill or NodeStart.
	Action string `json:"action"`
	// Force stops or kills the node even if the cluster would lose its
	// write quorum.
	Force bool `json:"force,omitempty"`
}

// States of a node in NodeInfo.
const (
	// NodeRunning: its process runs (or the supervisor is restarting it
	// after a crash).
	NodeRunning = "running"
	// NodeStopped: 'sselab node stop' stopped it.
	NodeStopped = "stopped"
	// NodeKilled: 'sselab node kill' killed it.
	NodeKilled = "killed"
	// NodeFailed: it kept crashing and the supervisor gave up.
	NodeFailed = "failed"
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
	// State is NodeRunning, NodeStopped, NodeKilled or NodeFailed.
	State string `json:"state"`
	// Error says why a failed node failed.
	Error string `json:"error,omitempty"`
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
