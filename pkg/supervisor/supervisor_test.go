package supervisor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sselab/sselab/internal/proc"
)

// The test binary plays the child, as in os/exec's tests: with
// SUPERVISOR_TEST_CHILD set, TestMain runs that mode instead of the tests.
const (
	envMode       = "SUPERVISOR_TEST_CHILD"
	envDir        = "SUPERVISOR_TEST_DIR"        // where the child writes "pid" and "addr"
	envDelay      = "SUPERVISOR_TEST_DELAY_MS"   // serve: wait this long before listening
	envCrashOnce  = "SUPERVISOR_TEST_CRASH_ONCE" // serve: exit 3 this many ms after listening, first run only
	envSecret     = "SUPERVISOR_TEST_SECRET"     // print-env prints it
	envWatchdog   = "SUPERVISOR_TEST_WATCHDOG"   // parent: 1 forces a watchdog (and a log file)
	childLifetime = time.Minute                  // children exit by themselves after this, whatever happens
)

// watchdogArg, as the first argument, makes the test binary a watchdog:
// test-binary watchdogArg [DIR] PGID. It writes its pid to DIR/watchdog.pid
// if DIR is given, and runs RunWatchdog. The argument comes before the
// environment, which a watchdog inherits from its supervisor.
const watchdogArg = "supervisor-test-watchdog"

func TestMain(m *testing.M) {
	if len(os.Args) >= 3 && os.Args[1] == watchdogArg {
		os.Exit(runTestWatchdog(os.Args[2:]))
	}
	if mode := os.Getenv(envMode); mode != "" {
		os.Exit(runChild(mode))
	}
	os.Exit(m.Run())
}

