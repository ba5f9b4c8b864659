// Package supervisor runs one child process and keeps it running.
//
// Start launches the child, sends its output to a log file and keeps the
// last lines in memory, and returns once a readiness probe succeeds. From
// then on a goroutine watches the child: on an unexpected exit it waits an
// exponential backoff and starts it again, until a crash-loop guard gives
// up. Stop asks the child to exit (SIGTERM, or CTRL_BREAK on Windows),
// kills it after a grace period, and waits for it.
//
// The child does not outlive the supervising process, even one killed
// with SIGKILL: on Linux the kernel kills it (a parent-death signal); on
// other Unix systems a watchdog process does (see Watchdog); on Windows
// it is in a job object that the system closes, killing it, when the
// supervising process ends.
//
// Secrets for the child belong in Config.Env, never in Config.Args:
// arguments are visible to every user of the machine.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Defaults for the zero values of Config fields.
const (
	defaultTailLines     = 40
	defaultReadyInterval = 50 * time.Millisecond
	defaultReadyTimeout  = 60 * time.Second
	defaultMinBackoff    = 200 * time.Millisecond
	defaultMaxBackoff    = 10 * time.Second
	defaultHealthyAfter  = 30 * time.Second
	defaultCrashLoop     = 5
	defaultCrashWindow   = 60 * time.Second
	defaultStopGrace     = 10 * time.Second
)

// drainDelay is how long, after the child exited, its output may take to
// reach EOF. Output stays open past the child's exit only if the child left
// a process of its own holding it; after drainDelay the pipe is closed (see
// exec.Cmd.WaitDelay) so that such a process cannot hold up the supervisor.
const drainDelay = 2 * time.Second

// Config describes the child process and how to supervise it. Zero values
// take the defaults documented on each field.
type Config struct {
	// Name names the child in messages and errors, e.g. "minio".
	// Default: the base name of Path.
	Name string

	// Path is the executable to run. A name without a path separator is
	// looked up in PATH. Required.
	Path string

	// Args are the arguments, without the program name. Never put secrets
	// here: other users of the machine can read a process's arguments.
	Args []string

	// Env is the complete environment of the child; secrets go here. Nil
	// means the child inherits os.Environ(); an empty non-nil slice gives
	// it an empty environment.
	Env []string

	// Dir is the working directory of the child. Default: the current one.
	Dir string

	// LogFile receives the child's stdout and stderr, appended. It is
	// created with mode 0600 if missing; its directory must exist.
	// Default "": the output is only kept in the tail (see Process.Tail).
	// The log file is not rotated.
	LogFile string

	// TailLines is how many of the last output lines are kept for error
	// messages and Process.Tail. Default: 40.
	TailLines int

	// Ready reports whether the child is ready, e.g. by asking its health
	// endpoint. It is called every ReadyInterval until it returns nil, with
	// a context that ends at ReadyTimeout or when the child exits. Nil
	// means ready as soon as the child has started.
	Ready func(ctx context.Context) error

	// ReadyInterval is the pause between two calls of Ready. Default: 50ms.
	ReadyInterval time.Duration

	// ReadyTimeout bounds the wait for Ready, at the first start and at
	// each restart. Default: 60s.
	ReadyTimeout time.Duration

	// Restart makes the supervisor start the child again when it exits
	// without being asked to, whatever its exit status. Without it, such
	// an exit ends supervision and Process.Err reports it.
	Restart bool

	// MinBackoff and MaxBackoff bound the wait before a restart: it starts
	// at MinBackoff, doubles with each restart, has up to 50% random
	// jitter added, and never exceeds MaxBackoff. Defaults: 200ms and 10s.
	MinBackoff, MaxBackoff time.Duration

	// HealthyAfter is how long a run that became ready must have lasted,
	// from its start, to count as healthy: when a healthy run ends, the backoff
	// starts again from MinBackoff and the crash-loop guard forgets the
	// earlier starts. Default: 30s.
	HealthyAfter time.Duration

	// CrashLoop and CrashWindow form the crash-loop guard: when the child
	// exits and it has been started CrashLoop times within the last
	// CrashWindow without a healthy run (see HealthyAfter) in between, the
	// supervisor gives up and reports through Process.Done and
	// Process.Err. Defaults: 5 and 60s.
	CrashLoop   int
	CrashWindow time.Duration

	// StopGrace is how long the child has to exit after it was asked to
	// (SIGTERM; CTRL_BREAK on Windows) before it is killed. Default: 10s.
	StopGrace time.Duration

	// Started, if set, is called with the child's pid each time the
	// child has been started, at the first start and at every restart,
	// before its readiness probe; one call at a time.
	Started func(pid int)

	// Logf, if set, receives the supervisor's own events, such as
	// "minio exited (exit status 1), restarting in 400ms". It may be
	// called from several goroutines, but not concurrently.
	Logf func(format string, args ...any)

	// Watchdog says how to start a watchdog process, which ends the child
	// if this process dies without stopping it, on Unix systems without a
	// parent-death signal (and on Linux if Watchdog.Force is set). It is
	// not used on Windows. Default: the one given to SetWatchdog; if there
	// is none either, the child outlives a killed supervisor there.
	Watchdog *Watchdog
}

