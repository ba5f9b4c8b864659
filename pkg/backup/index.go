package backup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/sselab/sselab/internal/fsutil"
	"github.com/sselab/sselab/pkg/labdir"
)

// mergeIndexFile merges the backup's key index into the lab's in l: the
// union of the names. It writes the file only when names are added, and
// returns them.
func mergeIndexFile(a *Archive, l labdir.Layout) ([]string, error) {
	theirs, ok := a.Entry(rel.keyIndex)
	if !ok {
		return nil, nil
	}
	path := l.KeyIndexFile()
	ours, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		names, err := indexNames(theirs.Data)
		if err != nil {
			return nil, err
		}
		return names, writeIndex(path, theirs.Data)
	case err != nil:
		return nil, fmt.Errorf("backup: %w", err)
	}
	merged, added, err := mergeIndex(ours, theirs.Data)
	if err != nil || len(added) == 0 {
		return nil, err
	}
	return added, writeIndex(path, merged)
}

// writeIndex writes the key index atomically.
func writeIndex(path string, data []byte) error {
	if err := fsutil.WriteFile(path, data, fsutil.PrivatePerm); err != nil {
		return fmt.Errorf("backup: cannot write the key index %s: %w", path, fsutil.PathCause(err))
	}
	return nil
}

// mergeIndex returns the key index ours with the names of theirs added,
// and the names added. It keeps to the index's own shape, whatever it is:
// lists of names are joined (and sorted, as the index keeps them),
// objects are merged field by field (a name
// or field of ours wins), anything else stays as ours has it.
func mergeIndex(ours, theirs []byte) (merged []byte, added []string, err error) {
	o, err := decodeIndex(ours, "the lab's")
	if err != nil {
		return nil, nil, err
	}
	t, err := decodeIndex(theirs, "the backup's")
	if err != nil {
		return nil, nil, err
	}
	v := union(o, t, &added)
	if len(added) == 0 {
		return ours, nil, nil
	}
	merged, err = json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, nil, fmt.Errorf("backup: %w", err)
	}
	slices.Sort(added)
	return append(merged, '\n'), slices.Compact(added), nil
}

// indexNames returns every name a key index holds, as mergeIndex counts
// them.
func indexNames(data []byte) ([]string, error) {
	_, names, err := mergeIndex([]byte("null"), data)
	return names, err
}

// decodeIndex reads a key index, keeping numbers as they are written.
func decodeIndex(data []byte, whose string) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("backup: %s key index is damaged: %w", whose, err)
	}
	return v, nil
}

// union adds to ours what theirs has and ours lacks, noting the names
// added: strings added to a list, and fields added to an object below the
// top level (an object keyed by name; the top level's fields are the
// index's own).
func union(ours, theirs any, added *[]string) any {
	return unionAt(ours, theirs, added, 0)
}

func unionAt(ours, theirs any, added *[]string, depth int) any {
	switch t := theirs.(type) {
	case []any:
		o, ok := ours.([]any)
		if ours != nil && !ok {
			return ours
		}
		n := len(*added)
		for _, x := range t {
			if s, ok := x.(string); ok && !slices.Contains(o, x) {
				o = append(o, s)
				*added = append(*added, s)
			}
		}
		if len(*added) > n {
			sortNames(o)
		}
		return o
	case map[string]any:
		o, ok := ours.(map[string]any)
		if ours != nil && !ok {
			return ours
		}
		if o == nil {
			o = map[string]any{}
		}
		for k, tv := range t {
			ov, exists := o[k]
			switch {
			case exists || depth == 0:
				o[k] = unionAt(ov, tv, added, depth+1)
			default: // a name, with whatever the index keeps about it
				o[k] = tv
				*added = append(*added, k)
			}
		}
		return o
	}
	if ours == nil {
		return theirs
	}
	return ours
}

// sortNames sorts a list that holds only strings, as the key index keeps
// its names; any other list keeps its order.
func sortNames(list []any) {
	for _, x := range list {
		if _, ok := x.(string); !ok {
			return
		}
	}
	slices.SortFunc(list, func(a, b any) int { return strings.Compare(a.(string), b.(string)) })
}
