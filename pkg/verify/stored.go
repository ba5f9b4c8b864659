package verify

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Stored is the start of an object's data as MinIO keeps it on its drive.
//
// MinIO writes every block of an object's data behind a bitrot hash
// (HighwayHash, 32 bytes, one per block of up to 1 MiB on a single
// drive), inline data included, so Head starts with such a hash, not
// with the object's first byte.
type Stored struct {
	// File is the file holding the data, relative to the data dir and
	// slash-separated, e.g. "bucket/obj/xl.meta" (inline) or
	// "bucket/obj/<data-dir-uuid>/part.1".
	File string
	// Offset is where the object's data starts in File: inside xl.meta
	// for inline data, 0 for a part file.
	Offset int64
	// Inline is true when the data is inline in xl.meta (small objects).
	Inline bool
	// Size is the number of bytes stored for the object, as on disk:
	// ciphertext (or plaintext) plus the bitrot hashes. For an object
	// uploaded in several parts it is the sum over all part files.
	Size int64
	// Head is the first n bytes of that data, exactly as on disk; fewer
	// when less is stored. For an object in several parts it comes from
	// part.1 alone.
	Head []byte
}

// StoredBytes finds object in bucket on the single MinIO drive dataDir
// (the lab's labdir.Layout.MinIODataDir()) and returns where its data is
// and its first n bytes as stored. It reads the latest version of the
// object: the newest version in xl.meta that is not a free (tiering)
// version. It reads MinIO's xl.meta format 1.3 and later 1.x; a drive
// that is part of an erasure set with parity keeps only a shard of the
// data, so Head is then that drive's shard.
//
// StoredBytes reads the drive directly and needs no running MinIO, but
// data written while it reads may be seen half-way.
func StoredBytes(dataDir, bucket, object string, n int) (Stored, error) {
	if n < 0 {
		return Stored{}, fmt.Errorf("verify: asked for %d bytes of stored data; ask for 0 or more", n)
	}
	rel, err := objectPath(bucket, object)
	if err != nil {
		return Stored{}, err
	}
	metaRel := rel + "/xl.meta"
	buf, err := os.ReadFile(filepath.Join(dataDir, filepath.FromSlash(metaRel)))
	if errors.Is(err, fs.ErrNotExist) {
		return Stored{}, fmt.Errorf("verify: object %s in bucket %s is not on the drive %s (no %s there); check the bucket and object names and that %s is the lab's MinIO data directory: %w",
			object, bucket, dataDir, metaRel, dataDir, err)
	}
	if err != nil {
		return Stored{}, fmt.Errorf("verify: read %s: %w", metaRel, err)
	}
	v, err := parseXLMeta(buf)
	if err != nil {
		return Stored{}, fmt.Errorf("verify: %s: %w", metaRel, err)
	}
	switch v.typ {
	case xlObjectType:
	case xlDeleteType:
		return Stored{}, fmt.Errorf("verify: object %s in bucket %s is deleted (its latest version %s is a delete marker); ask for a version that holds data", object, bucket, v.key)
	default:
		return Stored{}, fmt.Errorf("verify: %s: the latest version has type %d, not an object MinIO wrote in format 2; rewrite the object with this MinIO", metaRel, v.typ)
	}
	if v.hasData {
		return Stored{
			File:   metaRel,
			Offset: int64(v.dataOff),
			Inline: true,
			Size:   int64(len(v.data)),
			Head:   append([]byte(nil), v.data[:min(n, len(v.data))]...),
		}, nil
	}
	return partData(dataDir, rel, v.dataDir, object, bucket, n)
}

// dirObjectSuffix is what MinIO appends on its drive to the name of an
// object whose name ends in a slash ("folder/").
const dirObjectSuffix = "__XLDIR__"

