package perf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/minio/kes"
	kesapi "github.com/minio/kms-go/kes"

	"github.com/sselab/sselab/pkg/bench"
	"github.com/sselab/sselab/pkg/kesserver"
	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/pki"
	"github.com/sselab/sselab/pkg/runner"
)

// Lab is a lab started with `sselab up --detach`.
type Lab struct {
	// Handle is the running lab.
	Handle *lab.Handle

	sselab, dir string
}

// StartLab starts a lab on dir in the background with minio, free ports
// and the extra flags of `sselab up`, and returns once it is ready.
func StartLab(ctx context.Context, sselab, minio, dir string, extra ...string) (*Lab, error) {
	cmd := exec.CommandContext(ctx, sselab, append(append([]string{"up", "--detach", "--dir", dir}, freePortFlags...), extra...)...)
	cmd.Env = append(cleanEnv(), "SSELAB_MINIO="+minio)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr // stdout holds the root password: not kept
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("perf: sselab up --detach: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	h, err := lab.Open(dir)
	if err != nil {
		return nil, err
	}
	return &Lab{Handle: h, sselab: sselab, dir: dir}, nil
}

// Stop stops the lab with `sselab down`.
func (l *Lab) Stop() error {
	out, err := exec.Command(l.sselab, "down", "--dir", l.dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("perf: sselab down: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// KES is a standalone `kes server`.
type KES struct {
	// Target reaches it as MinIO's identity, with the same key as the lab.
	Target bench.KESTarget
	// PID is the kes process's id.
	PID int

	proc *proc
	pki  *pki.PKI // MinIO's identity and the CA, to wire a MinIO to it
}

// Stop stops the KES server.
func (k *KES) Stop() error { return k.proc.stop() }

// StartKES starts `kes server` (the kes CLI at binary) configured like
// the lab's embedded KES: the lab's server certificate and CA, client
// certificates required and verified, admin disabled, the same policy
// for MinIO's identity, the same cache settings, a file keystore (in
// dir), and the audit log on (written to dir/audit.log, as the lab
// writes its own). It creates key and returns once KES serves.
func StartKES(ctx context.Context, binary, dir string, p *pki.PKI, key string) (*KES, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	keys := filepath.Join(dir, "keys")
	if err := os.MkdirAll(keys, 0o700); err != nil {
		return nil, fmt.Errorf("perf: %w", err)
	}
	config, err := kesserver.ServerFile{
		Address:  fmt.Sprintf("127.0.0.1:%d", port),
		KeyFile:  p.KESServer.KeyFile,
		CertFile: p.KESServer.CertFile,
		CAFile:   p.CAFile(),
		Policies: []kesserver.Policy{{Name: runner.PolicyMinIO, Allow: runner.MinIORoutes, Identities: []kes.Identity{kes.Identity(p.MinIOClient.Identity())}}},
		Cache:    kesserver.DefaultConfig().Cache,
		AuditLog: true,
		FSPath:   keys,
	}.Marshal()
	if err != nil {
		return nil, fmt.Errorf("perf: %w", err)
	}
	file := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(file, config, 0o600); err != nil {
		return nil, fmt.Errorf("perf: %w", err)
	}
	// KES writes its audit log to stdout, its error log to stderr: both
	// go to one file, as the lab's go to its two.
	pr, err := start(binary, []string{"server", "--config", file}, nil, filepath.Join(dir, "audit.log"))
	if err != nil {
		return nil, err
	}
	k := &KES{
		Target: bench.KESTarget{
			Endpoint: fmt.Sprintf("https://127.0.0.1:%d", port),
			TLS:      p.ClientTLS(p.MinIOClient),
			Key:      key,
		},
		PID:  pr.cmd.Process.Pid,
		proc: pr,
		pki:  p,
	}
	c := kesapi.NewClientWithConfig(k.Target.Endpoint, k.Target.TLS.Clone()) // it changes the config it gets
	err = poll(ctx, pr, 20*time.Millisecond, func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err := c.Status(ctx)
		return err
	})
	if err == nil {
		if err = c.CreateKey(ctx, key); errors.Is(err, kesapi.ErrKeyExists) {
			err = nil
		}
	}
	if err != nil {
		k.Stop()
		return nil, fmt.Errorf("perf: kes server: %w", err)
	}
	return k, nil
}
