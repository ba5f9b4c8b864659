package labdir

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/sselab/sselab/internal/fsutil"
	"github.com/sselab/sselab/pkg/vault"
)

// Settings are the choices made on the command line that a later `up` on
// the same directory reuses (settings.json).
type Settings struct {
	Address        string   `json:"address"`
	ConsoleAddress string   `json:"console_address"`
	KESAddress     string   `json:"kes_address"`
	WebAddress     string   `json:"web_address,omitempty"`
	Key            string   `json:"key"`
	Buckets        []string `json:"buckets"`
	HTTP           bool     `json:"http"`
	// Shape is how many MinIO nodes the lab runs, of how many drives
	// each; the drives' format holds it, so it never changes once MinIO
	// has written them. Zero in a settings file from before shapes: 1 x 1.
	Shape Shape `json:"shape"`
	Keystore
}

// Keystore says where KES keeps a lab's keys. settings.json and
// state.json hold its fields at their top level. Which kinds there are,
// and what each does with these fields, is package keystore's business.
type Keystore struct {
	// KMS names the kind of keystore: "vault", or "" for the file
	// keystore in DIR (the default) and for the keystore of a KES
	// configuration file (KESConfig set).
	KMS string `json:"kms,omitempty"`
	// KESConfig is the KES server configuration file (absolute) whose
	// keystore, cache and keys KES uses.
	KESConfig string `json:"kes_config,omitempty"`
	// Vault is where in Vault or OpenBao the keys are, and how KES logs
	// in there. The secret is never kept here.
	Vault *vault.Config `json:"vault,omitempty"`
}

// Clone returns a copy of k that shares nothing with it.
func (k Keystore) Clone() Keystore {
	if k.Vault != nil {
		v := *k.Vault
		if v.AppRole != nil {
			a := *v.AppRole
			v.AppRole = &a
		}
		if v.Kubernetes != nil {
			k8s := *v.Kubernetes
			v.Kubernetes = &k8s
		}
		k.Vault = &v
	}
	return k
}

// Credentials are MinIO's root credentials, random on first `up`
// (credentials.json).
type Credentials struct {
	RootUser     string `json:"root_user"`
	RootPassword string `json:"root_password"`
}

// State describes a running lab (state.json). `up` writes it once the lab
// is ready, writes it again when a MinIO node's pid changes, and removes
// it when the lab stops.
type State struct {
	PID        int       `json:"pid"`
	Started    time.Time `json:"started"`
	S3Endpoint string    `json:"s3_endpoint"`
	ConsoleURL string    `json:"console_url"`
	// WebURL is the lab console's address; empty when it is off.
	WebURL       string   `json:"web_url,omitempty"`
	KESEndpoint  string   `json:"kes_endpoint"`
	KESVersion   string   `json:"kes_version"`
	CAFile       string   `json:"ca_file"`
	Key          string   `json:"key"`
	Buckets      []string `json:"buckets"`
	HTTP         bool     `json:"http"`
	MinIOPath    string   `json:"minio_path"`
	MinIOVersion string   `json:"minio_version"`
	// MinIOPID is node 1's pid, as Nodes[0].PID.
	MinIOPID int `json:"minio_pid"`
	// Nodes are the MinIO server processes, node 1 first. S3Endpoint and
	// ConsoleURL are node 1's.
	Nodes []Node `json:"nodes"`
	// Shape is how many nodes of how many drives the lab runs.
	Shape Shape `json:"shape"`
	Keystore
	// KeystoreSummary says where the keys are, for the summary `up`
	// prints.
	KeystoreSummary Summary `json:"keystore_summary"`
	ControlAddress  string  `json:"control_address"`
	ControlToken    string  `json:"control_token"`
}

// Node is one MinIO server process of a running lab.
type Node struct {
	S3Endpoint string   `json:"s3_endpoint"`
	ConsoleURL string   `json:"console_url"`
	Drives     []string `json:"drives"`
	Log        string   `json:"log"`
	PID        int      `json:"pid"`
}

// Summary describes a keystore in a few words and rows, for people.
type Summary struct {
	// Phrase ends the KES line of the summary, as in "keystore DIR/kes/keys".
	Phrase string `json:"phrase"`
	// Rows follow the KES line: a name (may be empty) and a value each.
	Rows [][2]string `json:"rows,omitempty"`
}

// ReadJSON decodes the file at path into v. A missing file is reported as
// an error wrapping fs.ErrNotExist; a damaged one says what to do.
func ReadJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("labdir: %w", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("labdir: %s is damaged (%w); restore it from a backup or remove it", path, err)
	}
	return nil
}

// WriteJSON atomically and durably writes v to path with mode 0600. A
// file that holds v already is left as it is.
func WriteJSON(path string, v any) error {
	data, err := marshal(v)
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	return fsutil.WriteFile(path, data, fsutil.PrivatePerm)
}

// WriteState writes the state file of a running lab: atomically, but
// without waiting for the disk, since the file means nothing once the
// machine crashed (nobody holds the lock then, so no command believes
// it).
func WriteState(l Layout, st State) error {
	data, err := marshal(st)
	if err != nil {
		return err
	}
	return fsutil.ReplaceFile(l.StateFile(), data, fsutil.PrivatePerm)
}

// marshal is v as the directory's files hold it: indented JSON.
func marshal(v any) ([]byte, error) {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("labdir: %w", err)
	}
	return append(data, '\n'), nil
}

// LoadOrCreateCredentials returns the stored root credentials, creating
// random ones on first use.
func LoadOrCreateCredentials(path string) (Credentials, error) {
	var c Credentials
	err := ReadJSON(path, &c)
	switch {
	case err == nil:
		if c.RootUser == "" || len(c.RootPassword) < 8 {
			return c, fmt.Errorf("labdir: %s has no usable root credentials; fix or remove it", path)
		}
		return c, nil
	case !errors.Is(err, fs.ErrNotExist):
		return c, err
	}
	c = Credentials{RootUser: "sselab-" + strings.ToLower(rand.Text()[:8]), RootPassword: rand.Text()}
	return c, WriteJSON(path, c)
}

// InDir reports whether the keys are in the file keystore in the state
// directory (Layout.KeyStoreDir).
func (k Keystore) InDir() bool { return k.KMS == "" && k.KESConfig == "" }