// objectPath returns the slash-separated directory of an object on the
// drive, relative to the data dir.
func objectPath(bucket, object string) (string, error) {
	if bucket == "" || strings.ContainsAny(bucket, `/\`) || bucket == "." || bucket == ".." {
		return "", fmt.Errorf("verify: %q is not a bucket name; pass the name of a bucket of the lab", bucket)
	}
	name := object
	if strings.HasSuffix(name, "/") {
		name = strings.TrimSuffix(name, "/") + dirObjectSuffix
	}
	for _, e := range strings.Split(name, "/") {
		if e == "" || e == "." || e == ".." || strings.Contains(e, `\`) {
			return "", fmt.Errorf("verify: %q is not an object name MinIO keeps on its drive; pass the object's full name, as in the bucket's listing", object)
		}
	}
	return bucket + "/" + name, nil
}

// partData is Stored for data kept in part files under the object's
// data directory dataDirID (a UUID); with none given, the one directory
// that holds a part.1 is taken.
func partData(dataDir, rel, dataDirID, object, bucket string, n int) (Stored, error) {
	if dataDirID == "" {
		entries, err := os.ReadDir(filepath.Join(dataDir, filepath.FromSlash(rel)))
		if err != nil {
			return Stored{}, fmt.Errorf("verify: list %s: %w", rel, err)
		}
		var found []string
		for _, e := range entries {
			if e.IsDir() {
				if _, err := os.Stat(filepath.Join(dataDir, filepath.FromSlash(rel), e.Name(), "part.1")); err == nil {
					found = append(found, e.Name())
				}
			}
		}
		if len(found) != 1 {
			return Stored{}, fmt.Errorf("verify: object %s in bucket %s has no inline data and %d data directories with a part.1 under %s, want 1; check the object with 'mc stat'", object, bucket, len(found), rel)
		}
		dataDirID = found[0]
	}
	partsRel := rel + "/" + dataDirID
	partsDir := filepath.Join(dataDir, filepath.FromSlash(partsRel))
	entries, err := os.ReadDir(partsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return Stored{}, fmt.Errorf("verify: object %s in bucket %s has no inline data and its data directory %s is missing; MinIO may still be writing or healing it, try again: %w", object, bucket, partsRel, err)
	}
	if err != nil {
		return Stored{}, fmt.Errorf("verify: list %s: %w", partsRel, err)
	}
	s := Stored{File: partsRel + "/part.1"}
	hasFirst := false
	for _, e := range entries {
		num, ok := strings.CutPrefix(e.Name(), "part.")
		if !ok || !e.Type().IsRegular() {
			continue
		}
		if _, err := strconv.ParseUint(num, 10, 31); err != nil {
			continue // part.1.meta and the like
		}
		info, err := e.Info()
		if err != nil {
			return Stored{}, fmt.Errorf("verify: %s/%s: %w", partsRel, e.Name(), err)
		}
		s.Size += info.Size()
		hasFirst = hasFirst || num == "1"
	}
	if !hasFirst {
		return Stored{}, fmt.Errorf("verify: object %s in bucket %s has no inline data and no %s; MinIO may still be writing or healing it, try again", object, bucket, s.File)
	}
	f, err := os.Open(filepath.Join(partsDir, "part.1"))
	if err != nil {
		return Stored{}, fmt.Errorf("verify: %w", err)
	}
	defer f.Close()
	s.Head = make([]byte, n)
	k, err := io.ReadFull(f, s.Head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return Stored{}, fmt.Errorf("verify: read %s: %w", s.File, err)
	}
	s.Head = s.Head[:k]
	return s, nil
}

// The parts of MinIO's xl.meta (format "XL2 " 1.3, read from MinIO's
// cmd/xl-storage-format-v2.go) that StoredBytes needs:
//
//	"XL2 " | major uint16 LE | minor uint16 LE
//	bin:  metadata = uint header version | uint meta version | int count |
//	      count x (bin version header | bin version metadata), newest first
//	uint32: CRC of the metadata
//	inline data: version byte 1 | map of version id (str) -> data (bin)
//
// A version header is an array [id bin16, mod time int, signature bin4,
// type uint, flags uint, EC N, EC M]; a version's metadata is a map whose
// "V2Obj" entry, a map, holds the data directory UUID as "DDir" (bin16).
// The key of a version's inline data is its id as a UUID string, or
// "null" when the id is all zero (an unversioned object).
const (
	xlObjectType = 1
	xlDeleteType = 2

	xlFlagFreeVersion = 1 << 0
)

// xlVersion is what parseXLMeta finds about an object's latest version.
type xlVersion struct {
	key     string // inline data key: the version id, or "null"
	typ     uint64 // xlObjectType, xlDeleteType, ...
	dataDir string // UUID of the data directory, "" if none
	hasData bool   // data is inline, in data at dataOff of the file
	data    []byte
	dataOff int
}

// parseXLMeta reads an xl.meta file and returns its latest version.
func parseXLMeta(buf []byte) (xlVersion, error) {
	var v xlVersion
	if len(buf) < 8 || string(buf[:4]) != "XL2 " {
		return v, errors.New("not a MinIO xl.meta file (no XL2 header)")
	}
	major, minor := binary.LittleEndian.Uint16(buf[4:6]), binary.LittleEndian.Uint16(buf[6:8])
	if string(buf[4:8]) == "1   " || major != 1 || minor < 3 {
		return v, fmt.Errorf("xl.meta format %q is not 1.3 or a later 1.x, the only ones read here; rewrite the object with a newer MinIO", buf[4:8])
	}
	r := &msgReader{b: buf, off: 8}
	_, meta, err := r.bin()
	if err != nil {
		return v, fmt.Errorf("metadata: %w", err)
	}
	if _, err := r.uint(); err != nil {
		return v, fmt.Errorf("metadata checksum: %w", err)
	}
	inline, inlineOff := buf[r.off:], r.off

	m := &msgReader{b: meta}
	if _, err := m.uint(); err != nil { // header version
		return v, fmt.Errorf("metadata: %w", err)
	}
	if _, err := m.uint(); err != nil { // meta version
		return v, fmt.Errorf("metadata: %w", err)
	}
	count, err := m.int()
	if err != nil {
		return v, fmt.Errorf("metadata: %w", err)
	}
	if count < 0 {
		return v, fmt.Errorf("metadata: %d versions", count)
	}
	var (
		best     []byte // metadata of the latest version
		bestTime int64
		found    bool
		id       []byte
	)
	for i := int64(0); i < count; i++ {
		_, hdr, err := m.bin()
		if err != nil {
			return v, fmt.Errorf("version %d: %w", i, err)
		}
		_, vmeta, err := m.bin()
		if err != nil {
			return v, fmt.Errorf("version %d: %w", i, err)
		}
		h, err := parseVersionHeader(hdr)
		if err != nil {
			return v, fmt.Errorf("version %d: %w", i, err)
		}
		if h.flags&xlFlagFreeVersion != 0 {
			continue
		}
		// MinIO keeps versions newest first; take the newest mod time
		// anyway, the first of equals.
		if !found || h.modTime > bestTime {
			found, bestTime, best, id, v.typ = true, h.modTime, vmeta, h.id, h.typ
		}
	}
	if !found {
		return v, errors.New("no version of the object is stored")
	}
	v.key = uuidString(id)
	if v.typ == xlObjectType {
		dd, err := dataDirOf(best)
		if err != nil {
			return v, fmt.Errorf("version %s: %w", v.key, err)
		}
		v.dataDir = dd
	}
	off, data, ok, err := findInline(inline, v.key)
	if err != nil {
		return v, fmt.Errorf("inline data: %w", err)
	}
	if ok {
		v.hasData, v.data, v.dataOff = true, data, inlineOff+off
	}
	return v, nil
}

// versionHeader is a version header's fields StoredBytes uses.
type versionHeader struct {
	id      []byte
	modTime int64
	typ     uint64
	flags   uint64
}

func parseVersionHeader(b []byte) (versionHeader, error) {
	var h versionHeader
	r := &msgReader{b: b}
	n, err := r.arrayHeader()
	if err != nil {
		return h, fmt.Errorf("header: %w", err)
	}
	if n < 5 {
		return h, fmt.Errorf("header has %d fields, want at least 5", n)
	}
	if _, h.id, err = r.bin(); err != nil {
		return h, fmt.Errorf("header id: %w", err)
	}
	if len(h.id) != 16 {
		return h, fmt.Errorf("header id is %d bytes, want 16", len(h.id))
	}
	if h.modTime, err = r.int(); err != nil {
		return h, fmt.Errorf("header mod time: %w", err)
	}
	if err := r.skip(); err != nil { // signature
		return h, fmt.Errorf("header signature: %w", err)
	}
	if h.typ, err = r.uint(); err != nil {
		return h, fmt.Errorf("header type: %w", err)
	}
	if h.flags, err = r.uint(); err != nil {
		return h, fmt.Errorf("header flags: %w", err)
	}
	return h, nil
}

// dataDirOf returns the data directory UUID in a version's metadata, ""
// if it has none.
func dataDirOf(meta []byte) (string, error) {
	r := &msgReader{b: meta}
	n, err := r.mapHeader()
	if err != nil {
		return "", err
	}
	for range n {
		k, err := r.key()
		if err != nil {
			return "", err
		}
		if k != "V2Obj" {
			if err := r.skip(); err != nil {
				return "", err
			}
			continue
		}
		if r.isNil() {
			return "", nil
		}
		fields, err := r.mapHeader()
		if err != nil {
			return "", fmt.Errorf("V2Obj: %w", err)
		}
		for range fields {
			k, err := r.key()
			if err != nil {
				return "", fmt.Errorf("V2Obj: %w", err)
			}
			if k != "DDir" {
				if err := r.skip(); err != nil {
					return "", fmt.Errorf("V2Obj.%s: %w", k, err)
				}
				continue
			}
			_, dd, err := r.bin()
			if err != nil {
				return "", fmt.Errorf("V2Obj.DDir: %w", err)
			}
			if len(dd) != 16 {
				return "", fmt.Errorf("V2Obj.DDir is %d bytes, want 16", len(dd))
			}
			if allZero(dd) {
				return "", nil
			}
			return uuidString(dd), nil
		}
		return "", nil
	}
	return "", nil
}

// findInline finds the data of version key in xl.meta's inline data
// section b and returns its offset in b.
func findInline(b []byte, key string) (off int, data []byte, ok bool, err error) {
	if len(b) == 0 {
		return 0, nil, false, nil
	}
	if b[0] != 1 {
		return 0, nil, false, fmt.Errorf("unknown version %d", b[0])
	}
	r := &msgReader{b: b, off: 1}
	n, err := r.mapHeader()
	if err != nil {
		return 0, nil, false, err
	}
	for range n {
		k, err := r.key()
		if err != nil {
			return 0, nil, false, err
		}
		off, data, err := r.bin()
		if err != nil {
			return 0, nil, false, fmt.Errorf("%s: %w", k, err)
		}
		if k == key {
			return off, data, true, nil
		}
	}
	return 0, nil, false, nil
}

// uuidString formats 16 bytes as a UUID; all zero is "null", MinIO's
// name for the version of an unversioned object.
func uuidString(b []byte) string {
	if allZero(b) {
		return "null"
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// msgReader reads the few MessagePack types xl.meta uses from b,
// starting at off. Every method leaves off after what it read.
type msgReader struct {
	b   []byte
	off int
}

var errShort = errors.New("truncated MessagePack data")

// take returns the next k bytes.
func (r *msgReader) take(k uint64) ([]byte, error) {
	if k > uint64(len(r.b)-r.off) {
		return nil, errShort
	}
	s := r.b[r.off : r.off+int(k)]
	r.off += int(k)
	return s, nil
}

// bigEndian reads a k-byte unsigned big-endian number.
func (r *msgReader) bigEndian(k int) (uint64, error) {
	s, err := r.take(uint64(k))
	if err != nil {
		return 0, err
	}
	var u uint64
	for _, c := range s {
		u = u<<8 | uint64(c)
	}
	return u, nil
}

func (r *msgReader) next() (byte, error) {
	s, err := r.take(1)
	if err != nil {
		return 0, err
	}
	return s[0], nil
}

func (r *msgReader) isNil() bool {
	if r.off < len(r.b) && r.b[r.off] == 0xc0 {
		r.off++
		return true
	}
	return false
}

// int reads any integer that fits an int64.
func (r *msgReader) int() (int64, error) {
	start := r.off
	c, err := r.next()
	if err != nil {
		return 0, err
	}
	switch {
	case c <= 0x7f:
		return int64(c), nil
	case c >= 0xe0:
		return int64(int8(c)), nil
	case c >= 0xd0 && c <= 0xd3:
		k := 1 << (c - 0xd0)
		u, err := r.bigEndian(k)
		if err != nil {
			return 0, err
		}
		shift := 64 - 8*k
		return int64(u<<shift) >> shift, nil // sign-extend
	case c >= 0xcc && c <= 0xcf:
		u, err := r.bigEndian(1 << (c - 0xcc))
		if err != nil {
			return 0, err
		}
		if u > 1<<63-1 {
			return 0, fmt.Errorf("integer %d too large", u)
		}
		return int64(u), nil
	}
	return 0, fmt.Errorf("type 0x%02x at offset %d, want an integer", c, start)
}

// uint reads any non-negative integer.
func (r *msgReader) uint() (uint64, error) {
	start := r.off
	c, err := r.next()
	if err != nil {
		return 0, err
	}
	if c >= 0xcc && c <= 0xcf {
		return r.bigEndian(1 << (c - 0xcc))
	}
	r.off = start
	i, err := r.int()
	if err != nil {
		return 0, err
	}
	if i < 0 {
		return 0, fmt.Errorf("negative integer %d at offset %d, want one 0 or more", i, start)
	}
	return uint64(i), nil
}

// bin reads a binary value and returns its offset in r.b.
func (r *msgReader) bin() (off int, b []byte, err error) {
	start := r.off
	c, err := r.next()
	if err != nil {
		return 0, nil, err
	}
	if c < 0xc4 || c > 0xc6 {
		return 0, nil, fmt.Errorf("type 0x%02x at offset %d, want binary data", c, start)
	}
	n, err := r.bigEndian(1 << (c - 0xc4))
	if err != nil {
		return 0, nil, err
	}
	off = r.off
	b, err = r.take(n)
	return off, b, err
}

// key reads a map key: a string, or binary data as MinIO also accepts.
func (r *msgReader) key() (string, error) {
	start := r.off
	c, err := r.next()
	if err != nil {
		return "", err
	}
	var n uint64
	switch {
	case c >= 0xa0 && c <= 0xbf:
		n = uint64(c & 0x1f)
	case c >= 0xd9 && c <= 0xdb:
		n, err = r.bigEndian(1 << (c - 0xd9))
	case c >= 0xc4 && c <= 0xc6:
		n, err = r.bigEndian(1 << (c - 0xc4))
	default:
		return "", fmt.Errorf("type 0x%02x at offset %d, want a string", c, start)
	}
	if err != nil {
		return "", err
	}
	s, err := r.take(n)
	return string(s), err
}

func (r *msgReader) mapHeader() (int, error) {
	return r.header(0x80, 0xde, "a map")
}

func (r *msgReader) arrayHeader() (int, error) {
	return r.header(0x90, 0xdc, "an array")
}

// header reads the size of a map or an array: fix is its fix type, long
// its 16-bit type (the 32-bit type follows it).
func (r *msgReader) header(fix, long byte, what string) (int, error) {
	start := r.off
	c, err := r.next()
	if err != nil {
		return 0, err
	}
	var n uint64
	switch c {
	case long:
		n, err = r.bigEndian(2)
	case long + 1:
		n, err = r.bigEndian(4)
	default:
		if c&0xf0 != fix {
			return 0, fmt.Errorf("type 0x%02x at offset %d, want %s", c, start, what)
		}
		n = uint64(c & 0x0f)
	}
	if err != nil {
		return 0, err
	}
	// Every element takes a byte at least: a larger count is corrupt.
	if n > uint64(len(r.b)-r.off) {
		return 0, errShort
	}
	return int(n), nil
}

// skip reads one value of any type.
func (r *msgReader) skip() error { return r.skipDepth(0) }

func (r *msgReader) skipDepth(depth int) error {
	if depth > 32 {
		return errors.New("MessagePack data nested too deep")
	}
	start := r.off
	c, err := r.next()
	if err != nil {
		return err
	}
	var elems uint64 // values inside a map or array
	switch {
	case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		return nil
	case c >= 0x80 && c <= 0x8f:
		elems = 2 * uint64(c&0x0f)
	case c >= 0x90 && c <= 0x9f:
		elems = uint64(c & 0x0f)
	case c >= 0xa0 && c <= 0xbf:
		_, err = r.take(uint64(c & 0x1f))
		return err
	case c >= 0xc4 && c <= 0xc6: // bin 8, 16, 32
		return r.skipSized(1<<(c-0xc4), 0)
	case c >= 0xc7 && c <= 0xc9: // ext 8, 16, 32: size, then a type byte
		return r.skipSized(1<<(c-0xc7), 1)
	case c == 0xca:
		_, err = r.take(4)
		return err
	case c == 0xcb:
		_, err = r.take(8)
		return err
	case c >= 0xcc && c <= 0xcf: // uint 8..64
		_, err = r.take(1 << (c - 0xcc))
		return err
	case c >= 0xd0 && c <= 0xd3: // int 8..64
		_, err = r.take(1 << (c - 0xd0))
		return err
	case c >= 0xd4 && c <= 0xd8: // fixext 1..16, plus a type byte
		_, err = r.take(1 + 1<<(c-0xd4))
		return err
	case c >= 0xd9 && c <= 0xdb: // str 8, 16, 32
		return r.skipSized(1<<(c-0xd9), 0)
	case c == 0xdc || c == 0xdd:
		elems, err = r.bigEndian(2 << (c - 0xdc))
	case c == 0xde || c == 0xdf:
		elems, err = r.bigEndian(2 << (c - 0xde))
		elems *= 2
	default:
		return fmt.Errorf("type 0x%02x at offset %d is not MessagePack", c, start)
	}
	if err != nil {
		return err
	}
	for ; elems > 0; elems-- {
		if err := r.skipDepth(depth + 1); err != nil {
			return err
		}
	}
	return nil
}

// skipSized skips a value whose size is a k-byte number, followed by
// extra bytes, then the data.
func (r *msgReader) skipSized(k int, extra uint64) error {
	n, err := r.bigEndian(k)
	if err != nil {
		return err
	}
	_, err = r.take(n + extra)
	return err
}
