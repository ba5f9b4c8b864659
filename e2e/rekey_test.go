package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/encrypt"

	"github.com/sselab/sselab/internal/testtools"
	"github.com/sselab/sselab/pkg/lab"
)

// rekeyObj is what the test wrote: an object's content hash and the
// metadata rekey must keep.
type rekeyObj struct {
	sum         [32]byte
	contentType string
	meta        map[string]string
	tags        map[string]string
	ssec        encrypt.ServerSide
}

// TestRekey: 300 objects in three schemes (none, SSE-S3, SSE-KMS key A)
// and two SSE-C objects, rekeyed to key B. The dry run counts and
// changes nothing; a rekey killed half-way and run again ends with every
// object readable, byte-identical, with its metadata and tags, under key
// B (SSE-C skipped); key A can then be deleted without --force and
// verify passes. Bad input changes nothing.
func TestRekey(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "lab")
	h := upDetached(t, dir)
	d := []string{"--dir", dir}
	mustRun(t, append([]string{"key", "create", "rekey-a"}, d...)...)
	mustRun(t, append([]string{"key", "create", "rekey-b"}, d...)...)
	const bucket = "rekeyed"
	if err := h.CreateBucket(ctx, bucket, lab.BucketMode{Mode: lab.ModeNone}); err != nil {
		t.Fatal(err)
	}
	s3, err := h.S3()
	if err != nil {
		t.Fatal(err)
	}
	kmsA, _ := encrypt.NewSSEKMS("rekey-a", nil)
	want := map[string]rekeyObj{}
	put := func(name string, i int, sse encrypt.ServerSide) {
		data := bytes.Repeat([]byte(fmt.Sprintf("%s-%d|", name, i)), 1+i*7%300)
		o := rekeyObj{sum: sha256.Sum256(data), contentType: "application/octet-stream"}
		opts := minio.PutObjectOptions{ServerSideEncryption: sse}
		if i%5 == 0 {
			o.contentType = "text/x-rekey"
			o.meta = map[string]string{"Owner": fmt.Sprintf("user-%d", i)}
			o.tags = map[string]string{"project": "rekey", "n": fmt.Sprint(i)}
			opts.ContentType, opts.UserMetadata, opts.UserTags = o.contentType, o.meta, o.tags
		}
		if sse != nil && sse.Type() == encrypt.SSEC {
			o.ssec = sse
		}
		if _, err := s3.PutObject(ctx, bucket, name, bytes.NewReader(data), int64(len(data)), opts); err != nil {
			t.Fatalf("put %s: %v", name, err)
		}
		want[name] = o
	}
	for i := range 300 {
		var sse encrypt.ServerSide
		switch i % 3 {
		case 1:
			sse = encrypt.NewSSE()
		case 2:
			sse = kmsA
		}
		put(fmt.Sprintf("obj/%03d", i), i, sse)
	}
	for i := range 2 {
		key, _ := encrypt.NewSSEC(bytes.Repeat([]byte{byte(i + 1)}, 32))
		put(fmt.Sprintf("ssec/%d", i), i, key)
	}
	before := listing(t, h, bucket)

	// The dry run: counts per scheme and key, nothing changed.
	r := mustRun(t, append([]string{"bucket", "rekey", bucket, "--to", "rekey-b", "--dry-run", "--json"}, d...)...)
	var rep lab.RekeyReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("dry run --json: %v\n%s", err, r.stdout)
	}
	groups := map[string]int{}
	for _, g := range rep.Before {
		groups[g.Scheme+" "+g.Key] = g.Objects
	}
	wantGroups := map[string]int{"none ": 100, "SSE-S3 ": 100, "SSE-KMS rekey-a": 100, "SSE-C ": 2}
	if !maps.Equal(groups, wantGroups) || rep.ToRekey != 300 || rep.SkippedSSEC != 2 || rep.Rekeyed != 0 || !rep.DryRun {
		t.Errorf("dry run: got groups %v, to_rekey %d, skipped_sse_c %d, rekeyed %d; want %v, 300, 2, 0", groups, rep.ToRekey, rep.SkippedSSEC, rep.Rekeyed, wantGroups)
	}
	r = mustRun(t, append([]string{"bucket", "rekey", bucket, "--to", "rekey-b", "--dry-run"}, d...)...)
	if !strings.Contains(r.stdout, "300 object(s)") || !strings.Contains(r.stdout, "nothing changed") {
		t.Errorf("dry run says:\n%s", r.stdout)
	}
	if after := listing(t, h, bucket); !maps.Equal(before, after) {
		t.Error("the dry run changed objects")
	}
	if enc, _ := h.BucketEncryption(ctx, bucket); enc.Algorithm != "" {
		t.Errorf("the dry run set the bucket's default encryption: %+v", enc)
	}

	// Killed half-way: some objects are under B, none is lost.
	start := time.Now()
	cmd := exec.Command(testtools.Sselab(t), append([]string{"bucket", "rekey", bucket, "--to", "rekey-b", "--concurrency", "1", "--verify"}, d...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "some objects under rekey-b", time.Minute, func() error {
		if n := underKey(t, h, bucket, "rekey-b"); n < 20 {
			return fmt.Errorf("%d objects under rekey-b", n)
		}
		return nil
	})
	cmd.Process.Kill()
	cmd.Wait()
	n := underKey(t, h, bucket, "rekey-b")
	t.Logf("killed after %v with %d of 300 objects under rekey-b", time.Since(start), n)
	if n >= 300 {
		t.Fatalf("the rekey finished before it was killed (%d objects under rekey-b); slow it down", n)
	}
	checkContent(t, s3, bucket, want)

	// Run again: it finishes the job.
	start = time.Now()
	r = mustRun(t, append([]string{"bucket", "rekey", bucket, "--to", "rekey-b", "--json"}, d...)...)
	t.Logf("second rekey took %v", time.Since(start))
	rep = lab.RekeyReport{}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("rekey --json: %v\n%s", err, r.stdout)
	}
	if rep.Already < n || rep.Rekeyed+rep.Already != 300 || rep.SkippedSSEC != 2 || rep.Failed != 0 || rep.Verified < 3 {
		t.Errorf("second rekey: got %+v; want %d+ already, 300 in all, 2 SSE-C skipped, no failure, 3+ verified", rep, n)
	}
	for _, o := range mustListObjects(t, h, bucket) {
		switch {
		case strings.HasPrefix(o.Key, "ssec/"):
			if o.Scheme() != lab.SchemeC {
				t.Errorf("%s: %s, want SSE-C", o.Key, o.Scheme())
			}
		case o.Scheme() != lab.SchemeKMS || o.KMSKey() != "rekey-b":
			t.Errorf("%s: %s %s, want SSE-KMS rekey-b", o.Key, o.Scheme(), o.KMSKey())
		}
	}
	checkContent(t, s3, bucket, want)
	if enc, _ := h.BucketEncryption(ctx, bucket); enc.KeyID != "rekey-b" {
		t.Errorf("bucket default after rekey: %+v, want rekey-b", enc)
	}

	// Nothing left to do: one line, exit 1.
	if r := sselab(t, append([]string{"bucket", "rekey", bucket, "--to", "rekey-b"}, d...)...); r.code != 1 || !strings.Contains(r.stderr, "nothing to re-encrypt") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("rekey with nothing to do: exit %d %q", r.code, r.stderr)
	}
	mustRun(t, append([]string{"key", "delete", "rekey-a"}, d...)...)
	mustRun(t, append([]string{"verify"}, d...)...)

	t.Run("BadInput", func(t *testing.T) {
		for _, c := range []struct {
			name string
			args []string
			code int
			want string
		}{
			{"missing bucket", []string{"no-such-bucket", "--to", "rekey-b"}, 1, "bucket no-such-bucket does not exist"},
			{"missing key", []string{bucket, "--to", "no-such-key"}, 1, "create it with 'sselab key create no-such-key'"},
			{"both targets", []string{bucket, "--to", "rekey-b", "--sse-s3"}, 2, "choose one of --to KEY and --sse-s3"},
			{"no target", []string{bucket}, 2, "choose one of --to KEY and --sse-s3"},
			{"all versions", []string{bucket, "--sse-s3", "--all-versions"}, 2, "older versions cannot be re-encrypted in place"},
			{"concurrency", []string{bucket, "--sse-s3", "--concurrency", "0"}, 2, "--concurrency 0"},
			{"no bucket", []string{"--sse-s3"}, 2, "takes a bucket name"},
		} {
			r := sselab(t, append(append([]string{"bucket", "rekey"}, c.args...), d...)...)
			if r.code != c.code || !strings.Contains(r.stderr, c.want) || strings.Count(r.stderr, "\n") != 1 || r.stdout != "" {
				t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit %d and one line with %q", c.name, r.code, r.stdout, r.stderr, c.code, c.want)
			}
		}
		checkContent(t, s3, bucket, want)
	})

	t.Run("ObjectLock", func(t *testing.T) {
		const locked = "rekey-locked"
		if err := s3.MakeBucket(ctx, locked, minio.MakeBucketOptions{ObjectLocking: true}); err != nil {
			t.Fatal(err)
		}
		mode := minio.Governance
		data := []byte("kept for an hour")
		if _, err := s3.PutObject(ctx, locked, "held", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{Mode: mode, RetainUntilDate: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		before := listing(t, h, locked)
		r := sselab(t, append([]string{"bucket", "rekey", locked, "--to", "rekey-b"}, d...)...)
		if r.code != 1 || !strings.Contains(r.stderr, "1 object(s), such as held, are under retention or legal hold") || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("rekey of a locked bucket: exit %d %q", r.code, r.stderr)
		}
		if after := listing(t, h, locked); !maps.Equal(before, after) {
			t.Error("the refused rekey changed objects")
		}
		if enc, _ := h.BucketEncryption(ctx, locked); enc.Algorithm != "" {
			t.Errorf("the refused rekey set the default encryption: %+v", enc)
		}
	})
}

