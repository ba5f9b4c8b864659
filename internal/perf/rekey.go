package perf

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/encrypt"

	"github.com/sselab/sselab/pkg/lab"
)

// RekeySet is one set of objects P5 re-encrypts: Count objects of Size
// bytes in a bucket of their own.
type RekeySet struct {
	Name   string
	Bucket string
	Count  int
	Size   int64
}

// RekeySets are the objects of P5 as the issue that asked for it sets
// them: many small objects, where requests per second count, and fewer
// large ones, where bytes per second do. small and large scale them
// down for a quick run.
func RekeySets(small, large int) []RekeySet {
	return []RekeySet{
		{Name: fmt.Sprintf("%s × 4 KiB", thousands(small)), Bucket: "p5-small", Count: small, Size: 4 << 10},
		{Name: fmt.Sprintf("%s × 16 MiB", thousands(large)), Bucket: "p5-large", Count: large, Size: 16 << 20},
	}
}

// thousands writes n with a comma between thousands, as in "10,000".
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// The two keys P5 moves the objects between: each way of re-encrypting
// moves every object from the key it is under to the other one, so all
// three do the whole work in whichever order they run.
var rekeyKeys = [2]string{"p5-key-a", "p5-key-b"}

// rekeyWay is one way of re-encrypting a bucket's objects in place under
// another key, timed from start to end.
type rekeyWay struct {
	name string
	run  func(ctx context.Context, set RekeySet, to string) error
	// objects and mib are its figures per run, for each set.
	objects, mib map[string]Series
}

