package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/encrypt"

	"github.com/sselab/sselab/internal/proc"
	"github.com/sselab/sselab/internal/testtools"
	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/labdir"
)

// nodeObjects is how many SSE-KMS objects TestNodes writes before it
// takes a node down.
const nodeObjects = 200

// TestNodes runs a lab of 4 MinIO nodes of one drive each (one erasure
// set of 4, EC:2): every object stays readable and writes go on with one
// node stopped, the node heals when it is back, no drive holds plaintext,
// a SIGKILLed sselab takes every node with it, and down/up keeps it all.
func TestNodes(t *testing.T) {
	requireLinux(t)
	ctx := testtools.Context(t)
	dir := filepath.Join(t.TempDir(), "lab")
	h := upDetached(t, dir, "--nodes", "4", "--drives", "1")
	if len(h.State.Nodes) != 4 || h.State.Shape != (labdir.Shape{Nodes: 4, Drives: 1}) {
		t.Fatalf("state: %d nodes, shape %v; want 4 nodes, 4 x 1", len(h.State.Nodes), h.State.Shape)
	}
	pids := nodePIDs(t, h)
	seen := map[string]bool{}
	for i, n := range h.State.Nodes {
		if seen[n.S3Endpoint] || seen[n.ConsoleURL] {
			t.Errorf("node %d shares an address: %s, %s", i+1, n.S3Endpoint, n.ConsoleURL)
		}
		seen[n.S3Endpoint], seen[n.ConsoleURL] = true, true
		if len(n.Drives) != 1 || !proc.Alive(pids[i]) {
			t.Errorf("node %d: drives %v, pid %d alive %v; want 1 drive and a running process", i+1, n.Drives, pids[i], proc.Alive(pids[i]))
		}
	}
	st := nodesStatus(t, dir, 0)
	if st.Cluster == nil || !st.Cluster.Write || !st.Cluster.Read || st.Cluster.SetSize != 4 || st.Cluster.Parity != 2 {
		t.Fatalf("status cluster: %+v, want 1 set of 4, EC:2, read and write quorum", st.Cluster)
	}
	env := parseExports(t, mustRun(t, "env", "--dir", dir).stdout)
	if got := strings.Split(env[lab.EndpointsVar], ","); len(got) != 4 || got[0] != h.State.S3Endpoint {
		t.Errorf("env %s = %q, want the 4 endpoints, node 1 first", lab.EndpointsVar, env[lab.EndpointsVar])
	}

	// 200 SSE-KMS objects, each with its marker on every line.
	s3 := nodeClient(t, h, 0)
	bodies := make(map[string][]byte, nodeObjects)
	var markers [][]byte
	putObjects(t, ctx, s3, 0, nodeObjects, bodies, &markers)

	// Control: a plaintext object in a bucket without encryption shows
	// on the drives, so the scan below can find what is there.
	plainMarker := []byte("sselab-nodes-plain-" + rand.Text())
	if err := s3.MakeBucket(ctx, "plain", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	plain := bytes.Repeat(append(plainMarker, '\n'), 40)
	if _, err := s3.PutObject(ctx, "plain", "p", bytes.NewReader(plain), int64(len(plain)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, n := range h.State.Nodes {
		if !containsBytes(t, n.Drives[0], plainMarker) {
			t.Fatalf("the plaintext control object is not found on %s: the drive scan would miss plaintext", n.Drives[0])
		}
	}

	// Node 3 stops: everything reads, writes go on, status is ready.
	if out := mustRun(t, "node", "stop", "3", "--dir", dir).stdout; !strings.Contains(out, "MinIO node 3 stopped") {
		t.Errorf("node stop 3: %q", out)
	}
	waitGone(t, pids[2])
	st = nodesStatus(t, dir, 0)
	if st.Nodes[2].State != labdir.NodeStopped || st.Nodes[2].Ready || !st.Cluster.Write {
		t.Errorf("status with node 3 stopped: node 3 %+v, cluster %+v; want stopped, write quorum kept", st.Nodes[2], st.Cluster)
	}
	eventually(t, "status: node 3's drive offline, the others online", 30*time.Second, func() error {
		st, _ := statusJSON(t, dir)
		for i, n := range st.Nodes {
			want := 1
			if i == 2 {
				want = 0
			}
			if n.Drives != 1 || n.DrivesOnline != want {
				return fmt.Errorf("node %d: %d of %d drives online, want %d of 1", i+1, n.DrivesOnline, n.Drives, want)
			}
		}
		return nil
	})
	readAllObjects(t, ctx, s3, bodies)
	readAllObjects(t, ctx, nodeClient(t, h, 1), bodies) // through another node
	putObjects(t, ctx, s3, nodeObjects, 20, bodies, &markers)

	// A second node down would cost the write quorum: refused.
	r := sselab(t, "node", "stop", "2", "--dir", dir)
	if r.code != 1 || !strings.Contains(r.stderr, "write quorum") || !strings.Contains(r.stderr, "--force") || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
		t.Errorf("node stop 2 with node 3 down: exit %d, %q; want 1 and one line about write quorum and --force", r.code, r.stderr)
	}
	if !proc.Alive(pids[1]) {
		t.Fatal("node 2 stopped although its stop was refused")
	}
	// The lab did not restart the node it was told to stop.
	if list := nodeList(t, dir); list[2].State != labdir.NodeStopped || list[2].PID != 0 {
		t.Errorf("node 3 after a while: %+v, want stopped and no pid", list[2])
	}

	// Node 3 comes back and heals the objects written without it.
	mustRun(t, "node", "start", "3", "--dir", dir)
	h = reopen(t, dir)
	mc := mcRunner(t, ctx, dir)
	drive3 := h.State.Nodes[2].Drives[0]
	eventually(t, "node 3's drive healed", 90*time.Second, func() error {
		// The other nodes reconnect to node 3 some seconds after it is
		// back; until then a heal finds it offline and heals nothing.
		mc("admin", "heal", "-r", lab.MCAlias+"/"+labdir.DefaultBucket)
		for name := range bodies {
			if _, err := os.Stat(filepath.Join(drive3, labdir.DefaultBucket, name, "xl.meta")); err != nil {
				return err
			}
		}
		return nil
	})
	eventually(t, "mc admin info: 4 drives online", 60*time.Second, func() error {
		var info struct {
			Info struct {
				Servers []struct {
					Drives []struct{ State string } `json:"drives"`
				} `json:"servers"`
			} `json:"info"`
		}
		if err := json.Unmarshal([]byte(mc("admin", "info", lab.MCAlias, "--json")), &info); err != nil {
			return err
		}
		online := 0
		for _, s := range info.Info.Servers {
			for _, d := range s.Drives {
				if d.State == "ok" {
					online++
				}
			}
		}
		if len(info.Info.Servers) != 4 || online != 4 {
			return fmt.Errorf("%d servers, %d drives ok; want 4 and 4", len(info.Info.Servers), online)
		}
		return nil
	})
	readAllObjects(t, ctx, nodeClient(t, h, 2), bodies) // node 3 serves them too

	// No marker of an encrypted object on any drive of any node.
	for _, n := range h.State.Nodes {
		for _, m := range markers {
			if containsBytes(t, n.Drives[0], m) {
				t.Fatalf("plaintext marker %s found on %s", m, n.Drives[0])
			}
		}
	}
	if out := mustRun(t, "verify", "--dir", dir).stdout; !strings.Contains(out, "the 4 drives in") {
		t.Errorf("verify: want the scan of all 4 drives, got\n%s", out)
	}

	// A SIGKILLed sselab leaves no node running.
	pids = nodePIDs(t, h)
	kill(t, h.State.PID)
	for _, pid := range append(pids, h.State.PID) {
		waitGone(t, pid)
	}
	if left := processesMentioning(dir); len(left) > 0 {
		t.Fatalf("processes left after sselab was killed: %v", left)
	}

	// up again, without shape flags: the same 4 nodes, the same objects.
	h = upDetached(t, dir)
	if len(h.State.Nodes) != 4 {
		t.Fatalf("up again: %d nodes, want the remembered 4", len(h.State.Nodes))
	}
	nodesStatus(t, dir, 0)
	readAllObjects(t, ctx, nodeClient(t, h, 3), bodies)

	// down stops every node; a new shape on these drives is refused.
	pids = nodePIDs(t, h)
	mustRun(t, "down", "--dir", dir)
	for _, pid := range pids {
		waitGone(t, pid)
	}
	before := treeHash(t, filepath.Join(dir, "minio"))
	r = sselab(t, append([]string{"up", "--dir", dir, "--nodes", "2", "--drives", "2"}, freePorts...)...)
	if r.code != 1 || !strings.Contains(r.stderr, "holds a lab of 4 nodes x 1 drive") {
		t.Errorf("up with another shape: exit %d, %q; want 1 and the shape it holds", r.code, r.stderr)
	}
	if treeHash(t, filepath.Join(dir, "minio")) != before || len(processesMentioning(dir)) > 0 {
		t.Error("a refused shape change touched the drives or left a process")
	}
}

// TestNodesQuorum runs 2 nodes of 2 drives (one set of 4, EC:2, write
// quorum 3): one node down costs the write quorum, so 'node kill' wants
// --force, status then fails, reads go on (through node 2: node 1 is the
// one killed), and 'node start' brings the quorum back.
func TestNodesQuorum(t *testing.T) {
	requireLinux(t)
	ctx := testtools.Context(t)
	dir := filepath.Join(t.TempDir(), "lab")
	h := upDetached(t, dir, "--nodes", "2", "--drives", "2")
	st := nodesStatus(t, dir, 0)
	if st.Cluster == nil || st.Cluster.SetSize != 4 || st.Cluster.WriteQuorum != 3 || len(h.State.Nodes[1].Drives) != 2 {
		t.Fatalf("2 x 2: cluster %+v, node 2 drives %v", st.Cluster, h.State.Nodes[1].Drives)
	}
	s3 := nodeClient(t, h, 0)
	bodies := map[string][]byte{}
	var markers [][]byte
	putObjects(t, ctx, s3, 0, 20, bodies, &markers)

	// Node 1 goes: the other commands turn to node 2.
	pid1 := nodePIDs(t, h)[0]
	r := sselab(t, "node", "kill", "1", "--dir", dir)
	if r.code != 1 || !strings.Contains(r.stderr, "write quorum") || !proc.Alive(pid1) {
		t.Fatalf("node kill 1 without --force: exit %d, %q, alive %v; want a refusal", r.code, r.stderr, proc.Alive(pid1))
	}
	mustRun(t, "node", "kill", "1", "--force", "--dir", dir)
	waitGone(t, pid1)
	eventually(t, "status without write quorum", 30*time.Second, func() error {
		r := sselab(t, "status", "--dir", dir)
		if r.code != 1 || !strings.Contains(r.stdout, "write quorum NO") || !strings.Contains(r.stderr, "write quorum") {
			return fmt.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		return nil
	})
	h = reopen(t, dir)
	if got := h.S3Endpoint(); got != h.State.Nodes[1].S3Endpoint {
		t.Errorf("S3 endpoint with node 1 killed: %s, want node 2's %s", got, h.State.Nodes[1].S3Endpoint)
	}
	other, err := h.S3()
	if err != nil {
		t.Fatal(err)
	}
	readAllObjects(t, ctx, other, bodies) // read quorum: 2 of 4
	if list := nodeList(t, dir); list[0].State != labdir.NodeKilled || list[0].PID != 0 {
		t.Errorf("node 1 after kill: %+v, want killed (and not restarted)", list[0])
	}

	mustRun(t, "node", "start", "1", "--dir", dir)
	eventually(t, "status with write quorum again", 30*time.Second, func() error {
		if r := sselab(t, "status", "--dir", dir); r.code != 0 {
			return fmt.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		return nil
	})
	// Node 2 reconnects to node 1 on a timer of MinIO's: until then a
	// write may find too few drives. It must work within seconds.
	eventually(t, "a write after node 1 is back", 60*time.Second, func() error {
		_, err := s3.PutObject(ctx, labdir.DefaultBucket, "after-start", bytes.NewReader([]byte("x")), 1, minio.PutObjectOptions{})
		return err
	})
	putObjects(t, ctx, s3, 20, 5, bodies, &markers)
	readAllObjects(t, ctx, other, bodies)
}

// TestNodesBadInput: shapes MinIO cannot build and node commands without
// a lab, each one line with the right exit code, nothing left behind;
// and a node that fails to start stops the others.
func TestNodesBadInput(t *testing.T) {
	requireLinux(t)
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"up", "--nodes", "1", "--drives", "17"}, 2, "try --nodes 1 --drives 16"},
		{[]string{"up", "--nodes", "17"}, 2, "MinIO cannot build 17 nodes x 1 drive"},
		{[]string{"up", "--drives", "0"}, 2, "--drives 0"},
		{[]string{"up", "--nodes", "-2"}, 2, "--nodes -2"},
		{[]string{"up", "--nodes", "4", "--address", "127.0.0.1:65534"}, 2, "leaves no port for MinIO node 3"},
		{[]string{"node", "stop", "1"}, 1, "no lab is running"},
		{[]string{"node", "list"}, 1, "no lab is running"},
		{[]string{"node", "stop"}, 2, "needs one node number"},
		{[]string{"node", "reboot", "1"}, 2, "unknown node command"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "lab")
			r := sselab(t, append(tt.args, "--dir", dir)...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
				t.Errorf("exit %d, stderr %q; want exit %d and one line with %q", r.code, r.stderr, tt.code, tt.want)
			}
			if _, err := os.Stat(dir); err == nil {
				t.Errorf("%s was created", dir)
			}
		})
	}

	t.Run("a node's port is taken", func(t *testing.T) {
		base := freePort(t)
		taken, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(base+2)) // node 2's S3 port
		if err != nil {
			t.Skip(err)
		}
		defer taken.Close()
		dir := filepath.Join(t.TempDir(), "lab")
		r := sselab(t, "up", "--dir", dir, "--nodes", "2",
			"--address", "127.0.0.1:"+strconv.Itoa(base), "--console-address", "127.0.0.1:"+strconv.Itoa(base+1),
			"--kes-address", "127.0.0.1:0", "--web-address", "127.0.0.1:0")
		if r.code != 1 || !strings.Contains(r.stderr, "MinIO node 2 needs port") || !strings.Contains(r.stderr, "127.0.0.1:0") || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
			t.Errorf("exit %d, stderr %q; want 1 and one line naming node 2's port and port 0", r.code, r.stderr)
		}
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("%s was left behind", dir)
		}
	})

	t.Run("a node fails to start", func(t *testing.T) {
		// A MinIO that fails as node 2 (its --address), and is MinIO
		// otherwise.
		scratch := t.TempDir()
		base := freePort(t)
		failing := filepath.Join(scratch, "minio")
		script := fmt.Sprintf("#!/bin/sh\ncase \" $* \" in *\" --address 127.0.0.1:%d \"*) echo 'node 2 breaks on purpose' >&2; exit 1;; esac\nexec %s \"$@\"\n", base+2, testtools.MinIO(t))
		if err := os.WriteFile(failing, []byte(script), 0o700); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(scratch, "lab")
		r := sselab(t, "up", "--dir", dir, "--minio", failing, "--nodes", "2",
			"--address", "127.0.0.1:"+strconv.Itoa(base), "--console-address", "127.0.0.1:"+strconv.Itoa(base+1),
			"--kes-address", "127.0.0.1:0", "--web-address", "127.0.0.1:0")
		if r.code != 1 || !strings.Contains(r.stderr, "MinIO node 2") || !strings.Contains(r.stderr, "node 2 breaks on purpose") {
			t.Errorf("exit %d, stderr:\n%s\nwant 1, node 2 named with its last log lines", r.code, r.stderr)
		}
		if left := processesMentioning(dir); len(left) > 0 {
			t.Errorf("processes left: %v", left)
		}
	})
}

