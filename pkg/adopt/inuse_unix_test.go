//go:build !windows

package adopt

import (
	"os/exec"
	"strconv"
	"testing"

	"github.com/sselab/sselab/internal/testtools"
)

// TestCheckInUse runs a process whose command line looks like a MinIO
// serving the drive: Check must refuse the drive and name the process.
func TestCheckInUse(t *testing.T) {
	t.Parallel()
	dir := drive(t)
	cmd := exec.Command("sh", "-c", "sleep 60; :", "minio", "server", dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	_, err := Check(dir, fixtureKey(t))
	testtools.WantErrContains(t, err, "is in use by process "+strconv.Itoa(cmd.Process.Pid), "stop that MinIO first")
}