// withDefaults returns a copy of cfg with its zero values replaced by the
// defaults.
func (cfg Config) withDefaults() Config {
	if cfg.Name == "" {
		cfg.Name = filepath.Base(cfg.Path)
	}
	setDefault(&cfg.TailLines, defaultTailLines)
	setDefault(&cfg.ReadyInterval, defaultReadyInterval)
	setDefault(&cfg.ReadyTimeout, defaultReadyTimeout)
	setDefault(&cfg.MinBackoff, defaultMinBackoff)
	setDefault(&cfg.MaxBackoff, defaultMaxBackoff)
	setDefault(&cfg.HealthyAfter, defaultHealthyAfter)
	setDefault(&cfg.CrashLoop, defaultCrashLoop)
	setDefault(&cfg.CrashWindow, defaultCrashWindow)
	setDefault(&cfg.StopGrace, defaultStopGrace)
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.MinBackoff)
	return cfg
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Process is a supervised child process, returned by Start.
type Process struct {
	cfg   Config
	out   *tailWriter
	guard *guard // ties the child's life to ours; closed by end

	// ctx ends when Stop is called; it bounds the readiness probes of
	// restarts.
	ctx    context.Context
	cancel context.CancelFunc

	stopOnce sync.Once
	stopping chan struct{} // closed by Stop
	killOnce sync.Once
	killNow  chan struct{} // closed when Stop's context ends first
	done     chan struct{} // closed when supervision has ended

	logMu sync.Mutex // serializes cfg.Logf

	mu       sync.Mutex
	cur      *child // running child, or nil
	restarts int
	err      error
}

// child is one run of the child process.
type child struct {
	cmd     *exec.Cmd
	pid     int
	started time.Time
	exited  chan struct{} // closed once the child was waited for and its output drained
	err     error         // cmd.Wait's result; read only after exited is closed
	note    error         // why the supervisor ended this run, if it did
	ready   bool          // Ready succeeded for this run; set by its waiter before supervise reads it
}

// Start starts the child described by cfg and waits until cfg.Ready
// succeeds. If the child exits first, ReadyTimeout passes or ctx ends, Start
// stops the child (killing it after StopGrace if need be), waits for it and
// returns an error saying which, with the child's last output lines where
// they help. Nothing keeps running after an error.
//
// ctx bounds the start only. After Start returned, the child runs until
// Stop is called or the supervisor gives up (see Config.Restart).
func Start(ctx context.Context, cfg Config) (*Process, error) {
	if cfg.Path == "" {
		return nil, errors.New("supervisor: no executable to run (Config.Path is empty)")
	}
	cfg = cfg.withDefaults()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("supervisor: start %s: %w", cfg.Name, context.Cause(ctx))
	}
	p := &Process{
		cfg:      cfg,
		stopping: make(chan struct{}),
		killNow:  make(chan struct{}),
		done:     make(chan struct{}),
	}
	var file io.WriteCloser // not a nil *os.File: see newTailWriter
	if cfg.LogFile != "" {
		f, err := os.OpenFile(cfg.LogFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return nil, fmt.Errorf("supervisor: %s log file: %w", cfg.Name, err)
		}
		file = f
	}
	g, err := newGuard(&p.cfg, p.logf)
	if err != nil {
		if file != nil {
			file.Close()
		}
		return nil, err
	}
	p.guard = g
	p.out = newTailWriter(cfg.TailLines, file, func(err error) {
		p.logf("%s: writing log file failed, keeping only the last lines: %v", cfg.Name, err)
	})

	c, err := p.spawn()
	if err != nil {
		p.out.close()
		p.guard.close()
		return nil, err
	}
	if err := p.waitReady(ctx, c); err != nil {
		if errors.Is(err, errExited) {
			err = fmt.Errorf("supervisor: %s exited during start (%w)%s", cfg.Name, c.exitErr(), p.tailSuffix())
		} else {
			err = fmt.Errorf("%w%s", err, p.tailSuffix())
			p.stopChild(c, nil)
		}
		p.out.close()
		p.guard.close()
		return nil, err
	}
	c.ready = true
	p.ctx, p.cancel = context.WithCancel(context.WithoutCancel(ctx))
	go p.supervise(c)
	return p, nil
}

