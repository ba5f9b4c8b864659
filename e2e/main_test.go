// Package e2e runs the sselab binary as a user would, against a real MinIO
// and the real embedded KES, with the real mc and kes clients.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sselab/sselab/internal/proc"
	"github.com/sselab/sselab/internal/testtools"
	"github.com/sselab/sselab/pkg/lab"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testtools.Cleanup()
	os.Exit(code)
}

// freePorts are the flags that let labs run side by side.
var freePorts = []string{"--address", "127.0.0.1:0", "--console-address", "127.0.0.1:0", "--kes-address", "127.0.0.1:0", "--web-address", "127.0.0.1:0"}

// result is what one sselab run printed and how it ended.
type result struct {
	stdout, stderr string
	code           int
}

// sselab runs the sselab binary with a MinIO from testtools.
func sselab(t *testing.T, args ...string) result {
	t.Helper()
	return sselabEnv(t, nil, args...)
}

// sselabEnv is sselab with extra environment variables, which win over
// the test's own.
func sselabEnv(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := testtools.Sselab(t)
	cmd := exec.CommandContext(ctx, bin, args...)
	// The binary under test is the sselab on PATH, as after 'go install':
	// its hints say 'sselab ...' (TestHints covers the other cases).
	path := "PATH=" + filepath.Dir(bin) + string(os.PathListSeparator) + os.Getenv("PATH")
	cmd.Env = append(append(os.Environ(), "SSELAB_MINIO="+testtools.MinIO(t), path), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("sselab %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// mustRun runs sselab and fails the test unless it exits 0.
func mustRun(t *testing.T, args ...string) result {
	t.Helper()
	r := sselab(t, args...)
	if r.code != 0 {
		t.Fatalf("sselab %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// upDetached starts a lab on dir in the background and registers its
// teardown; it returns the lab's handle.
func upDetached(t *testing.T, dir string, args ...string) *lab.Handle {
	t.Helper()
	mustRun(t, append(append([]string{"up", "--detach", "--dir", dir}, freePorts...), args...)...)
	t.Cleanup(func() { stopLab(t, dir) })
	h, err := lab.Open(dir)
	if err != nil {
		t.Fatalf("lab.Open after up: %v", err)
	}
	return h
}

// stopLab stops the lab on dir if one runs, and makes sure no process of
// it is left.
func stopLab(t *testing.T, dir string) {
	t.Helper()
	h, err := lab.OpenState(dir)
	if err != nil {
		return
	}
	info, _ := h.Info(context.Background())
	if r := sselab(t, "down", "--dir", dir); r.code != 0 {
		t.Errorf("sselab down: exit %d: %s", r.code, r.stderr)
	}
	for _, pid := range []int{info.PID, info.MinIOPID} {
		waitGone(t, pid)
	}
}

// waitGone fails the test if process pid still runs after a deadline.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	if pid <= 0 {
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for proc.Alive(pid) {
		if time.Now().After(deadline) {
			t.Errorf("process %d still runs 10s after the lab stopped", pid)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processesMentioning returns the pids whose command line contains s.
func processesMentioning(s string) []string {
	var pids []string
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range dirs {
		data, err := os.ReadFile(f)
		if err == nil && bytes.Contains(data, []byte(s)) {
			pids = append(pids, filepath.Base(filepath.Dir(f)))
		}
	}
	return pids
}

// treeHash summarises every path, mode and content under dir ("absent"
// if dir does not exist), to show a failed command changed nothing.
func treeHash(t *testing.T, dir string) string {
	t.Helper()
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return "absent"
	}
	var lines []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		sum := ""
		if d.Type().IsRegular() {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			h := sha256.Sum256(data)
			sum = hex.EncodeToString(h[:])
		}
		rel, _ := filepath.Rel(dir, path)
		lines = append(lines, fmt.Sprintf("%s %v %s", rel, info.Mode(), sum))
		return nil
	})
	if err != nil {
		t.Fatalf("hashing %s: %v", dir, err)
	}
	sort.Strings(lines)
	h := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(h[:])
}

// containsBytes reports whether any file under dir contains marker.
func containsBytes(t *testing.T, dir string, marker []byte) bool {
	t.Helper()
	found := false
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || found || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		found = bytes.Contains(data, marker)
		return nil
	})
	if err != nil {
		t.Fatalf("scanning %s: %v", dir, err)
	}
	return found
}

// parseExports turns `export K=V` lines into a map, undoing shellQuote.
func parseExports(t *testing.T, out string) map[string]string {
	t.Helper()
	env := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "export ")
		if !ok {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		if strings.HasPrefix(v, "'") {
			v = strings.ReplaceAll(strings.Trim(v, "'"), `'\''`, "'")
		}
		env[k] = v
	}
	return env
}

// withEnv returns os.Environ with vars added.
func withEnv(vars map[string]string) []string {
	env := os.Environ()
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}

func requireLinux(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("this end-to-end test inspects /proc")
	}
}

// eventually retries f until it returns nil or the deadline passes.
func eventually(t *testing.T, what string, d time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %s: %v", what, d, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
