package runner

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sselab/sselab/internal/proc"
	"github.com/sselab/sselab/internal/testtools"
	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/labdir"
	"github.com/sselab/sselab/pkg/miniobin"
)

func TestNodeAddresses(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name            string
		s3, console     string
		nodes           int
		wantS3, wantCon []string
	}{
		{"one node", "127.0.0.1:9000", "127.0.0.1:9001", 1,
			[]string{"127.0.0.1:9000"}, []string{"127.0.0.1:9001"}},
		{"defaults interleave", "127.0.0.1:9000", "127.0.0.1:9001", 4,
			[]string{"127.0.0.1:9000", "127.0.0.1:9002", "127.0.0.1:9004", "127.0.0.1:9006"},
			[]string{"127.0.0.1:9001", "127.0.0.1:9003", "127.0.0.1:9005", "127.0.0.1:9007"}},
		{"ranges apart follow by one", "127.0.0.1:9100", "127.0.0.1:9200", 3,
			[]string{"127.0.0.1:9100", "127.0.0.1:9101", "127.0.0.1:9102"},
			[]string{"127.0.0.1:9200", "127.0.0.1:9201", "127.0.0.1:9202"}},
		{"even gap", "127.0.0.1:9000", "127.0.0.1:9002", 3,
			[]string{"127.0.0.1:9000", "127.0.0.1:9003", "127.0.0.1:9006"},
			[]string{"127.0.0.1:9002", "127.0.0.1:9005", "127.0.0.1:9008"}},
		{"console below", "127.0.0.1:9001", "127.0.0.1:9000", 2,
			[]string{"127.0.0.1:9001", "127.0.0.1:9003"},
			[]string{"127.0.0.1:9000", "127.0.0.1:9002"}},
		{"port 0 picks for all", "127.0.0.1:0", "127.0.0.1:0", 3,
			[]string{"127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"},
			[]string{"127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"}},
		{"one of them 0", "127.0.0.1:0", "127.0.0.1:9001", 2,
			[]string{"127.0.0.1:0", "127.0.0.1:0"},
			[]string{"127.0.0.1:9001", "127.0.0.1:9002"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := labdir.Settings{Address: tt.s3, ConsoleAddress: tt.console, Shape: labdir.Shape{Nodes: tt.nodes, Drives: 1}}
			s3, con, err := nodeAddresses(s)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(s3, tt.wantS3) || !reflect.DeepEqual(con, tt.wantCon) {
				t.Errorf("got %v and %v, want %v and %v", s3, con, tt.wantS3, tt.wantCon)
			}
			// No S3 port of one node is the console port of another.
			for _, a := range s3 {
				if !strings.HasSuffix(a, ":0") && slices.Contains(con, a) {
					t.Errorf("%s is both an S3 and a console address", a)
				}
			}
		})
	}

	_, _, err := nodeAddresses(labdir.Settings{Address: "127.0.0.1:65534", ConsoleAddress: "127.0.0.1:9001", Shape: labdir.Shape{Nodes: 4, Drives: 1}})
	if !errors.As(err, new(*labdir.InvalidError)) || !strings.Contains(err.Error(), "MinIO node 3") {
		t.Errorf("ports beyond 65535: got %v, want an invalid --address naming node 3", err)
	}
}

func TestCheckDistinctNodes(t *testing.T) {
	t.Parallel()
	s := labdir.Settings{Address: "127.0.0.1:9000", ConsoleAddress: "127.0.0.1:9001", KESAddress: "127.0.0.1:9004", WebAddress: "127.0.0.1:9443", Shape: labdir.Shape{Nodes: 3, Drives: 1}}
	err := checkDistinct(s, true)
	if err == nil || !strings.Contains(err.Error(), "(MinIO node 3) uses the same port as --kes-address 127.0.0.1:9004") {
		t.Errorf("node 3 on KES's port: got %v", err)
	}
	s.Shape.Nodes = 2
	if err := checkDistinct(s, true); err != nil {
		t.Errorf("two nodes clear of KES: %v", err)
	}
	s.ConsoleAddress = s.Address
	if err := checkDistinct(s, true); err == nil {
		t.Error("S3 and console on one port: got nil, want an error")
	}
}

