package runner

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sselab/sselab/internal/testtools"
	"github.com/sselab/sselab/pkg/labdir"
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