// TestRekeySealed: the keystore is sealed in the middle of a rekey. The
// copies that follow fail and are counted, the rekey exits 1, no object
// is lost; once unsealed, running it again finishes the job.
func TestRekeySealed(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "lab")
	pass := []string{"SSELAB_PASSPHRASE=correct horse battery staple"}
	if r := sselabEnv(t, pass, append([]string{"up", "--detach", "--dir", dir, "--sealed"}, freePorts...)...); r.code != 0 {
		t.Fatalf("up --sealed: exit %d\n%s", r.code, r.stderr)
	}
	t.Cleanup(func() { stopLab(t, dir) })
	h, err := lab.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	d := []string{"--dir", dir}
	const bucket = "plain"
	s3, want := plainBucket(t, ctx, h, bucket, numbered("o", 300)...)
	key := h.State.Key
	var stdout bytes.Buffer
	cmd := exec.CommandContext(ctx, testtools.Sselab(t), append([]string{"bucket", "rekey", bucket, "--to", key, "--concurrency", "1", "--verify", "--json"}, d...)...)
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "some objects under the default key", time.Minute, func() error {
		if n := underKey(t, h, bucket, key); n < 20 {
			return fmt.Errorf("%d objects under %s", n, key)
		}
		return nil
	})
	mustRun(t, append([]string{"seal"}, d...)...)
	err = cmd.Wait()
	var rep lab.RekeyReport
	if jerr := json.Unmarshal(stdout.Bytes(), &rep); jerr != nil {
		t.Fatalf("rekey --json while sealed: %v (%v)\n%s", jerr, err, stdout.String())
	}
	if cmd.ProcessState.ExitCode() != 1 || rep.Failed == 0 || rep.Rekeyed+rep.Failed+rep.NotTried+rep.Already != 300 || len(rep.Errors) == 0 {
		t.Fatalf("rekey sealed in the middle: exit %d, %+v; want exit 1 and failures counted", cmd.ProcessState.ExitCode(), rep)
	}
	t.Logf("sealed after %d objects; %d failed, %d not tried: %s", rep.Rekeyed, rep.Failed, rep.NotTried, rep.Errors[0])
	if r := sselabEnv(t, pass, append([]string{"unseal"}, d...)...); r.code != 0 {
		t.Fatalf("unseal: exit %d %s", r.code, r.stderr)
	}
	checkContent(t, s3, bucket, want)
	r := mustRun(t, append([]string{"bucket", "rekey", bucket, "--to", key}, d...)...)
	if n := underKey(t, h, bucket, key); n != 300 {
		t.Errorf("after the second rekey %d objects are under %s, want 300\n%s", n, key, r.stdout)
	}
	checkContent(t, s3, bucket, want)
}