// PID returns the process id of the running child, or 0 if none is
// running (between a crash and its restart, or after supervision ended).
func (p *Process) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil {
		return 0
	}
	return p.cur.pid
}

// Restarts returns how many times the child was started again after an
// unexpected exit.
func (p *Process) Restarts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.restarts
}

// Tail returns a copy of the last lines the child wrote to stdout and
// stderr, oldest first, including a last unfinished line. Lines longer
// than a few KiB are cut.
func (p *Process) Tail() []string {
	return p.out.lines()
}

// Done returns a channel that is closed when supervision has ended: after
// Stop, or when the supervisor gave up. Err then says why.
func (p *Process) Done() <-chan struct{} {
	return p.done
}

// Err returns why supervision ended: nil while it runs and after Stop;
// otherwise the unexpected exit (without Config.Restart) or the crash loop
// that made the supervisor give up, with the child's last output.
func (p *Process) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Stop ends supervision: it asks the child to exit (SIGTERM; CTRL_BREAK on
// Windows), kills it if it is still running after Config.StopGrace, and
// returns once the child was waited for and its output written out. No
// restart happens after Stop. If ctx ends before the child has exited, the
// child is killed at once and Stop returns an error wrapping ctx's cause
// after the child is gone.
//
// Stop may be called more than once and from several goroutines. It
// returns nil when supervision had already ended; see Err for why.
func (p *Process) Stop(ctx context.Context) error {
	p.stopOnce.Do(func() {
		close(p.stopping)
		p.cancel()
	})
	select {
	case <-p.done:
		return nil
	default:
	}
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		p.killOnce.Do(func() { close(p.killNow) })
		<-p.done
		return fmt.Errorf("supervisor: %s killed before it stopped gracefully: %w", p.cfg.Name, context.Cause(ctx))
	}
}

// Kill ends supervision like Stop, but kills the child at once (SIGKILL;
// TerminateProcess on Windows) without asking it to exit, and returns
// once it was waited for. No restart happens after Kill. Like Stop, it
// may be called more than once, also after Stop.
func (p *Process) Kill() {
	p.killOnce.Do(func() { close(p.killNow) })
	p.stopOnce.Do(func() {
		close(p.stopping)
		p.cancel()
	})
	<-p.done
}

// supervise watches the child c until Stop or until it gives up.
func (p *Process) supervise(c *child) {
	cfg := &p.cfg
	starts := []time.Time{c.started} // start times within CrashWindow
	attempt := 0                     // restarts since the last healthy run
	for {
		select {
		case <-p.stopping:
			p.stop(c)
			return
		case <-c.exited:
		}
		if isClosed(p.stopping) {
			p.stop(c)
			return
		}
		p.setCurrent(nil)
		p.out.endLine()
		reason := c.exitErr()
		if c.note != nil {
			reason = c.note
		}
		if !cfg.Restart {
			err := fmt.Errorf("supervisor: %s exited (%w)%s", cfg.Name, reason, p.tailSuffix())
			p.logf("%s exited (%v)", cfg.Name, reason)
			p.end(err)
			return
		}

		// A healthy run (ready, and up for HealthyAfter) that ends was
		// killed or crashed once: restart at once, and do not count it
		// or the starts before it as a crash loop.
		now := time.Now()
		if c.ready && now.Sub(c.started) >= cfg.HealthyAfter {
			attempt = 0
			starts = starts[:0]
		}
		starts = since(starts, now.Add(-cfg.CrashWindow))
		if len(starts) >= cfg.CrashLoop {
			p.logf("%s exited (%v); started %d times within %s, giving up", cfg.Name, reason, len(starts), cfg.CrashWindow)
			p.end(fmt.Errorf("supervisor: %s keeps exiting, giving up after %d starts within %s; last exit: %w%s",
				cfg.Name, len(starts), cfg.CrashWindow, reason, p.tailSuffix()))
			return
		}

		delay := backoff(cfg.MinBackoff, cfg.MaxBackoff, attempt, rand.Float64())
		attempt++
		p.logf("%s exited (%v), restarting in %s", cfg.Name, reason, delay.Round(time.Millisecond))
		if !p.sleep(delay) {
			p.end(nil)
			return
		}

		starts = append(starts, time.Now())
		nc, err := p.spawn()
		if err != nil {
			// Count it as a run that ended at once, so that the backoff
			// and the crash-loop guard apply (the binary may come back).
			nc = &child{started: time.Now(), exited: make(chan struct{}), err: err}
			close(nc.exited)
			c = nc
			continue
		}
		p.mu.Lock()
		p.restarts++
		p.mu.Unlock()
		c = nc
		switch err := p.waitReady(p.ctx, c); {
		case err == nil:
			c.ready = true
			p.logf("%s ready again (pid %d)", cfg.Name, c.pid)
		case errors.Is(err, errExited), errors.Is(err, errStopped):
			// Handled at the top of the loop.
		default:
			p.logf("%v; stopping it", err)
			c.note = err
			p.stopChild(c, p.killNow)
		}
	}
}