func TestEndpointList(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	layout := labdir.Layout{Root: root}
	mk := func(shape labdir.Shape, ports ...string) []*node {
		var nodes []*node
		for i := range shape.Nodes {
			n := &node{n: i + 1, several: shape.Several(), s3Addr: "127.0.0.1:" + ports[i]}
			for d := range shape.Drives {
				n.drives = append(n.drives, layout.NodeDrive(i+1, d+1))
			}
			nodes = append(nodes, n)
		}
		return nodes
	}

	// One node: paths, as today's lab.
	one := labdir.Shape{Nodes: 1, Drives: 1}
	got, err := endpointList("https", mk(one, "9000"), one)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{layout.MinIODataDir()}; !reflect.DeepEqual(got, want) {
		t.Errorf("1 x 1: got %v, want %v", got, want)
	}
	multi := labdir.Shape{Nodes: 1, Drives: 3}
	got, _ = endpointList("https", mk(multi, "9000"), multi)
	if want := []string{layout.NodeDrive(1, 1), layout.NodeDrive(1, 2), layout.NodeDrive(1, 3)}; !reflect.DeepEqual(got, want) {
		t.Errorf("1 x 3: got %v, want %v", got, want)
	}

	// Several: URLs naming each drive's node by its port, drive-major.
	two := labdir.Shape{Nodes: 2, Drives: 2}
	got, err = endpointList("http", mk(two, "9000", "9002"), two)
	if err != nil {
		t.Fatal(err)
	}
	slash := filepath.ToSlash(root)
	if !strings.HasPrefix(slash, "/") {
		slash = "/" + slash
	}
	want := []string{
		"http://127.0.0.1:9000" + slash + "/minio/data",
		"http://127.0.0.1:9002" + slash + "/minio/node2/d1",
		"http://127.0.0.1:9000" + slash + "/minio/node1/d2",
		"http://127.0.0.1:9002" + slash + "/minio/node2/d2",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("2 x 2:\n got %v\nwant %v", got, want)
	}

	// A path with a space is escaped as a URL, which MinIO decodes.
	spaced := labdir.Layout{Root: filepath.Join(root, "Application Support")}
	n := []*node{{n: 1, several: true, s3Addr: "127.0.0.1:1", drives: []string{spaced.NodeDrive(1, 1)}}, {n: 2, several: true, s3Addr: "127.0.0.1:2", drives: []string{spaced.NodeDrive(2, 1)}}}
	got, _ = endpointList("https", n, labdir.Shape{Nodes: 2, Drives: 1})
	if !strings.Contains(got[0], "Application%20Support") {
		t.Errorf("path with a space: got %q, want it escaped", got[0])
	}
}

func TestMergeShape(t *testing.T) {
	t.Parallel()
	layout := labdir.Layout{Root: t.TempDir()}
	opts := func(nodes, drives int) Options {
		return Options{Dir: layout.Root, Shape: labdir.Shape{Nodes: nodes, Drives: drives}}
	}
	// A new directory takes any valid shape, and remembers it.
	s, _, err := mergeSettings(layout, opts(4, 2))
	if err != nil {
		t.Fatal(err)
	}
	if s.Shape != (labdir.Shape{Nodes: 4, Drives: 2}) {
		t.Errorf("got shape %v, want 4 x 2", s.Shape)
	}
	if err := labdir.WriteJSON(layout.SettingsFile(), s); err != nil {
		t.Fatal(err)
	}
	// Without flags: as before; one flag changes one count.
	if s, _, _ = mergeSettings(layout, opts(0, 0)); s.Shape != (labdir.Shape{Nodes: 4, Drives: 2}) {
		t.Errorf("remembered: got %v, want 4 x 2", s.Shape)
	}
	if s, _, _ = mergeSettings(layout, opts(0, 1)); s.Shape != (labdir.Shape{Nodes: 4, Drives: 1}) {
		t.Errorf("--drives 1 before MinIO wrote its drives: got %v, want 4 x 1", s.Shape)
	}

	// Once MinIO wrote its drives, the shape stays.
	testtools.WriteFile(t, filepath.Join(layout.MinIODataDir(), ".minio.sys", "format.json"), "{}")
	_, _, err = mergeSettings(layout, opts(2, 2))
	if err == nil || !strings.Contains(err.Error(), "holds a lab of 4 nodes x 2 drives") || !strings.Contains(err.Error(), "--nodes 4 --drives 2") {
		t.Errorf("changed shape: got %v, want a refusal naming the old shape", err)
	}
	if _, _, err := mergeSettings(layout, opts(4, 2)); err != nil {
		t.Errorf("the same shape given again: %v", err)
	}

	// Refused shapes, and --adopt-drive with several drives.
	other := labdir.Layout{Root: t.TempDir()}
	for _, o := range []Options{
		{Dir: other.Root, Shape: labdir.Shape{Nodes: 1, Drives: 17}},
		{Dir: other.Root, Shape: labdir.Shape{Nodes: 2, Drives: 2}, AdoptDrive: "/x"},
	} {
		if _, _, err := mergeSettings(other, o); !errors.As(err, new(*labdir.InvalidError)) {
			t.Errorf("mergeSettings(%+v): got %v, want a usage error", o.Shape, err)
		}
	}
	if _, err := os.Stat(other.SettingsFile()); err == nil {
		t.Error("a refused shape wrote settings")
	}
}

