package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/labdir"
	"github.com/sselab/sselab/pkg/vault"
)

const statusUsage = `Usage: sselab status [--dir DIR] [--json]

Checks every part of the lab on DIR: KES and its keystore, the default
key, MinIO's readiness (which includes a KMS round trip) and each bucket's
default encryption. In a lab of several nodes or drives it shows each
node and whether the erasure sets have read and write quorum; nodes may be
down as long as the sets keep write quorum. Exits non-zero when the lab is
not running or not ready (with several nodes: without write quorum).

{{flags}}
`

func runStatus(ctx context.Context, args []string, stdout, _ io.Writer) error {
	var (
		dir     string
		jsonOut bool
	)
	fs := newFlags("status", &dir)
	fs.BoolVar(&jsonOut, "json", false, "print the report as JSON, with stable field names")
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
		st = h.Status(ctx)
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
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(name string, ok bool, details ...string) {
		state := "ok"
		if !ok {
			state = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", name, state, strings.Join(slices.DeleteFunc(details, func(s string) bool { return s == "" }), "  "))
	}
	row("lab", st.Ready, fmt.Sprintf("pid %d", st.PID), st.Dir)
	row("kes", st.KES.Up, st.KES.Endpoint, "KES "+st.KES.Version, st.KES.Error)
	if v := st.Vault; v != nil {
		last := ""
		if v.LastError != "" {
			last = "last error " + v.LastErrorAt.Local().Format(time.DateTime) + ": " + strings.TrimPrefix(v.LastError, "vault: ")
		}
		row("vault", v.OK(), v.Endpoint, v.State(), vaultLogin(v.Auth, time.Now()), last)
	}
	row("disk", st.Disk.OK(), fmt.Sprintf("%d MiB free", st.Disk.FreeBytes>>20), st.Disk.Path, st.Disk.Error)
	keystore := []string{fmt.Sprintf("latency %d ms", st.KES.KeyStoreLatencyMS)}
	ksOK := st.KES.KeyStoreReachable
	if k := st.Keystore; k != nil {
		keystore = append(keystore, k.Where, k.State, k.Error)
		ksOK = ksOK && k.OK
	}
	row("keystore", ksOK, keystore...)
	row("default key", st.Key.Present, st.Key.Name, st.Key.Error)
	for i, n := range st.Nodes {
		name := "minio"
		if len(st.Nodes) > 1 {
			name = fmt.Sprintf("minio %d", i+1)
		}
		version := n.Version
		if version != "" {
			version = "MinIO " + version
		}
		switch n.State {
		case labdir.NodeStopped, labdir.NodeKilled:
			row(name, n.Ready, n.Endpoint, version, fmt.Sprintf("%s by 'sselab node', %d restarts before", n.State, n.Restarts), drivesOnline(st, n), fmt.Sprintf("'sselab node start %d' starts it", i+1))
		default:
			row(name, n.Ready, n.Endpoint, version, fmt.Sprintf("pid %d, %d restarts", n.PID, n.Restarts), drivesOnline(st, n), failed(n.State), n.Error)
		}
	}
	if c := st.Cluster; c != nil {
		healing := ""
		if c.Healing > 0 {
			healing = fmt.Sprintf("%d drives healing", c.Healing)
		}
		row("erasure", c.Write, c.Shape.Describe(), fmt.Sprintf("read quorum %s, write quorum %s", have(c.Read), have(c.Write)), healing, c.Error)
	}
	if w := st.Web; w != nil {
		row("lab console", w.Up, w.URL, w.Error)
	}
	for _, b := range st.Buckets {
		row("bucket "+b.Name, b.Error == "", b.Encryption.Algorithm, b.Encryption.KeyID, b.Error)
	}
	tw.Flush()
}

// drivesOnline says how many of the node's drives MinIO counts online,
// in a lab of several drives.
func drivesOnline(st lab.Status, n lab.MinIOStatus) string {
	if st.Cluster == nil || n.Drives == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d drives online", n.DrivesOnline, n.Drives)
}

// failed names a node the supervisor gave up on.
func failed(state string) string {
	if state == labdir.NodeFailed {
		return "failed: kept crashing, the lab gave up on it"
	}
	return ""
}

// have says whether a quorum is there.
func have(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}

// vaultLogin says how the lab's token stands: how long it has left, and
// when it was last renewed or obtained by a login.
func vaultLogin(a *vault.Auth, now time.Time) string {
	if a == nil {
		return ""
	}
	var parts []string
	switch left := a.Expires.Sub(now).Round(time.Second); {
	case a.Expires.IsZero():
	case left > 0:
		parts = append(parts, "token expires in "+left.String())
	default:
		parts = append(parts, "token expired")
	}
	if a.LastRenewal.After(a.LastLogin) {
		parts = append(parts, "renewed "+a.LastRenewal.Local().Format(time.TimeOnly))
	}
	logins := "login"
	if a.Logins != 1 {
		logins += "s"
	}
	if !a.LastLogin.IsZero() {
		parts = append(parts, fmt.Sprintf("%s login %s (%d %s)", a.Method, a.LastLogin.Local().Format(time.TimeOnly), a.Logins, logins))
	}
	return strings.Join(parts, ", ")
}
