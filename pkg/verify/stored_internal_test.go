package verify

import (
	"bytes"
	"errors"
	"testing"
)

// TestMsgReader covers the MessagePack reader StoredBytes parses xl.meta
// with, on every type it may meet, whole and cut short.
func TestMsgReader(t *testing.T) {
	ints := []struct {
		in   []byte
		want int64
	}{
		{[]byte{0x05}, 5},
		{[]byte{0x7f}, 127},
		{[]byte{0xff}, -1},
		{[]byte{0xe0}, -32},
		{[]byte{0xcc, 0xff}, 255},
		{[]byte{0xcd, 0x01, 0x00}, 256},
		{[]byte{0xce, 0x00, 0x01, 0x00, 0x00}, 65536},
		{[]byte{0xcf, 0, 0, 0, 1, 0, 0, 0, 0}, 1 << 32},
		{[]byte{0xd0, 0x80}, -128},
		{[]byte{0xd1, 0xff, 0x00}, -256},
		{[]byte{0xd2, 0xff, 0xff, 0xff, 0xff}, -1},
		{[]byte{0xd3, 0x18, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x1}, 1<<60 | 1<<59 | 1},
	}
	for _, tt := range ints {
		r := &msgReader{b: tt.in}
		got, err := r.int()
		if err != nil || got != tt.want || r.off != len(tt.in) {
			t.Errorf("int(% x): got %d, %v, off %d; want %d, off %d", tt.in, got, err, r.off, tt.want, len(tt.in))
		}
		r = &msgReader{b: tt.in}
		if err := r.skip(); err != nil || r.off != len(tt.in) {
			t.Errorf("skip(% x): got %v, off %d; want off %d", tt.in, err, r.off, len(tt.in))
		}
	}
	if _, err := (&msgReader{b: []byte{0xff}}).uint(); err == nil {
		t.Errorf("uint(-1): got no error")
	}

	// Values skip() must step over whole, each followed by a marker 0x2a.
	values := [][]byte{
		{0xc0}, {0xc2}, {0xc3},
		{0xa3, 'a', 'b', 'c'},
		{0xd9, 2, 'a', 'b'},
		{0xda, 0, 1, 'a'},
		{0xdb, 0, 0, 0, 1, 'a'},
		{0xc4, 2, 1, 2},
		{0xc5, 0, 1, 9},
		{0xc6, 0, 0, 0, 1, 9},
		{0xca, 1, 2, 3, 4},
		{0xcb, 1, 2, 3, 4, 5, 6, 7, 8},
		{0xd4, 1, 9},
		{0xd8, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
		{0xc7, 2, 1, 9, 9},
		{0xc8, 0, 1, 1, 9},
		{0xc9, 0, 0, 0, 1, 1, 9},
		{0x92, 0x01, 0xa1, 'x'},
		{0xdc, 0, 2, 0x01, 0x02},
		{0xdd, 0, 0, 0, 1, 0x90},
		{0x81, 0xa1, 'k', 0x82, 0xa1, 'a', 0x01, 0xa1, 'b', 0x91, 0xc0},
		{0xde, 0, 1, 0xa1, 'k', 0x01},
		{0xdf, 0, 0, 0, 1, 0xa1, 'k', 0x80},
	}
	for _, v := range values {
		r := &msgReader{b: append(bytes.Clone(v), 0x2a)}
		if err := r.skip(); err != nil || r.off != len(v) {
			t.Errorf("skip(% x): got %v, off %d; want off %d", v, err, r.off, len(v))
		}
		// Every value cut short fails.
		for i := range len(v) {
			if err := (&msgReader{b: v[:i]}).skip(); err == nil {
				t.Errorf("skip(% x), cut to %d bytes: got no error", v, i)
			}
		}
	}
	if err := (&msgReader{b: []byte{0xc1}}).skip(); err == nil {
		t.Errorf("skip(0xc1, never used): got no error")
	}
	deep := append(bytes.Repeat([]byte{0x91}, 100), 0x01)
	if err := (&msgReader{b: deep}).skip(); err == nil {
		t.Errorf("skip(100 nested arrays): got no error")
	}

	// bin gives the offset of its data; key takes str and bin.
	r := &msgReader{b: []byte{0xa1, 'k', 0xc4, 2, 7, 8, 0xc4, 1, 'z'}}
	if k, err := r.key(); err != nil || k != "k" {
		t.Errorf("key: got %q, %v; want k", k, err)
	}
	if off, b, err := r.bin(); err != nil || off != 4 || !bytes.Equal(b, []byte{7, 8}) {
		t.Errorf("bin: got %d, % x, %v; want 4, 07 08", off, b, err)
	}
	if k, err := r.key(); err != nil || k != "z" {
		t.Errorf("bin key: got %q, %v; want z", k, err)
	}
	if _, _, err := (&msgReader{b: []byte{0xc6, 0xff, 0xff, 0xff, 0xff, 1}}).bin(); !errors.Is(err, errShort) {
		t.Errorf("bin longer than the data: got %v, want %v", err, errShort)
	}
	if _, err := (&msgReader{b: []byte{0xdf, 0xff, 0xff, 0xff, 0xff, 1}}).mapHeader(); !errors.Is(err, errShort) {
		t.Errorf("map with more entries than bytes: got %v, want %v", err, errShort)
	}
}
