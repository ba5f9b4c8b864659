package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/labdir"
)

const logsUsage = `Usage: sselab logs [--dir DIR] [--follow] [--key NAME] [--identity WHO]
                   [--refused] [--since WHEN] [--json]
       sselab logs --minio|--lab [--dir DIR] [--follow]

Shows KES's audit log (DIR/kes/audit.log) as a table: when, which
identity, what it asked, on which key, whether KES allowed it, and how
long KES took. Identities the lab made are named: "minio" (MinIO's client
certificate) and "operator" (sselab's own); any other shows as the first
12 hex digits of its KES identity. The log holds every key created,
imported, deleted or used (generate, decrypt, encrypt, hmac) and every
request KES refused. The lab need not be running.

{{flags}}

--since takes a duration back from now (10m, 2h) or a time (RFC 3339,
2026-12-01T08:00:00Z). --minio and --lab print MinIO's output
(DIR/logs/minio.log) and sselab's own (DIR/logs/sselab.log, written by
'up --detach') as they are.

Examples:
  sselab logs --key sselab-key --identity minio
  sselab logs --refused --since 1h
  sselab logs --follow --json
`

// logsPoll is how often --follow looks for new lines.
const logsPoll = 250 * time.Millisecond

func runLogs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		dir, since        string
		f                 lab.AuditFilter
		follow, jsonOut   bool
		minioLog, selfLog bool
	)
	fs := newFlags("logs", &dir)
	fs.BoolVarP(&follow, "follow", "f", false, "keep printing new lines until Ctrl-C")
	fs.StringVar(&f.Key, "key", "", "only the records that name key `NAME`")
	fs.StringVar(&f.Identity, "identity", "", "only the records of `WHO`: minio, operator, or a prefix of a KES identity")
	fs.BoolVar(&f.Refused, "refused", false, "only the requests KES refused")
	fs.StringVar(&since, "since", "", "only the records since `WHEN`: a duration back from now (10m) or an RFC 3339 time")
	fs.BoolVar(&jsonOut, "json", false, "print one JSON object per record")
	fs.BoolVar(&minioLog, "minio", false, "print MinIO's output instead")
	fs.BoolVar(&selfLog, "lab", false, "print sselab's own log (up --detach) instead")
	if err := parse(fs, args, &dir); err != nil {
		return err
	}
	if since != "" {
		t, err := parseSince(since, time.Now())
		if err != nil {
			return usageError{err}
		}
		f.Since = t
	}
	layout := labdir.Layout{Root: dir}
	if minioLog || selfLog {
		if minioLog && selfLog {
			return usageError{errors.New("--minio and --lab exclude each other")}
		}
		if f != (lab.AuditFilter{}) || jsonOut {
			return usageError{errors.New("--key, --identity, --refused, --since and --json apply to the audit log, not with --minio or --lab")}
		}
		path := layout.MinIOLog()
		if selfLog {
			path = layout.SelfLog()
		}
		return catLog(ctx, path, follow, stdout, stderr)
	}

	path := layout.KESAuditLog()
	names := lab.AuditNames(layout)
	emit := auditTable(stdout)
	if jsonOut {
		enc := json.NewEncoder(stdout)
		emit = func(r lab.AuditRecord) error { return enc.Encode(r) }
	}
	var rep lab.AuditReport
	if follow {
		var err error
		if rep, err = lab.FollowAudit(ctx, path, logsPoll, names, f, emit); err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	} else {
		file, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(stderr, "sselab: no KES audit log at %s: KES writes it once a lab has run on %s\n", path, dir)
			return nil
		}
		if err != nil {
			return err
		}
		defer file.Close()
		if rep, err = lab.ReadAudit(file, names, f, emit); err != nil {
			return err
		}
	}
	if rep.Bad > 0 {
		fmt.Fprintf(stderr, "sselab: skipped %d line(s) of %s that are not KES audit records\n", rep.Bad, path)
	}
	if rep.Partial {
		fmt.Fprintf(stderr, "sselab: skipped the last line of %s: it is incomplete (KES may be writing it)\n", path)
	}
	return nil
}

// parseSince reads --since: a duration back from now, or an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("--since %s: a duration back from now cannot be negative", s)
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--since %q is neither a duration (10m, 2h) nor an RFC 3339 time (2026-12-01T08:00:00Z)", s)
}

// auditTable prints records as table rows, the header before the first.
func auditTable(w io.Writer) func(lab.AuditRecord) error {
	const row = "%-19s  %-12s  %-10s  %-20s  %-8s  %s\n"
	header := false
	return func(r lab.AuditRecord) error {
		if !header {
			header = true
			if _, err := fmt.Fprintf(w, row, "TIME", "IDENTITY", "OPERATION", "KEY", "RESULT", "LATENCY"); err != nil {
				return err
			}
		}
		key, latency := r.Key, "-"
		if key == "" {
			key = "-"
		}
		if r.Latency > 0 {
			latency = r.Latency.Round(time.Microsecond).String()
		}
		result := r.Result()
		if r.Refused() {
			result = colorize(w, result, colorRed)
		}
		_, err := fmt.Fprintf(w, row, r.Time.Local().Format(time.DateTime), r.Who, r.Operation, key, result, latency)
		return err
	}
}

// catLog copies a log file to w, and with follow goes on copying what is
// appended until ctx ends. A missing file is said, not an error.
func catLog(ctx context.Context, path string, follow bool, w, stderr io.Writer) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) && !follow {
		fmt.Fprintf(stderr, "sselab: no log at %s\n", path)
		return nil
	}
	for errors.Is(err, os.ErrNotExist) {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(logsPoll):
		}
		f, err = os.Open(path)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	for {
		if _, err := io.Copy(w, f); err != nil {
			return fmt.Errorf("reading %s: %w", path, err)
		}
		if !follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(logsPoll):
		}
	}
}
