package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"sync"
	"time"

	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/labdir"
)

// detachTimeout bounds how long 'up --detach' waits; building MinIO from
// source on first use is the slow case.
const detachTimeout = 30 * time.Minute

// upDetached runs 'sselab up' again as a background process without
// --detach, waits until that lab is ready (its state file names it) or the
// process exits, and prints the summary or its error. What the background
// process prints meanwhile (such as MinIO's build progress on first use)
// is passed through. Ctrl-C stops the background process too.
//
// Until it is ready the child writes to a temporary file outside the
// state directory, so a failed start leaves the directory as it was.
//
// env are extra environment variables for the background process, such as
// the passphrase of a sealed keystore (never its argv).
func upDetached(ctx context.Context, dir string, args, env []string, stdout, stderr io.Writer) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("cannot find the sselab executable to run in the background: %w", err)
	}
	out, err := os.CreateTemp("", "sselab-up-*.log")
	if err != nil {
		return fmt.Errorf("cannot create a temporary log file: %w", err)
	}
	defer os.Remove(out.Name())
	defer out.Close()
	follow, err := os.Open(out.Name())
	if err != nil {
		return fmt.Errorf("cannot read the temporary log file: %w", err)
	}
	defer follow.Close()

	childArgs := slices.DeleteFunc(append([]string{"up"}, args...), func(a string) bool {
		return a == "--detach" || a == "--detach=true"
	})
	cmd := exec.Command(self, childArgs...)
	cmd.Env = append(append(os.Environ(), env...), envDetachedLog+"="+labdir.Layout{Root: dir}.SelfLog())
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, out, out
	cmd.SysProcAttr = detachedAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("cannot start sselab in the background: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	abort := func() {
		if cmd.Process.Signal(os.Interrupt) != nil { // no signals on Windows
			cmd.Process.Kill()
		}
		<-exited
		io.Copy(stderr, follow)
	}

	timeout := time.NewTimer(detachTimeout)
	defer timeout.Stop()
	tick := time.NewTicker(10 * time.Millisecond) // the state file appears the moment the lab is ready
	defer tick.Stop()
	for {
		select {
		case <-exited:
			io.Copy(stderr, follow) // its last words: the error
			return errSilent
		case <-ctx.Done():
			abort()
			return errSilent
		case <-timeout.C:
			abort()
			return fmt.Errorf("the background lab was not ready after %v", detachTimeout)
		case <-tick.C:
		}
		io.Copy(stderr, follow)
		h, err := lab.Open(dir)
		if err != nil || h.State.PID != cmd.Process.Pid {
			continue
		}
		cmd.Process.Release()
		printSummary(stdout, dir, h.State, h.Credentials)
		printSecurityNotice(stdout, h.State.MinIOVersion, h.State.MinIOPath)
		fmt.Fprintf(stdout, "The lab runs in the background (pid %d, log %s).\nStop it with 'sselab down%s'.\n",
			h.State.PID, h.Layout.SelfLog(), dirFlag(dir))
		return nil
	}
}

// envDetachedLog tells a detached 'up' where to write once it is ready.
const envDetachedLog = "SSELAB_DETACHED_LOG"

// switchWriter is a writer whose destination can change while other
// goroutines write to it.
type switchWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *switchWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// set changes the destination.
func (s *switchWriter) set(w io.Writer) {
	s.mu.Lock()
	s.w = w
	s.mu.Unlock()
}

// redirectDetachedOutput moves a detached lab's output from the temporary
// file its parent reads to the lab's own log, once the lab is ready. It
// does nothing when the lab was not started with --detach.
func redirectDetachedOutput(out *switchWriter) (closeLog func()) {
	path := os.Getenv(envDetachedLog)
	if path == "" {
		return func() {}
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		fmt.Fprintf(out, "sselab: cannot open %s: %v\n", path, err)
		return func() {}
	}
	out.set(f)
	return func() { f.Close() }
}
