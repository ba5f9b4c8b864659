package e2e

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	kesapi "github.com/minio/kms-go/kes"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"

	"github.com/sselab/sselab/internal/fakevault"
	"github.com/sselab/sselab/internal/testtools"
	"github.com/sselab/sselab/pkg/export"
	"github.com/sselab/sselab/pkg/labdir"
)

// TestExportFilesRunsWithoutSselab is the proof that 'sselab export
// --format files' is the deployment the lab is (issue 18, item 5): the
// lab writes SSE-KMS and SSE-S3 objects and stops; the export, made with
// --root set to its own directory, runs with the real standalone 'kes
// server --config' and the real 'minio server' on the exported
// environment file, no sselab process involved, on a copy of the lab's
// drive where MINIO_VOLUMES points; every object reads back identical,
// and 'mc admin kms key status' is green. A sealed lab does the same,
// its keys exported in clear with its passphrase.
func TestExportFilesRunsWithoutSselab(t *testing.T) {
	requireLinux(t)
	t.Run("fs", func(t *testing.T) { exportRoundTrip(t, nil) })
	t.Run("sealed", func(t *testing.T) {
		t.Setenv("SSELAB_PASSPHRASE", "correct horse battery staple") // up and export read it
		exportRoundTrip(t, nil, "--sealed")
	})
	t.Run("vault", func(t *testing.T) {
		vl := startFakeVault(t, fakevault.Options{Mounts: map[string]int{"kv": 2}})
		secret, err := os.ReadFile(vl.secretFile)
		if err != nil {
			t.Fatal(err)
		}
		// The export references the AppRole secret: KES gets it from its
		// environment, as the export's note says.
		exportRoundTrip(t, []string{export.VaultSecretEnv + "=" + strings.TrimSpace(string(secret))}, vl.args...)
	})
}