// runChild is the child's main function.
func runChild(mode string) int {
	dir := os.Getenv(envDir)
	if dir != "" {
		os.Remove(filepath.Join(dir, "addr"))
		if err := writeFileAtomic(filepath.Join(dir, "pid"), strconv.Itoa(os.Getpid())); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	switch mode {
	case "serve":
		return serve(dir, sigs, false)
	case "ignore-term":
		return serve(dir, sigs, true)
	case "crash-now":
		fmt.Println("crash-now: line 1")
		fmt.Println("crash-now: line 2")
		fmt.Fprint(os.Stderr, "crash-now: fatal: something broke") // no newline
		return 1
	case "print-env":
		fmt.Printf("print-env: %s=%s\n", envSecret, os.Getenv(envSecret))
		return 0
	case "parent":
		return runParent(dir)
	}
	fmt.Fprintf(os.Stderr, "unknown mode %q\n", mode)
	return 2
}

// serve listens on a free port, writes the address to dir/addr, and answers
// every connection with "ok PID". It exits 0 on SIGTERM or os.Interrupt,
// unless ignoreTerm.
func serve(dir string, sigs <-chan os.Signal, ignoreTerm bool) int {
	name := "serve"
	if ignoreTerm {
		name = "ignore-term"
	}
	fmt.Printf("%s: starting\n", name)
	lifetime := time.After(childLifetime)
	if ms, _ := strconv.Atoi(os.Getenv(envDelay)); ms > 0 {
		select {
		case s := <-sigs:
			fmt.Printf("%s: got signal %v before listening, exiting 0\n", name, s)
			return 0
		case <-time.After(time.Duration(ms) * time.Millisecond):
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(conn, "ok %d\n", os.Getpid())
			conn.Close()
		}
	}()
	if err := writeFileAtomic(filepath.Join(dir, "addr"), ln.Addr().String()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Printf("%s: listening on %s\n", name, ln.Addr())

	var crash <-chan time.Time
	if ms, _ := strconv.Atoi(os.Getenv(envCrashOnce)); ms > 0 {
		marker := filepath.Join(dir, "crashed")
		if _, err := os.Stat(marker); errors.Is(err, fs.ErrNotExist) {
			if err := os.WriteFile(marker, nil, 0o600); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 2
			}
			crash = time.After(time.Duration(ms) * time.Millisecond)
		}
	}
	for {
		select {
		case s := <-sigs:
			if ignoreTerm {
				fmt.Printf("%s: ignoring signal %v\n", name, s)
				continue
			}
			fmt.Printf("%s: got signal %v, exiting 0\n", name, s)
			return 0
		case <-crash:
			fmt.Printf("%s: crashing\n", name)
			return 3
		case <-lifetime:
			return 4
		}
	}
}

// runTestWatchdog is the test binary's watchdog: args are [DIR] PGID.
func runTestWatchdog(args []string) int {
	pgid, err := strconv.Atoi(args[len(args)-1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if len(args) == 2 {
		if err := writeFileAtomic(filepath.Join(args[0], "watchdog.pid"), strconv.Itoa(os.Getpid())); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	if err := RunWatchdog(os.Stdin, os.Stderr, pgid); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// testWatchdog returns a forced watchdog that runs the test binary and
// writes its pid to dir/watchdog.pid.
func testWatchdog(exe, dir string) *Watchdog {
	return &Watchdog{Command: []string{exe, watchdogArg, dir}, Force: true}
}

// runParent supervises a "serve" grandchild, prints "grandchild PID", and
// waits until its stdin is closed. With envWatchdog=1 the grandchild is
// guarded by a forced watchdog, which writes its pid to dir/watchdog.pid,
// and its output (and the watchdog's) goes to dir/grandchild.log.
func runParent(dir string) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	gdir := filepath.Join(dir, "grandchild")
	if err := os.Mkdir(gdir, 0o700); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	cfg := Config{
		Name:          "grandchild",
		Path:          exe,
		Env:           append(os.Environ(), envMode+"=serve", envDir+"="+gdir),
		Ready:         probe(gdir),
		ReadyInterval: 10 * time.Millisecond,
		ReadyTimeout:  10 * time.Second,
	}
	if os.Getenv(envWatchdog) == "1" {
		cfg.Watchdog = testWatchdog(exe, dir)
		cfg.LogFile = filepath.Join(dir, "grandchild.log")
	}
	p, err := Start(context.Background(), cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("grandchild %d\n", p.PID())
	io.Copy(io.Discard, os.Stdin)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p.Stop(ctx)
	return 0
}

func writeFileAtomic(name, content string) error {
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}

// probe returns a readiness probe for a "serve" child writing to dir: it
// connects to the address in dir/addr and reads the greeting.
func probe(dir string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		addr, err := os.ReadFile(filepath.Join(dir, "addr"))
		if err != nil {
			return err
		}
		_, err = greet(ctx, string(addr))
		return err
	}
}

// greet connects to a "serve" child and returns the pid it answers with.
func greet(ctx context.Context, addr string) (int, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return 0, err
	}
	var pid int
	if _, err := fmt.Sscanf(line, "ok %d\n", &pid); err != nil {
		return 0, fmt.Errorf("greeting %q: %w", line, err)
	}
	return pid, nil
}

// logRec records the supervisor's Logf events.
type logRec struct {
	t     *testing.T
	mu    sync.Mutex
	lines []string
}

func (r *logRec) logf(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	r.mu.Lock()
	r.lines = append(r.lines, line)
	r.mu.Unlock()
	r.t.Log("supervisor: " + line)
}

func (r *logRec) contains(s string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.ContainsFunc(r.lines, func(l string) bool { return strings.Contains(l, s) })
}

// testConfig returns a Config running the test binary in mode, with a
// state directory of its own, short timeouts, and a Logf recorder.
func testConfig(t *testing.T, mode string, env ...string) (Config, string, *logRec) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rec := &logRec{t: t}
	cfg := Config{
		Name:          "child-" + mode,
		Path:          exe,
		Env:           append(childEnviron(envMode+"="+mode, envDir+"="+dir), env...),
		Ready:         probe(dir),
		ReadyInterval: 10 * time.Millisecond,
		ReadyTimeout:  15 * time.Second,
		StopGrace:     10 * time.Second,
		MinBackoff:    10 * time.Millisecond,
		MaxBackoff:    100 * time.Millisecond,
		Logf:          rec.logf,
	}
	return cfg, dir, rec
}

// childEnviron returns the test's environment plus kv for a child. Children
// built with -race skip the race detector's one-second pause at exit.
func childEnviron(kv ...string) []string {
	env := append(os.Environ(), "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	return append(env, kv...)
}

// testContext returns a context that ends shortly before the test's deadline.
func testContext(t *testing.T) context.Context {
	ctx := t.Context()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-5*time.Second))
		t.Cleanup(cancel)
	}
	return ctx
}

