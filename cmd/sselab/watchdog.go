package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/sselab/sselab/pkg/supervisor"
)

// watchdogCommand is the hidden subcommand that runs the supervisor's
// watchdog: 'sselab up' starts one per MinIO run, on Unix systems without
// a parent-death signal (macOS), so that MinIO does not outlive an sselab
// that is killed. It is not listed in the usage text; nobody types it.
const watchdogCommand = "__watchdog"

// forceWatchdogEnv, set to 1, makes sselab use the watchdog on Linux too,
// instead of the parent-death signal, to test on Linux what macOS does.
const forceWatchdogEnv = "SSELAB_FORCE_WATCHDOG"

const watchdogUsage = `Usage: sselab __watchdog PGID

Internal: started by 'sselab up' with its stdin a pipe from sselab. When
the pipe closes without a word (sselab died), it sends SIGTERM to process
group PGID (MinIO), then SIGKILL if MinIO is still there 5 seconds later.
`

func init() {
	exe, err := os.Executable()
	if err != nil {
		// No watchdog: where there is no parent-death signal, MinIO then
		// outlives a killed sselab, as it would without this command.
		return
	}
	supervisor.SetWatchdog(&supervisor.Watchdog{
		Command: []string{exe, watchdogCommand},
		Force:   os.Getenv(forceWatchdogEnv) == "1",
	})
}

func runWatchdog(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
		return errHelp
	}
	if len(args) != 1 {
		return usageError{fmt.Errorf("'%s' takes 1 argument (a process group id), got %d", watchdogCommand, len(args))}
	}
	pgid, err := strconv.Atoi(args[0])
	if err != nil {
		return usageError{fmt.Errorf("process group id %q is not a number", args[0])}
	}
	return supervisor.RunWatchdog(os.Stdin, stderr, pgid)
}