// MeasureP5 times the re-encryption of every object of a bucket under
// another key in three ways, on one lab: `sselab bucket rekey`; a plain
// loop of server-side CopyObject calls with minio-go, with as many
// workers, which is the limit any copy in place can reach; and what a
// user would do without sselab, `mc cp --recursive --enc-kms` from the
// bucket onto itself. mc is the mc client's path, mcVersion the version
// of its module.
func MeasureP5(ctx context.Context, e Env, mc, mcVersion string, sets []RekeySet) (Section, error) {
	dir := filepath.Join(e.Dir, "p5")
	l, err := StartLab(ctx, e.Sselab, e.MinIO, filepath.Join(dir, "lab"))
	if err != nil {
		return Section{}, err
	}
	defer l.Stop()
	h := l.Handle
	for _, k := range rekeyKeys {
		if err := h.CreateKey(ctx, k); err != nil {
			return Section{}, err
		}
	}
	s3, err := h.S3()
	if err != nil {
		return Section{}, err
	}
	for _, set := range sets {
		e.logf("P5: writing %s objects under %s ...", set.Name, rekeyKeys[0])
		if err := h.CreateBucket(ctx, set.Bucket, lab.BucketMode{Mode: lab.ModeSSEKMS, Key: rekeyKeys[0]}); err != nil {
			return Section{}, err
		}
		if err := fill(ctx, s3, set, e.Workers); err != nil {
			return Section{}, err
		}
	}
	mcEnv, err := mcEnvironment(h, filepath.Join(dir, "mc"))
	if err != nil {
		return Section{}, err
	}

	rekey := &rekeyWay{name: "sselab bucket rekey", run: func(ctx context.Context, set RekeySet, to string) error {
		return runRekey(ctx, e.Sselab, l.dir, set, to, e.Workers)
	}}
	loop := &rekeyWay{name: "CopyObject loop", run: func(ctx context.Context, set RekeySet, to string) error {
		return copyLoop(ctx, s3, set.Bucket, to, e.Workers)
	}}
	mcCp := &rekeyWay{name: "mc cp", run: func(ctx context.Context, set RekeySet, to string) error {
		return mcCopy(ctx, mc, mcEnv, set.Bucket, to)
	}}
	ways := []*rekeyWay{rekey, loop, mcCp}
	for _, w := range ways {
		w.objects, w.mib = map[string]Series{}, map[string]Series{}
	}
	under := map[string]int{} // set's bucket -> index of the key its objects are under
	for i := range e.Runs {
		for _, set := range sets {
			each := func(w *rekeyWay) func() error {
				return func() error {
					to := rekeyKeys[1-under[set.Bucket]]
					flushDisk()
					start := time.Now()
					if err := w.run(ctx, set, to); err != nil {
						return fmt.Errorf("perf: %s of %s: %w", w.name, set.Name, err)
					}
					took := time.Since(start).Seconds()
					if err := allUnder(ctx, h, set, to); err != nil {
						return fmt.Errorf("perf: after %s of %s: %w", w.name, set.Name, err)
					}
					under[set.Bucket] = 1 - under[set.Bucket]
					w.objects[set.Name] = append(w.objects[set.Name], float64(set.Count)/took)
					w.mib[set.Name] = append(w.mib[set.Name], float64(set.Count)*float64(set.Size)/(1<<20)/took)
					return nil
				}
			}
			if err := rotate(i, each(rekey), each(loop), each(mcCp)); err != nil {
				return Section{}, err
			}
			e.logf("P5 run %d/%d, %s: objects/s rekey %.0f, CopyObject loop %.0f, mc cp %.0f", i+1, e.Runs, set.Name,
				rekey.objects[set.Name][i], loop.objects[set.Name][i], mcCp.objects[set.Name][i])
		}
	}

	var rows []Row
	for _, set := range sets {
		figure, unit := rekey.objects, "objects/s"
		if set.Size >= 1<<20 {
			figure, unit = rekey.mib, "MiB/s"
		}
		ref := func(w *rekeyWay) Series {
			if unit == "MiB/s" {
				return w.mib[set.Name]
			}
			return w.objects[set.Name]
		}
		rows = append(rows,
			Row{Name: set.Name + ", vs a CopyObject loop", Unit: unit, Sselab: figure[set.Name], Ref: ref(loop), Target: &Target{AtLeast: true, Bound: 0.90}},
			Row{Name: set.Name + ", vs `mc cp --recursive --enc-kms`", Unit: unit, Sselab: figure[set.Name], Ref: ref(mcCp), Target: &Target{AtLeast: true, Bound: 1.50}},
		)
	}
	return Section{
		ID: "P5", Title: "Re-encrypting stored objects",
		Method: fmt.Sprintf("Every object of a bucket re-encrypted in place under another KES key, on one lab, timed from start to end "+
			"and checked after each run (every object listed under the new key); the disks are flushed before each. The objects are written once, under one of two keys; "+
			"each way then moves them all to the other key, so each does the whole work whatever the order. **sselab**: `sselab bucket "+
			"rekey BUCKET --to KEY --concurrency %[1]d` as a process: its listing with metadata, the new default, the copies, and its "+
			"SHA-256 check of a sample before and after their copy. **CopyObject loop**: the limit any copy in place can reach, a plain "+
			"listing then a server-side CopyObject of each object onto itself with the new SSE-KMS key, with minio-go and %[1]d "+
			"workers, nothing checked. **mc cp**: what a user would do without sselab, `mc cp --recursive --enc-kms BUCKET/=KEY` from "+
			"the bucket onto itself (mc built from github.com/minio/mc %[2]s, with its own parallelism), through the alias `sselab env` defines.", e.Workers, mcVersion),
		SselabName: "sselab bucket rekey", RefName: "reference",
		Rows: rows,
	}, nil
}

// fill writes set's objects into its bucket with workers at a time, each
// of random content, under the bucket's default encryption.
func fill(ctx context.Context, s3 *minio.Client, set RekeySet, workers int) error {
	body := make([]byte, set.Size)
	if _, err := rand.Read(body); err != nil {
		return err
	}
	return forEach(ctx, set.Count, workers, func(i int) error {
		data := bytes.Clone(body)
		binary.BigEndian.PutUint64(data, uint64(i)) // every object differs
		_, err := s3.PutObject(ctx, set.Bucket, objectName(i), bytes.NewReader(data), set.Size, minio.PutObjectOptions{DisableMultipart: true})
		return err
	})
}

