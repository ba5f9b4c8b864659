package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/verify"
)

const verifyUsage = `Usage: sselab verify [--dir DIR] [--bucket B] [--json]

Proves that the lab on DIR encrypts data at rest. For SSE-S3, SSE-KMS with
the lab's default key, SSE-KMS with a scratch key and SSE-C, it writes an
object holding a random marker, checks MinIO's encryption headers, reads
the object back, and scans every file on MinIO's drives (every drive of
every node) for the marker, which must not be there. SSE-C must refuse a read without the customer
key, and deleting the scratch key must make its object unreadable. It
also reports the bucket's default encryption: without one, objects
written without SSE headers are stored in plaintext.

Everything verify creates (objects, the scratch key) is removed again.
SSE-C is skipped when the lab runs with --http. Exits non-zero when a
check fails.

{{flags}}

Example:
  sselab verify
  sselab verify --bucket other --json
`

func runVerify(ctx context.Context, args []string, stdout, _ io.Writer) error {
	var (
		dir, bucket string
		jsonOut     bool
	)
	fs := newFlags("verify", &dir)
	fs.StringVar(&bucket, "bucket", "", "the bucket `B` to write to (default: the lab's first bucket)")
	fs.BoolVar(&jsonOut, "json", false, "print the report as JSON, with stable field names")
	if err := parse(fs, args, &dir); err != nil {
		return err
	}
	h, err := lab.Open(dir)
	if err != nil {
		return err
	}
	// Ctrl-C and SIGTERM stop the checks; verify still cleans up.
	rep, err := verify.Run(ctx, h, bucket)
	if err != nil && ctx.Err() != nil {
		return errors.New("verify: interrupted before it wrote anything")
	}
	if err != nil {
		return err
	}
	if jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printVerify(stdout, rep)
	}
	if ctx.Err() != nil {
		// The checks the signal cut short failed for that alone.
		return fmt.Errorf("verify: interrupted; the checks above are incomplete; %s", cleanupNote(rep))
	}
	return rep.Err()
}

// cleanupNote says whether verify removed what it created, from its
// cleanup check.
func cleanupNote(rep verify.Report) string {
	for _, c := range rep.Checks {
		if c.Name == "cleanup" && c.OK {
			return "cleaned up: " + c.Evidence
		}
		if c.Name == "cleanup" {
			return "cleanup FAILED: " + c.Evidence
		}
	}
	return "it had created nothing yet"
}

func printVerify(w io.Writer, rep verify.Report) {
	fmt.Fprintf(w, "bucket %s\n\n", rep.Bucket)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range rep.Checks {
		state := "PASS"
		switch {
		case c.Skipped:
			state = "SKIP"
		case !c.OK:
			state = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", state, c.Name, c.Evidence)
	}
	tw.Flush()
	if n := rep.Failed(); n == 0 {
		fmt.Fprintf(w, "\nall %d checks passed: data at rest is encrypted\n", len(rep.Checks))
	}
}
