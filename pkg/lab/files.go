package lab

import (
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
// the same directory reuses.
type Settings struct {
	Address        string   `json:"address"`
	ConsoleAddress string   `json:"console_address"`
	KESAddress     string   `json:"kes_address"`
	Key            string   `json:"key"`
	Buckets        []string `json:"buckets"`
	HTTP           bool     `json:"http"`
	KESConfig      string   `json:"kes_config,omitempty"`
	// KMS is KMSVault when the keys live in Vault; empty for the
	// keystore in DIR.
	KMS   string        `json:"kms,omitempty"`
	Vault *vault.Config `json:"vault,omitempty"`
}

// Credentials are MinIO's root credentials, random on first `up`.
type Credentials struct {
	RootUser     string `json:"root_user"`
	RootPassword string `json:"root_password"`
}

// State describes a running lab. `up` writes it once the lab is ready and
// removes it when the lab stops.
type State struct {
	PID            int           `json:"pid"`
	Started        time.Time     `json:"started"`
	S3Endpoint     string        `json:"s3_endpoint"`
	ConsoleURL     string        `json:"console_url"`
	KESEndpoint    string        `json:"kes_endpoint"`
	KESVersion     string        `json:"kes_version"`
	KESConfig      string        `json:"kes_config,omitempty"`
	KESReplaced    []string      `json:"kes_config_replaced,omitempty"`
	Vault          *vault.Config `json:"vault,omitempty"`
	CAFile         string        `json:"ca_file"`
	Key            string        `json:"key"`
	Buckets        []string      `json:"buckets"`
	HTTP           bool          `json:"http"`
	MinIOPath      string        `json:"minio_path"`
	MinIOVersion   string        `json:"minio_version"`
	MinIOPID       int           `json:"minio_pid"`
	ControlAddress string        `json:"control_address"`
	ControlToken   string        `json:"control_token"`
}

// readJSON decodes path into v. A missing file is reported as an error
// wrapping fs.ErrNotExist.
func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("lab: %s is damaged (%w); restore it from a backup or remove it", path, err)
	}
	return nil
}

// writeJSON atomically writes v to path with mode 0600.
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	return fsutil.WriteFile(path, append(data, '\n'), fsutil.PrivatePerm)
}

// loadOrCreateCredentials returns the stored root credentials, creating
// random ones on first use.
func loadOrCreateCredentials(path string) (Credentials, error) {
	var c Credentials
	err := readJSON(path, &c)
	switch {
	case err == nil:
		if c.RootUser == "" || len(c.RootPassword) < 8 {
			return c, fmt.Errorf("lab: %s has no usable root credentials; fix or remove it", path)
		}
		return c, nil
	case !errors.Is(err, fs.ErrNotExist):
		return c, err
	}
	c = Credentials{RootUser: "sselab-" + strings.ToLower(rand.Text()[:8]), RootPassword: rand.Text()}
	return c, writeJSON(path, c)
}