// objectName names the i-th object of a set.
func objectName(i int) string { return fmt.Sprintf("obj/%06d", i) }

// forEach calls f(0) to f(n-1) with workers at a time and returns the
// first error; after an error no new call starts.
func forEach(ctx context.Context, n, workers int, f func(int) error) error {
	next := make(chan int)
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		}()
	}
feed:
	for i := range n {
		select {
		case <-ctx.Done():
			break feed
		case next <- i:
		}
	}
	close(next)
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return first
}

// runRekey runs `sselab bucket rekey` on set's bucket and checks from
// its JSON report that it moved every object.
func runRekey(ctx context.Context, sselab, dir string, set RekeySet, to string, workers int) error {
	cmd := exec.CommandContext(ctx, sselab, "bucket", "rekey", set.Bucket, "--to", to,
		"--concurrency", strconv.Itoa(workers), "--json", "--dir", dir)
	cmd.Env = cleanEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
	}
	var rep lab.RekeyReport
	if err := json.Unmarshal(out, &rep); err != nil {
		return fmt.Errorf("its report: %w", err)
	}
	if rep.Rekeyed != set.Count || rep.Failed != 0 {
		return fmt.Errorf("re-encrypted %d of %d objects, %d failed", rep.Rekeyed, set.Count, rep.Failed)
	}
	return nil
}

// copyLoop copies every object of bucket onto itself under the SSE-KMS
// key to, with workers at a time: a plain listing, then one server-side
// CopyObject per object.
func copyLoop(ctx context.Context, s3 *minio.Client, bucket, to string, workers int) error {
	var keys []string
	for o := range s3.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			return o.Err
		}
		keys = append(keys, o.Key)
	}
	sse, err := encrypt.NewSSEKMS(to, nil)
	if err != nil {
		return err
	}
	return forEach(ctx, len(keys), workers, func(i int) error {
		_, err := s3.CopyObject(ctx,
			minio.CopyDestOptions{Bucket: bucket, Object: keys[i], Encryption: sse},
			minio.CopySrcOptions{Bucket: bucket, Object: keys[i]})
		return err
	})
}

// mcEnvironment is the environment mc runs with: the lab's alias and CA
// from `sselab env`, and a configuration directory of its own, so that
// the user's ~/.mc is neither read nor written.
func mcEnvironment(h *lab.Handle, configDir string) ([]string, error) {
	vars, err := h.Env()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(configDir, 0o700); err != nil {
		return nil, err
	}
	env := append(cleanEnv(), "MC_CONFIG_DIR="+configDir, "MC_DISABLE_PAGER=1")
	for _, v := range vars {
		env = append(env, v.Name+"="+v.Value)
	}
	return env, nil
}

// mcCopy runs `mc cp --recursive --enc-kms` from bucket onto itself
// under the key to.
func mcCopy(ctx context.Context, mc string, env []string, bucket, to string) error {
	src := "sselab/" + bucket + "/"
	cmd := exec.CommandContext(ctx, mc, "cp", "--recursive", "--enc-kms", src+"="+to, src, src)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("mc cp: %v: %s", err, lastLine(out))
	}
	return nil
}

// allUnder checks that every object of set's bucket is under the SSE-KMS
// key, as the lab's listing with metadata reports it.
func allUnder(ctx context.Context, h *lab.Handle, set RekeySet, key string) error {
	objs, _, err := h.ListObjects(ctx, set.Bucket, 0)
	if err != nil {
		return err
	}
	n := 0
	for _, o := range objs {
		if o.Scheme() == lab.SchemeKMS && o.KMSKey() == key {
			n++
		}
	}
	if n != set.Count || len(objs) != set.Count {
		return fmt.Errorf("%d of %d objects listed under %s (%d listed)", n, set.Count, key, len(objs))
	}
	return nil
}

// lastLine returns the last non-empty line of out.
func lastLine(out []byte) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}
