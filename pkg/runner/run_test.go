package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sselab/sselab/internal/fakevault"
	"github.com/sselab/sselab/internal/proc"
	"github.com/sselab/sselab/internal/testtools"
	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/labdir"
	"github.com/sselab/sselab/pkg/miniobin"
)

// TestUpRunsALab runs a whole lab in this process, with the real MinIO
// and its keys in a (fake) Vault, and works it from other goroutines the
// way other sselab commands do, while the lab restarts a killed MinIO:
// under -race it shows that what the control endpoint, the restart and
// the state file share is guarded. It checks what the state file and the
// control endpoint say about the MinIO node, that a restart is recorded
// there, that the keystore's check is fresh (a sealed Vault shows at
// once), and that Down, Wait and Stop leave nothing behind.
func TestUpRunsALab(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a MinIO")
	}
	t.Parallel()
	ctx := testtools.Context(t)
	minio := testtools.MinIO(t)
	v, err := fakevault.Start(fakevault.Options{TLS: true, Mounts: map[string]int{"kv": 2}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	ca, secret, err := v.WriteFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}

	dir := filepath.Join(t.TempDir(), "lab")
	l, err := Up(ctx, Options{
		Dir: dir, Address: "127.0.0.1:0", ConsoleAddress: "127.0.0.1:0", KESAddress: "127.0.0.1:0", WebAddress: "127.0.0.1:0",
		Keystore: ksFlags(t, "--kms", "vault", "--vault-endpoint", v.URL(), "--vault-ca", ca, "--vault-prefix", "lab",
			"--vault-approle-id", v.RoleID(), "--vault-approle-secret-file", secret),
		MinIO: miniobin.Options{Flag: minio},
		Log:   t.Output(),
	})
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	defer l.Stop()
	layout := labdir.Layout{Root: dir}

	// The state file names the node, its drive, its log and its pid.
	var st labdir.State
	if err := labdir.ReadJSON(layout.StateFile(), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Nodes) != 1 {
		t.Fatalf("state file: got %d nodes, want 1: %+v", len(st.Nodes), st.Nodes)
	}
	n := st.Nodes[0]
	if n.PID == 0 || n.PID != st.MinIOPID || !proc.Alive(n.PID) {
		t.Errorf("state file: node pid %d, minio_pid %d; want the same running pid", n.PID, st.MinIOPID)
	}
	if n.S3Endpoint != st.S3Endpoint || n.ConsoleURL != st.ConsoleURL || !slices.Equal(n.Drives, []string{layout.MinIODataDir()}) || n.Log != layout.MinIOLog() {
		t.Errorf("state file: node %+v; want the lab's endpoints, drive %s and log %s", n, layout.MinIODataDir(), layout.MinIOLog())
	}
	if st.KMS != "vault" || st.KeystoreSummary.Phrase != "keys in Vault" {
		t.Errorf("state file: keystore %q, summary %+v; want vault", st.KMS, st.KeystoreSummary)
	}

	h, err := lab.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Other commands ask while a killed MinIO is restarted.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				h.Info(ctx)
				h.Status(ctx)
				l.State()
			}
		})
	}
	old, err := os.FindProcess(n.PID)
	if err != nil {
		t.Fatal(err)
	}
	old.Kill()
	var info labdir.Info
	waitFor(t, "the restarted MinIO in the state file and on the control endpoint", func() error {
		if err := labdir.ReadJSON(layout.StateFile(), &st); err != nil {
			return err
		}
		if info, err = h.Info(ctx); err != nil {
			return err
		}
		if st.MinIOPID == n.PID || st.MinIOPID == 0 || info.MinIOPID != st.MinIOPID || info.MinIORestarts != 1 {
			return errors.New("not yet")
		}
		return nil
	})
	close(stop)
	wg.Wait()
	if len(info.Nodes) != 1 || info.Nodes[0].PID != st.MinIOPID || !proc.Alive(st.MinIOPID) {
		t.Errorf("after the restart: info %+v, state pid %d; want node 1 running with that pid", info, st.MinIOPID)
	}

	// The keystore's check is made when asked: a sealed Vault shows at once.
	if k := info.Keystore; k == nil || k.Kind != "vault" || !k.OK || info.Vault == nil || info.Vault.State() != "unsealed" {
		t.Errorf("keystore of a healthy lab: %+v, vault %+v", info.Keystore, info.Vault)
	}
	v.Seal()
	if info, err = h.Info(ctx); err != nil {
		t.Fatal(err)
	}
	if k := info.Keystore; k == nil || k.OK || !strings.Contains(k.Error, "is sealed") {
		t.Errorf("keystore with Vault sealed: %+v; want not OK, saying it is sealed", info.Keystore)
	}
	v.Unseal()

	// Down makes Wait return, as in 'sselab up'; Down returns once Stop
	// has released the directory, and nothing is left behind.
	down := make(chan error, 1)
	go func() { down <- h.Down(ctx) }()
	if err := l.Wait(ctx); err != nil {
		t.Errorf("Wait after Down: %v", err)
	}
	if err := l.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if err := <-down; err != nil {
		t.Errorf("Down: %v", err)
	}
	if testtools.Exists(t, layout.StateFile()) || labdir.Locked(layout) {
		t.Error("after Stop: the state file or the lock is still there")
	}
	waitFor(t, "MinIO to be gone", func() error {
		if proc.Alive(st.MinIOPID) {
			return errors.New("still running")
		}
		return nil
	})
}

// waitFor polls f until it returns nil, for at most a minute.
func waitFor(t *testing.T, what string, f func() error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for {
		err := f()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
