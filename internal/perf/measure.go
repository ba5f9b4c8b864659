package perf

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	kesapi "github.com/minio/kms-go/kes"

	"github.com/sselab/sselab/pkg/bench"
	"github.com/sselab/sselab/pkg/pki"
)

// Env is what the measures run with.
type Env struct {
	// Sselab, MinIO and KES are the binaries: sselab, the MinIO server
	// both sides run, and the kes CLI of the version sselab embeds.
	Sselab, MinIO, KES string
	// Dir is a scratch directory.
	Dir string
	// Runs is how many times each measure is taken.
	Runs int
	// Duration is how long each S3 or KES load phase runs.
	Duration time.Duration
	// Workers is the number of concurrent workers of the S3 and KES load.
	Workers int
	// Log receives a line per run; nil discards them.
	Log io.Writer
}

func (e Env) logf(format string, a ...any) {
	if e.Log != nil {
		fmt.Fprintf(e.Log, format+"\n", a...)
	}
}

// rotate runs fs one after the other, starting with fs[run % len(fs)]
// and wrapping around, so that over the runs each takes every place and
// none always runs on a machine warmed up by another. With two, that is
// a then b on even runs and b then a on odd ones. It stops at the first
// error.
func rotate(run int, fs ...func() error) error {
	for i := range fs {
		if err := fs[(run+i)%len(fs)](); err != nil {
			return err
		}
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Settle is how long a lab is left alone before its memory is sampled.
const Settle = 5 * time.Second

// Sleep waits d, or until ctx ends.
func Sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// MeasureP1 times spawn-to-ready of `sselab up` on a fresh directory and
// again on that directory, against a bare `minio server` with a static
// key on a fresh directory, and against MinIO started as the manual setup
// starts it: with its TLS certificate and wired to a kes server that runs
// already (it is started once, before the runs).
func MeasureP1(ctx context.Context, e Env) (Section, error) {
	p, err := pki.LoadOrCreate(pki.Options{Dir: filepath.Join(e.Dir, "p1-certs")})
	if err != nil {
		return Section{}, err
	}
	const key = "p1-key"
	kes, err := StartKES(ctx, e.KES, filepath.Join(e.Dir, "p1-kes"), p, key)
	if err != nil {
		return Section{}, err
	}
	defer kes.Stop()
	tlsProbe := &http.Transport{TLSClientConfig: p.ClientTLS(nil)}
	defer tlsProbe.CloseIdleConnections()

	var health, bare, bucket, manual, fresh, existing Series
	for i := range e.Runs {
		dir := filepath.Join(e.Dir, fmt.Sprintf("p1-run%d", i))
		var b BareSpawn
		var f, x, m time.Duration
		err := rotate(i, func() (err error) {
			b, err = SpawnBareMinIO(ctx, e.MinIO, filepath.Join(dir, "bare"))
			return err
		}, func() (err error) {
			m, err = SpawnManualMinIO(ctx, e.MinIO, filepath.Join(dir, "manual"), p.MinIOCertsDir(), kes, key, tlsProbe)
			return err
		}, func() (err error) {
			lab := filepath.Join(dir, "lab")
			if f, err = SpawnSselab(ctx, e.Sselab, e.MinIO, lab); err != nil {
				return err
			}
			x, err = SpawnSselab(ctx, e.Sselab, e.MinIO, lab)
			return err
		})
		if err != nil {
			return Section{}, err
		}
		os.RemoveAll(dir)
		health, bare, bucket = append(health, ms(b.Health)), append(bare, ms(b.S3)), append(bucket, ms(b.Bucket))
		manual, fresh, existing = append(manual, ms(m)), append(fresh, ms(f)), append(existing, ms(x))
		e.logf("P1 run %d/%d: bare minio %.0f ms, manual setup's minio %.0f ms, sselab up fresh %.0f ms, existing %.0f ms", i+1, e.Runs, ms(b.S3), ms(m), ms(f), ms(x))
	}
	target := &Target{Bound: 1.10}
	return Section{
		ID: "P1", Title: "Spawn to ready",
		Method: "From spawning the process to a usable server. **sselab**: `sselab up --dir DIR` with the cached MinIO, until it prints " +
			"\"the lab is ready\" (PKI, embedded KES, default key, MinIO ready with a KMS round trip, bucket with default SSE-KMS); " +
			"fresh: DIR does not exist; existing: the same DIR again right after. **Reference**: the same MinIO binary as " +
			"`minio server DIR` on a fresh DIR with `MINIO_KMS_SECRET_KEY` over plain HTTP, until its S3 API serves a signed request " +
			"(ListBuckets, polled every 5 ms). **Manual setup**: the same MinIO with the lab's TLS certificate, wired to a `kes server` " +
			"(the kes CLI of the same version, configured as the lab's) that runs already, as the manual procedure starts KES first; " +
			"timed the same way. Each process is stopped (SIGTERM) before the next starts.",
		SselabName: "sselab up", RefName: "bare minio server",
		Rows: []Row{
			{Name: "fresh dir", Unit: "ms", Sselab: fresh, Ref: bare, Target: target},
			{Name: "existing dir", Unit: "ms", Sselab: existing, Ref: bare, Target: target},
			{Name: "fresh dir, vs MinIO until it also made an SSE-KMS bucket", Unit: "ms", Sselab: fresh, Ref: bucket},
			{Name: "fresh dir, vs the manual setup's MinIO (TLS, a running kes server)", Unit: "ms", Sselab: fresh, Ref: manual},
			{Name: "existing dir, vs the manual setup's MinIO", Unit: "ms", Sselab: existing, Ref: manual},
		},
		Notes: []string{
			fmt.Sprintf("Bare MinIO's /minio/health/ready answered 200 after %s, before its S3 API was usable (XMinioServerNotInitialized).", health.Format(0, "ms")),
			fmt.Sprintf("The manual setup's MinIO (TLS, wired to a kes server) was ready after %s: %s times bare MinIO's time, run by run. That is what TLS and a KMS cost MinIO itself, with or without sselab.",
				manual.Format(0, "ms"), Ratios(manual, bare).Format(2, "")),
		},
	}, nil
}

// MeasureP2 measures KES generate and decrypt operations per second on
// the lab's embedded KES and on a standalone `kes server` configured the
// same way, both as MinIO's identity with the lab's key, with two
// clients: bench's (a kept-alive HTTP/1.1 connection per worker) and the
// one MinIO uses (kes.NewClientWithConfig).
func MeasureP2(ctx context.Context, e Env, l *Lab) (Section, error) {
	k, err := StartKES(ctx, e.KES, filepath.Join(e.Dir, "kes"), l.Handle.PKI, l.Handle.State.Key)
	if err != nil {
		return Section{}, err
	}
	defer k.Stop()
	_, emb := bench.LabTargets(l.Handle)
	std := k.Target
	minioLike := func(t bench.KESTarget) bench.KESTarget {
		// Its transport changes the TLS config it gets: give it a copy.
		t.Transport = kesapi.NewClientWithConfig(t.Endpoint, t.TLS.Clone()).HTTPClient.Transport
		return t
	}
	embMinIO, stdMinIO := minioLike(emb), minioLike(std)
	o := bench.Options{Concurrency: e.Workers, Duration: e.Duration}
	measure := func(t bench.KESTarget, gen, dec *Series) func() error {
		return func() error {
			rep, err := bench.Run(ctx, nil, &t, o)
			if err != nil {
				return err
			}
			*gen, *dec = append(*gen, rep.KES[0].OpsPerSec), append(*dec, rep.KES[1].OpsPerSec)
			return nil
		}
	}
	var eg, sg, ed, sd, egM, sgM, edM, sdM Series
	for i := range e.Runs {
		if err := rotate(i, measure(emb, &eg, &ed), measure(std, &sg, &sd)); err != nil {
			return Section{}, err
		}
		if err := rotate(i, measure(embMinIO, &egM, &edM), measure(stdMinIO, &sgM, &sdM)); err != nil {
			return Section{}, err
		}
		e.logf("P2 run %d/%d: generate/s embedded %.0f, kes server %.0f; with MinIO's client %.0f, %.0f", i+1, e.Runs, eg[i], sg[i], egM[i], sgM[i])
	}
	target := &Target{AtLeast: true, Bound: 1.00}
	return Section{
		ID: "P2", Title: "Embedded KES vs `kes server`",
		Method: fmt.Sprintf("KES data keys generated and decrypted per second, %d workers, as MinIO's identity with the lab's default key. "+
			"**sselab**: the KES embedded in the running lab (MinIO idle beside it). **Reference**: `kes server --config FILE` of the same "+
			"KES version, with the lab's KES server certificate and CA, client certificates required and verified, admin disabled, the "+
			"same policy for MinIO's identity, the same cache settings, a file keystore and the audit log on. Two clients: bench's "+
			"(a kept-alive HTTP/1.1 connection per worker) and the one MinIO itself uses (`kes.NewClientWithConfig`: HTTP/2 when the "+
			"server offers it, else HTTP/1.1 with 2 idle connections).", e.Workers),
		SselabName: "embedded", RefName: "kes server",
		Rows: []Row{
			{Name: "generate, bench client", Unit: "ops/s", Sselab: eg, Ref: sg, Target: target},
			{Name: "decrypt, bench client", Unit: "ops/s", Sselab: ed, Ref: sd, Target: target},
			{Name: "generate, MinIO's client", Unit: "ops/s", Sselab: egM, Ref: sgM, Target: target},
			{Name: "decrypt, MinIO's client", Unit: "ops/s", Sselab: edM, Ref: sdM, Target: target},
		},
		Notes: []string{fmt.Sprintf("Protocol a client offering h2 and http/1.1 gets: embedded KES %s, kes server %s.",
			negotiated(emb.Endpoint, emb.TLS), negotiated(std.Endpoint, std.TLS))},
	}, nil
}

// negotiated returns the application protocol a TLS client offering h2
// and http/1.1 gets from endpoint.
func negotiated(endpoint string, cfg *tls.Config) string {
	c := cfg.Clone()
	c.NextProtos = []string{"h2", "http/1.1"}
	conn, err := tls.Dial("tcp", strings.TrimPrefix(endpoint, "https://"), c)
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	defer conn.Close()
	if p := conn.ConnectionState().NegotiatedProtocol; p != "" {
		return p
	}
	return "HTTP/1.1 (no ALPN)"
}

// s3Key names one S3 figure in a bench report.
func s3Key(mode bench.Mode, size, op string) string { return string(mode) + " " + size + " " + op }

// s3Figures returns objects/s and MiB/s per mode, size and operation.
func s3Figures(rep bench.Report) (objects, mib map[string]float64) {
	objects, mib = map[string]float64{}, map[string]float64{}
	for _, r := range rep.S3 {
		objects[s3Key(r.Mode, r.Size, r.Op)] = r.ObjectsPerSec
		mib[s3Key(r.Mode, r.Size, r.Op)] = r.MiBPerSec
	}
	return objects, mib
}

// p3Server is one server P3 loads, and what was measured on it.
type p3Server struct {
	target bench.Target
	// pids are the processes whose CPU time is counted, by role: "minio",
	// "kes", and "load" (the harness itself, which generates the load).
	pids map[string]int
	// obj and mib are objects/s and MiB/s per run, by s3Key.
	obj, mib map[string]Series
	// cpu is the CPU time per 4 KiB operation in µs per run, by role and
	// mode, such as "kes sse-kms".
	cpu map[string]Series
}

func newP3Server(t bench.Target, pids map[string]int) *p3Server {
	pids["load"] = os.Getpid()
	return &p3Server{target: t, pids: pids, obj: map[string]Series{}, mib: map[string]Series{}, cpu: map[string]Series{}}
}

// run runs bench with o on s and records its figures.
func (s *p3Server) run(ctx context.Context, o bench.Options) error {
	before := map[string]time.Duration{}
	for role, pid := range s.pids {
		before[role], _ = CPUTime(pid)
	}
	rep, err := bench.Run(ctx, &s.target, nil, o)
	if err != nil {
		return err
	}
	ob, mb := s3Figures(rep)
	for k, v := range ob {
		s.obj[k], s.mib[k] = append(s.obj[k], v), append(s.mib[k], mb[k])
	}
	ops := 0
	for _, r := range rep.S3 {
		ops += r.Ops
	}
	if len(o.Modes) != 1 || ops == 0 {
		return nil
	}
	for role, pid := range s.pids {
		after, err := CPUTime(pid)
		if err == nil && before[role] > 0 {
			k := role + " " + string(o.Modes[0])
			s.cpu[k] = append(s.cpu[k], float64(after-before[role])/float64(time.Microsecond)/float64(ops))
		}
	}
	return nil
}

// figure returns s's series for mode, size and op, in figureUnit(size).
func (s *p3Server) figure(mode bench.Mode, size, op string) Series {
	if figureUnit(size) == "objects/s" {
		return s.obj[s3Key(mode, size, op)]
	}
	return s.mib[s3Key(mode, size, op)]
}

// figureUnit is the unit P3 reports objects of size in: objects/s for
// small objects, whose cost is per request, MiB/s for large ones.
func figureUnit(size string) string {
	if size == "4KiB" {
		return "objects/s"
	}
	return "MiB/s"
}

// cpuSum returns, run by run, the CPU per operation of the given roles
// added up.
func (s *p3Server) cpuSum(mode bench.Mode, roles ...string) Series {
	var sum Series
	for i := range s.cpu["load "+string(mode)] {
		total := 0.0
		for _, role := range roles {
			if v := s.cpu[role+" "+string(mode)]; i < len(v) {
				total += v[i]
			}
		}
		sum = append(sum, total)
	}
	return sum
}

// MeasureP3 measures S3 PUT and GET throughput without encryption and
// with SSE-KMS, over the same TLS, with bench, on three servers: the
// lab; a bare MinIO with a static key (the reference of the targets);
// and a bare MinIO wired to a standalone `kes server` like the lab's
// (the manual setup sselab replaces). It returns the sections P3 (sselab
// against the static key), P3b (SSE-KMS against no encryption), P3c
// (sselab against the manual setup) and P3d (CPU per 4 KiB operation,
// Linux).
func MeasureP3(ctx context.Context, e Env, l *Lab) ([]Section, error) {
	labT, labKES := bench.LabTargets(l.Handle)
	p := l.Handle.PKI
	certs := filepath.Join(e.Dir, "p3-certs")
	if err := os.CopyFS(certs, os.DirFS(p.MinIOCertsDir())); err != nil {
		return nil, fmt.Errorf("perf: copy the lab's MinIO certificate: %w", err)
	}
	probe := &http.Transport{TLSClientConfig: p.ClientTLS(nil)}
	static, err := StartMinIO(ctx, MinIOOptions{Binary: e.MinIO, Dir: filepath.Join(e.Dir, "p3-static"), CertsDir: certs, KeyName: labT.KMSKey}, probe)
	if err != nil {
		return nil, err
	}
	defer static.Stop()
	kes, err := StartKES(ctx, e.KES, filepath.Join(e.Dir, "p3-kes"), p, labT.KMSKey)
	if err != nil {
		return nil, err
	}
	defer kes.Stop()
	manual, err := StartMinIO(ctx, MinIOOptions{Binary: e.MinIO, Dir: filepath.Join(e.Dir, "p3-manual"), CertsDir: certs, KeyName: labT.KMSKey, KES: kes}, probe)
	if err != nil {
		return nil, err
	}
	defer manual.Stop()

	labMinIO := 0
	if info, err := l.Handle.Info(ctx); err == nil {
		labMinIO = info.MinIOPID
	}
	bareTarget := func(m *MinIO) bench.Target {
		return bench.Target{Endpoint: m.Endpoint, AccessKey: m.User, SecretKey: m.Password, TLS: p.ClientTLS(nil), KMSKey: m.KeyName}
	}
	sl := newP3Server(labT, map[string]int{"minio": labMinIO, "kes": l.Handle.State.PID})
	st := newP3Server(bareTarget(static), map[string]int{"minio": static.PID})
	mn := newP3Server(bareTarget(manual), map[string]int{"minio": manual.PID, "kes": kes.PID})

	// 64 MiB operations take seconds each: their phases run three times
	// longer, so that each worker completes several. The 4 KiB runs are
	// one per mode, to tell the CPU each process spends per operation.
	kms, none := bench.ModeSSEKMS, bench.ModeNone
	var runs []bench.Options
	for _, m := range []bench.Mode{none, kms} {
		runs = append(runs, bench.Options{Modes: []bench.Mode{m}, Sizes: []int64{4 << 10}, Concurrency: e.Workers, Duration: e.Duration})
	}
	runs = append(runs, bench.Options{Modes: []bench.Mode{none, kms}, Sizes: []int64{64 << 20}, Concurrency: e.Workers, Duration: 3 * e.Duration})
	for i := range e.Runs {
		for _, o := range runs {
			each := func(s *p3Server) func() error { return func() error { return s.run(ctx, o) } }
			if err := rotate(i, each(sl), each(st), each(mn)); err != nil {
				return nil, err
			}
		}
		k := s3Key(kms, "4KiB", "put")
		e.logf("P3 run %d/%d: SSE-KMS PUT 4KiB objects/s sselab %.0f, static key %.0f, MinIO + kes server %.0f", i+1, e.Runs, sl.obj[k][i], st.obj[k][i], mn.obj[k][i])
	}

	// row compares a on b for one mode, size and operation.
	row := func(name string, a, b *p3Server, mode bench.Mode, size, op string, target *Target) Row {
		return Row{Name: name, Unit: figureUnit(size), Sselab: a.figure(mode, size, op), Ref: b.figure(mode, size, op), Target: target}
	}
	load := fmt.Sprintf("`sselab bench`'s load (package pkg/bench): %d workers, %v per phase (%v for 64 MiB objects), each phase PUTs "+
		"objects then GETs them back, single-request PUTs, in a bucket without default encryption; SSE-KMS names the key on every PUT. "+
		"Every server runs in a session of its own, as the lab does, and the same TLS certificate; the servers are measured one "+
		"right after the other, in rotating order.", e.Workers, e.Duration, 3*e.Duration)
	vsStatic := Section{
		ID: "P3", Title: "S3 with SSE-KMS: sselab vs MinIO with a static key",
		Method: load + " **sselab**: the lab's MinIO, wired to the embedded KES. **Reference**: the same MinIO binary as a bare " +
			"`minio server` with `MINIO_KMS_SECRET_KEY` (a static key of the same name: no KMS round trip), the same environment " +
			"otherwise, its drive on the same file system.",
		SselabName: "sselab (KES)", RefName: "bare MinIO (static key)",
		Rows: []Row{
			row("SSE-KMS PUT 4 KiB", sl, st, kms, "4KiB", "put", &Target{AtLeast: true, Bound: 0.90}),
			row("SSE-KMS PUT 64 MiB", sl, st, kms, "64MiB", "put", &Target{AtLeast: true, Bound: 0.95}),
			row("SSE-KMS GET 64 MiB", sl, st, kms, "64MiB", "get", &Target{AtLeast: true, Bound: 0.95}),
			row("SSE-KMS GET 4 KiB", sl, st, kms, "4KiB", "get", nil),
			row("no encryption PUT 4 KiB (control)", sl, st, none, "4KiB", "put", nil),
			row("no encryption GET 4 KiB (control)", sl, st, none, "4KiB", "get", nil),
			row("no encryption PUT 64 MiB (control)", sl, st, none, "64MiB", "put", nil),
			row("no encryption GET 64 MiB (control)", sl, st, none, "64MiB", "get", nil),
			row("MinIO + kes server, SSE-KMS PUT 4 KiB (no sselab)", mn, st, kms, "4KiB", "put", nil),
			row("MinIO + kes server, SSE-KMS GET 4 KiB (no sselab)", mn, st, kms, "4KiB", "get", nil),
		},
		Notes: []string{
			"The control rows send no KMS request: on them the two sides differ only by noise, so their ratios show how much of a difference the machine alone makes.",
			"The last two rows take sselab out: the same MinIO wired to a standalone `kes server` (P3c) against the static key. " +
				"They show what a KES round trip per object costs without sselab; see P3d for where that CPU goes.",
		},
	}
	cost := func(name string, s *p3Server, size, op string) Row {
		return Row{Name: name, Unit: figureUnit(size), Sselab: s.figure(kms, size, op), Ref: s.figure(none, size, op)}
	}
	vsNone := Section{
		ID: "P3b", Title: "SSE-KMS vs no encryption",
		Method:     "The same runs as P3, read the other way: SSE-KMS against no encryption on the same server. The ratio is the throughput SSE-KMS keeps.",
		SselabName: "SSE-KMS", RefName: "no encryption",
		Rows: []Row{
			cost("sselab PUT 4 KiB", sl, "4KiB", "put"),
			cost("sselab GET 4 KiB", sl, "4KiB", "get"),
			cost("sselab PUT 64 MiB", sl, "64MiB", "put"),
			cost("sselab GET 64 MiB", sl, "64MiB", "get"),
			cost("bare MinIO (static key) PUT 4 KiB", st, "4KiB", "put"),
			cost("bare MinIO (static key) GET 4 KiB", st, "4KiB", "get"),
			cost("bare MinIO (static key) PUT 64 MiB", st, "64MiB", "put"),
			cost("bare MinIO (static key) GET 64 MiB", st, "64MiB", "get"),
		},
	}
	vsManual := Section{
		ID: "P3c", Title: "S3 with SSE-KMS: sselab vs MinIO and `kes server` set up by hand",
		Method: "The same runs as P3. **Reference**: the manual setup sselab replaces, without sselab: the same MinIO binary as a bare " +
			"`minio server`, wired (the same `MINIO_KMS_KES_*` environment as the lab's) to a standalone `kes server` of the same " +
			"version configured as in P2, each in a session of its own. Both sides make the same KES round trip per object, so a " +
			"ratio near 1 means sselab adds nothing to what KES costs anyway.",
		SselabName: "sselab", RefName: "MinIO + kes server",
		Rows: []Row{
			row("SSE-KMS PUT 4 KiB", sl, mn, kms, "4KiB", "put", nil),
			row("SSE-KMS GET 4 KiB", sl, mn, kms, "4KiB", "get", nil),
			row("SSE-KMS PUT 64 MiB", sl, mn, kms, "64MiB", "put", nil),
			row("SSE-KMS GET 64 MiB", sl, mn, kms, "64MiB", "get", nil),
			row("no encryption PUT 4 KiB (control)", sl, mn, none, "4KiB", "put", nil),
			row("no encryption GET 4 KiB (control)", sl, mn, none, "4KiB", "get", nil),
		},
	}
	cpuRow := func(name string, a, b *p3Server, mode bench.Mode, roles ...string) Row {
		r := Row{Name: name, Unit: "µs", Sselab: a.cpuSum(mode, roles...)}
		if b != nil {
			r.Ref = b.cpuSum(mode, roles...)
		}
		return r
	}
	all := []string{"load", "minio", "kes"}
	cpuSec := Section{
		ID: "P3d", Title: "CPU per 4 KiB operation",
		Method: "CPU time (user and system, from /proc/PID/stat) each process used during the 4 KiB runs of P3, divided by the " +
			"number of S3 operations (PUTs and GETs). Unlike throughput it hardly depends on what else the machine runs. MinIO " +
			"calls KES once per SSE-KMS PUT (generate) and once per GET (decrypt); the static key needs no call. \"load\" is this " +
			"harness, which generates the load in the same runs. On a machine whose cores are all busy, throughput goes as the " +
			"inverse of the total CPU per operation.",
		SselabName: "sselab", RefName: "bare MinIO (static key)",
		Rows: []Row{
			cpuRow("MinIO, no encryption (control)", sl, st, none, "minio"),
			cpuRow("MinIO, SSE-KMS", sl, st, kms, "minio"),
			cpuRow("KES, SSE-KMS (in the sselab process)", sl, nil, kms, "kes"),
			cpuRow("load generator, SSE-KMS", sl, st, kms, "load"),
			cpuRow("total, SSE-KMS", sl, st, kms, all...),
			cpuRow("MinIO + kes server: MinIO, SSE-KMS", mn, st, kms, "minio"),
			cpuRow("MinIO + kes server: kes server, SSE-KMS", mn, nil, kms, "kes"),
			cpuRow("MinIO + kes server: total, SSE-KMS", mn, st, kms, all...),
		},
	}
	if t, ref := sl.cpuSum(kms, all...), st.cpuSum(kms, all...); len(t) > 0 && len(ref) > 0 {
		noKES := sl.cpuSum(kms, "load", "minio")
		cpuSec.Notes = append(cpuSec.Notes, fmt.Sprintf("CPU per SSE-KMS operation, all processes, the static key's total over sselab's "+
			"(medians): %.2f. Were the cores the only limit, that would be the throughput ratio; P3 measured %.2f for PUT and %.2f for "+
			"GET, so part of the load waits on something else. Without the CPU KES itself uses, the ratio would still be %.2f: the rest "+
			"is MinIO's own side of the KES round trip (its KES client: mutual TLS, HTTP/2, JSON), %.0f µs per operation more than "+
			"with the static key.",
			ref.Median()/t.Median(), vsStatic.Rows[0].Ratio().Median(), vsStatic.Rows[3].Ratio().Median(),
			ref.Median()/noKES.Median(), sl.cpuSum(kms, "minio").Median()-st.cpuSum(kms, "minio").Median()))
	}
	if proto := negotiated(labKES.Endpoint, labKES.TLS); !strings.Contains(proto, "h2") {
		vsStatic.Notes = append(vsStatic.Notes, "The lab's KES negotiates "+proto+" with a client that offers HTTP/2. MinIO's KES client "+
			"(`kes.NewClientWithConfig`) then keeps at most 2 idle connections, so each KMS call beyond 2 at a time opens and "+
			"closes a new mutual-TLS connection: see the CPU per operation in P3d.")
	}
	return []Section{vsStatic, vsNone, vsManual, cpuSec}, nil
}

// SampleRSS samples the resident memory of pid n times, every interval,
// in MiB, and returns the samples and the peak (VmHWM) at the end.
func SampleRSS(ctx context.Context, pid, n int, every time.Duration) (Series, float64, error) {
	var s Series
	var peak int64
	for i := range n {
		if i > 0 {
			select {
			case <-ctx.Done():
				return s, 0, ctx.Err()
			case <-time.After(every):
			}
		}
		rss, hwm, err := RSS(pid)
		if err != nil {
			return s, 0, err
		}
		s, peak = append(s, float64(rss)/(1<<20)), hwm
	}
	return s, float64(peak) / (1 << 20), nil
}

// P4Section reports the resident memory of the sselab process: idle
// after start, and idle after the P2 and P3 load.
func P4Section(idleStart, idleLoad Series, peak float64, minio Series, settle time.Duration) Section {
	target := &Target{Bound: 50, Unit: "MiB"}
	rows := []Row{
		{Name: "idle after start", Unit: "MiB", Decimals: 1, Sselab: idleStart, Target: target},
	}
	if len(idleLoad) > 0 {
		rows = append(rows, Row{Name: "idle after the P2 and P3 load", Unit: "MiB", Decimals: 1, Sselab: idleLoad, Target: target})
	}
	rows = append(rows, Row{Name: "peak (VmHWM) over the whole run", Unit: "MiB", Decimals: 1, Sselab: Series{peak}})
	if len(minio) > 0 {
		rows = append(rows, Row{Name: "MinIO child, idle after start (not counted)", Unit: "MiB", Decimals: 1, Sselab: minio})
	}
	return Section{
		ID: "P4", Title: "Resident memory of sselab",
		Method: fmt.Sprintf("VmRSS of the `sselab up` process itself (embedded KES, supervisor, control endpoint; MinIO is a separate "+
			"process and not counted), from /proc/PID/status, sampled once a second after the lab was idle for %v. "+
			"Each \"run\" column is one sample.", settle),
		SselabName: "sselab process",
		Rows:       rows,
	}
}
