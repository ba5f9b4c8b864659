package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeS3 is an in-memory S3 server with the few calls bench makes, and
// faults to inject.
type fakeS3 struct {
	mu      sync.Mutex
	buckets map[string]map[string][]byte
	sse     map[string]string // object -> encryption header seen on PUT

	denyGet          bool // GET of a measured object answers AccessDenied
	denyDeleteBucket bool // DELETE of a bucket answers AccessDenied
	latePUT          bool // an object arrives just before the first DELETE of a bucket
}

func newFakeS3(t *testing.T) (*fakeS3, Target) {
	t.Helper()
	f := &fakeS3{buckets: map[string]map[string][]byte{}, sse: map[string]string{}}
	srv := newTLSServer(t, f)
	return f, Target{
		Endpoint:  srv.URL,
		AccessKey: "bench",
		SecretKey: "bench-secret",
		TLS:       &tls.Config{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs},
		KMSKey:    "bench-key",
	}
}

// newTLSServer starts an HTTPS test server that does not log the
// connections its clients drop.
func newTLSServer(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func s3Error(w http.ResponseWriter, status int, code string) {
	w.WriteHeader(status)
	fmt.Fprintf(w, `<Error><Code>%s</Code><Message>%s</Message><RequestId>1</RequestId></Error>`, code, code)
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	q := r.URL.Query()
	objects, exists := f.buckets[bucket]
	switch {
	case key == "" && q.Has("location"):
		fmt.Fprint(w, `<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></LocationConstraint>`)
	case key == "" && r.Method == http.MethodPut:
		if exists {
			s3Error(w, http.StatusConflict, "BucketAlreadyOwnedByYou")
			return
		}
		f.buckets[bucket] = map[string][]byte{}
	case !exists:
		s3Error(w, http.StatusNotFound, "NoSuchBucket")
	case key == "" && r.Method == http.MethodDelete:
		if f.denyDeleteBucket {
			s3Error(w, http.StatusForbidden, "AccessDenied")
			return
		}
		if f.latePUT { // like a PUT the client cancelled but the server completed
			f.latePUT = false
			objects["late"] = []byte("x")
		}
		if len(objects) > 0 {
			s3Error(w, http.StatusConflict, "BucketNotEmpty")
			return
		}
		delete(f.buckets, bucket)
		w.WriteHeader(http.StatusNoContent)
	case key == "" && r.Method == http.MethodPost && q.Has("delete"):
		var del struct {
			Objects []struct{ Key string } `xml:"Object"`
		}
		if err := xml.NewDecoder(r.Body).Decode(&del); err != nil {
			s3Error(w, http.StatusBadRequest, "MalformedXML")
			return
		}
		for _, o := range del.Objects {
			delete(objects, o.Key)
		}
		fmt.Fprint(w, `<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></DeleteResult>`)
	case key == "" && r.Method == http.MethodGet:
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range objects {
				if !yield(k) {
					return
				}
			}
		})
		var b strings.Builder
		fmt.Fprintf(&b, `<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>%s</Name><KeyCount>%d</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>`, bucket, len(keys))
		for _, k := range keys {
			fmt.Fprintf(&b, `<Contents><Key>%s</Key><Size>%d</Size><ETag>"e"</ETag><LastModified>2006-01-02T15:04:05.000Z</LastModified></Contents>`, k, len(objects[k]))
		}
		b.WriteString(`</ListBucketResult>`)
		fmt.Fprint(w, b.String())
	case r.Method == http.MethodPut:
		data, err := io.ReadAll(r.Body)
		if err != nil {
			s3Error(w, http.StatusBadRequest, "IncompleteBody")
			return
		}
		objects[key] = data
		f.sse[key] = r.Header.Get("X-Amz-Server-Side-Encryption") + r.Header.Get("X-Amz-Server-Side-Encryption-Customer-Algorithm")
		w.Header().Set("ETag", `"e"`)
	case r.Method == http.MethodGet:
		data, ok := objects[key]
		switch {
		case f.denyGet && !strings.HasPrefix(key, "warm-up/"):
			s3Error(w, http.StatusForbidden, "AccessDenied")
		case !ok:
			s3Error(w, http.StatusNotFound, "NoSuchKey")
		default:
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			w.Header().Set("ETag", `"e"`)
			w.Header().Set("Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT")
			w.Write(data)
		}
	default:
		s3Error(w, http.StatusNotImplemented, "NotImplemented")
	}
}

