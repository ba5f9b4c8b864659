package labdir

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestShapeSets(t *testing.T) {
	t.Parallel()
	// Set sizes as MinIO picks them for an endpoint list in Order (its
	// largest symmetric size from 2 to 16), parity as its defaults
	// (storageclass.DefaultParityBlocks), quorums as it computes them.
	for _, tt := range []struct {
		shape                              Shape
		setSize, sets, parity, read, write int
	}{
		{Shape{}, 1, 1, 0, 1, 1},
		{Shape{1, 1}, 1, 1, 0, 1, 1},
		{Shape{1, 2}, 2, 1, 1, 1, 2},
		{Shape{3, 1}, 3, 1, 1, 2, 2},
		{Shape{4, 1}, 4, 1, 2, 2, 3},
		{Shape{2, 2}, 4, 1, 2, 2, 3},
		{Shape{4, 2}, 8, 1, 4, 4, 5},
		{Shape{1, 32}, 16, 2, 4, 12, 12},
		{Shape{5, 4}, 10, 2, 4, 6, 6},
		{Shape{6, 3}, 6, 3, 3, 3, 4},
		{Shape{16, 16}, 16, 16, 4, 12, 12},
		{Shape{18, 1}, 9, 2, 4, 5, 5},
		{Shape{2, 17}, 2, 17, 1, 1, 2},
		{Shape{1, 17}, 0, 0, 0, 0, 0},
		{Shape{17, 1}, 0, 0, 0, 0, 0},
		{Shape{17, 2}, 0, 0, 0, 0, 0},
	} {
		s := tt.shape
		if got := s.SetSize(); got != tt.setSize {
			t.Errorf("%v: SetSize() = %d, want %d", s, got, tt.setSize)
		}
		if got := s.Sets(); got != tt.sets {
			t.Errorf("%v: Sets() = %d, want %d", s, got, tt.sets)
		}
		if tt.setSize == 0 {
			continue
		}
		if got := s.Parity(); got != tt.parity {
			t.Errorf("%v: Parity() = %d, want %d", s, got, tt.parity)
		}
		if got := s.ReadQuorum(); got != tt.read {
			t.Errorf("%v: ReadQuorum() = %d, want %d", s, got, tt.read)
		}
		if got := s.WriteQuorum(); got != tt.write {
			t.Errorf("%v: WriteQuorum() = %d, want %d", s, got, tt.write)
		}
	}
}

func TestShapeOrderSpreadsSets(t *testing.T) {
	t.Parallel()
	// Every set, cut from Order in a row, takes the same number of drives
	// from each node it uses, and no node holds more of a set than the
	// parity can lose where the nodes allow it.
	for _, s := range []Shape{{4, 1}, {2, 2}, {4, 2}, {3, 3}, {5, 4}, {6, 3}, {16, 16}, {18, 1}, {2, 17}} {
		order := s.Order()
		if len(order) != s.Total() {
			t.Fatalf("%v: Order() has %d drives, want %d", s, len(order), s.Total())
		}
		seen := map[DriveRef]bool{}
		for _, r := range order {
			if r.Node < 1 || r.Node > s.Nodes || r.Drive < 1 || r.Drive > s.Drives || seen[r] {
				t.Fatalf("%v: Order() has %v twice or out of range", s, r)
			}
			seen[r] = true
		}
		size := s.SetSize()
		for i := 0; i < len(order); i += size {
			per := map[int]int{}
			for _, r := range order[i : i+size] {
				per[r.Node]++
			}
			want := max(size/s.Nodes, 1)
			for n, c := range per {
				if c != want {
					t.Errorf("%v: set %d has %d drives of node %d, want %d of each node (%v)", s, i/size+1, c, n, want, order[i:i+size])
				}
			}
		}
	}
	want := []DriveRef{{1, 1}, {2, 1}, {1, 2}, {2, 2}}
	if got := (Shape{2, 2}).Order(); !reflect.DeepEqual(got, want) {
		t.Errorf("Shape{2, 2}.Order() = %v, want %v", got, want)
	}
}

