package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/sselab/sselab/pkg/lab"
)

const statusUsage = `Usage: sselab status [--dir DIR] [--json]

Checks every part of the lab on DIR: KES and its keystore, the default
key, MinIO's readiness (which includes a KMS round trip) and each bucket's
default encryption. Exits non-zero when the lab is not running or not
ready. --json prints the report with stable field names.
`

func runStatus(args []string, stdout, _ io.Writer) error {
	var (
		dir     string
		jsonOut bool
	)
	fs := newFlags("status", &dir)
	fs.BoolVar(&jsonOut, "json", false, "")
	if err := parse(fs, args, &dir); err != nil {
		return err
	}
	var st lab.Status
	h, err := lab.Open(dir)
	switch {
	case errors.Is(err, lab.ErrNotRunning):
		st = lab.Status{Dir: dir}
	case err != nil:
		return err
	default:
		st = h.Status(context.Background())
	}
	if jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(st); err != nil {
			return err
		}
	} else if st.Running {
		printStatus(stdout, st)
	}
	return st.Err()
}

func printStatus(w io.Writer, st lab.Status) {
	ok := func(b bool, detail string) string {
		if b {
			return "ok\t" + detail
		}
		return "FAIL\t" + detail
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "lab\t%s\tpid %d, %s\n", ok(st.Ready, ""), st.PID, st.Dir)
	fmt.Fprintf(tw, "kes\t%s\n", ok(st.KES.Up, st.KES.Endpoint+" "+st.KES.Version+st.KES.Error))
	fmt.Fprintf(tw, "keystore\t%s\n", ok(st.KES.KeyStoreReachable, fmt.Sprintf("latency %d ms", st.KES.KeyStoreLatencyMS)))
	fmt.Fprintf(tw, "default key\t%s\n", ok(st.Key.Present, st.Key.Name+" "+st.Key.Error))
	fmt.Fprintf(tw, "minio\t%s\n", ok(st.MinIO.Ready, fmt.Sprintf("%s pid %d, %d restarts %s", st.MinIO.Endpoint, st.MinIO.PID, st.MinIO.Restarts, st.MinIO.Error)))
	for _, b := range st.Buckets {
		detail := b.Error
		if b.Encryption.Algorithm != "" {
			detail = b.Encryption.Algorithm + " " + b.Encryption.KeyID
		}
		fmt.Fprintf(tw, "bucket %s\t%s\n", b.Name, ok(b.Error == "", detail))
	}
	tw.Flush()
}