// start starts cfg and stops it when the test ends.
func start(t *testing.T, cfg Config) *Process {
	t.Helper()
	p, err := Start(testContext(t), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.Stop(ctx); err != nil {
			t.Errorf("Stop in cleanup: %v", err)
		}
	})
	return p
}

// waitFor polls cond until it is true or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitGone waits until no process has the given pid.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("process %d to be gone", pid), func() bool { return !proc.Alive(pid) })
}

func readPID(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func waitDone(t *testing.T, p *Process) {
	t.Helper()
	select {
	case <-p.Done():
	case <-time.After(15 * time.Second):
		t.Fatal("timed out waiting for Done")
	}
}

func containsLine(lines []string, sub string) bool {
	return slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, sub) })
}

func TestReadyWaitsForListener(t *testing.T) {
	t.Parallel()
	cfg, dir, _ := testConfig(t, "serve", envDelay+"=300")
	var failures atomic.Int32
	ready := cfg.Ready
	cfg.Ready = func(ctx context.Context) error {
		err := ready(ctx)
		if err != nil {
			failures.Add(1)
		}
		return err
	}
	p := start(t, cfg)
	if failures.Load() == 0 {
		t.Error("Start returned without a failed probe; want it to wait for the listener")
	}
	addr, err := os.ReadFile(filepath.Join(dir, "addr"))
	if err != nil {
		t.Fatalf("after Start: %v", err)
	}
	pid, err := greet(t.Context(), string(addr))
	if err != nil {
		t.Fatalf("after Start: %v", err)
	}
	if got := p.PID(); got != pid {
		t.Errorf("PID() = %d, want %d", got, pid)
	}
	if got := p.Restarts(); got != 0 {
		t.Errorf("Restarts() = %d, want 0", got)
	}
	if !containsLine(p.Tail(), "serve: listening on") {
		t.Errorf("Tail() = %q, want the listening line", p.Tail())
	}
}

func TestExitDuringStart(t *testing.T) {
	t.Parallel()
	cfg, dir, _ := testConfig(t, "crash-now")
	p, err := Start(testContext(t), cfg)
	if err == nil {
		p.Stop(context.Background())
		t.Fatal("Start succeeded, want an error")
	}
	for _, want := range []string{
		"supervisor: child-crash-now exited during start (exit status 1); last output:\n",
		"crash-now: line 1\ncrash-now: line 2\ncrash-now: fatal: something broke",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	waitGone(t, readPID(t, dir))
}

func TestReadyTimeout(t *testing.T) {
	t.Parallel()
	cfg, dir, _ := testConfig(t, "serve", envDelay+"=60000")
	cfg.ReadyTimeout = 300 * time.Millisecond
	began := time.Now()
	p, err := Start(testContext(t), cfg)
	if err == nil {
		p.Stop(context.Background())
		t.Fatal("Start succeeded, want an error")
	}
	if want := "supervisor: child-serve not ready after 300ms: "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want it to start with %q", err, want)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %q does not wrap the last probe error (no addr file)", err)
	}
	if !strings.Contains(err.Error(), "serve: starting") {
		t.Errorf("error %q does not contain the last output", err)
	}
	if d := time.Since(began); d < cfg.ReadyTimeout {
		t.Errorf("Start failed after %s, before ReadyTimeout", d)
	}
	waitGone(t, readPID(t, dir))
}

