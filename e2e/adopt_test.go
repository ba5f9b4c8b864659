package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"
	"github.com/minio/minio-go/v7/pkg/sse"

	"github.com/sselab/sselab/internal/perf"
	"github.com/sselab/sselab/internal/testtools"
	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/labdir"
)

// adoptObject is an object the static-key MinIO writes and the lab must
// read back.
type adoptObject struct {
	bucket, name string
	sse          encrypt.ServerSide // nil: plaintext
	algorithm    string             // X-Amz-Server-Side-Encryption as read back
	keyID        string             // its KMS key id, for SSE-KMS
	size         int
}

// TestAdoptStaticKeyDrive is issue 16 (b): a bare MinIO runs with
// MINIO_KMS_SECRET_KEY, writes objects in plaintext, with SSE-S3 and with
// SSE-KMS under its static key, gets an IAM user and a bucket with
// default SSE-KMS, and stops. 'sselab up --adopt-drive' makes a new lab
// of its drive: every object reads back byte for byte with its
// encryption, the user logs in, the bucket keeps its default encryption,
// the static key is the lab's default key, and the original drive is
// unchanged. The refusals run against the same drive: while the MinIO
// still runs, with a wrong or malformed key file, and on a directory that
// is not a drive or a --dir that is not new.
func TestAdoptStaticKeyDrive(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the drive-in-use check cannot see other processes on Windows")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	scratch := t.TempDir()
	const keyName = "legacy-key"
	material := make([]byte, 32)
	rand.Read(material)
	keyFile := filepath.Join(scratch, "static.key")
	testtools.WriteFile(t, keyFile, keyName+":"+base64.StdEncoding.EncodeToString(material)+"\n")

	bare, err := perf.StartMinIO(ctx, perf.MinIOOptions{
		Binary: testtools.MinIO(t), Dir: filepath.Join(scratch, "bare"),
		KeyName: keyName, Key: base64.StdEncoding.EncodeToString(material),
	}, http.DefaultTransport)
	if err != nil {
		t.Fatalf("starting a bare MinIO with a static key: %v", err)
	}
	stopped := false
	defer func() {
		if !stopped {
			bare.Stop()
		}
	}()
	drive := filepath.Join(scratch, "bare", "data")
	s3, err := minio.New(strings.TrimPrefix(bare.Endpoint, "http://"), &minio.Options{Creds: credentials.NewStaticV4(bare.User, bare.Password, "")})
	if err != nil {
		t.Fatal(err)
	}

	objects := []adoptObject{
		{bucket: "legacy", name: "plain.txt", size: 1000},
		{bucket: "legacy", name: "sse-s3.txt", sse: encrypt.NewSSE(), algorithm: "AES256", size: 1000},
		{bucket: "legacy", name: "sse-kms.txt", sse: mustSSEKMS(t, keyName), algorithm: "aws:kms", keyID: "arn:aws:kms:" + keyName, size: 1000},
		// Larger than MinIO keeps inline in xl.meta: data in part files,
		// several 1 MiB blocks.
		{bucket: "legacy", name: "big/sse-kms.bin", sse: mustSSEKMS(t, keyName), algorithm: "aws:kms", keyID: "arn:aws:kms:" + keyName, size: 3<<20 + 5},
		{bucket: "legacy", name: "big/sse-s3.bin", sse: encrypt.NewSSE(), algorithm: "AES256", size: 3<<20 + 7},
		// Under the bucket's default encryption, no header on the PUT.
		{bucket: "kms-default", name: "by-default.txt", algorithm: "aws:kms", keyID: "arn:aws:kms:" + keyName, size: 2000},
	}
	// The drive has a bucket of the lab's default name, without default
	// encryption: the lab must not set one.
	for _, b := range []string{"legacy", "kms-default", labdir.DefaultBucket} {
		if err := s3.MakeBucket(ctx, b, minio.MakeBucketOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s3.SetBucketEncryption(ctx, "kms-default", sse.NewConfigurationSSEKMS(keyName)); err != nil {
		t.Fatal(err)
	}
	bodies := map[string][]byte{}
	for _, o := range objects {
		body := make([]byte, o.size)
		rand.Read(body)
		bodies[o.bucket+"/"+o.name] = body
		if _, err := s3.PutObject(ctx, o.bucket, o.name, bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{ServerSideEncryption: o.sse}); err != nil {
			t.Fatalf("PUT %s/%s on the bare MinIO: %v", o.bucket, o.name, err)
		}
	}
	mc := func(env []string, args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, testtools.MC(t), append([]string{"--config-dir", filepath.Join(scratch, "mc"), "--no-color"}, args...)...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	bareEnv := []string{"MC_HOST_bare=http://" + bare.User + ":" + bare.Password + "@" + strings.TrimPrefix(bare.Endpoint, "http://")}
	const userName, userSecret = "alice", "alice-secret-123"
	if out, err := mc(bareEnv, "admin", "user", "add", "bare", userName, userSecret); err != nil {
		t.Fatalf("mc admin user add: %v\n%s", err, out)
	}

	// refuse runs 'up' on dir with args and checks that it refuses as f
	// says and leaves dir as it was (absent, mostly) and, unless MinIO
	// still runs on it, the drive too.
	refuse := func(t *testing.T, dir string, f refusal, args ...string) {
		t.Helper()
		beforeDir, beforeDrive := treeHash(t, dir), ""
		if stopped {
			beforeDrive = treeHash(t, drive)
		}
		r := sselab(t, append(append([]string{"up", "--dir", dir}, freePorts...), args...)...)
		t.Logf("stderr: %s", r.stderr)
		problems := f.problems(r)
		if stopped && treeHash(t, drive) != beforeDrive {
			problems = append(problems, "the drive changed")
		}
		if treeHash(t, dir) != beforeDir {
			problems = append(problems, "the state directory changed")
		}
		judge(t, "", problems)
	}
	const labBucket = "lab-bucket"
	adoptArgs := func(key string) []string {
		return []string{"--adopt-drive", drive, "--static-key-file", key, "--bucket", labBucket}
	}
	t.Run("drive in use", func(t *testing.T) {
		refuse(t, filepath.Join(t.TempDir(), "lab"), refusal{code: 1, want: []string{"is in use by process", "stop that MinIO first"}}, adoptArgs(keyFile)...)
	})

	if err := bare.Stop(); err != nil {
		t.Logf("stopping the bare MinIO: %v", err)
	}
	stopped = true
	original := treeHash(t, drive)

	t.Run("refusals", func(t *testing.T) {
		keyfile := func(name, content string, mode os.FileMode) string {
			p := filepath.Join(t.TempDir(), name)
			testtools.WriteFile(t, p, content)
			os.Chmod(p, mode)
			return p
		}
		other := make([]byte, 32)
		rand.Read(other)
		notNew := filepath.Join(t.TempDir(), "not-new")
		testtools.WriteFile(t, filepath.Join(notNew, "notes.txt"), "mine")
		for _, c := range []struct {
			name string
			args []string
			dir  string
			f    refusal
		}{
			{"wrong key", adoptArgs(keyfile("wrong.key", keyName+":"+base64.StdEncoding.EncodeToString(other), 0o600)), "",
				refusal{code: 1, want: []string{"does not decrypt MinIO's configuration", "not the MINIO_KMS_SECRET_KEY that MinIO ran with"}}},
			{"other key name", adoptArgs(keyfile("named.key", "other-key:"+base64.StdEncoding.EncodeToString(material), 0o600)), "",
				refusal{code: 1, want: []string{`sealed with the key "legacy-key"`, `holds the key "other-key"`}}},
			{"malformed key file", adoptArgs(keyfile("bad.key", keyName+" "+base64.StdEncoding.EncodeToString(material), 0o600)), "",
				refusal{code: 1, want: []string{"is not a static key", "NAME:BASE64"}}},
			{"short key", adoptArgs(keyfile("short.key", keyName+":"+base64.StdEncoding.EncodeToString(material[:16]), 0o600)), "",
				refusal{code: 1, want: []string{"is not a static key", "16 bytes, not 32"}}},
			{"key file open to others", adoptArgs(keyfile("open.key", keyName+":"+base64.StdEncoding.EncodeToString(material), 0o644)), "",
				refusal{code: 1, want: []string{"can be read by others", "chmod 600"}}},
			{"not a drive", []string{"--adopt-drive", scratch, "--static-key-file", keyFile}, "",
				refusal{code: 1, want: []string{"is not a MinIO drive", ".minio.sys/format.json"}}},
			{"no key file", []string{"--adopt-drive", drive}, "",
				refusal{code: 2, want: []string{"--adopt-drive needs --static-key-file"}}},
			{"the lab's default bucket on the drive", []string{"--adopt-drive", drive, "--static-key-file", keyFile}, "",
				refusal{code: 2, want: []string{"already has a bucket encrypted, the lab's default bucket", "--bucket"}}},
			{"not a new lab", adoptArgs(keyFile), notNew,
				refusal{code: 2, want: []string{"--adopt-drive makes a new lab", "not empty"}}},
		} {
			t.Run(c.name, func(t *testing.T) {
				dir := c.dir
				if dir == "" {
					dir = filepath.Join(t.TempDir(), "lab")
				}
				refuse(t, dir, c.f, c.args...)
			})
		}
	})

	t.Run("keystore with another key of that name", func(t *testing.T) {
		// A lab on a shared keystore (a KES config file's) made a key
		// legacy-key of its own; adopting into that keystore must not
		// touch it, and leaves nothing behind.
		config := kesConfigWithKeystore(t, filepath.Join(t.TempDir(), "keys"), keyName)
		other := filepath.Join(t.TempDir(), "other-lab")
		mustRun(t, append([]string{"up", "--detach", "--dir", other, "--kes-config", config}, freePorts...)...)
		stopLab(t, other)
		keys := treeHash(t, filepath.Join(filepath.Dir(config), "keys"))
		refuse(t, filepath.Join(t.TempDir(), "lab"), refusal{code: 1, want: []string{"already holds a key legacy-key that is not the static key", "never overwrites a key"}},
			append(adoptArgs(keyFile), "--kes-config", config)...)
		if treeHash(t, filepath.Join(filepath.Dir(config), "keys")) != keys {
			t.Error("the keystore changed")
		}
	})
	t.Run("keystore that holds the static key already", func(t *testing.T) {
		// Adopting twice into one keystore: the second lab finds the
		// static key there and takes it, as KES unseals MinIO's
		// configuration with it.
		config := kesConfigWithKeystore(t, filepath.Join(t.TempDir(), "keys"))
		for i := range 2 {
			labDir := filepath.Join(t.TempDir(), fmt.Sprint("lab", i))
			r := mustRun(t, append(append([]string{"up", "--detach", "--dir", labDir}, freePorts...), append(adoptArgs(keyFile), "--kes-config", config)...)...)
			stopLab(t, labDir)
			if !strings.Contains(r.stdout, "Default key    "+keyName) {
				t.Errorf("adoption %d: got\n%s\nwant the static key as the default key", i+1, r.stdout)
			}
		}
	})

	dir := filepath.Join(scratch, "lab")
	h := upDetached(t, dir, adoptArgs(keyFile)...)
	if h.State.Key != keyName {
		t.Errorf("the lab's default key: got %s, want the static key %s", h.State.Key, keyName)
	}
	labS3, err := h.S3()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("objects", func(t *testing.T) {
		for _, o := range objects {
			obj, err := labS3.GetObject(ctx, o.bucket, o.name, minio.GetObjectOptions{})
			if err != nil {
				t.Errorf("GET %s/%s: %v", o.bucket, o.name, err)
				continue
			}
			got, err := io.ReadAll(obj)
			if err != nil || !bytes.Equal(got, bodies[o.bucket+"/"+o.name]) {
				t.Errorf("GET %s/%s: got %d bytes (%v), want the %d bytes written to the static-key MinIO", o.bucket, o.name, len(got), err, o.size)
			}
			info, err := labS3.StatObject(ctx, o.bucket, o.name, minio.StatObjectOptions{})
			if err != nil {
				t.Errorf("HEAD %s/%s: %v", o.bucket, o.name, err)
				continue
			}
			alg := info.Metadata.Get("X-Amz-Server-Side-Encryption")
			kid := info.Metadata.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id")
			if alg != o.algorithm || kid != o.keyID {
				t.Errorf("HEAD %s/%s: encryption %q with key id %q, want %q with %q", o.bucket, o.name, alg, kid, o.algorithm, o.keyID)
			}
		}
	})
	t.Run("bucket encryption kept", func(t *testing.T) {
		for b, want := range map[string]string{"kms-default": keyName, "legacy": "", labdir.DefaultBucket: ""} {
			cfg, err := labS3.GetBucketEncryption(ctx, b)
			got := ""
			if err == nil && len(cfg.Rules) > 0 {
				got = cfg.Rules[0].Apply.KmsMasterKeyID
			}
			if got != want && !(want != "" && got == "arn:aws:kms:"+want) {
				t.Errorf("default encryption of %s: got key %q (%v), want %q", b, got, err, want)
			}
		}
	})
	t.Run("new objects", func(t *testing.T) {
		body := []byte("written by the lab")
		if _, err := labS3.PutObject(ctx, labBucket, "new.txt", bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		info, err := labS3.StatObject(ctx, labBucket, "new.txt", minio.StatObjectOptions{})
		if err != nil || info.Metadata.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id") != "arn:aws:kms:"+keyName {
			t.Errorf("an object the lab writes: %v, key id %q; want SSE-KMS under %s", err, info.Metadata.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"), keyName)
		}
	})
	t.Run("IAM user", func(t *testing.T) {
		env := parseExports(t, mustRun(t, "env", "--dir", dir).stdout)
		var labEnv []string
		for k, v := range env {
			labEnv = append(labEnv, k+"="+v)
		}
		out, err := mc(labEnv, "admin", "user", "info", lab.MCAlias, userName)
		if err != nil || !strings.Contains(out, "AccessKey: "+userName) || !strings.Contains(out, "enabled") {
			t.Errorf("mc admin user info %s: %v\n%s", userName, err, out)
		}
		// The user's secret, in IAM encrypted under the static key,
		// signs requests: a signature error would mean it is lost.
		user, err := minio.New(strings.TrimPrefix(h.State.S3Endpoint, "https://"), &minio.Options{
			Creds: credentials.NewStaticV4(userName, userSecret, ""), Secure: true, Transport: h.HTTPClient().Transport,
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = user.ListBuckets(ctx)
		if code := minio.ToErrorResponse(err).Code; code != "AccessDenied" {
			t.Errorf("ListBuckets as %s (no policy): got %v (code %q), want AccessDenied: signed and refused", userName, err, code)
		}
	})
	t.Run("original drive unchanged", func(t *testing.T) {
		if after := treeHash(t, drive); after != original {
			t.Errorf("the adopted drive %s changed: before %s, after %s", drive, original, after)
		}
	})
	t.Run("configuration not rewritten", func(t *testing.T) {
		// As the README says: same key name and key, so MinIO has no
		// reason to re-encrypt its configuration or IAM on the copy.
		config := filepath.Join(".minio.sys", "config")
		if diff := differentFiles(t, filepath.Join(drive, config), filepath.Join(h.Layout.MinIODataDir(), config)); len(diff) > 0 {
			t.Errorf("MinIO rewrote %v in %s on the lab's copy", diff, config)
		}
	})
	t.Run("lab restarts on its copy", func(t *testing.T) {
		stopLab(t, dir)
		upDetached(t, dir)
		h, err := lab.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		s3, err := h.S3()
		if err != nil {
			t.Fatal(err)
		}
		o := objects[2]
		obj, err := s3.GetObject(ctx, o.bucket, o.name, minio.GetObjectOptions{})
		if err == nil {
			var got []byte
			got, err = io.ReadAll(obj)
			if err == nil && !bytes.Equal(got, bodies[o.bucket+"/"+o.name]) {
				err = fmt.Errorf("got other bytes")
			}
		}
		if err != nil {
			t.Errorf("after a restart, GET %s/%s: %v", o.bucket, o.name, err)
		}
	})
}

// kesConfigWithKeystore writes a KES server config whose keystore is the
// directory keys, with keys pre-defined, and returns its path (next to
// keys).
func kesConfigWithKeystore(t *testing.T, keys string, names ...string) string {
	t.Helper()
	config := filepath.Join(filepath.Dir(keys), "kes-config.yaml")
	text := "version: v1\nkeystore:\n  fs:\n    path: " + keys + "\n"
	if len(names) > 0 {
		text += "keys:\n"
		for _, n := range names {
			text += "  - name: " + n + "\n"
		}
	}
	testtools.WriteFile(t, config, text)
	return config
}

// differentFiles returns the files under a and b (relative paths) that
// are not in both with the same content; modes do not count.
func differentFiles(t *testing.T, a, b string) []string {
	t.Helper()
	read := func(dir string) map[string]string {
		files := map[string]string{}
		err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
			if err != nil || !e.Type().IsRegular() {
				return err
			}
			data, err := os.ReadFile(p)
			rel, _ := filepath.Rel(dir, p)
			files[rel] = string(data)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return files
	}
	fa, fb := read(a), read(b)
	var diff []string
	for rel, data := range fa {
		if other, ok := fb[rel]; !ok || other != data {
			diff = append(diff, rel)
		}
	}
	for rel := range fb {
		if _, ok := fa[rel]; !ok {
			diff = append(diff, rel)
		}
	}
	sort.Strings(diff)
	return diff
}
