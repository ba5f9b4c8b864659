// Package lab owns a lab's state directory and runs the lab: it locks the
// directory, makes the PKI, starts the embedded KES and the supervised
// MinIO, sets up the encrypted buckets, and lets other sselab commands find
// and talk to the running lab.
package lab

import (
	"fmt"
	"os"
	"path/filepath"
)

// Layout names every path inside a lab's state directory.
//
//	DIR/
//	  settings.json     addresses, default key, buckets (remembered across runs)
//	  credentials.json  MinIO root user and password (0600)
//	  state.json        the running lab: pids, endpoints, control token (0600)
//	  sselab.lock       held while a lab runs on DIR
//	  certs/            the PKI (see package pki)
//	  kes/keys/         KES's persistent keystore: losing it loses every object
//	  kes/audit.log     one JSON line per KES request
//	  kes/error.log
//	  vault/secret-id   the AppRole secret_id with --kms vault (0600)
//	  minio/data/       MinIO's drive
//	  logs/minio.log    MinIO's output
//	  logs/sselab.log   sselab's own output when started with --detach
type Layout struct {
	// Root is the state directory.
	Root string
}

// DefaultDir returns the per-user state directory: $SSELAB_DIR if set,
// else sselab under the OS's per-user config directory (~/.config/sselab
// on Linux, ~/Library/Application Support/sselab on macOS,
// %AppData%\sselab on Windows).
func DefaultDir() (string, error) {
	if d := os.Getenv("SSELAB_DIR"); d != "" {
		return d, nil
	}
	base, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("lab: no per-user directory (%w); pass --dir", err)
	}
	return filepath.Join(base, "sselab"), nil
}

func (l Layout) path(elem ...string) string {
	return filepath.Join(append([]string{l.Root}, elem...)...)
}

// SettingsFile holds the remembered settings.
func (l Layout) SettingsFile() string { return l.path("settings.json") }

// CredentialsFile holds MinIO's root credentials.
func (l Layout) CredentialsFile() string { return l.path("credentials.json") }

// StateFile describes the running lab; it exists only while a lab runs.
func (l Layout) StateFile() string { return l.path("state.json") }

// LockFile is held by the process running the lab.
func (l Layout) LockFile() string { return l.path("sselab.lock") }

// CertsDir is the PKI directory.
func (l Layout) CertsDir() string { return l.path("certs") }

// KeyStoreDir is KES's file keystore.
func (l Layout) KeyStoreDir() string { return l.path("kes", "keys") }

// KESAuditLog is KES's audit log.
func (l Layout) KESAuditLog() string { return l.path("kes", "audit.log") }

// KESErrorLog is KES's error log.
func (l Layout) KESErrorLog() string { return l.path("kes", "error.log") }

// MinIODataDir is MinIO's drive.
func (l Layout) MinIODataDir() string { return l.path("minio", "data") }

// MinIOPlainCertsDir is an empty certs directory for --http mode, so MinIO
// does not pick up ~/.minio/certs.
func (l Layout) MinIOPlainCertsDir() string { return l.path("minio", "no-certs") }

// LogsDir holds the logs of the processes sselab runs.
func (l Layout) LogsDir() string { return l.path("logs") }

// MinIOLog is MinIO's stdout and stderr.
func (l Layout) MinIOLog() string { return l.path("logs", "minio.log") }

// SelfLog is the output of a detached sselab.
func (l Layout) SelfLog() string { return l.path("logs", "sselab.log") }

// VaultSecretFile keeps the AppRole secret_id of a lab whose keys are in
// Vault.
func (l Layout) VaultSecretFile() string { return l.path("vault", "secret-id") }
