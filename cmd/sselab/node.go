package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/labdir"
)

const nodeUsage = `Usage: sselab node list [--dir DIR] [--json]
       sselab node stop|kill|start N [--dir DIR] [--force]

Works the MinIO nodes of the running lab on DIR (started with
'sselab up --nodes N'), one at a time:

  list   each node: its number, state, pid, restarts, S3 address, drives
  stop   stops node N gracefully (SIGTERM; CTRL_BREAK on Windows)
  kill   kills node N at once (SIGKILL; TerminateProcess on Windows)
  start  starts a stopped or killed node N again and waits until it has
         joined the others; what it missed is healed by MinIO's scanner
         in time, or at once by 'mc admin heal -r sselab/BUCKET' once the
         other nodes have reconnected (some seconds)

A node stopped or killed here stays down until 'sselab node start'; a node
that crashes on its own is restarted by the lab, with backoff. 'stop' and
'kill' refuse a node without which the erasure sets would lose their
write quorum (objects could no longer be written): --force takes it down
anyway.

{{flags}}

Examples:
  sselab node list
  sselab node stop 3
  sselab node start 3
  sselab node kill 2 --force
`

func runNode(ctx context.Context, args []string, stdout, _ io.Writer) error {
	var (
		dir            string
		force, jsonOut bool
	)
	fs := newFlags("node", &dir)
	fs.BoolVar(&force, "force", false, "stop or kill the node even if the cluster loses its write quorum")
	fs.BoolVar(&jsonOut, "json", false, "list: print the nodes as JSON, with stable field names")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return &helpRequest{flags: fs}
	}
	action, rest := fs.Arg(0), fs.Args()[1:]
	switch action {
	case "list":
		if len(rest) > 0 {
			return usageError{fmt.Errorf("node list: unexpected argument %q", rest[0])}
		}
		if force {
			return usageError{errors.New("node list: --force is for stop and kill")}
		}
	case labdir.NodeStop, labdir.NodeKill, labdir.NodeStart:
		if len(rest) != 1 {
			return usageError{fmt.Errorf("node %s needs one node number, as in 'sselab node %s 2'", action, action)}
		}
		if jsonOut {
			return usageError{errors.New("--json is for node list")}
		}
		if force && action == labdir.NodeStart {
			return usageError{errors.New("node start: --force is for stop and kill")}
		}
	default:
		return usageError{fmt.Errorf("unknown node command %q, want list, stop, kill or start", action)}
	}
	if err := resolveDir(&dir); err != nil {
		return err
	}
	h, err := lab.OpenState(dir)
	if err != nil {
		return err
	}
	if action == "list" {
		return listNodes(ctx, h, stdout, jsonOut)
	}
	n, err := strconv.Atoi(rest[0])
	if err != nil || n < 1 {
		return usageError{fmt.Errorf("node %s %q: give a node number from 1 (see 'sselab node list')", action, rest[0])}
	}
	if n > len(h.State.Nodes) {
		return labdir.Invalid("node %s %d: the lab on %s has %s; give a node number from 1 to %d", action, n, dir, h.State.Shape, len(h.State.Nodes))
	}
	if err := h.Node(ctx, labdir.NodeRequest{Node: n, Action: action, Force: force}); err != nil {
		return err
	}
	switch action {
	case labdir.NodeStop:
		fmt.Fprintf(stdout, "MinIO node %d stopped; it stays down until 'sselab node start %d%s'\n", n, n, dirFlag(dir))
	case labdir.NodeKill:
		fmt.Fprintf(stdout, "MinIO node %d killed; it stays down until 'sselab node start %d%s'\n", n, n, dirFlag(dir))
	case labdir.NodeStart:
		fmt.Fprintf(stdout, "MinIO node %d is running again and has joined the cluster; 'mc admin heal -r %s/BUCKET' heals what it missed\n", n, lab.MCAlias)
	}
	return nil
}

// nodeRow is one node in 'sselab node list'. Its JSON field names are
// stable.
type nodeRow struct {
	Node       int      `json:"node"`
	State      string   `json:"state"`
	PID        int      `json:"pid,omitempty"`
	Restarts   int      `json:"restarts"`
	S3Endpoint string   `json:"s3_endpoint"`
	ConsoleURL string   `json:"console_url"`
	Drives     []string `json:"drives"`
	Log        string   `json:"log"`
	Error      string   `json:"error,omitempty"`
}

// listNodes prints the lab's nodes as the lab reports them.
func listNodes(ctx context.Context, h *lab.Handle, w io.Writer, jsonOut bool) error {
	info, err := h.Info(ctx)
	if err != nil {
		return err
	}
	rows := make([]nodeRow, len(h.State.Nodes))
	for i, n := range h.State.Nodes {
		rows[i] = nodeRow{Node: i + 1, S3Endpoint: n.S3Endpoint, ConsoleURL: n.ConsoleURL, Drives: n.Drives, Log: n.Log}
		if i < len(info.Nodes) {
			ni := info.Nodes[i]
			rows[i].State, rows[i].PID, rows[i].Restarts, rows[i].Error = ni.State, ni.PID, ni.Restarts, ni.Error
		}
	}
	if jsonOut {
		return writeJSON(w, rows)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tSTATE\tPID\tRESTARTS\tS3 API\tDRIVES")
	for _, r := range rows {
		pid := "-"
		if r.PID != 0 {
			pid = strconv.Itoa(r.PID)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%d\n", r.Node, r.State, pid, r.Restarts, r.S3Endpoint, len(r.Drives))
	}
	return tw.Flush()
}
