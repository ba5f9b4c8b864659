package labdir

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The bounds of a lab's shape: sselab runs at most MaxNodes MinIO
// processes of at most MaxDrives drives each on one machine.
const (
	MaxNodes  = 32
	MaxDrives = 32
)

// Erasure set sizes MinIO supports (minio cmd/endpoint-ellipses.go,
// setSizes).
const (
	minSetSize = 2
	maxSetSize = 16
)

// Shape is how many MinIO nodes (server processes) a lab runs and how
// many drives each serves. The zero value, like 1 x 1, is the lab of one
// node with one drive.
type Shape struct {
	Nodes  int `json:"nodes"`
	Drives int `json:"drives"`
}

// Norm returns s with zero counts (not given, or an older settings file)
// as 1.
func (s Shape) Norm() Shape {
	return Shape{Nodes: max(s.Nodes, 1), Drives: max(s.Drives, 1)}
}

// Total is the number of drives of the lab.
func (s Shape) Total() int {
	s = s.Norm()
	return s.Nodes * s.Drives
}

// String describes s for people: "4 nodes x 2 drives".
func (s Shape) String() string {
	s = s.Norm()
	return plural(s.Nodes, "node") + " x " + plural(s.Drives, "drive")
}

// DrivesPhrase says how many drives each node has: "1 drive", "2 drives".
func (s Shape) DrivesPhrase() string { return plural(s.Norm().Drives, "drive") }

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// SetSize returns the number of drives in each of the lab's erasure sets,
// chosen as MinIO chooses it for the lab's endpoint list: the largest
// size from 2 to 16 that divides the number of drives and spreads a set
// evenly over the nodes (the set size a multiple or a divisor of the
// number of nodes). It is 1 for a lab of one drive and 0 when MinIO
// cannot build the shape.
func (s Shape) SetSize() int {
	s = s.Norm()
	total := s.Total()
	if total == 1 {
		return 1
	}
	for size := maxSetSize; size >= minSetSize; size-- {
		if total%size == 0 && (size%s.Nodes == 0 || s.Nodes%size == 0) {
			return size
		}
	}
	return 0
}

// Sets returns the number of erasure sets, 0 when MinIO cannot build the
// shape.
func (s Shape) Sets() int {
	size := s.SetSize()
	if size == 0 {
		return 0
	}
	return s.Total() / size
}

// Parity returns the parity MinIO uses by default (storage class
// STANDARD) in an erasure set of the lab: how many drives of each set
// may be lost while every object still reads.
func (s Shape) Parity() int {
	switch size := s.SetSize(); {
	case size <= 1:
		return 0
	case size <= 3:
		return 1
	case size <= 5:
		return 2
	case size <= 7:
		return 3
	default:
		return 4
	}
}

// ReadQuorum is how many drives of each set must be online to read an
// object: the data drives.
func (s Shape) ReadQuorum() int { return s.SetSize() - s.Parity() }

// WriteQuorum is how many drives of each set must be online to write an
// object: the data drives, one more when data and parity are as many.
func (s Shape) WriteQuorum() int {
	data := s.SetSize() - s.Parity()
	if data == s.Parity() {
		return data + 1
	}
	return data
}

// Describe says how MinIO lays out the lab's drives, for people: "4
// nodes x 2 drives, 1 erasure set of 8 drives, EC:4 (reads need 4 and
// writes 5 drives of each set)".
func (s Shape) Describe() string {
	if s.Total() == 1 {
		return s.String()
	}
	sets := "1 erasure set"
	if s.Sets() > 1 {
		sets = strconv.Itoa(s.Sets()) + " erasure sets"
	}
	return fmt.Sprintf("%s, %s of %d drives, EC:%d (reads need %d and writes %d drives of each set)",
		s, sets, s.SetSize(), s.Parity(), s.ReadQuorum(), s.WriteQuorum())
}

// Several reports whether the lab runs more than one MinIO node.
func (s Shape) Several() bool { return s.Norm().Nodes > 1 }

// DriveRef names drive Drive (1-based) of node Node (1-based).
type DriveRef struct{ Node, Drive int }

// Order returns every drive of the lab in the order of MinIO's endpoint
// list: drive 1 of each node, then drive 2 of each node, and so on.
// MinIO cuts that list into sets of SetSize drives in a row, so each set
// takes its drives from as many nodes as it can, the same number from
// each.
func (s Shape) Order() []DriveRef {
	s = s.Norm()
	refs := make([]DriveRef, 0, s.Total())
	for d := 1; d <= s.Drives; d++ {
		for n := 1; n <= s.Nodes; n++ {
			refs = append(refs, DriveRef{Node: n, Drive: d})
		}
	}
	return refs
}

// KeepsWriteQuorum reports whether every erasure set of the lab still
// has its write quorum when the nodes for which down returns true are
// down with all their drives.
func (s Shape) KeepsWriteQuorum(down func(node int) bool) bool {
	size, quorum, order := s.SetSize(), s.WriteQuorum(), s.Order()
	if size == 0 {
		return false
	}
	for i := 0; i < len(order); i += size {
		online := 0
		for _, r := range order[i : i+size] {
			if !down(r.Node) {
				online++
			}
		}
		if online < quorum {
			return false
		}
	}
	return true
}

// CheckShape reports whether a lab can have shape s: 1 to MaxNodes nodes
// of 1 to MaxDrives drives each, which MinIO can build into erasure sets
// of 2 to 16 drives spread evenly over the nodes (or one node of one
// drive). Its errors suggest shapes that work.
func CheckShape(s Shape) error {
	switch {
	case s.Nodes < 1 || s.Nodes > MaxNodes:
		return Invalid("labdir: --nodes %d: a lab runs 1 to %d MinIO nodes", s.Nodes, MaxNodes)
	case s.Drives < 1 || s.Drives > MaxDrives:
		return Invalid("labdir: --drives %d: each node serves 1 to %d drives", s.Drives, MaxDrives)
	case s.SetSize() == 0:
		return Invalid("labdir: MinIO cannot build %s into erasure sets (%d drives, which must split into sets of %d to %d drives with the same number from each node); try %s",
			s, s.Total(), minSetSize, maxSetSize, strings.Join(suggestShapes(s), " or "))
	}
	return nil
}

// suggestShapes returns up to three valid shapes near s, as flags: the
// same number of nodes with other drive counts, and the same number of
// drives with other node counts, nearest in total drives first.
func suggestShapes(s Shape) []string {
	var cands []Shape
	for d := 1; d <= MaxDrives; d++ {
		cands = append(cands, Shape{s.Nodes, d})
	}
	for n := 1; n <= MaxNodes; n++ {
		cands = append(cands, Shape{n, s.Drives})
	}
	cands = slices.DeleteFunc(cands, func(c Shape) bool { return c.SetSize() == 0 || c == s })
	dist := func(c Shape) int {
		d := c.Total() - s.Total()
		return max(d, -d)
	}
	slices.SortStableFunc(cands, func(a, b Shape) int { return dist(a) - dist(b) })
	var out []string
	for _, c := range cands {
		flags := fmt.Sprintf("--nodes %d --drives %d", c.Nodes, c.Drives)
		if len(out) < 3 && !slices.Contains(out, flags) {
			out = append(out, flags)
		}
	}
	return out
}