// exportRoundTrip is TestExportFilesRunsWithoutSselab on a lab started
// with upArgs; the exported kes server runs with kesEnv added to the
// test's environment.
func exportRoundTrip(t *testing.T, kesEnv []string, upArgs ...string) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "lab")
	s3Addr, kesAddr, uiAddr := testtools.FreeAddr(t), testtools.FreeAddr(t), testtools.FreeAddr(t)
	h := upDetached(t, dir, append([]string{"--address", s3Addr, "--kes-address", kesAddr, "--console-address", uiAddr}, upArgs...)...)
	s3, err := h.S3()
	if err != nil {
		t.Fatal(err)
	}

	// What the lab writes: small and multipart objects under the bucket's
	// SSE-KMS default, and SSE-S3 objects.
	sseS3 := encrypt.NewSSE()
	want := map[string][]byte{}
	wantSSE := map[string]string{}
	put := func(name string, size int, sse encrypt.ServerSide, algo string) {
		body := make([]byte, size)
		rand.Read(body)
		opts := minio.PutObjectOptions{ServerSideEncryption: sse, PartSize: 5 << 20}
		if _, err := s3.PutObject(ctx, labdir.DefaultBucket, name, bytes.NewReader(body), int64(size), opts); err != nil {
			t.Fatalf("put %s: %v", name, err)
		}
		want[name], wantSSE[name] = body, algo
	}
	put("kms/small.bin", 1000, nil, "aws:kms")
	put("kms/multipart.bin", 11<<20, nil, "aws:kms")
	put("s3/small.bin", 4096, sseS3, "AES256")
	put("s3/multipart.bin", 6<<20, sseS3, "AES256")

	// A running lab exports as well.
	running := filepath.Join(t.TempDir(), "pod")
	mustRun(t, "export", "--dir", dir, "--format", "podman", "--out", running)
	if b, err := exec.Command("bash", "-n", filepath.Join(running, "pod.sh")).CombinedOutput(); err != nil {
		t.Errorf("bash -n pod.sh: %v\n%s", err, b)
	}

	mustRun(t, "down", "--dir", dir)
	waitGone(t, h.State.PID)
	waitGone(t, h.State.MinIOPID)

	if len(upArgs) == 0 {
		exportBadInput(t, dir) // an fs lab: --kms vault is bad input for it
	}
	out := filepath.Join(t.TempDir(), "deploy")
	r := mustRun(t, "export", "--dir", dir, "--format", "files", "--out", out, "--root", out)
	for _, f := range []string{"certs/kes-server.cert", "certs/kes-server.key", "certs/minio-kes.cert", "certs/minio-kes.key", "certs/CAs/ca.cert", "config/kes-config.yaml", "config/minio"} {
		if !strings.Contains(r.stdout, f) || !testtools.Exists(t, filepath.Join(out, f)) {
			t.Errorf("export: %s missing (stdout %q)", f, r.stdout)
		}
	}
	testtools.WantPrivateTree(t, out)
	for _, f := range []string{"config/kes-config.yaml", "config/minio"} {
		data, _ := os.ReadFile(filepath.Join(out, f))
		if !bytes.HasPrefix(data, []byte("# Made by sselab")) || !bytes.Contains(data, []byte(dir)) {
			t.Errorf("%s: no header naming the lab:\n%.200s", f, data)
		}
	}

	// A user moving the data: the lab's drive goes where MINIO_VOLUMES
	// points.
	env := readEnvFile(t, filepath.Join(out, "config", "minio"))
	if env["MINIO_VOLUMES"] != filepath.Join(out, "data") {
		t.Fatalf("MINIO_VOLUMES: got %q, want %q", env["MINIO_VOLUMES"], filepath.Join(out, "data"))
	}
	copyTree(t, h.Layout.MinIODataDir(), env["MINIO_VOLUMES"])

	logs := t.TempDir()
	startProc(t, filepath.Join(logs, "kes.log"), append(os.Environ(), kesEnv...), testtools.KESCLI(t), "server", "--config", filepath.Join(out, "config", "kes-config.yaml"))
	clientCert, err := tls.LoadX509KeyPair(env["MINIO_KMS_KES_CERT_FILE"], env["MINIO_KMS_KES_KEY_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	pool := poolOf(t, env["MINIO_KMS_KES_CAPATH"])
	kes := kesapi.NewClientWithConfig(env["MINIO_KMS_KES_ENDPOINT"], &tls.Config{Certificates: []tls.Certificate{clientCert}, RootCAs: pool})
	eventually(t, "the exported KES answers MinIO's identity", 30*time.Second, func() error {
		_, err := kes.Status(ctx)
		return err
	})

	// The Compose healthcheck's command: 'kes status' as MinIO.
	status := exec.CommandContext(ctx, testtools.KESCLI(t), "status", "-k")
	status.Env = append(os.Environ(), "KES_SERVER="+env["MINIO_KMS_KES_ENDPOINT"], "KES_CLIENT_CERT="+env["MINIO_KMS_KES_CERT_FILE"], "KES_CLIENT_KEY="+env["MINIO_KMS_KES_KEY_FILE"])
	if b, err := status.CombinedOutput(); err != nil {
		t.Errorf("kes status as MinIO (the compose healthcheck): %v\n%s", err, b)
	}

	minioEnv := []string{"HOME=" + t.TempDir()} // no ~/.minio of the user's
	for k, v := range env {
		minioEnv = append(minioEnv, k+"="+v)
	}
	startProc(t, filepath.Join(logs, "minio.log"), minioEnv, testtools.MinIO(t), append([]string{"server"}, strings.Fields(env["MINIO_OPTS"])...)...)

	tlsConf := &tls.Config{RootCAs: poolOf(t, filepath.Join(out, "certs", "minio", "CAs", "ca.crt"))}
	_, port, _ := net.SplitHostPort(s3Addr)
	endpoint := "127.0.0.1:" + port
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf}, Timeout: 5 * time.Second}
	eventually(t, "the exported MinIO is ready (ready includes a KMS generate)", 90*time.Second, func() error {
		resp, err := client.Get("https://" + endpoint + "/minio/health/ready")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d; minio.log:\n%s", resp.StatusCode, tail(filepath.Join(logs, "minio.log")))
		}
		return nil
	})

	exp, err := minio.New(endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(env["MINIO_ROOT_USER"], env["MINIO_ROOT_PASSWORD"], ""),
		Secure:    true,
		Transport: &http.Transport{TLSClientConfig: tlsConf},
	})
	if err != nil {
		t.Fatal(err)
	}
	// /minio/health/ready can answer before the object layer serves:
	// wait for S3 itself.
	eventually(t, "the exported MinIO serves S3", time.Minute, func() error {
		_, err := exp.ListBuckets(ctx)
		return err
	})
	n := 0
	for obj := range exp.ListObjects(ctx, labdir.DefaultBucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatalf("list: %v", obj.Err)
		}
		n++
		body, ok := want[obj.Key]
		if !ok {
			continue // an object the lab wrote for itself
		}
		got, err := getObject(ctx, exp, labdir.DefaultBucket, obj.Key, minio.GetObjectOptions{})
		if err != nil || !bytes.Equal(got, body) {
			t.Errorf("%s on the exported deployment: %v, identical %v", obj.Key, err, bytes.Equal(got, body))
		}
		info, err := exp.StatObject(ctx, labdir.DefaultBucket, obj.Key, minio.StatObjectOptions{})
		if err != nil || info.Metadata.Get("X-Amz-Server-Side-Encryption") != wantSSE[obj.Key] {
			t.Errorf("%s: encryption %q (%v), want %s", obj.Key, info.Metadata.Get("X-Amz-Server-Side-Encryption"), err, wantSSE[obj.Key])
		}
		delete(want, obj.Key)
	}
	if len(want) > 0 || n == 0 {
		t.Errorf("objects missing on the exported deployment: %d of them (listed %d)", len(want), n)
	}

	mcDir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(mcDir, "certs", "CAs"), 0o700); err != nil {
		t.Fatal(err)
	}
	caPEM, _ := os.ReadFile(filepath.Join(out, "certs", "CAs", "ca.cert"))
	os.WriteFile(filepath.Join(mcDir, "certs", "CAs", "ca.crt"), caPEM, 0o600)
	mc := exec.CommandContext(ctx, testtools.MC(t), "--config-dir", mcDir, "--no-color", "admin", "kms", "key", "status", "exported")
	mc.Env = append(os.Environ(), "MC_HOST_exported=https://"+env["MINIO_ROOT_USER"]+":"+env["MINIO_ROOT_PASSWORD"]+"@"+endpoint)
	b, err := mc.CombinedOutput()
	if err != nil || strings.Count(string(b), "✔") != 2 || !strings.Contains(string(b), env["MINIO_KMS_KES_KEY_NAME"]) {
		t.Errorf("mc admin kms key status on the exported deployment: %v\n%s\nwant encryption and decryption OK", err, b)
	}
}