func TestCheckShape(t *testing.T) {
	t.Parallel()
	for _, s := range []Shape{{1, 1}, {1, 3}, {3, 1}, {4, 1}, {2, 2}, {4, 2}, {1, 16}, {16, 1}, {32, 32}, {2, 17}} {
		if err := CheckShape(s); err != nil {
			t.Errorf("CheckShape(%v) = %v, want nil", s, err)
		}
	}
	for _, tt := range []struct {
		shape Shape
		want  []string
	}{
		{Shape{1, 0}, []string{"--drives 0", "1 to 32 drives"}},
		{Shape{0, 1}, []string{"--nodes 0", "1 to 32 MinIO nodes"}},
		{Shape{-1, 1}, []string{"--nodes -1"}},
		{Shape{33, 1}, []string{"--nodes 33"}},
		{Shape{1, 33}, []string{"--drives 33"}},
		{Shape{1, 17}, []string{"1 node x 17 drives", "2 to 16", "try --nodes 1 --drives 16 or --nodes 1 --drives 18 or"}},
		{Shape{17, 1}, []string{"17 nodes x 1 drive", "try --nodes 16 --drives 1 or --nodes 18 --drives 1"}},
		{Shape{17, 3}, []string{"17 nodes x 3 drives", "try --nodes 16 --drives 3"}},
	} {
		err := CheckShape(tt.shape)
		if err == nil {
			t.Errorf("CheckShape(%v) = nil, want an error", tt.shape)
			continue
		}
		if !errors.As(err, new(*InvalidError)) {
			t.Errorf("CheckShape(%v) = %v, want an *InvalidError (a usage error)", tt.shape, err)
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("CheckShape(%v) = %q, want it to contain %q", tt.shape, err, w)
			}
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("CheckShape(%v) = %q, want one line", tt.shape, err)
		}
	}
}

func TestSuggestedShapesAreValid(t *testing.T) {
	t.Parallel()
	for _, s := range []Shape{{1, 17}, {17, 1}, {19, 2}, {31, 31}, {23, 5}} {
		got := suggestShapes(s)
		if len(got) == 0 {
			t.Errorf("suggestShapes(%v) suggests nothing", s)
		}
		for _, flags := range got {
			var n, d int
			if _, err := fmtSscan(flags, &n, &d); err != nil {
				t.Fatalf("suggestion %q: %v", flags, err)
			}
			if err := CheckShape(Shape{n, d}); err != nil {
				t.Errorf("suggestShapes(%v) suggests %q, which CheckShape refuses: %v", s, flags, err)
			}
		}
	}
}

func TestShapeJSON(t *testing.T) {
	t.Parallel()
	// settings.json and state.json hold the shape: the names are a format.
	var st Settings
	if err := jsonUnmarshal(`{"shape":{"nodes":4,"drives":2}}`, &st); err != nil {
		t.Fatal(err)
	}
	if st.Shape != (Shape{4, 2}) {
		t.Errorf("shape from settings.json: got %v, want 4 x 2", st.Shape)
	}
	// A settings file from before shapes is a lab of one node and drive.
	if got := (Settings{}).Shape.Norm(); got != (Shape{1, 1}) {
		t.Errorf("zero shape: got %v, want 1 x 1", got)
	}
}

func fmtSscan(flags string, n, d *int) (int, error) {
	return fmt.Sscanf(flags, "--nodes %d --drives %d", n, d)
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func TestKeepsWriteQuorum(t *testing.T) {
	t.Parallel()
	downs := func(nodes ...int) func(int) bool {
		return func(n int) bool { return slices.Contains(nodes, n) }
	}
	for _, tt := range []struct {
		shape Shape
		down  []int
		want  bool
	}{
		{Shape{4, 1}, nil, true},
		{Shape{4, 1}, []int{3}, true},     // 3 of 4, quorum 3
		{Shape{4, 1}, []int{2, 3}, false}, // 2 of 4
		{Shape{2, 2}, []int{2}, false},    // 2 of 4, quorum 3
		{Shape{3, 1}, []int{1}, true},     // 2 of 3, quorum 2
		{Shape{4, 2}, []int{1}, true},     // 6 of 8, quorum 5
		{Shape{4, 2}, []int{1, 4}, false}, // 4 of 8
		{Shape{8, 1}, []int{1, 2, 3}, true},
		{Shape{1, 4}, []int{1}, false},
		{Shape{1, 1}, nil, true},
		{Shape{1, 1}, []int{1}, false},
	} {
		if got := tt.shape.KeepsWriteQuorum(downs(tt.down...)); got != tt.want {
			t.Errorf("%v with nodes %v down: KeepsWriteQuorum = %v, want %v", tt.shape, tt.down, got, tt.want)
		}
	}
}
