package perf

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/sselab/sselab/pkg/bench"
	"github.com/sselab/sselab/pkg/pki"
)

// SpawnBareCluster starts a bare MinIO of n processes with a static key
// over plain HTTP on a fresh directory under dir, as P1's bare MinIO, times
// it until every node's S3 API serves a signed request (polling every
// 5 ms; MinIO serves S3 only once its erasure sets have formed), as the
// lab waits for every node, and stops it.
// With certs (a --certs-dir) its nodes serve TLS, which transport must
// trust.
func SpawnBareCluster(ctx context.Context, binary, dir string, n int, certs string, transport http.RoundTripper) (time.Duration, error) {
	start := time.Now()
	c, err := launchCluster(MinIOOptions{Binary: binary, Dir: dir, CertsDir: certs}, n)
	if err != nil {
		return 0, err
	}
	defer c.Stop()
	errs := make(chan error, n)
	for _, m := range c.Nodes {
		go func() { errs <- poll(ctx, m.proc, 5*time.Millisecond, m.s3Ready(transport)) }()
	}
	for range c.Nodes {
		if err := <-errs; err != nil {
			return 0, err
		}
	}
	took := time.Since(start)
	return took, c.Stop()
}

// MeasureP6 measures a lab of n nodes of one drive each: spawn-to-ready
// of `sselab up --nodes n` on a fresh directory against the same n MinIO
// processes started by hand with a static key; SSE-KMS S3 throughput
// over every node (bench's workers round robin) against that cluster with
// the lab's TLS certificate; and sselab's memory while the lab is idle.
func MeasureP6(ctx context.Context, e Env, n int) ([]Section, error) {
	nodes := []string{"--nodes", strconv.Itoa(n), "--drives", "1"}
	tlsPKI, err := pki.LoadOrCreate(pki.Options{Dir: filepath.Join(e.Dir, "p6-spawn-certs")})
	if err != nil {
		return nil, err
	}
	tlsProbe := &http.Transport{TLSClientConfig: tlsPKI.ClientTLS(nil)}
	defer tlsProbe.CloseIdleConnections()
	var fresh, bare, bareTLS Series
	for i := range e.Runs {
		dir := filepath.Join(e.Dir, fmt.Sprintf("p6-run%d", i))
		var f, b, bt time.Duration
		err := rotate(i, func() (err error) {
			b, err = SpawnBareCluster(ctx, e.MinIO, filepath.Join(dir, "bare"), n, "", http.DefaultTransport)
			return err
		}, func() (err error) {
			bt, err = SpawnBareCluster(ctx, e.MinIO, filepath.Join(dir, "bare-tls"), n, tlsPKI.MinIOCertsDir(), tlsProbe)
			return err
		}, func() (err error) {
			f, err = SpawnSselab(ctx, e.Sselab, e.MinIO, filepath.Join(dir, "lab"), nodes...)
			return err
		})
		if err != nil {
			return nil, err
		}
		os.RemoveAll(dir)
		fresh, bare, bareTLS = append(fresh, ms(f)), append(bare, ms(b)), append(bareTLS, ms(bt))
		e.logf("P6 run %d/%d: %d bare MinIO nodes %.0f ms, with TLS %.0f ms, sselab up --nodes %d %.0f ms", i+1, e.Runs, n, ms(b), ms(bt), n, ms(f))
	}
	spawn := Section{
		ID: "P6", Title: fmt.Sprintf("%d nodes: spawn to ready", n),
		Method: fmt.Sprintf("As P1, for a lab of %[1]d MinIO nodes of one drive each. **sselab**: `sselab up --dir DIR --nodes %[1]d --drives 1` "+
			"on a fresh DIR, until it prints \"the lab is ready\" (it waits for the cluster's write quorum, then sets up keys and "+
			"buckets). **Reference**: the same %[1]d `minio server` processes started by hand as MinIO's own CI starts a cluster on one "+
			"host (one endpoint list, a port each, `MINIO_CI_CD=1`), with a static key over plain HTTP, until every node's S3 API serves a "+
			"signed request (the lab, too, waits for every node); and the same with a TLS certificate, as the lab's nodes talk to each "+
			"other over TLS. The bare nodes are started by one shell in a session of its own, so that they share a session as the lab's "+
			"nodes share the lab's (see P3 on sessions).", n),
		SselabName: fmt.Sprintf("sselab up --nodes %d", n), RefName: fmt.Sprintf("%d bare minio servers", n),
		Rows: []Row{
			{Name: "fresh dir", Unit: "ms", Sselab: fresh, Ref: bare, Target: &Target{Bound: 1.10}},
			{Name: "fresh dir, vs the same cluster with a TLS certificate", Unit: "ms", Sselab: fresh, Ref: bareTLS},
		},
	}

	l, err := StartLab(ctx, e.Sselab, e.MinIO, filepath.Join(e.Dir, "p6-lab"), nodes...)
	if err != nil {
		return nil, err
	}
	defer l.Stop()
	Sleep(ctx, Settle)
	idle, _, err := SampleRSS(ctx, l.Handle.State.PID, e.Runs, time.Second)
	if err != nil {
		return nil, err
	}
	labT, _ := bench.LabTargets(l.Handle)
	for _, node := range l.Handle.State.Nodes {
		labT.Endpoints = append(labT.Endpoints, node.S3Endpoint)
	}
	p := l.Handle.PKI
	certs := filepath.Join(e.Dir, "p6-certs")
	if err := os.CopyFS(certs, os.DirFS(p.MinIOCertsDir())); err != nil {
		return nil, fmt.Errorf("perf: copy the lab's MinIO certificate: %w", err)
	}
	static, err := launchCluster(MinIOOptions{Binary: e.MinIO, Dir: filepath.Join(e.Dir, "p6-static"), CertsDir: certs, KeyName: labT.KMSKey}, n)
	if err != nil {
		return nil, err
	}
	defer static.Stop()
	probe := &http.Transport{TLSClientConfig: p.ClientTLS(nil)}
	defer probe.CloseIdleConnections()
	if err := poll(ctx, static.Nodes[0].proc, 10*time.Millisecond, static.Nodes[0].s3Ready(probe)); err != nil {
		return nil, err
	}
	m := static.Nodes[0]
	staticT := bench.Target{Endpoint: m.Endpoint, Endpoints: static.Endpoints(), AccessKey: m.User, SecretKey: m.Password, TLS: p.ClientTLS(nil), KMSKey: m.KeyName}
	sl, st := newP3Server(labT, map[string]int{}), newP3Server(staticT, map[string]int{})
	kms := bench.ModeSSEKMS
	runs := []bench.Options{
		{Modes: []bench.Mode{kms}, Sizes: []int64{4 << 10}, Concurrency: e.Workers, Duration: e.Duration},
		{Modes: []bench.Mode{kms}, Sizes: []int64{64 << 20}, Concurrency: e.Workers, Duration: 3 * e.Duration},
	}
	for i := range e.Runs {
		for _, o := range runs {
			each := func(s *p3Server) func() error { return func() error { return s.run(ctx, o) } }
			if err := rotate(i, each(sl), each(st)); err != nil {
				return nil, err
			}
		}
		k := s3Key(kms, "4KiB", "put")
		e.logf("P6 run %d/%d: SSE-KMS PUT 4KiB objects/s on %d nodes: sselab %.0f, static key %.0f", i+1, e.Runs, n, sl.obj[k][i], st.obj[k][i])
	}
	row := func(name, size, op string, target *Target) Row {
		return Row{Name: name, Unit: figureUnit(size), Sselab: sl.figure(kms, size, op), Ref: st.figure(kms, size, op), Target: target}
	}
	s3 := Section{
		ID: "P6b", Title: fmt.Sprintf("%d nodes: S3 with SSE-KMS", n),
		Method: fmt.Sprintf("As P3, over every node: bench's %d workers take the nodes in turn. **sselab**: the lab of P6 (%d nodes wired to "+
			"the embedded KES). **Reference**: %d bare `minio server` processes as one cluster with `MINIO_KMS_SECRET_KEY`, the lab's TLS "+
			"certificate, the same drives' file system. Memory: sselab's own process (KES, the supervisor of every node, the console), "+
			"resident, sampled once a second after the lab was left alone %v, before the load.", e.Workers, n, n, Settle),
		SselabName: "sselab (KES)", RefName: "bare MinIO cluster (static key)",
		Rows: []Row{
			row("SSE-KMS PUT 4 KiB", "4KiB", "put", &Target{AtLeast: true, Bound: 0.90}),
			row("SSE-KMS GET 4 KiB", "4KiB", "get", nil),
			row("SSE-KMS PUT 64 MiB", "64MiB", "put", &Target{AtLeast: true, Bound: 0.95}),
			row("SSE-KMS GET 64 MiB", "64MiB", "get", &Target{AtLeast: true, Bound: 0.95}),
			{Name: fmt.Sprintf("sselab's memory with %d nodes, idle", n), Unit: "MiB", Decimals: 1, Sselab: idle, Target: &Target{Bound: 50, Unit: "MiB"}},
		},
	}
	return []Section{spawn, s3}, nil
}