// state returns the buckets and the encryption seen per object.
func (f *fakeS3) state() (buckets []string, sse map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for b := range f.buckets {
		buckets = append(buckets, b)
	}
	sse = map[string]string{}
	for k, v := range f.sse {
		sse[k] = v
	}
	return buckets, sse
}

// fakeKES answers generate and decrypt for one key.
type fakeKES struct {
	key       string
	wrongDEK  bool // decrypt returns another plaintext
	generated int
	mu        sync.Mutex
}

func newFakeKES(t *testing.T, f *fakeKES) KESTarget {
	t.Helper()
	srv := newTLSServer(t, f)
	return KESTarget{
		Endpoint: srv.URL,
		TLS:      &tls.Config{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs},
		Key:      f.key,
	}
}

func (f *fakeKES) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct{ Ciphertext, Context []byte }
	json.NewDecoder(r.Body).Decode(&req)
	if !bytes.Equal(req.Context, kesContext) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"message":"wrong context"}`)
		return
	}
	plain := bytes.Repeat([]byte{7}, 32)
	switch r.URL.Path {
	case "/v1/key/generate/" + f.key:
		f.mu.Lock()
		f.generated++
		f.mu.Unlock()
		json.NewEncoder(w).Encode(map[string][]byte{"plaintext": plain, "ciphertext": append([]byte("sealed:"), plain...)})
	case "/v1/key/decrypt/" + f.key:
		got, ok := bytes.CutPrefix(req.Ciphertext, []byte("sealed:"))
		if !ok {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"message":"not authentic"}`)
			return
		}
		if f.wrongDEK {
			got = bytes.Repeat([]byte{8}, 32)
		}
		json.NewEncoder(w).Encode(map[string][]byte{"plaintext": got})
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"message":"key does not exist"}`)
	}
}

// quick are options for short runs against the fakes.
func quick() Options {
	return Options{Sizes: []int64{1, 1 << 10}, Concurrency: 3, Duration: 30 * time.Millisecond}
}

func TestRunMeasuresAndRemovesEverything(t *testing.T) {
	t.Parallel()
	s3fake, s3 := newFakeS3(t)
	kesfake := &fakeKES{key: "bench-key"}
	kes := newFakeKES(t, kesfake)
	var progress []Progress
	var mu sync.Mutex
	o := quick()
	o.Progress = func(p Progress) { mu.Lock(); progress = append(progress, p); mu.Unlock() }
	rep, err := Run(t.Context(), &s3, &kes, o)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !strings.HasPrefix(rep.Bucket, BucketPrefix) {
		t.Errorf("bucket: got %q, want the prefix %q", rep.Bucket, BucketPrefix)
	}
	// 4 modes x 2 sizes x (put, get), in order.
	if len(rep.S3) != 16 {
		t.Fatalf("S3 results: got %d, want 16: %+v", len(rep.S3), rep.S3)
	}
	for i, r := range rep.S3 {
		wantOp := []string{"put", "get"}[i%2]
		if r.Op != wantOp || r.Mode != AllModes[i/4] || r.SizeBytes != o.Sizes[(i/2)%2] {
			t.Errorf("result %d: got %s %s %s, want %s %s %s", i, r.Op, r.Mode, r.Size, wantOp, AllModes[i/4], FormatSize(o.Sizes[(i/2)%2]))
		}
		if r.Ops < o.Concurrency || r.ObjectsPerSec <= 0 || r.Seconds <= 0 {
			t.Errorf("result %d (%s %s %s): %d ops at %v/s in %vs; want at least one per worker", i, r.Op, r.Mode, r.Size, r.Ops, r.ObjectsPerSec, r.Seconds)
		}
		if want := r.ObjectsPerSec * float64(r.SizeBytes) / (1 << 20); math.Abs(r.MiBPerSec-want) > 0.0005+want/100 {
			t.Errorf("result %d: %v MiB/s from %v objects/s of %d bytes; want %v", i, r.MiBPerSec, r.ObjectsPerSec, r.SizeBytes, want)
		}
		if l := r.LatencyMS; l.P50 <= 0 || l.P50 > l.P90 || l.P90 > l.P99 {
			t.Errorf("result %d: latency %+v; want 0 < p50 <= p90 <= p99", i, l)
		}
	}
	if len(rep.KES) != 2 || rep.KES[0].Op != "generate" || rep.KES[1].Op != "decrypt" {
		t.Fatalf("KES results: got %+v, want generate then decrypt", rep.KES)
	}
	for _, r := range rep.KES {
		if r.Ops < o.Concurrency || r.OpsPerSec <= 0 {
			t.Errorf("KES %s: %d ops at %v/s; want at least one per worker", r.Op, r.Ops, r.OpsPerSec)
		}
	}
	buckets, sse := s3fake.state()
	if len(buckets) != 0 {
		t.Errorf("buckets left behind: %v", buckets)
	}
	wantSSE := map[Mode]string{ModeNone: "", ModeSSES3: "AES256", ModeSSEKMS: "aws:kms", ModeSSEC: "AES256"}
	for obj, got := range sse {
		mode := Mode(strings.Split(obj, "/")[0])
		if got != wantSSE[mode] {
			t.Errorf("PUT %s sent encryption %q, want %q", obj, got, wantSSE[mode])
		}
	}
	// Progress: 18 phases, counted up, and Done never goes back.
	mu.Lock()
	defer mu.Unlock()
	if len(progress) == 0 || progress[len(progress)-1].Phase != 18 || progress[0].Phases != 18 {
		t.Fatalf("progress: got %d reports, last %+v; want phases 1 to 18", len(progress), progress[len(progress)-1])
	}
	for i := 1; i < len(progress); i++ {
		if progress[i].Done < progress[i-1].Done || progress[i].Done > 1 {
			t.Errorf("progress went from %+v to %+v", progress[i-1], progress[i])
		}
	}
}

func TestRunRemovesEverythingOnError(t *testing.T) {
	t.Parallel()
	s3fake, s3 := newFakeS3(t)
	s3fake.denyGet = true
	rep, err := Run(t.Context(), &s3, nil, quick())
	if err == nil || !strings.Contains(err.Error(), "Access") || !strings.HasPrefix(err.Error(), "bench: GET ") {
		t.Fatalf("Run with refused GETs: got %v, want a GET error", err)
	}
	if len(rep.S3) != 1 || rep.S3[0].Op != "put" {
		t.Errorf("report: got %+v, want the one PUT measured before the error", rep.S3)
	}
	if buckets, _ := s3fake.state(); len(buckets) != 0 {
		t.Errorf("buckets left behind after an error: %v", buckets)
	}
}

func TestRunRemovesEverythingWhenCancelled(t *testing.T) {
	t.Parallel()
	s3fake, s3 := newFakeS3(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	o := quick()
	o.Duration = time.Minute
	o.Progress = func(p Progress) {
		if p.Done > 0 { // 100 ms into the first PUT phase: objects are written
			cancel()
		}
	}
	_, err := Run(ctx, &s3, nil, o)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("Run cancelled: got %v, want an interruption wrapping context.Canceled", err)
	}
	if buckets, _ := s3fake.state(); len(buckets) != 0 {
		t.Errorf("buckets left behind after cancellation: %v", buckets)
	}
}

func TestRunRemovesLateObjects(t *testing.T) {
	t.Parallel()
	s3fake, s3 := newFakeS3(t)
	s3fake.latePUT = true
	if _, err := Run(t.Context(), &s3, nil, quick()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if buckets, _ := s3fake.state(); len(buckets) != 0 {
		t.Errorf("buckets left behind after a late PUT: %v", buckets)
	}
}

func TestRunSaysWhatItLeftBehind(t *testing.T) {
	t.Parallel()
	s3fake, s3 := newFakeS3(t)
	s3fake.denyDeleteBucket = true
	rep, err := Run(t.Context(), &s3, nil, quick())
	var left *LeftBehindError
	if !errors.As(err, &left) || left.Bucket != rep.Bucket {
		t.Fatalf("Run that cannot remove its bucket: got %v, want a LeftBehindError for %s", err, rep.Bucket)
	}
	want := "bench: bucket " + rep.Bucket + " was not removed: Access"
	if !strings.HasPrefix(err.Error(), want) || !strings.HasSuffix(err.Error(), "; remove it with 'mc rb --force sselab/"+rep.Bucket+"'") {
		t.Errorf("error: got %q, want it to start with %q and say how to remove the bucket", err, want)
	}
	if len(rep.S3) != 16 {
		t.Errorf("report: got %d results, want all 16 measured before the cleanup failed", len(rep.S3))
	}
}

func TestRunRefusesAnExistingBucket(t *testing.T) {
	t.Parallel()
	s3fake, s3 := newFakeS3(t)
	s3fake.buckets["mine"] = map[string][]byte{"precious": []byte("data")}
	o := quick()
	o.Bucket = "mine"
	_, err := Run(t.Context(), &s3, nil, o)
	if err == nil || !strings.Contains(err.Error(), "bucket mine already exists") {
		t.Fatalf("Run in an existing bucket: got %v, want a refusal", err)
	}
	if got := s3fake.buckets["mine"]["precious"]; string(got) != "data" {
		t.Errorf("the existing bucket's object: got %q, want it untouched", got)
	}
}

func TestRunSkipsSSECOverHTTP(t *testing.T) {
	t.Parallel()
	o := quick()
	o.Modes = []Mode{ModeSSEC}
	r := &runner{o: o.withDefaults()}
	if cells := r.plan(Target{Endpoint: "http://127.0.0.1:9000"}); len(cells) != 0 {
		t.Errorf("plan over HTTP: got %v, want no SSE-C cells", cells)
	}
	if len(r.rep.Skipped) != 1 || r.rep.Skipped[0].Mode != ModeSSEC || !strings.Contains(r.rep.Skipped[0].Reason, "needs TLS") {
		t.Errorf("skipped: got %+v, want sse-c with a reason", r.rep.Skipped)
	}
	r = &runner{o: o.withDefaults()}
	if cells := r.plan(Target{Endpoint: "https://127.0.0.1:9000"}); len(cells) != 2 || len(r.rep.Skipped) != 0 {
		t.Errorf("plan over HTTPS: got %v, skipped %v; want both sizes of SSE-C", cells, r.rep.Skipped)
	}
}

func TestRunKESErrors(t *testing.T) {
	t.Parallel()
	wrong := newFakeKES(t, &fakeKES{key: "bench-key", wrongDEK: true})
	if _, err := Run(t.Context(), nil, &wrong, quick()); err == nil || !strings.Contains(err.Error(), "another data key") {
		t.Errorf("decrypt returning another key: got %v, want an error saying so", err)
	}
	missing := newFakeKES(t, &fakeKES{key: "other"})
	missing.Key = "bench-key"
	if _, err := Run(t.Context(), nil, &missing, quick()); err == nil || !strings.Contains(err.Error(), "bench: KES generate with key bench-key") {
		t.Errorf("missing key: got %v, want a generate error naming the key", err)
	}
}

// TestReportJSON pins the JSON field names: scripts depend on them.
func TestReportJSON(t *testing.T) {
	t.Parallel()
	rep := Report{
		S3Endpoint: "https://127.0.0.1:9000", Bucket: "sselab-bench-00000000",
		KESEndpoint: "https://127.0.0.1:7373", KESKey: "sselab-key",
		Concurrency: 8, DurationSeconds: 1,
		S3: []S3Result{{Mode: ModeSSEKMS, Size: "4KiB", SizeBytes: 4096, Op: "put", Ops: 100, Seconds: 1.001,
			ObjectsPerSec: 99.9, MiBPerSec: 0.39, LatencyMS: Latency{P50: 1.5, P90: 2, P99: 3}}},
		KES:     []KESResult{{Op: "generate", Ops: 10, Seconds: 1, OpsPerSec: 10, LatencyMS: Latency{P50: 1, P90: 2, P99: 3}}},
		Skipped: []Skip{{Mode: ModeSSEC, Reason: "r"}},
	}
	got, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"s3_endpoint":"https://127.0.0.1:9000","bucket":"sselab-bench-00000000","kes_endpoint":"https://127.0.0.1:7373","kes_key":"sselab-key","concurrency":8,"duration_seconds":1,` +
		`"s3":[{"mode":"sse-kms","size":"4KiB","size_bytes":4096,"op":"put","ops":100,"seconds":1.001,"objects_per_sec":99.9,"mib_per_sec":0.39,"latency_ms":{"p50":1.5,"p90":2,"p99":3}}],` +
		`"kes":[{"op":"generate","ops":10,"seconds":1,"ops_per_sec":10,"latency_ms":{"p50":1,"p90":2,"p99":3}}],` +
		`"skipped":[{"mode":"sse-c","reason":"r"}]}`
	if string(got) != want {
		t.Errorf("JSON:\ngot  %s\nwant %s", got, want)
	}
}

