package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/sselab/sselab/pkg/lab"
)

const downUsage = `Usage: sselab down [--dir DIR]

Stops the lab running on DIR: MinIO first, gracefully, then KES. Keys,
credentials and data stay; 'sselab up' brings the same lab back.

{{flags}}
`

// downTimeout covers MinIO's graceful stop and KES's shutdown.
const downTimeout = 60 * time.Second

func runDown(ctx context.Context, args []string, stdout, _ io.Writer) error {
	var dir string
	if err := parse(newFlags("down", &dir), args, &dir); err != nil {
		return err
	}
	h, err := lab.OpenState(dir) // stopping needs no certificate
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, downTimeout)
	defer cancel()
	if err := h.Down(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "lab on %s stopped (was pid %d)\n", dir, h.State.PID)
	return nil
}