// stop ends supervision on Stop's request, stopping c first.
func (p *Process) stop(c *child) {
	if !isClosed(c.exited) {
		p.stopChild(c, p.killNow)
		p.logf("%s stopped (%v)", p.cfg.Name, c.exitErr())
	}
	p.end(nil)
}

// end records why supervision ended and closes Done.
func (p *Process) end(err error) {
	p.mu.Lock()
	p.cur = nil
	p.err = err
	p.mu.Unlock()
	p.out.close()
	p.guard.close()
	p.cancel()
	close(p.done)
}

// sleep waits for d, or until Stop is called; it reports whether the whole
// d has passed.
func (p *Process) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-p.stopping:
		return false
	}
}

// spawn starts one run of the child and a goroutine that waits for it.
func (p *Process) spawn() (*child, error) {
	cmd := exec.Command(p.cfg.Path, p.cfg.Args...)
	cmd.Env = p.cfg.Env
	cmd.Dir = p.cfg.Dir
	// The same writer for both: os/exec then gives the child one pipe and
	// copies it in one goroutine, and Wait returns only after that
	// goroutine has seen EOF, or after WaitDelay when something else still
	// holds the pipe. Either way the tail is complete when exited closes.
	cmd.Stdout = p.out
	cmd.Stderr = p.out
	cmd.WaitDelay = drainDelay
	cmd.SysProcAttr = p.guard.sysProcAttr()

	c := &child{cmd: cmd, exited: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// On Linux the child gets SIGKILL when the OS thread that forked
		// it exits (Pdeathsig; golang/go#27505), not when the process
		// does. The Go runtime never ends idle threads, but it does end
		// the thread of a goroutine that exits while locked to it, and any
		// goroutine in the program may lock whatever thread it happens to
		// run on. So the fork happens on a thread locked to this
		// goroutine, which stays alive, in Wait, as long as the child; no
		// other goroutine can run on that thread, let alone end it. That
		// costs one OS thread per running child. The lock is released
		// after Wait, so the thread goes back to the pool.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		// Guard the child before it can be waited for: until then its
		// pid (and process group id) cannot name another process.
		release, err := p.guard.attach(cmd.Process)
		if err != nil {
			p.logf("%s (pid %d): %v; it would outlive this process if this process were killed", p.cfg.Name, cmd.Process.Pid, err)
		}
		started <- nil
		c.err = cmd.Wait()
		// The child is reaped; dismiss its watchdog (if any) before
		// anyone learns that it exited, so that Stop returns with no
		// process of ours left. If this process is killed between the
		// two, the watchdog signals a process group that is gone (its id
		// could name another group only if the pids wrapped around
		// within that instant).
		if release != nil {
			release()
		}
		close(c.exited)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("supervisor: start %s: %w", p.cfg.Name, err)
	}
	c.pid = cmd.Process.Pid
	c.started = time.Now()
	p.setCurrent(c)
	p.logf("%s started (pid %d)", p.cfg.Name, c.pid)
	if p.cfg.Started != nil {
		p.cfg.Started(c.pid)
	}
	return c, nil
}

var (
	errExited  = errors.New("supervisor: child exited")
	errStopped = errors.New("supervisor: stopped")
)