// putPlain writes each named object, without SSE headers, into bucket
// and records in want what it holds.
func putPlain(t *testing.T, ctx context.Context, s3 *minio.Client, bucket string, want map[string]rekeyObj, names ...string) {
	t.Helper()
	for _, name := range names {
		data := bytes.Repeat([]byte(name), 100)
		if _, err := s3.PutObject(ctx, bucket, name, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		want[name] = rekeyObj{sum: sha256.Sum256(data), contentType: "application/octet-stream"}
	}
}

// plainBucket creates bucket without default encryption and writes
// objects of the given names into it in plaintext; it returns the S3
// client and what each object holds.
func plainBucket(t *testing.T, ctx context.Context, h *lab.Handle, bucket string, names ...string) (*minio.Client, map[string]rekeyObj) {
	t.Helper()
	if err := h.CreateBucket(ctx, bucket, lab.BucketMode{Mode: lab.ModeNone}); err != nil {
		t.Fatal(err)
	}
	s3, err := h.S3()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]rekeyObj{}
	putPlain(t, ctx, s3, bucket, want, names...)
	return s3, want
}

// rekeyUnderWay starts 'sselab bucket rekey BUCKET --to KEY' with one
// copy at a time, checking every object, and returns once least more
// objects are under key than before: the rekey is past its listing and
// under way. Its JSON report goes to stdout, its messages to stderr.
func rekeyUnderWay(t *testing.T, ctx context.Context, h *lab.Handle, bucket, key string, least int, stdout, stderr io.Writer) *exec.Cmd {
	t.Helper()
	least += underKey(t, h, bucket, key)
	cmd := exec.CommandContext(ctx, testtools.Sselab(t), "bucket", "rekey", bucket, "--to", key, "--concurrency", "1", "--verify", "--json", "--dir", h.Layout.Root)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "some objects under "+key, time.Minute, func() error {
		if n := underKey(t, h, bucket, key); n < least {
			return fmt.Errorf("%d objects under %s", n, key)
		}
		return nil
	})
	return cmd
}