// TestUpRunsNodes runs a lab of 3 nodes (one set of 3, EC:1, write
// quorum 2) in this process and works its nodes through the control
// endpoint from several goroutines while status is asked: under -race it
// shows that node commands, the nodes' supervisors and the state file
// share nothing unguarded. A stopped node stays down, a second stop is
// refused for the write quorum, a start brings it back, and Stop leaves
// no node running.
func TestUpRunsNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three MinIOs")
	}
	t.Parallel()
	ctx := testtools.Context(t)
	dir := filepath.Join(t.TempDir(), "lab")
	l, err := Up(ctx, Options{
		Dir: dir, Address: "127.0.0.1:0", ConsoleAddress: "127.0.0.1:0", KESAddress: "127.0.0.1:0", NoWeb: true,
		Shape: labdir.Shape{Nodes: 3, Drives: 1},
		MinIO: miniobin.Options{Flag: testtools.MinIO(t)},
		Log:   t.Output(),
	})
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	defer l.Stop()
	h, err := lab.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.State.Nodes) != 3 {
		t.Fatalf("state file: %d nodes, want 3", len(h.State.Nodes))
	}
	pids := make([]int, 3)
	for i, n := range l.info(ctx).Nodes {
		pids[i] = n.PID
		if n.State != labdir.NodeRunning || !proc.Alive(n.PID) {
			t.Errorf("node %d: %+v, want running", i+1, n)
		}
	}

	// Status is asked while node 3 stops.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				h.Status(ctx)
			}
		}
	})
	err = h.Node(ctx, labdir.NodeRequest{Node: 3, Action: labdir.NodeStop})
	if err != nil {
		t.Fatalf("node stop 3: %v", err)
	}
	// Neither node 1 nor node 2 may go now, not even asked at once:
	// two drives of three are the write quorum.
	errs := make([]error, 2)
	for i, n := range []int{1, 2} {
		wg.Go(func() { errs[i] = h.Node(ctx, labdir.NodeRequest{Node: n, Action: labdir.NodeKill}) })
	}
	close(stop)
	wg.Wait()
	for i, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "write quorum") {
			t.Errorf("node kill %d with node 3 down: got %v, want a refusal for the write quorum", i+1, err)
		}
	}
	if !proc.Alive(pids[0]) || proc.Alive(pids[2]) {
		t.Fatalf("after the refusals: node 1 alive %v, node 3 alive %v; want node 1 running and node 3 stopped", proc.Alive(pids[0]), proc.Alive(pids[2]))
	}
	var st labdir.State
	if err := labdir.ReadJSON(l.layout.StateFile(), &st); err != nil {
		t.Fatal(err)
	}
	if st.Nodes[2].PID != 0 {
		t.Errorf("state file: node 3 pid %d after its stop, want 0", st.Nodes[2].PID)
	}
	if err := h.Node(ctx, labdir.NodeRequest{Node: 3, Action: labdir.NodeStop}); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("node stop 3 again: %v, want 'not running'", err)
	}

	// Back: a new pid, recorded.
	if err := h.Node(ctx, labdir.NodeRequest{Node: 3, Action: labdir.NodeStart}); err != nil {
		t.Fatalf("node start 3: %v", err)
	}
	i3 := l.info(ctx).Nodes[2]
	if err := labdir.ReadJSON(l.layout.StateFile(), &st); err != nil {
		t.Fatal(err)
	}
	if i3.State != labdir.NodeRunning || i3.PID == 0 || i3.PID == pids[2] || st.Nodes[2].PID != i3.PID {
		t.Errorf("node 3 after start: %+v, state file pid %d; want running with a new pid, recorded", i3, st.Nodes[2].PID)
	}
	if err := h.Node(ctx, labdir.NodeRequest{Node: 4, Action: labdir.NodeStart}); err == nil || !strings.Contains(err.Error(), "no node 4") {
		t.Errorf("node start 4: %v, want 'no node 4'", err)
	}

	all := l.info(ctx).Nodes
	if err := l.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	for _, n := range all {
		for deadline := time.Now().Add(10 * time.Second); proc.Alive(n.PID); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("node pid %d runs 10 s after Stop", n.PID)
			}
		}
	}
}