// exportBadInput runs 'sselab export' on bad input: each is refused with
// one line and a non-zero exit, and nothing appears under --out or
// beside it.
func exportBadInput(t *testing.T, dir string) {
	base := t.TempDir()
	full := filepath.Join(base, "full")
	if err := os.Mkdir(full, 0o700); err != nil {
		t.Fatal(err)
	}
	testtools.WriteFile(t, filepath.Join(full, "mine"), "mine")
	out := filepath.Join(base, "out")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--dir", dir, "--format", "helm", "--out", out}, 2, `unknown format "helm"`},
		{[]string{"--dir", dir, "--format", "files", "--out", out, "--root", "relative/path"}, 2, "not an absolute path"},
		{[]string{"--dir", dir, "--format", "files", "--out", full}, 1, "is not empty"},
		{[]string{"--dir", dir, "--format", "files", "--out", filepath.Join(base, "no", "out")}, 1, "does not exist"},
		{[]string{"--dir", base, "--format", "files", "--out", out}, 1, "is not a lab"},
		{[]string{"--dir", dir, "--format", "files", "--out", out, "--kms", "vault"}, 1, "no Vault endpoint"},
		{[]string{"--dir", dir, "--format", "files", "--out", out, "--hostname", "not_a_name"}, 2, "not a valid DNS name"},
	} {
		r := sselab(t, append([]string{"export"}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
			t.Errorf("export %v: exit %d, stderr %q; want exit %d and one line with %q", tc.args, r.code, r.stderr, tc.code, tc.want)
		}
		if got := testtools.Entries(t, base); strings.Join(got, ",") != "full" {
			t.Errorf("export %v left %v in %s", tc.args, got, base)
		}
		if got := testtools.Entries(t, full); strings.Join(got, ",") != "mine" {
			t.Errorf("export %v changed the non-empty --out: %v", tc.args, got)
		}
	}
}

// readEnvFile reads KEY=VALUE lines, as systemd and podman do.
func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: not KEY=VALUE: %q", path, line)
		}
		env[k] = v
	}
	return env
}

func poolOf(t *testing.T, file string) *x509.CertPool {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		t.Fatalf("%s holds no certificate", file)
	}
	return pool
}

// startProc runs a program in the background with its output in log,
// and stops it (and waits for it) when the test ends. env nil means the
// test's environment.
func startProc(t *testing.T, log string, env []string, name string, args ...string) {
	t.Helper()
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); f.Close(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s:\n%s", filepath.Base(log), tail(log))
		}
	})
}

// tail is the last lines of a log file.
func tail(path string) string {
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-30):], "\n")
}
