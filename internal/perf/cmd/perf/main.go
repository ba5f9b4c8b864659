// Command perf measures sselab on this machine against a bare MinIO with
// a static key and a standalone KES server, in one run, and writes the
// figures to docs/PERFORMANCE.md:
//
//	P1  spawn to ready of `sselab up` (fresh and existing directory)
//	    vs `minio server` with MINIO_KMS_SECRET_KEY
//	P2  embedded KES vs `kes server` of the same version: generate and
//	    decrypt operations per second
//	P3  S3 PUT and GET with SSE-KMS through KES vs a static key, and
//	    SSE-KMS vs no encryption
//	P4  resident memory of the sselab process, idle
//	P5  `sselab bucket rekey` vs a plain CopyObject loop and vs
//	    `mc cp --recursive --enc-kms`, objects per second and MiB/s
//	P6  a lab of several nodes (`up --nodes 4`) vs as many bare MinIO
//	    processes with a static key: spawn to ready, SSE-KMS S3, memory
//
// Usage:
//
//	go run ./internal/perf/cmd/perf [-runs 5] [-duration 3s] [-workers 8] [-only p1,p2,p3,p4,p5,p6] [-p5-small 10000] [-p5-large 200] [-p6-nodes 4] [-out FILE]
//
// With -only, the sections not measured are kept from the report being
// replaced, marked with the date of the run that measured them.
//
// It uses the MinIO sselab would use ($SSELAB_MINIO, else the cache,
// else a build from source), builds sselab from this checkout and the kes
// CLI from the kes module in go.mod. Run it on a quiet machine: the
// figures are only as good as the machine is idle.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/sselab/sselab/internal/perf"
	"github.com/sselab/sselab/internal/testtools"
	"github.com/sselab/sselab/pkg/miniobin"
)

// options are the command's flags.
type options struct {
	runs     int
	duration time.Duration
	workers  int
	only     []string
	out      string
	// p5Small and p5Large are how many 4 KiB and 16 MiB objects P5
	// re-encrypts.
	p5Small, p5Large int
	// p6Nodes is how many MinIO nodes P6's lab runs.
	p6Nodes int
}

func main() {
	var o options
	var only string
	flag.IntVar(&o.runs, "runs", 5, "how many times each measure is taken")
	flag.DurationVar(&o.duration, "duration", 3*time.Second, "how long each S3 and KES load phase runs")
	flag.IntVar(&o.workers, "workers", 8, "concurrent workers of the S3 and KES load")
	flag.StringVar(&only, "only", "p1,p2,p3,p4,p5,p6", "the measures to take")
	flag.IntVar(&o.p6Nodes, "p6-nodes", 4, "how many MinIO nodes P6's lab runs")
	flag.IntVar(&o.p5Small, "p5-small", 10000, "how many 4 KiB objects P5 re-encrypts")
	flag.IntVar(&o.p5Large, "p5-large", 200, "how many 16 MiB objects P5 re-encrypts")
	flag.StringVar(&o.out, "out", "", "the Markdown file to write (default: docs/PERFORMANCE.md in the module)")
	flag.Parse()
	o.only = strings.Split(strings.ToLower(only), ",")
	if o.runs < 1 || o.duration <= 0 || o.workers < 1 || o.p5Small < 1 || o.p5Large < 1 || o.p6Nodes < 2 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "perf: -runs, -workers, -p5-small and -p5-large must be at least 1, -p6-nodes at least 2, -duration positive, and no arguments; see -help")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "perf:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, stdout, stderr io.Writer) (err error) {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	if o.out == "" {
		o.out = filepath.Join(root, "docs", "PERFORMANCE.md")
	}
	scratch, err := os.MkdirTemp("", "sselab-perf-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)

	fmt.Fprintln(stderr, "preparing MinIO, sselab and the kes CLI ...")
	bin, err := miniobin.Find(ctx, miniobin.Options{Env: os.Getenv("SSELAB_MINIO"), Build: true, Progress: stderr})
	if err != nil {
		return err
	}
	sselab := filepath.Join(scratch, "bin", "sselab")
	if err := goCmd(root, "build", "-o", sselab, "./cmd/sselab"); err != nil {
		return err
	}
	kesOut, err := goOutput(root, "tool", "-n", "github.com/minio/kes/cmd/kes")
	if err != nil {
		return err
	}
	env := perf.Env{Sselab: sselab, MinIO: bin.Path, KES: kesOut, Dir: scratch, Runs: o.runs, Duration: o.duration, Workers: o.workers, Log: stderr}
	rep := perf.Report{
		Command: "go run ./internal/perf/cmd/perf " + strings.Join(os.Args[1:], " "),
		Started: time.Now(), Runs: o.runs, Duration: o.duration, Workers: o.workers,
		Machine: perf.DescribeMachine(bin.Path),
	}
	rep.Command = strings.TrimSpace(rep.Command)
	want := func(id string) bool { return slices.Contains(o.only, id) }
	problem := func(id string, err error) {
		fmt.Fprintf(stderr, "%s failed: %v\n", id, err)
		rep.Problems = append(rep.Problems, fmt.Sprintf("%s: %v", id, strings.ReplaceAll(err.Error(), "\n", " ")))
	}

	if want("p1") {
		if s, err := perf.MeasureP1(ctx, env); err != nil {
			problem("P1", err)
		} else {
			rep.Sections = append(rep.Sections, s)
		}
	}
	if want("p2") || want("p3") || want("p4") {
		if err := withLab(ctx, env, &rep, want, problem); err != nil {
			problem("lab", err)
		}
	}
	if want("p5") {
		mc, err := testtools.BuildMC()
		if err == nil {
			var s perf.Section
			if s, err = perf.MeasureP5(ctx, env, mc, testtools.MCVersion, perf.RekeySets(o.p5Small, o.p5Large)); err == nil {
				rep.Sections = append(rep.Sections, s)
			}
		}
		if err != nil {
			problem("P5", err)
		}
	}
	if want("p6") {
		if s, err := perf.MeasureP6(ctx, env, o.p6Nodes); err != nil {
			problem("P6", err)
		} else {
			rep.Sections = append(rep.Sections, s...)
		}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted; %s not written", o.out)
	}
	rep.Machine.LoadEnd = perf.LoadAvg()
	rep.Took = time.Since(rep.Started)
	if old, err := os.ReadFile(o.out); err == nil {
		rep.Keep(old)
	}
	if err := writeReport(o.out, rep); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", o.out)
	for _, s := range rep.Sections {
		for _, r := range s.Rows {
			if r.Target != nil {
				ratio := r.Checked()
				fmt.Fprintf(stdout, "  %-4s %-40s %-28s target %-10s %s\n", s.ID, r.Name, ratio.Format(2, ""), r.Target, strings.Trim(r.Verdict(), "*"))
			}
		}
	}
	if len(rep.Problems) > 0 {
		return fmt.Errorf("%d measure(s) failed; see %s", len(rep.Problems), o.out)
	}
	return nil
}