// freePort returns a port with the next three free too, as far as a
// listen can tell.
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		addr := testtools.FreeAddr(t)
		_, p, _ := strings.Cut(addr, ":")
		base, _ := strconv.Atoi(p)
		if base > 65000 {
			continue
		}
		ok := true
		for i := 1; i <= 3; i++ {
			if c, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(base+i)); err != nil {
				ok = false
			} else {
				c.Close()
			}
		}
		if ok {
			return base
		}
	}
	t.Fatal("no four free ports in a row")
	return 0
}

// nodesStatus runs 'sselab status --json' and checks its exit code.
func nodesStatus(t *testing.T, dir string, code int) lab.Status {
	t.Helper()
	st, r := statusJSON(t, dir)
	if r.code != code {
		t.Fatalf("status: exit %d, want %d\n%s\n%s", r.code, code, r.stdout, r.stderr)
	}
	return st
}

// nodeRow is a line of 'sselab node list --json'.
type nodeRow struct {
	Node  int    `json:"node"`
	State string `json:"state"`
	PID   int    `json:"pid"`
}

func nodeList(t *testing.T, dir string) []nodeRow {
	t.Helper()
	var rows []nodeRow
	if err := json.Unmarshal([]byte(mustRun(t, "node", "list", "--json", "--dir", dir).stdout), &rows); err != nil {
		t.Fatal(err)
	}
	return rows
}