// waitReady polls cfg.Ready until it succeeds. It returns errExited if c
// exits first, errStopped if Stop was called, and otherwise an error saying
// that ReadyTimeout passed or ctx ended.
func (p *Process) waitReady(ctx context.Context, c *child) error {
	if p.cfg.Ready == nil {
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, p.cfg.ReadyTimeout)
	defer cancel()
	go func() {
		select {
		case <-c.exited:
			cancel()
		case <-rctx.Done():
		}
	}()
	var last error
	for {
		err := p.cfg.Ready(rctx)
		if err == nil {
			return nil
		}
		if rctx.Err() == nil {
			// Keep the last answer that was not cut short by our deadline.
			last = err
		}
		t := time.NewTimer(p.cfg.ReadyInterval)
		select {
		case <-t.C:
			continue
		case <-c.exited:
			t.Stop()
			return errExited
		case <-rctx.Done():
			t.Stop()
		}
		switch {
		case isClosed(c.exited):
			return errExited
		case isClosed(p.stopping):
			return errStopped
		case ctx.Err() != nil:
			return fmt.Errorf("supervisor: %s start canceled before it was ready: %w", p.cfg.Name, context.Cause(ctx))
		case last == nil:
			return fmt.Errorf("supervisor: %s not ready after %s: readiness probe did not answer in time: %w",
				p.cfg.Name, p.cfg.ReadyTimeout, rctx.Err())
		default:
			return fmt.Errorf("supervisor: %s not ready after %s: %w", p.cfg.Name, p.cfg.ReadyTimeout, last)
		}
	}
}

// stopChild asks c to exit, kills it after StopGrace or as soon as force is
// closed, and waits until it has exited. force may be nil.
func (p *Process) stopChild(c *child, force <-chan struct{}) {
	switch {
	case isClosed(c.exited):
		return
	case isClosed(force):
		// Killed on purpose (Kill): no request to stop first.
	default:
		p.askToStop(c, force)
	}
	if isClosed(c.exited) {
		return
	}
	if err := kill(c.cmd.Process); err != nil {
		p.logf("%s: kill: %v", p.cfg.Name, err)
	}
	<-c.exited
}

// askToStop asks c to exit and waits until it has, StopGrace has passed
// or force is closed, whichever comes first.
func (p *Process) askToStop(c *child, force <-chan struct{}) {
	if err := interrupt(c.cmd.Process); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.logf("%s: cannot ask it to stop (%v), killing it", p.cfg.Name, err)
		return
	}
	t := time.NewTimer(p.cfg.StopGrace)
	defer t.Stop()
	select {
	case <-c.exited:
	case <-t.C:
		p.logf("%s did not stop within %s, killing it", p.cfg.Name, p.cfg.StopGrace)
	case <-force:
		p.logf("%s: stop deadline reached, killing it", p.cfg.Name)
	}
}

func (p *Process) setCurrent(c *child) {
	p.mu.Lock()
	p.cur = c
	p.mu.Unlock()
}

// tailSuffix returns the last output lines for an error message, or "".
func (p *Process) tailSuffix() string {
	lines := p.out.lines()
	if len(lines) == 0 {
		return ""
	}
	return "; last output:\n" + strings.Join(lines, "\n")
}

func (p *Process) logf(format string, args ...any) {
	if p.cfg.Logf == nil {
		return
	}
	p.logMu.Lock()
	defer p.logMu.Unlock()
	p.cfg.Logf(format, args...)
}

// errExitZero stands for a successful exit, which exec reports as nil.
var errExitZero = errors.New("exit status 0")

// exitErr returns how c ended, as an error even when it exited with status 0.
func (c *child) exitErr() error {
	if c.err == nil {
		return errExitZero
	}
	return c.err
}

// backoff returns the wait before restart number attempt (counting from 0
// since the last healthy run): min doubled attempt times, plus up to 50%
// jitter from r in [0, 1), and at most max.
func backoff(min, max time.Duration, attempt int, r float64) time.Duration {
	d := min
	for i := 0; i < attempt && d < max; i++ {
		d *= 2
	}
	d = d + time.Duration(r*float64(d)/2)
	if d > max || d <= 0 {
		d = max
	}
	return d
}

// since returns the times in ts that are after t, reusing ts.
func since(ts []time.Time, t time.Time) []time.Time {
	kept := ts[:0]
	for _, s := range ts {
		if s.After(t) {
			kept = append(kept, s)
		}
	}
	return kept
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