// numbered returns n names: prefix followed by 000, 001, ...
func numbered(prefix string, n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s%03d", prefix, i)
	}
	return names
}

// listing maps each object of bucket to its ETag, encryption and
// modification time.
func listing(t *testing.T, h *lab.Handle, bucket string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, o := range mustListObjects(t, h, bucket) {
		m[o.Key] = fmt.Sprint(o.ETag, o.Scheme(), o.KMSKey(), o.LastModified)
	}
	return m
}

// mustListObjects lists every object of bucket.
func mustListObjects(t *testing.T, h *lab.Handle, bucket string) []lab.Object {
	t.Helper()
	objs, _, err := h.ListObjects(context.Background(), bucket, 0)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// underKey counts the objects of bucket under SSE-KMS with key.
func underKey(t *testing.T, h *lab.Handle, bucket, key string) int {
	t.Helper()
	n := 0
	for _, o := range mustListObjects(t, h, bucket) {
		if o.Scheme() == lab.SchemeKMS && o.KMSKey() == key {
			n++
		}
	}
	return n
}

// checkContent reads every object back and compares its content,
// content type, user metadata and tags with what was written.
func checkContent(t *testing.T, s3 *minio.Client, bucket string, want map[string]rekeyObj) {
	t.Helper()
	ctx := context.Background()
	for name, w := range want {
		r, err := s3.GetObject(ctx, bucket, name, minio.GetObjectOptions{ServerSideEncryption: w.ssec})
		if err != nil {
			t.Errorf("get %s: %v", name, err)
			continue
		}
		data, err := io.ReadAll(r)
		st, serr := r.Stat()
		r.Close()
		if err != nil || serr != nil {
			t.Errorf("read %s: %v %v", name, err, serr)
			continue
		}
		if sha256.Sum256(data) != w.sum {
			t.Errorf("%s: content changed", name)
		}
		if st.ContentType != w.contentType {
			t.Errorf("%s: content type %q, want %q", name, st.ContentType, w.contentType)
		}
		for k, v := range w.meta {
			if st.UserMetadata[k] != v {
				t.Errorf("%s: metadata %s = %q, want %q (have %v)", name, k, st.UserMetadata[k], v, st.UserMetadata)
			}
		}
		if w.tags != nil {
			tags, err := s3.GetObjectTagging(ctx, bucket, name, minio.GetObjectTaggingOptions{})
			if err != nil {
				t.Errorf("%s: tags: %v", name, err)
			} else if !maps.Equal(tags.ToMap(), w.tags) {
				t.Errorf("%s: tags %v, want %v", name, tags.ToMap(), w.tags)
			}
		}
	}
}
