// Package labdir defines a lab's state directory: which file is where,
// what each one holds, and the defaults of the settings kept there. It is
// the contract between the process that runs a lab (package runner) and
// every other sselab command (package lab), which read and write the
// directory only through it. It has no behaviour beyond reading, writing
// and locking those files and checking the values they hold.
package labdir

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Layout names every path inside a lab's state directory.
//
//	DIR/
//	  settings.json     addresses, default key, buckets, keystore (remembered across runs)
//	  credentials.json  MinIO root user and password (0600)
//	  state.json        the running lab: pids, endpoints, control token (0600)
//	  sselab.lock       held while a lab runs on DIR
//	  certs/            the PKI (see package pki)
//	  kes/keys/         KES's persistent keystore: losing it loses every object
//	  kes/sealed/       the sealed keystore (--kms sealed): keystore.json and one encrypted file per key
//	  kes/key-index.json the names of the lab's keys, to tell a lost key from one never made
//	  kes/audit.log     one JSON line per KES request
//	  kes/error.log
//	  vault/secret-id   the AppRole secret_id with --kms vault (0600)
//	  minio/data/       MinIO's drive (node 1, drive 1)
//	  logs/minio.log    MinIO's output (node 1)
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
		return "", fmt.Errorf("labdir: no per-user directory (%w); pass --dir", err)
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

// KESDir holds KES's keystore and logs.
func (l Layout) KESDir() string { return l.path("kes") }

// KeyStoreDir is KES's file keystore.
func (l Layout) KeyStoreDir() string { return l.path("kes", "keys") }

// SealedKeyStoreDir is the sealed keystore: its header keystore.json and
// one encrypted file per key.
func (l Layout) SealedKeyStoreDir() string { return l.path("kes", "sealed") }

// KeyIndexFile lists the names of the keys the lab's keystore in DIR
// holds, so that 'up' can tell a key that was lost from one never made.
func (l Layout) KeyIndexFile() string { return l.path("kes", "key-index.json") }

// KESAuditLog is KES's audit log.
func (l Layout) KESAuditLog() string { return l.path("kes", "audit.log") }

// KESErrorLog is KES's error log.
func (l Layout) KESErrorLog() string { return l.path("kes", "error.log") }

// MinIODir holds every MinIO node's drives.
func (l Layout) MinIODir() string { return l.path("minio") }

// MinIODataDir is MinIO's drive: the one drive of node 1.
func (l Layout) MinIODataDir() string { return l.path("minio", "data") }

// NodeDrive is drive d (1-based) of MinIO node n (1-based). Node 1's drive
// 1 is MinIODataDir; the others are DIR/minio/nodeN/dD.
func (l Layout) NodeDrive(n, d int) string {
	if n == 1 && d == 1 {
		return l.MinIODataDir()
	}
	return l.path("minio", "node"+strconv.Itoa(n), "d"+strconv.Itoa(d))
}

// MinIOPlainCertsDir is an empty certs directory for --http mode, so MinIO
// does not pick up ~/.minio/certs.
func (l Layout) MinIOPlainCertsDir() string { return l.path("minio", "no-certs") }

// LogsDir holds the logs of the processes sselab runs.
func (l Layout) LogsDir() string { return l.path("logs") }

// MinIOLog is MinIO's stdout and stderr: node 1's.
func (l Layout) MinIOLog() string { return l.path("logs", "minio.log") }

// NodeLog is the output of MinIO node n (1-based): MinIOLog for node 1,
// logs/minio-N.log for the others.
func (l Layout) NodeLog(n int) string {
	if n == 1 {
		return l.MinIOLog()
	}
	return l.path("logs", "minio-"+strconv.Itoa(n)+".log")
}

// SelfLog is the output of a detached sselab.
func (l Layout) SelfLog() string { return l.path("logs", "sselab.log") }

// VaultSecretFile keeps the AppRole secret_id of a lab whose keys are in
// Vault.
func (l Layout) VaultSecretFile() string { return l.path("vault", "secret-id") }
