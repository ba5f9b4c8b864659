package runner

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sselab/sselab/internal/fsutil"
	"github.com/sselab/sselab/pkg/labdir"
)

// checkModes enforces owner-only access on an existing state directory:
// a private key or credentials file that others can read is refused (it
// may have been copied already, so fixing it silently would hide that),
// and a directory others can enter is fixed to 0700 with a warning.
// Windows keeps no Unix modes; there the check does nothing.
func checkModes(l labdir.Layout, warn io.Writer) error {
	if !fsutil.UnixModes {
		return nil
	}
	private, _ := filepath.Glob(filepath.Join(l.CertsDir(), "*.key"))
	private = append(private,
		filepath.Join(l.CertsDir(), "minio-tls", "private.key"),
		l.CredentialsFile(), l.StateFile(), l.VaultSecretFile())
	if keys, err := os.ReadDir(l.KeyStoreDir()); err == nil {
		for _, k := range keys {
			private = append(private, filepath.Join(l.KeyStoreDir(), k.Name()))
		}
	}
	for _, f := range private {
		fi, err := os.Stat(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("runner: %w", err)
		}
		if !fsutil.Private(fi) {
			return fmt.Errorf("runner: %s can be read by other users (mode %v); if they may have copied it, treat it as exposed; then run 'chmod 600 %s' and start again", f, fi.Mode().Perm(), f)
		}
	}
	for _, d := range []string{l.Root, l.CertsDir(), filepath.Dir(l.KeyStoreDir()), l.KeyStoreDir(), filepath.Dir(l.MinIODataDir()), l.LogsDir()} {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm()&0o077 == 0 {
			continue
		}
		if err := os.Chmod(d, 0o700); err != nil {
			return fmt.Errorf("runner: %s is open to other users (mode %v) and cannot be fixed: %w", d, fi.Mode().Perm(), err)
		}
		fmt.Fprintf(warn, "warning: %s was open to other users (mode %v); set to 0700\n", d, fi.Mode().Perm())
	}
	return nil
}
