package e2e

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/sselab/sselab/internal/testtools"
	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/labdir"
)

// TestClients runs rclone, the AWS CLI and s3cmd as 'sselab env' sets them
// up, against a real lab, and checks where MinIO put each object: under
// SSE-KMS with the bucket's key.
func TestClients(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	h := upDetached(t, dir)
	s3, err := h.S3()
	if err != nil {
		t.Fatal(err)
	}
	// The environment of a shell after eval "$(sselab env)": one that had
	// an AWS_CA_BUNDLE, as many machines do, and nothing else from this
	// test's own environment that could help.
	sh := exec.CommandContext(ctx, "/bin/sh", "-c", `eval "$(sselab env --dir "$DIR")" && env`)
	sh.Env = []string{"HOME=" + t.TempDir(), "DIR=" + dir, "AWS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt",
		"PATH=" + filepath.Dir(testtools.Sselab(t)) + string(os.PathListSeparator) + os.Getenv("PATH")}
	out, err := sh.Output()
	if err != nil {
		t.Fatalf("sh: eval sselab env: %v\n%s", err, out)
	}
	clean := strings.Split(strings.TrimSpace(string(out)), "\n")
	for _, kv := range clean {
		if strings.HasPrefix(kv, "AWS_CA_BUNDLE=") {
			t.Errorf("after eval \"$(sselab env)\": %s, want it unset (rclone 1.60 fails with it)", kv)
		}
	}
	env := parseExports(t, mustRun(t, "env", "--dir", dir).stdout)
	body := "client-body-" + time.Now().Format(time.RFC3339Nano)
	src := filepath.Join(t.TempDir(), "src.txt")
	testtools.WriteFile(t, src, body)

	run := func(t *testing.T, env []string, prog string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, prog, args...)
		cmd.Env = env
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s%s", filepath.Base(prog), strings.Join(args, " "), err, out, stderr.String())
		}
		return string(out)
	}
	// wantKey checks that MinIO stored bucket/name under SSE-KMS with key.
	wantKey := func(t *testing.T, bucket, name, key string) {
		t.Helper()
		info, err := s3.StatObject(ctx, bucket, name, minio.StatObjectOptions{})
		if err != nil {
			t.Fatalf("stat %s/%s: %v", bucket, name, err)
		}
		if got := info.Metadata.Get(lab.HeaderKMSKeyID); got != "arn:aws:kms:"+key {
			t.Errorf("%s/%s: KMS key %q (SSE %q), want arn:aws:kms:%s", bucket, name, got, info.Metadata.Get("X-Amz-Server-Side-Encryption"), key)
		}
	}

	// MinIO's version as people read it, not "DEVELOPMENT.GOGET".
	if out := mustRun(t, "status", "--dir", dir).stdout; !regexp.MustCompile(`(?m)^minio\s+ok\s+\S+\s+MinIO (source build \d{4}-\d\d-\d\d \(commit [0-9a-f]{12}\)|RELEASE\.\S+)\s`).MatchString(out) {
		t.Errorf("sselab status: got\n%s\nwant MinIO's release tag or source build date and commit", out)
	}

	mustRun(t, "key", "create", "other-key", "--dir", dir)
	mustRun(t, "bucket", "create", "other", "--sse-kms", "other-key", "--dir", dir)

	t.Run("rclone", func(t *testing.T) {
		rclone := testtools.Program(t, "rclone")
		remote := lab.RcloneRemote + ":" + labdir.DefaultBucket
		run(t, clean, rclone, "copyto", src, remote+"/dir/r.txt")
		if got := run(t, clean, rclone, "cat", remote+"/dir/r.txt"); got != body {
			t.Errorf("rclone cat: got %q, want %q", got, body)
		}
		if got := run(t, clean, rclone, "ls", remote); !regexp.MustCompile(`(?m)^\s+\d+ dir/r\.txt$`).MatchString(got) {
			t.Errorf("rclone ls: got %q, want dir/r.txt listed", got)
		}
		wantKey(t, labdir.DefaultBucket, "dir/r.txt", labdir.DefaultKey)

		// A bucket with a key of its own: the path 'bucket encryption' prints keeps it.
		out := mustRun(t, "bucket", "encryption", "other", "--dir", dir).stdout
		m := regexp.MustCompile(`rclone: write to (\S+) to keep it`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("sselab bucket encryption other: got %q, want the rclone path that keeps its key", out)
		}
		run(t, clean, rclone, "copyto", src, m[1]+"/o.txt")
		if got := run(t, clean, rclone, "cat", m[1]+"/o.txt"); got != body {
			t.Errorf("rclone cat from %s: got %q, want %q", m[1], got, body)
		}
		wantKey(t, "other", "o.txt", "other-key")
	})

	t.Run("AWS CLI", func(t *testing.T) {
		aws := testtools.Program(t, "aws")
		// --endpoint-url for AWS CLIs older than 2.13 and 1.29, which
		// ignore AWS_ENDPOINT_URL (Debian 12 has 2.9).
		ep := []string{"--endpoint-url", h.State.S3Endpoint}
		run(t, clean, aws, append(ep, "s3", "cp", src, "s3://"+labdir.DefaultBucket+"/aws.txt")...)
		if got := run(t, clean, aws, append(ep, "s3", "ls", "s3://"+labdir.DefaultBucket+"/")...); !strings.Contains(got, " aws.txt") {
			t.Errorf("aws s3 ls: got %q, want aws.txt", got)
		}
		run(t, clean, aws, append(ep, "s3", "cp", src, "s3://other/aws.txt")...)
		wantKey(t, labdir.DefaultBucket, "aws.txt", labdir.DefaultKey)
		wantKey(t, "other", "aws.txt", "other-key")
	})

	t.Run("s3cmd", func(t *testing.T) {
		s3cmd := testtools.Program(t, "s3cmd")
		cfg := filepath.Join(t.TempDir(), "s3cfg")
		testtools.WriteFile(t, cfg, mustRun(t, "env", "--dir", dir, "--s3cmd").stdout)
		// No variable from 'sselab env': the file alone must do.
		bare := []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}
		cmd := exec.CommandContext(ctx, s3cmd, "-c", cfg, "put", src, "s3://other/s3cmd.txt")
		cmd.Env = bare
		out, err := cmd.CombinedOutput()
		if err != nil || strings.Contains(string(out), "MD5") {
			t.Errorf("s3cmd put: %v, want no error nor MD5 warning:\n%s", err, out)
		}
		got := filepath.Join(t.TempDir(), "got.txt")
		run(t, bare, s3cmd, "-c", cfg, "get", "s3://other/s3cmd.txt", got)
		if data, _ := os.ReadFile(got); string(data) != body {
			t.Errorf("s3cmd get: got %q, want %q", data, body)
		}
		if ls := run(t, bare, s3cmd, "-c", cfg, "ls", "s3://other/"); !strings.Contains(ls, "s3://other/s3cmd.txt") {
			t.Errorf("s3cmd ls: got %q", ls)
		}
		wantKey(t, "other", "s3cmd.txt", "other-key")
	})

	t.Run("every shell sets the same", func(t *testing.T) {
		for shell, sh := range map[string]struct {
			parse func(string) map[string]string
			unset string
		}{
			"fish":       {parseLines(`^set -gx (\S+) '(.*)';$`, `\'`, `'`), "set -e AWS_CA_BUNDLE;"},
			"powershell": {parseLines(`^\$env:(\S+) = '(.*)'$`, `''`, `'`), "Remove-Item Env:AWS_CA_BUNDLE -ErrorAction SilentlyContinue"},
			"cmd":        {parseLines(`^set "([^=]+)=(.+)"$`, "", ""), `set "AWS_CA_BUNDLE="`},
		} {
			out := mustRun(t, "env", "--dir", dir, "--shell", shell).stdout
			if !strings.Contains(out, "\n"+sh.unset+"\n") {
				t.Errorf("%s: no line %q in\n%s", shell, sh.unset, out)
			}
			got := sh.parse(out)
			if len(got) != len(env) {
				t.Errorf("%s: %d variables, sh has %d", shell, len(got), len(env))
			}
			for k, v := range env {
				if got[k] != v {
					t.Errorf("%s: %s = %q, sh has %q", shell, k, got[k], v)
				}
			}
		}
		// fish runs here (Debian has it); PowerShell and cmd.exe do not.
		if fish, err := exec.LookPath("fish"); err == nil {
			rclone := testtools.Program(t, "rclone")
			script := "sselab env --dir '" + dir + "' --shell fish | source; and " + rclone + " cat " + lab.RcloneRemote + ":" + labdir.DefaultBucket + "/dir/r.txt"
			cmd := exec.CommandContext(ctx, fish, "--no-config", "-c", script)
			cmd.Env = []string{"HOME=" + t.TempDir(), "AWS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt",
				"PATH=" + filepath.Dir(testtools.Sselab(t)) + string(os.PathListSeparator) + os.Getenv("PATH")}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if out, err := cmd.Output(); err != nil || string(out) != body {
				t.Errorf("rclone in fish after 'sselab env --shell fish | source': %v, got %q, want %q\n%s", err, out, body, stderr.String())
			}
		}
	})
}

// parseLines returns a parser for one shell's 'sselab env' lines: re
// captures name and quoted value, and escaped in the value stands for
// unescaped.
func parseLines(re, escaped, unescaped string) func(string) map[string]string {
	rx := regexp.MustCompile(re)
	return func(out string) map[string]string {
		vars := map[string]string{}
		sc := bufio.NewScanner(strings.NewReader(out))
		for sc.Scan() {
			if m := rx.FindStringSubmatch(sc.Text()); m != nil {
				v := m[2]
				if escaped != "" {
					v = strings.ReplaceAll(v, escaped, unescaped)
				}
				vars[m[1]] = v
			}
		}
		return vars
	}
}
