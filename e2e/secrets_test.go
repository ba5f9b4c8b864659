package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSecretsStayOutOfArgvAndLogs checks that the root password and the
// private keys travel only through the environment and 0600 files: they
// are in no process's command line and in no log file.
func TestSecretsStayOutOfArgvAndLogs(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "lab")
	h := upDetached(t, dir)
	mustRun(t, "verify", "--dir", dir) // some traffic for the logs
	info, err := h.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string][]byte{"root password": []byte(h.Credentials.RootPassword)}
	for _, c := range []struct {
		name string
		file string
	}{{"operator key", h.PKI.Operator.KeyFile}, {"MinIO KES client key", h.PKI.MinIOClient.KeyFile}, {"CA key", h.PKI.CA.KeyFile}} {
		pemKey, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		secrets[c.name] = bytes.TrimSpace(bytes.Split(pemKey, []byte("\n"))[1]) // a line of the key itself
		if fi, _ := os.Stat(c.file); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s %s: mode %v, want 0600", c.name, c.file, fi.Mode().Perm())
		}
	}
	for _, pid := range []int{info.PID, info.MinIOPID} {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			t.Fatal(err)
		}
		for name, s := range secrets {
			if bytes.Contains(cmdline, s) {
				t.Errorf("the %s is in the command line of process %d: %q", name, pid, strings.ReplaceAll(string(cmdline), "\x00", " "))
			}
		}
	}
	logs := []string{h.Layout.MinIOLog(), h.Layout.KESAuditLog(), h.Layout.KESErrorLog()}
	if extra, _ := filepath.Glob(filepath.Join(h.Layout.LogsDir(), "*")); len(extra) > 0 {
		logs = append(logs, extra...)
	}
	for _, f := range logs {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for name, s := range secrets {
			if bytes.Contains(data, s) {
				t.Errorf("the %s is in the log %s", name, f)
			}
		}
	}
	for _, f := range []string{h.Layout.CredentialsFile(), h.Layout.StateFile()} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, want mode 0600", f, err)
		}
	}
}