// nodePIDs returns the pid of every node, as the lab reports them.
func nodePIDs(t *testing.T, h *lab.Handle) []int {
	t.Helper()
	info, err := h.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	pids := make([]int, len(info.Nodes))
	for i, n := range info.Nodes {
		pids[i] = n.PID
	}
	return pids
}

func reopen(t *testing.T, dir string) *lab.Handle {
	t.Helper()
	h, err := lab.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// nodeClient is an S3 client of node i (from 0).
func nodeClient(t *testing.T, h *lab.Handle, i int) *minio.Client {
	t.Helper()
	c, err := lab.NewS3Client(h.State.Nodes[i].S3Endpoint, h.Credentials, h.HTTPClient().Transport, 0)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// putObjects writes n SSE-KMS objects numbered from first, 8 at a time,
// each with a marker of its own on every line.
func putObjects(t *testing.T, ctx context.Context, s3 *minio.Client, first, n int, bodies map[string][]byte, markers *[][]byte) {
	t.Helper()
	sse, err := encrypt.NewSSEKMS(labdir.DefaultKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 8)
	for i := first; i < first+n; i++ {
		marker := []byte(fmt.Sprintf("sselab-nodes-marker-%d-%s", i, rand.Text()))
		body := bytes.Repeat(append(marker, '\n'), 40)
		name := fmt.Sprintf("obj-%04d", i)
		mu.Lock()
		bodies[name] = body
		*markers = append(*markers, marker)
		mu.Unlock()
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if _, err := s3.PutObject(ctx, labdir.DefaultBucket, name, bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{ServerSideEncryption: sse}); err != nil {
				errs <- fmt.Errorf("PUT %s: %w", name, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// readAllObjects reads every object back and compares it with what was written.
func readAllObjects(t *testing.T, ctx context.Context, s3 *minio.Client, bodies map[string][]byte) {
	t.Helper()
	for name, want := range bodies {
		got, err := getObject(ctx, s3, labdir.DefaultBucket, name, minio.GetObjectOptions{})
		if err != nil {
			t.Fatalf("GET %s: %v", name, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("GET %s: %d bytes that differ from the %d written", name, len(got), len(want))
		}
	}
}

// mcRunner returns a function that runs mc against the lab on dir and
// returns its output, failing the test if mc fails.
func mcRunner(t *testing.T, ctx context.Context, dir string) func(args ...string) string {
	t.Helper()
	env := parseExports(t, mustRun(t, "env", "--dir", dir).stdout)
	cfg := t.TempDir()
	return func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, testtools.MC(t), append([]string{"--config-dir", cfg, "--no-color"}, args...)...)
		cmd.Env = withEnv(env)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("mc %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
}
