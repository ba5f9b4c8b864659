//go:build !windows

package supervisor

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// RunWatchdog is the body of a watchdog process (see Watchdog): it blocks
// reading stdin. If it reads a byte, the supervisor dismissed it and it
// returns nil at once. At EOF, or on a read error, the supervisor is gone:
// it sends SIGTERM to process group pgid, waits up to a few seconds for the
// group to disappear, then sends SIGKILL. What it does is written to log,
// one line per event.
//
// It ignores SIGINT and SIGHUP for the rest of the process's life, so that
// Ctrl-C or a closed terminal ends the supervisor, which then stops the
// child itself, rather than the watchdog. A pgid below 2 is refused: -1
// and 0 would signal every process of the user and the caller's own group.
func RunWatchdog(stdin io.Reader, log io.Writer, pgid int) error {
	signal.Ignore(syscall.SIGINT, syscall.SIGHUP)
	return runWatchdog(stdin, log, pgid, watchdogGrace)
}

// runWatchdog is RunWatchdog with the grace period as a parameter.
func runWatchdog(stdin io.Reader, log io.Writer, pgid int, grace time.Duration) error {
	if pgid < 2 {
		return fmt.Errorf("supervisor: watchdog: refusing to signal process group %d", pgid)
	}
	if log == nil {
		log = io.Discard
	}
	var b [1]byte
	n, err := stdin.Read(b[:])
	for n == 0 && err == nil {
		n, err = stdin.Read(b[:])
	}
	if n > 0 {
		return nil // dismissed
	}
	why := "its pipe was closed"
	if !errors.Is(err, io.EOF) {
		why = "reading its pipe failed: " + err.Error()
	}
	logf := func(format string, args ...any) {
		fmt.Fprintf(log, "%s watchdog: "+format+"\n", append([]any{time.Now().Format(time.DateTime)}, args...)...)
	}
	logf("the supervising process is gone (%s); sending SIGTERM to process group %d", why, pgid)
	if err := syscall.Kill(-pgid, syscall.SIGTERM); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			logf("process group %d was already gone", pgid)
			return nil
		}
		return fmt.Errorf("supervisor: watchdog: SIGTERM to process group %d: %w", pgid, err)
	}
	began := time.Now()
	for time.Since(began) < grace {
		time.Sleep(20 * time.Millisecond)
		if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
			logf("process group %d exited after %s", pgid, time.Since(began).Round(time.Millisecond))
			return nil
		}
	}
	logf("process group %d still there %s after SIGTERM; sending SIGKILL", pgid, grace)
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("supervisor: watchdog: SIGKILL to process group %d: %w", pgid, err)
	}
	return nil
}

// watchdog is a running watchdog process, guarding one run of the child.
type watchdog struct {
	cmd    *exec.Cmd
	pipe   *os.File      // write end of the watchdog's stdin; only we hold it
	exited chan struct{} // closed once the watchdog was waited for
}

// startWatchdog starts w's command for the child's process group pgid.
// Its output is appended to logFile, if not "".
func startWatchdog(w *Watchdog, pgid int, logFile string) (*watchdog, error) {
	if len(w.Command) == 0 {
		return nil, errors.New("supervisor: watchdog: no command (Watchdog.Command is empty)")
	}
	cmd := exec.Command(w.Command[0], append(slices.Clone(w.Command[1:]), strconv.Itoa(pgid))...)
	// A process group of its own: the signals a terminal sends to its
	// foreground group (Ctrl-C, hangup) go to the supervisor, which stops
	// the child and then dismisses the watchdog.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if logFile != "" {
		f, err := os.OpenFile(logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return nil, fmt.Errorf("supervisor: watchdog log: %w", err)
		}
		defer f.Close() // the watchdog has its own copy once started
		cmd.Stdout, cmd.Stderr = f, f
	}
	// os.Pipe sets close-on-exec on both ends: the watchdog gets only the
	// read end, as its stdin, and no other child (MinIO, or a later
	// watchdog) inherits the write end. So the write end closes exactly
	// when this process dies or dismisses the watchdog.
	r, pipe, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("supervisor: watchdog pipe: %w", err)
	}
	cmd.Stdin = r
	err = cmd.Start()
	r.Close()
	if err != nil {
		pipe.Close()
		return nil, fmt.Errorf("supervisor: start watchdog: %w", err)
	}
	wd := &watchdog{cmd: cmd, pipe: pipe, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(wd.exited)
	}()
	return wd, nil
}

// dismiss tells the watchdog to exit without signaling anything, and
// waits until it has (killing it if it does not within a moment).
func (wd *watchdog) dismiss() {
	// Any byte dismisses it. The write fails only if the watchdog is
	// already gone (EPIPE: Go does not die of SIGPIPE on this descriptor).
	wd.pipe.Write([]byte{'\n'})
	wd.pipe.Close()
	t := time.NewTimer(watchdogDismissWait)
	defer t.Stop()
	select {
	case <-wd.exited:
	case <-t.C:
		wd.cmd.Process.Kill()
		<-wd.exited
	}
}