func TestStartCanceled(t *testing.T) {
	t.Parallel()
	cfg, dir, _ := testConfig(t, "serve", envDelay+"=60000")
	ctx, cancel := context.WithCancel(testContext(t))
	cfg.Ready = func(ctx context.Context) error {
		if _, err := os.Stat(filepath.Join(dir, "pid")); err == nil {
			cancel() // the child is running: give up on it
		}
		return errors.New("not yet")
	}
	p, err := Start(ctx, cfg)
	if err == nil {
		p.Stop(context.Background())
		t.Fatal("Start succeeded, want an error")
	}
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "start canceled") {
		t.Errorf("error %q, want a canceled start", err)
	}
	waitGone(t, readPID(t, dir))
}

func TestStartErrors(t *testing.T) {
	t.Parallel()
	cfg, _, _ := testConfig(t, "serve")
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no path", func(c *Config) { c.Path = "" }, "supervisor: no executable"},
		{"missing executable", func(c *Config) { c.Name, c.Path = "", filepath.Join(t.TempDir(), "nonexistent") }, "supervisor: start nonexistent: "},
		{"log dir missing", func(c *Config) { c.LogFile = filepath.Join(t.TempDir(), "no", "log") }, "supervisor: child-serve log file: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg
			tt.edit(&c)
			p, err := Start(t.Context(), c)
			if err == nil {
				p.Stop(context.Background())
				t.Fatal("Start succeeded, want an error")
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error %q, want it to start with %q", err, tt.want)
			}
		})
	}
}