// withLab starts one lab and takes P4 (idle after start), P2, P3 and P4
// (idle after the load) on it.
func withLab(ctx context.Context, env perf.Env, rep *perf.Report, want func(string) bool, problem func(string, error)) error {
	l, err := perf.StartLab(ctx, env.Sselab, env.MinIO, filepath.Join(env.Dir, "lab"))
	if err != nil {
		return err
	}
	defer func() {
		if err := l.Stop(); err != nil {
			problem("lab", err)
		}
	}()
	pid := l.Handle.State.PID
	var idleStart, idleLoad, minio perf.Series
	if want("p4") {
		perf.Sleep(ctx, perf.Settle)
		if idleStart, _, err = perf.SampleRSS(ctx, pid, env.Runs, time.Second); err != nil {
			problem("P4", err)
		}
		minio, _, _ = perf.SampleRSS(ctx, l.Handle.State.MinIOPID, 1, 0)
		fmt.Fprintf(env.Log, "P4: sselab idle after start %s\n", idleStart.Format(1, "MiB"))
	}
	if want("p2") {
		if s, err := perf.MeasureP2(ctx, env, l); err != nil {
			problem("P2", err)
		} else {
			rep.Sections = append(rep.Sections, s)
		}
	}
	if want("p3") {
		if s, err := perf.MeasureP3(ctx, env, l); err != nil {
			problem("P3", err)
		} else {
			rep.Sections = append(rep.Sections, s...)
		}
	}
	if want("p4") && len(idleStart) > 0 {
		var peak float64
		if want("p2") || want("p3") {
			perf.Sleep(ctx, 2*perf.Settle)
			idleLoad, peak, err = perf.SampleRSS(ctx, pid, env.Runs, time.Second)
		} else {
			_, peak, err = perf.SampleRSS(ctx, pid, 1, 0)
		}
		if err != nil {
			problem("P4", err)
		}
		rep.Sections = append(rep.Sections, perf.P4Section(idleStart, idleLoad, peak, minio, perf.Settle))
	}
	return nil
}

// writeReport writes the Markdown report to path through a temporary
// file, so a failed write leaves the old report.
func writeReport(path string, rep perf.Report) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".perf-*.md")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := rep.WriteMarkdown(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// moduleRoot returns the directory of sselab's go.mod.
func moduleRoot() (string, error) {
	gomod, err := goOutput("", "env", "GOMOD")
	if err != nil || gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("run perf inside the sselab module (go env GOMOD: %q, %v)", gomod, err)
	}
	return filepath.Dir(gomod), nil
}

// goCmd runs the go command in dir.
func goCmd(dir string, args ...string) error {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// goOutput runs the go command in dir and returns its trimmed output.
func goOutput(dir string, args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}
