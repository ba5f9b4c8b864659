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

// alternate runs a then b on even runs and b then a on odd ones, so
// that neither side always runs on a machine warmed up by the other.
func alternate(run int, a, b func() error) error {
	if run%2 == 1 {
		a, b = b, a
	}
	if err := a(); err != nil {
		return err
	}
	return b()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// MeasureP1 times spawn-to-ready of `sselab up` on a fresh directory and
// again on that directory, against a bare `minio server` with a static
// key on a fresh directory.
func MeasureP1(ctx context.Context, e Env) (Section, error) {
	var health, bare, bucket, fresh, existing Series
	for i := range e.Runs {
		dir := filepath.Join(e.Dir, fmt.Sprintf("p1-run%d", i))
		var b BareSpawn
		var f, x time.Duration
		err := alternate(i, func() (err error) {
			b, err = SpawnBareMinIO(ctx, e.MinIO, filepath.Join(dir, "bare"))
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
		fresh, existing = append(fresh, ms(f)), append(existing, ms(x))
		e.logf("P1 run %d/%d: bare minio %.0f ms, sselab up fresh %.0f ms, existing %.0f ms", i+1, e.Runs, ms(b.S3), ms(f), ms(x))
	}
	target := &Target{Bound: 1.10}
	return Section{
		ID: "P1", Title: "Spawn to ready",
		Method: "From spawning the process to a usable server. **sselab**: `sselab up --dir DIR` with the cached MinIO, until it prints " +
			"\"the lab is ready\" (PKI, embedded KES, default key, MinIO ready with a KMS round trip, bucket with default SSE-KMS); " +
			"fresh: DIR does not exist; existing: the same DIR again right after. **Reference**: the same MinIO binary as " +
			"`minio server DIR` on a fresh DIR with `MINIO_KMS_SECRET_KEY`, until its S3 API serves a signed request " +
			"(ListBuckets, polled every 5 ms). Each process is stopped (SIGTERM) before the next starts.",
		SselabName: "sselab up", RefName: "bare minio server",
		Rows: []Row{
			{Name: "fresh dir", Unit: "ms", Sselab: fresh, Ref: bare, Target: target},
			{Name: "existing dir", Unit: "ms", Sselab: existing, Ref: bare, Target: target},
			{Name: "fresh dir, vs MinIO until it also made an SSE-KMS bucket", Unit: "ms", Sselab: fresh, Ref: bucket},
		},
		Notes: []string{
			fmt.Sprintf("Bare MinIO's /minio/health/ready answered 200 after %s, before its S3 API was usable (XMinioServerNotInitialized).", health.Format(0, "ms")),
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
		if err := alternate(i, measure(emb, &eg, &ed), measure(std, &sg, &sd)); err != nil {
			return Section{}, err
		}
		if err := alternate(i, measure(embMinIO, &egM, &edM), measure(stdMinIO, &sgM, &sdM)); err != nil {
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

// MeasureP3 measures S3 PUT and GET throughput without encryption and
// with SSE-KMS on the lab and on a bare MinIO with a static key, over
// the same TLS, with bench. It returns three sections: sselab against
// the bare MinIO, SSE-KMS against no encryption on each, and the CPU each
// process spends per 4 KiB operation (Linux).
func MeasureP3(ctx context.Context, e Env, l *Lab) (vsBare, vsNone, cpuSec Section, err error) {
	labT, _ := bench.LabTargets(l.Handle)
	certs := filepath.Join(e.Dir, "p3-certs")
	if err := os.CopyFS(certs, os.DirFS(l.Handle.PKI.MinIOCertsDir())); err != nil {
		return vsBare, vsNone, cpuSec, fmt.Errorf("perf: copy the lab's MinIO certificate: %w", err)
	}
	m, err := StartMinIO(ctx, MinIOOptions{Binary: e.MinIO, Dir: filepath.Join(e.Dir, "p3-minio"), CertsDir: certs, KeyName: labT.KMSKey},
		&http.Transport{TLSClientConfig: l.Handle.PKI.ClientTLS(nil)})
	if err != nil {
		return vsBare, vsNone, cpuSec, err
	}
	defer m.Stop()
	bareT := bench.Target{Endpoint: m.Endpoint, AccessKey: m.User, SecretKey: m.Password, TLS: l.Handle.PKI.ClientTLS(nil), KMSKey: m.KeyName}

	// 64 MiB operations take seconds each: their phases run three times
	// longer, so that each worker completes several. The 4 KiB runs are
	// one per mode, to tell the CPU each process spends per operation.
	modes := []bench.Mode{bench.ModeNone, bench.ModeSSEKMS}
	var runs []bench.Options
	for _, m := range modes {
		runs = append(runs, bench.Options{Modes: []bench.Mode{m}, Sizes: []int64{4 << 10}, Concurrency: e.Workers, Duration: e.Duration})
	}
	runs = append(runs, bench.Options{Modes: modes, Sizes: []int64{64 << 20}, Concurrency: e.Workers, Duration: 3 * e.Duration})

	labMinIO := 0
	if info, err := l.Handle.Info(ctx); err == nil {
		labMinIO = info.MinIOPID
	}
	labObj, labMiB, bareObj, bareMiB := map[string]Series{}, map[string]Series{}, map[string]Series{}, map[string]Series{}
	cpu := map[string]Series{} // CPU µs per 4 KiB operation, by process and mode
	measure := func(t bench.Target, o bench.Options, objs, mibs map[string]Series, pids map[string]int) func() error {
		return func() error {
			before := map[string]time.Duration{}
			for name, pid := range pids {
				before[name], _ = CPUTime(pid)
			}
			rep, err := bench.Run(ctx, &t, nil, o)
			if err != nil {
				return err
			}
			ob, mb := s3Figures(rep)
			for k, v := range ob {
				objs[k], mibs[k] = append(objs[k], v), append(mibs[k], mb[k])
			}
			ops := 0
			for _, r := range rep.S3 {
				ops += r.Ops
			}
			if len(o.Modes) == 1 && ops > 0 {
				for name, pid := range pids {
					after, err := CPUTime(pid)
					if err == nil && before[name] > 0 {
						k := name + " " + string(o.Modes[0])
						cpu[k] = append(cpu[k], float64(after-before[name])/float64(time.Microsecond)/float64(ops))
					}
				}
			}
			return nil
		}
	}
	labPIDs := map[string]int{"lab minio": labMinIO, "lab sselab": l.Handle.State.PID}
	barePIDs := map[string]int{"bare minio": m.PID}
	for i := range e.Runs {
		for _, o := range runs {
			if err := alternate(i, measure(labT, o, labObj, labMiB, labPIDs), measure(bareT, o, bareObj, bareMiB, barePIDs)); err != nil {
				return vsBare, vsNone, cpuSec, err
			}
		}
		k := s3Key(bench.ModeSSEKMS, "4KiB", "put")
		e.logf("P3 run %d/%d: SSE-KMS PUT 4KiB objects/s sselab %.0f, bare %.0f", i+1, e.Runs, labObj[k][i], bareObj[k][i])
	}

	kms, none := bench.ModeSSEKMS, bench.ModeNone
	row := func(name string, mode bench.Mode, size, op string, perSec bool, target *Target) Row {
		k := s3Key(mode, size, op)
		if perSec {
			return Row{Name: name, Unit: "objects/s", Decimals: 0, Sselab: labObj[k], Ref: bareObj[k], Target: target}
		}
		return Row{Name: name, Unit: "MiB/s", Decimals: 0, Sselab: labMiB[k], Ref: bareMiB[k], Target: target}
	}
	method := fmt.Sprintf("`sselab bench`'s load (package pkg/bench): %d workers, %v per phase (%v for 64 MiB objects), each phase PUTs objects then GETs them back, "+
		"single-request PUTs, in a bucket without default encryption; SSE-KMS names the key on every PUT. **sselab**: the lab's MinIO, wired "+
		"to the embedded KES. **Reference**: the same MinIO binary as a bare `minio server` with `MINIO_KMS_SECRET_KEY` (a static key of the "+
		"same name), the same TLS certificate, the same environment otherwise, its drive on the same file system.", e.Workers, e.Duration, 3*e.Duration)
	vsBare = Section{
		ID: "P3", Title: "S3 with SSE-KMS: sselab vs MinIO with a static key",
		Method:     method,
		SselabName: "sselab (KES)", RefName: "bare MinIO (static key)",
		Rows: []Row{
			row("SSE-KMS PUT 4 KiB", kms, "4KiB", "put", true, &Target{AtLeast: true, Bound: 0.90}),
			row("SSE-KMS PUT 64 MiB", kms, "64MiB", "put", false, &Target{AtLeast: true, Bound: 0.95}),
			row("SSE-KMS GET 64 MiB", kms, "64MiB", "get", false, &Target{AtLeast: true, Bound: 0.95}),
			row("SSE-KMS GET 4 KiB", kms, "4KiB", "get", true, nil),
			row("no encryption PUT 4 KiB (control)", none, "4KiB", "put", true, nil),
			row("no encryption GET 4 KiB (control)", none, "4KiB", "get", true, nil),
			row("no encryption PUT 64 MiB (control)", none, "64MiB", "put", false, nil),
			row("no encryption GET 64 MiB (control)", none, "64MiB", "get", false, nil),
		},
		Notes: []string{"The control rows send no KMS request: on them the two sides differ only by noise, so their ratios show how much of a difference the machine alone makes."},
	}
	cost := func(name string, objs map[string]Series, mibs map[string]Series, size, op string) Row {
		src, unit := objs, "objects/s"
		if size == "64MiB" {
			src, unit = mibs, "MiB/s"
		}
		return Row{Name: name, Unit: unit, Sselab: src[s3Key(kms, size, op)], Ref: src[s3Key(none, size, op)]}
	}
	vsNone = Section{
		ID: "P3b", Title: "SSE-KMS vs no encryption",
		Method:     "The same runs as P3, read the other way: SSE-KMS against no encryption on the same server. The ratio is the throughput SSE-KMS keeps.",
		SselabName: "SSE-KMS", RefName: "no encryption",
		Rows: []Row{
			cost("sselab PUT 4 KiB", labObj, labMiB, "4KiB", "put"),
			cost("sselab GET 4 KiB", labObj, labMiB, "4KiB", "get"),
			cost("sselab PUT 64 MiB", labObj, labMiB, "64MiB", "put"),
			cost("sselab GET 64 MiB", labObj, labMiB, "64MiB", "get"),
			cost("bare MinIO PUT 4 KiB", bareObj, bareMiB, "4KiB", "put"),
			cost("bare MinIO GET 4 KiB", bareObj, bareMiB, "4KiB", "get"),
			cost("bare MinIO PUT 64 MiB", bareObj, bareMiB, "64MiB", "put"),
			cost("bare MinIO GET 64 MiB", bareObj, bareMiB, "64MiB", "get"),
		},
	}
	_, kesT := bench.LabTargets(l.Handle)
	if p := negotiated(kesT.Endpoint, kesT.TLS); !strings.Contains(p, "h2") {
		vsBare.Notes = append(vsBare.Notes, "The lab's KES negotiates "+p+" with a client that offers HTTP/2. MinIO's KES client "+
			"(`kes.NewClientWithConfig`) then keeps at most 2 idle connections, so each KMS call beyond 2 at a time opens and "+
			"closes a new mutual-TLS connection: see the CPU per operation in P3c.")
	}
	cpuRow := func(name, proc, ref string, mode bench.Mode) Row {
		r := Row{Name: name, Unit: "µs", Sselab: cpu[proc+" "+string(mode)]}
		if ref != "" {
			r.Ref = cpu[ref+" "+string(mode)]
		}
		return r
	}
	cpuSec = Section{
		ID: "P3c", Title: "CPU per 4 KiB operation",
		Method: "CPU time (user and system, from /proc/PID/stat) each process used during the 4 KiB runs of P3, divided by the " +
			"number of S3 operations (PUTs and GETs). Unlike throughput it hardly depends on what else the machine runs. MinIO " +
			"calls KES once per SSE-KMS PUT (generate) and once per GET (decrypt); the static key needs no call.",
		SselabName: "sselab", RefName: "bare MinIO (static key)",
		Rows: []Row{
			cpuRow("MinIO, no encryption (control)", "lab minio", "bare minio", none),
			cpuRow("MinIO, SSE-KMS", "lab minio", "bare minio", kms),
			cpuRow("KES in the sselab process, SSE-KMS", "lab sselab", "", kms),
		},
	}
	return vsBare, vsNone, cpuSec, nil
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