// TestRunKESWithSharedH2Config: a TLS config that an HTTP/2 transport
// changed (it appends "h2" to NextProtos) must not make bench's HTTP/1.1
// transport offer HTTP/2 to a server that speaks it.
func TestRunKESWithSharedH2Config(t *testing.T) {
	t.Parallel()
	f := &fakeKES{key: "bench-key"}
	srv := httptest.NewUnstartedServer(f)
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	cfg := srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	cfg.NextProtos = []string{"h2", "http/1.1"}
	target := KESTarget{Endpoint: srv.URL, TLS: cfg, Key: f.key}
	rep, err := Run(t.Context(), nil, &target, quick())
	if err != nil || len(rep.KES) != 2 {
		t.Fatalf("Run against an HTTP/2 server with an h2 TLS config: %v", err)
	}
	if !slices.Equal(cfg.NextProtos, []string{"h2", "http/1.1"}) {
		t.Errorf("the caller's TLS config was changed: NextProtos %v", cfg.NextProtos)
	}
}

func TestRunFlushesBeforeEachS3Phase(t *testing.T) {
	t.Parallel()
	for _, noFlush := range []bool{false, true} {
		_, s3 := newFakeS3(t)
		o := quick()
		o.Modes, o.Sizes, o.NoFlush = []Mode{ModeNone, ModeSSEKMS}, []int64{1 << 10}, noFlush
		flushes := 0
		const slow = 300 * time.Millisecond
		o.flush = func() { flushes++; time.Sleep(slow) }
		rep, err := Run(t.Context(), &s3, nil, o)
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		want := 2 * len(o.Modes) // before each PUT and each GET phase
		if noFlush {
			want = 0
		}
		if flushes != want {
			t.Errorf("NoFlush %v: %d flushes, want %d", noFlush, flushes, want)
		}
		for _, r := range rep.S3 {
			if r.Seconds >= slow.Seconds() {
				t.Errorf("%s %s took %vs with a phase of %v: the flush was measured", r.Op, r.Mode, r.Seconds, o.Duration)
			}
		}
	}
}