func TestRestartAfterCrash(t *testing.T) {
	t.Parallel()
	cfg, dir, rec := testConfig(t, "serve", envCrashOnce+"=200")
	cfg.Restart = true
	p := start(t, cfg)
	first := p.PID()
	waitFor(t, "a restart", func() bool { return p.Restarts() == 1 })
	// Ready again: a new child answers, and PID reports it.
	var pid int
	waitFor(t, "the new child to answer", func() bool {
		addr, err := os.ReadFile(filepath.Join(dir, "addr"))
		if err != nil {
			return false
		}
		pid, err = greet(t.Context(), string(addr))
		return err == nil && p.PID() == pid
	})
	if pid == first {
		t.Errorf("pid after restart = %d, the same as before", pid)
	}
	waitFor(t, "ready log", func() bool { return rec.contains("ready again") })
	if !rec.contains("child-serve exited (exit status 3), restarting in ") {
		t.Errorf("log %q lacks the restart event", rec.lines)
	}
	select {
	case <-p.Done():
		t.Fatalf("supervision ended: %v", p.Err())
	default:
	}
	if err := p.Stop(t.Context()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := p.Err(); err != nil {
		t.Errorf("Err() after Stop = %v, want nil", err)
	}
}

// TestKilledHealthyChildIsNoCrashLoop kills a ready, healthy child more
// often than CrashLoop allows: each run was healthy, so each restart comes
// at once and the guard does not give up.
func TestKilledHealthyChildIsNoCrashLoop(t *testing.T) {
	t.Parallel()
	cfg, dir, _ := testConfig(t, "serve")
	cfg.Restart = true
	cfg.CrashLoop = 2
	cfg.HealthyAfter = 50 * time.Millisecond
	cfg.MinBackoff = 20 * time.Millisecond
	p := start(t, cfg)
	for i := 1; i <= 5; i++ {
		pid := p.PID()
		time.Sleep(2 * cfg.HealthyAfter) // healthy: ready and up for HealthyAfter
		proc, err := os.FindProcess(pid)
		if err != nil {
			t.Fatal(err)
		}
		proc.Kill()
		waitFor(t, "the next restart", func() bool {
			if p.Restarts() != i || p.PID() == 0 || p.PID() == pid {
				return false
			}
			addr, err := os.ReadFile(filepath.Join(dir, "addr"))
			if err != nil {
				return false
			}
			got, err := greet(t.Context(), string(addr))
			return err == nil && got == p.PID()
		})
	}
	select {
	case <-p.Done():
		t.Fatalf("supervision gave up after kills of a healthy child: %v", p.Err())
	default:
	}
	if err := p.Stop(t.Context()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

func TestCrashLoopGivesUp(t *testing.T) {
	t.Parallel()
	cfg, _, _ := testConfig(t, "crash-now")
	cfg.Restart = true
	cfg.Ready = nil
	cfg.CrashLoop = 3
	p := start(t, cfg)
	waitDone(t, p)
	err := p.Err()
	if err == nil {
		t.Fatal("Err() = nil after giving up")
	}
	for _, want := range []string{
		"supervisor: child-crash-now keeps exiting, giving up after 3 starts within 1m0s; last exit: exit status 1; last output:\n",
		"crash-now: fatal: something broke",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Err() = %q, does not contain %q", err, want)
		}
	}
	if got := p.Restarts(); got != 2 {
		t.Errorf("Restarts() = %d, want 2", got)
	}
	if got := p.PID(); got != 0 {
		t.Errorf("PID() = %d after giving up, want 0", got)
	}
	if err := p.Stop(t.Context()); err != nil {
		t.Errorf("Stop after giving up = %v, want nil", err)
	}
	if p.Err() != err {
		t.Errorf("Err() changed by Stop to %v", p.Err())
	}
}

func TestExitWithoutRestart(t *testing.T) {
	t.Parallel()
	cfg, _, _ := testConfig(t, "print-env", envSecret+"=s3cret")
	cfg.Ready = nil
	p := start(t, cfg)
	waitDone(t, p)
	want := "supervisor: child-print-env exited (exit status 0); last output:\nprint-env: " + envSecret + "=s3cret"
	if err := p.Err(); err == nil || err.Error() != want {
		t.Errorf("Err() = %v, want %q", err, want)
	}
	if slices.ContainsFunc(cfg.Args, func(a string) bool { return strings.Contains(a, "s3cret") }) {
		t.Error("the secret is in the arguments")
	}
}

func TestStopGraceful(t *testing.T) {
	t.Parallel()
	cfg, _, rec := testConfig(t, "serve")
	p := start(t, cfg)
	pid := p.PID()
	if err := p.Stop(t.Context()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := p.Err(); err != nil {
		t.Errorf("Err() = %v, want nil", err)
	}
	if !isClosed(p.Done()) {
		t.Error("Done not closed after Stop")
	}
	if got := p.PID(); got != 0 {
		t.Errorf("PID() = %d after Stop, want 0", got)
	}
	if !containsLine(p.Tail(), "serve: got signal") {
		t.Errorf("Tail() = %q, want the child's signal line", p.Tail())
	}
	if !rec.contains("child-serve stopped (exit status 0)") {
		t.Errorf("log %q, want a stop with exit status 0", rec.lines)
	}
	waitGone(t, pid)
}

func TestStopKillsAfterGrace(t *testing.T) {
	t.Parallel()
	cfg, _, rec := testConfig(t, "ignore-term")
	cfg.StopGrace = 300 * time.Millisecond
	p := start(t, cfg)
	pid := p.PID()
	began := time.Now()
	if err := p.Stop(t.Context()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if d := time.Since(began); d < cfg.StopGrace {
		t.Errorf("Stop returned after %s, before StopGrace", d)
	}
	if !rec.contains("did not stop within 300ms, killing it") {
		t.Errorf("log %q, want a kill", rec.lines)
	}
	if runtime.GOOS != "windows" && !containsLine(p.Tail(), "ignore-term: ignoring signal") {
		t.Errorf("Tail() = %q, want the ignored signal", p.Tail())
	}
	if err := p.Err(); err != nil {
		t.Errorf("Err() = %v, want nil", err)
	}
	waitGone(t, pid)
}

func TestStopContextEndsFirst(t *testing.T) {
	t.Parallel()
	cfg, _, _ := testConfig(t, "ignore-term")
	cfg.StopGrace = time.Minute
	p := start(t, cfg)
	pid := p.PID()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	err := p.Stop(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop = %v, want a deadline error", err)
	}
	if !isClosed(p.Done()) {
		t.Error("Done not closed after Stop")
	}
	waitGone(t, pid)
}

func TestStopTwice(t *testing.T) {
	t.Parallel()
	cfg, _, _ := testConfig(t, "serve")
	p := start(t, cfg)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() { errs[i] = p.Stop(t.Context()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent Stop %d: %v", i, err)
		}
	}
	if err := p.Stop(t.Context()); err != nil {
		t.Errorf("Stop again: %v", err)
	}
}

func TestLogFile(t *testing.T) {
	t.Parallel()
	cfg, _, _ := testConfig(t, "serve")
	cfg.LogFile = filepath.Join(t.TempDir(), "child.log")
	for range 2 {
		p := start(t, cfg)
		if err := p.Stop(t.Context()); err != nil {
			t.Fatalf("Stop: %v", err)
		}
	}
	b, err := os.ReadFile(cfg.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "serve: listening on"); n != 2 {
		t.Errorf("log file has %d listening lines, want 2 (appended):\n%s", n, b)
	}
	if !strings.Contains(string(b), "serve: got signal") {
		t.Errorf("log file lacks the last output:\n%s", b)
	}
	fi, err := os.Stat(cfg.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("log file mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestTailWriter(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", maxLineBytes+100)
	tests := []struct {
		name   string
		n      int
		writes []string
		want   []string
	}{
		{"empty", 3, nil, []string{}},
		{"lines", 3, []string{"a\nb\n"}, []string{"a", "b"}},
		{"partial line", 3, []string{"a\nb"}, []string{"a", "b"}},
		{"split writes", 3, []string{"he", "llo\nwor", "ld\n"}, []string{"hello", "world"}},
		{"wraps", 2, []string{"1\n2\n3\n4\n"}, []string{"3", "4"}},
		{"wraps with partial", 2, []string{"1\n2\n3"}, []string{"2", "3"}},
		{"crlf", 3, []string{"a\r\nb\r\n"}, []string{"a", "b"}},
		{"empty lines kept", 3, []string{"a\n\nb\n"}, []string{"a", "", "b"}},
		{"long line cut", 3, []string{long[:10], long[10:] + "\nnext\n"}, []string{long[:maxLineBytes] + truncMark, "next"}},
		{"invalid utf8", 3, []string{"a\xffb\n"}, []string{"a\uFFFDb"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newTailWriter(tt.n, nil, nil)
			for _, s := range tt.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(s))
				}
			}
			if got := w.lines(); !slices.Equal(got, tt.want) {
				t.Errorf("lines() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTailWriterEndLine(t *testing.T) {
	t.Parallel()
	w := newTailWriter(3, nil, nil)
	w.Write([]byte("run 1 died mid-"))
	w.endLine()
	w.Write([]byte("run 2\n"))
	if got, want := w.lines(), []string{"run 1 died mid-", "run 2"}; !slices.Equal(got, want) {
		t.Errorf("lines() = %q, want %q", got, want)
	}
}

type failingFile struct{ writes int }

func (f *failingFile) Write(b []byte) (int, error) { f.writes++; return 0, errors.New("disk full") }
func (f *failingFile) Close() error                { return nil }

func TestTailWriterFileError(t *testing.T) {
	t.Parallel()
	f := &failingFile{}
	var reported []error
	w := newTailWriter(3, f, func(err error) { reported = append(reported, err) })
	for range 3 {
		if _, err := w.Write([]byte("line\n")); err != nil {
			t.Fatalf("Write = %v, want nil: the child's pipe must keep draining", err)
		}
	}
	if len(reported) != 1 || f.writes != 1 {
		t.Errorf("reported %v after %d file writes, want one report after one write", reported, f.writes)
	}
	if got := w.lines(); len(got) != 3 {
		t.Errorf("lines() = %q, want 3 lines despite the file error", got)
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	const ms = time.Millisecond
	tests := []struct {
		attempt int
		r       float64
		want    time.Duration
	}{
		{0, 0, 200 * ms},
		{1, 0, 400 * ms},
		{2, 0, 800 * ms},
		{0, 0.5, 250 * ms},
		{1, 0.999, 599 * ms},
		{5, 0, 6400 * ms},
		{6, 0, 10000 * ms},
		{6, 0.9, 10000 * ms},
		{1000, 0.5, 10000 * ms},
	}
	for _, tt := range tests {
		got := backoff(200*ms, 10*time.Second, tt.attempt, tt.r).Truncate(ms)
		if got != tt.want {
			t.Errorf("backoff(attempt %d, r %v) = %v, want %v", tt.attempt, tt.r, got, tt.want)
		}
	}
}

// startParent runs the test binary as a parent (see runParent) that
// supervises a "serve" grandchild, with dir as its directory and env added
// to its environment. It returns the parent, still running, and the
// grandchild's pid. Both are killed when the test ends.
func startParent(t *testing.T, dir string, env ...string) (*exec.Cmd, int) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(childEnviron(envMode+"=parent", envDir+"="+dir), env...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe() // the parent waits for it to close
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})

	lines := make(chan string, 1)
	go func() {
		defer close(lines)
		if sc := bufio.NewScanner(stdout); sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var pid int
	select {
	case line, ok := <-lines:
		if !ok {
			t.Fatal("parent exited without starting the grandchild")
		}
		if _, err := fmt.Sscanf(line, "grandchild %d", &pid); err != nil {
			t.Fatalf("parent said %q: %v", line, err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("timed out waiting for the parent to start the grandchild")
	}
	t.Cleanup(func() {
		if p, err := os.FindProcess(pid); err == nil {
			p.Kill()
		}
	})
	if !proc.Alive(pid) {
		t.Fatalf("grandchild %d is not running", pid)
	}
	return cmd, pid
}

// killParent kills a parent started by startParent (SIGKILL on Unix,
// TerminateProcess on Windows), so that it has no chance to clean up, and
// waits for it.
func killParent(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Error("parent's Wait = nil, want it killed")
	}
}

func TestKill(t *testing.T) {
	t.Parallel()
	cfg, _, rec := testConfig(t, "serve")
	cfg.Restart = true
	cfg.StopGrace = time.Minute // a request to stop would be waited for
	p := start(t, cfg)
	pid := p.PID()
	began := time.Now()
	p.Kill()
	if d := time.Since(began); d > 10*time.Second {
		t.Errorf("Kill returned after %s, want at once", d)
	}
	if !isClosed(p.Done()) {
		t.Error("Done not closed after Kill")
	}
	if err := p.Err(); err != nil {
		t.Errorf("Err() = %v after Kill, want nil", err)
	}
	if containsLine(p.Tail(), "serve: got signal") {
		t.Errorf("Tail() = %q: the child was asked to stop, want it killed without asking", p.Tail())
	}
	if rec.contains("restarting") {
		t.Errorf("log %q: a killed child was restarted", rec.lines)
	}
	waitGone(t, pid)
	p.Kill() // again: returns at once
	if err := p.Stop(t.Context()); err != nil {
		t.Errorf("Stop after Kill: %v", err)
	}
}
