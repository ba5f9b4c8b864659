package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/labdir"
)

// nodeStartTimeout bounds 'sselab node start': MinIO's own start, and
// the wait until it has joined the others.
const nodeStartTimeout = 150 * time.Second

// controlNode stops, kills or starts a MinIO node, as 'sselab node' asks.
// A node stopped or killed this way stays down until it is started again;
// only a node that crashes on its own is restarted by its supervisor.
func (l *Lab) controlNode(ctx context.Context, r labdir.NodeRequest) error {
	if r.Node < 1 || r.Node > len(l.nodes) {
		return fmt.Errorf("runner: the lab has %s; there is no node %d (see 'sselab node list')", l.settings.Shape.Norm(), r.Node)
	}
	l.nodeOp.Lock()
	defer l.nodeOp.Unlock()
	select {
	case <-l.stopReq:
		return errors.New("runner: the lab is stopping")
	default:
	}
	n := l.nodes[r.Node-1]
	p, state := n.current()
	switch r.Action {
	case labdir.NodeStop, labdir.NodeKill:
		if state != labdir.NodeRunning || p == nil {
			return fmt.Errorf("runner: MinIO node %d is not running (%s); 'sselab node start %d' starts it", n.n, state, n.n)
		}
		if !r.Force {
			if err := l.checkQuorumWithout(ctx, n, r.Action); err != nil {
				return err
			}
		}
		n.mu.Lock()
		n.state = labdir.NodeStopped
		if r.Action == labdir.NodeKill {
			n.state = labdir.NodeKilled
		}
		n.mu.Unlock()
		var err error
		if r.Action == labdir.NodeKill {
			p.Kill()
		} else {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			err = p.Stop(sctx)
			cancel()
		}
		l.logNode(n, "%s by 'sselab node %s'; it stays down until 'sselab node start %d'", map[string]string{labdir.NodeStop: "stopped", labdir.NodeKill: "killed"}[r.Action], r.Action, n.n)
		l.recordNodes()
		return err
	case labdir.NodeStart:
		if state == labdir.NodeRunning {
			return fmt.Errorf("runner: MinIO node %d is running already (pid %d)", n.n, p.PID())
		}
		sctx, cancel := context.WithTimeout(ctx, nodeStartTimeout)
		defer cancel()
		go func() {
			select {
			case <-l.stopReq: // 'sselab down' does not wait for a start
				cancel()
			case <-sctx.Done():
			}
		}()
		if err := l.startNode(sctx, n); err != nil {
			return err
		}
		l.waitRejoined(sctx, n)
		l.logNode(n, "started again by 'sselab node start' (pid %d)", n.info().PID)
		l.recordNodes() // its Started callback ran before the node had its new supervisor
		return nil
	}
	return fmt.Errorf("runner: unknown node action %q; want %s, %s or %s", r.Action, labdir.NodeStop, labdir.NodeKill, labdir.NodeStart)
}

// waitRejoined waits, up to 10 s, until node n reports write quorum
// for the cluster: a node that serves S3 again may still be connecting
// to the others. It does not wait when the cluster cannot have write
// quorum with the nodes that run. The other nodes take some more seconds
// to reconnect to n (MinIO retries offline drives on a timer); until
// they have, a write or a heal may still find n's drives offline.
func (l *Lab) waitRejoined(ctx context.Context, n *node) {
	down := func(k int) bool {
		p, state := l.nodes[k-1].current()
		return state != labdir.NodeRunning || p == nil
	}
	if !n.several || !l.settings.Shape.Norm().KeepsWriteQuorum(down) {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		if ok, _ := lab.ClusterHealth(ctx, l.http, n.s3URL, lab.QuorumWrite); ok {
			return
		}
		select {
		case <-ctx.Done():
			l.logNode(n, "is back, but reports no write quorum after 10 s")
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// checkQuorumWithout refuses to take node n down when the cluster would
// lose its write quorum without it, as the node itself judges (MinIO's
// maintenance check), or when it is the lab's only node.
func (l *Lab) checkQuorumWithout(ctx context.Context, n *node, action string) error {
	if !n.several {
		return fmt.Errorf("runner: MinIO node 1 is the lab's only node: without it no S3 request works; pass --force to %s it anyway, or 'sselab down' to stop the lab", action)
	}
	shape := l.settings.Shape.Norm()
	// First what the lab knows: the nodes it has stopped, or that are
	// between a crash and their restart. MinIO may take a while to notice
	// a node that was killed.
	down := func(k int) bool {
		if k == n.n {
			return true
		}
		p, state := l.nodes[k-1].current()
		return state != labdir.NodeRunning || p == nil || p.PID() == 0
	}
	if !shape.KeepsWriteQuorum(down) {
		return fmt.Errorf("runner: without MinIO node %d the cluster would lose its write quorum (each erasure set needs %d of its %d drives, and other nodes are down): writes would fail; pass --force to %s it anyway",
			n.n, shape.WriteQuorum(), shape.SetSize(), action)
	}
	// Then what MinIO sees (a drive may be offline, too). The lab's own
	// count says the cluster keeps its quorum, so a "no" may only mean
	// that the nodes are still connecting to each other (right after up
	// or a node's start): MinIO is asked again for a few seconds.
	deadline := time.Now().Add(5 * time.Second)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ok, err := lab.ClusterHealth(ctx, l.http, n.s3URL, lab.QuorumWithout)
	for err == nil && !ok && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		ok, err = lab.ClusterHealth(ctx, l.http, n.s3URL, lab.QuorumWithout)
	}
	switch {
	case err != nil:
		return fmt.Errorf("runner: cannot tell whether the cluster keeps its write quorum without MinIO node %d (%w); pass --force to %s it anyway", n.n, err, action)
	case !ok:
		return fmt.Errorf("runner: without MinIO node %d the cluster would lose its write quorum (each erasure set needs %d of its %d drives): writes would fail; pass --force to %s it anyway",
			n.n, shape.WriteQuorum(), shape.SetSize(), action)
	}
	return nil
}

// logNode writes a line about node n to the lab's log.
func (l *Lab) logNode(n *node, format string, args ...any) {
	fmt.Fprintf(l.log, "%s %s "+format+"\n", append([]any{time.Now().Format(time.DateTime), n.title()}, args...)...)
}

// recordNodes rewrites the state file with the nodes' current pids.
func (l *Lab) recordNodes() {
	if err := l.writeState(false); err != nil {
		fmt.Fprintf(l.log, "%s cannot record the MinIO nodes' pids: %v\n", time.Now().Format(time.DateTime), err)
	}
}
