package console

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/verify"
)

// proofRun is the outcome of the last verify run of a session.
type proofRun struct {
	Report   verify.Report
	Error    string
	Started  time.Time
	Duration time.Duration
}

// proofData is what the Proof page shows.
type proofData struct {
	Run     *proofRun
	Bucket  string // where verify writes
	Objects []lab.Object
	Pick    string // bucket/object of Bytes
	Bytes   *bytesProof
	Errors  []string
}

// bytesProof sets an object's first bytes as stored on MinIO's drive
// beside the same object as MinIO returns it.
type bytesProof struct {
	Object    lab.Object
	Stored    verify.Stored
	Disk      []hexRow
	Plain     []hexRow
	PlainSize int
	// Found is true when a piece of the plaintext is on the drive as is.
	Found bool
	// Window is the size of the plaintext pieces looked for.
	Window int
}

// hexRow is one line of a hex dump.
type hexRow struct {
	Offset string
	Hex    string
	Text   string
}

// proofBytes is how many bytes of an object the Proof page shows.
const proofBytes = 256

// proof shows the last verify run and, for the object in ?bucket= and
// ?object=, its bytes on the drive beside its decrypted bytes.
func (s *Server) proof(w http.ResponseWriter, r *http.Request, sess *session) {
	d := proofData{Bucket: s.proofBucket()}
	if v, ok := s.proofs.Load(sess.id); ok {
		d.Run = v.(*proofRun)
	}
	ctx := r.Context()
	buckets, err := s.lab.ListBuckets(ctx)
	if err != nil {
		d.Errors = append(d.Errors, sentence(err))
	}
	for _, b := range buckets {
		objs, _, err := s.lab.ListObjects(ctx, b.Name, 50)
		if err != nil {
			d.Errors = append(d.Errors, sentence(err))
			continue
		}
		d.Objects = append(d.Objects, objs...)
	}
	q := r.URL.Query()
	b, o := q.Get("bucket"), q.Get("object")
	if pick := q.Get("pick"); pick != "" {
		b, o, _ = strings.Cut(pick, "/") // bucket names have no '/'
	}
	if b != "" && o != "" {
		d.Pick = b + "/" + o
		bp, err := s.bytesProof(ctx, b, o)
		if err != nil {
			d.Errors = append(d.Errors, sentence(err))
		}
		d.Bytes = bp
	}
	s.view(w, sess, "proof", "proof", "Proof", d)
}

// proofBucket is the bucket verify writes to: the lab's first.
func (s *Server) proofBucket() string {
	if len(s.lab.State.Buckets) > 0 {
		return s.lab.State.Buckets[0]
	}
	return ""
}

// runProof runs verify, as 'sselab verify' does, and keeps its report for
// the Proof page.
func (s *Server) runProof(w http.ResponseWriter, r *http.Request, sess *session) {
	run := &proofRun{Started: s.now()}
	rep, err := verify.Run(r.Context(), s.lab, s.proofBucket())
	run.Report, run.Duration = rep, s.now().Sub(run.Started)
	if err != nil {
		run.Error = sentence(err)
	}
	s.proofs.Store(sess.id, run)
	http.Redirect(w, r, "/proof#checks", http.StatusSeeOther)
}

// bytesProof reads an object's first bytes from MinIO's drive and through
// MinIO, and looks for pieces of the plaintext among the stored bytes.
func (s *Server) bytesProof(ctx context.Context, bucket, key string) (*bytesProof, error) {
	o, err := s.lab.StatObject(ctx, bucket, key)
	if err != nil {
		return nil, err
	}
	bp := &bytesProof{Object: o}
	obj, err := s.lab.GetObject(ctx, bucket, key)
	if err != nil {
		return bp, err
	}
	defer obj.Close()
	plain, err := io.ReadAll(io.LimitReader(obj, proofBytes))
	if err != nil {
		return bp, fmt.Errorf("console: read %s/%s: %w", bucket, key, err)
	}
	bp.Plain, bp.PlainSize = hexDump(plain), len(plain)
	if bp.Stored, err = verify.StoredBytes(s.driveDir(), bucket, key, proofBytes); err != nil {
		return bp, err
	}
	bp.Disk = hexDump(bp.Stored.Head)
	bp.Window = min(16, len(plain))
	for i := 0; i+bp.Window <= len(plain) && bp.Window > 0; i++ {
		if bytes.Contains(bp.Stored.Head, plain[i:i+bp.Window]) {
			bp.Found = true
			break
		}
	}
	return bp, nil
}

// driveDir is node 1's first drive, where a single-drive lab keeps its
// objects.
func (s *Server) driveDir() string {
	if n := s.lab.State.Nodes; len(n) > 0 && len(n[0].Drives) > 0 {
		return n[0].Drives[0]
	}
	return s.lab.Layout.MinIODataDir()
}

// hexDump formats bytes as offset, hex and printable text, 16 per row.
func hexDump(b []byte) []hexRow {
	var rows []hexRow
	for off := 0; off < len(b); off += 16 {
		line := b[off:min(off+16, len(b))]
		var hx, txt strings.Builder
		for i, c := range line {
			if i == 8 {
				hx.WriteByte(' ')
			}
			fmt.Fprintf(&hx, "%02x ", c)
			if c >= 0x20 && c < 0x7f {
				txt.WriteByte(c)
			} else {
				txt.WriteByte('.')
			}
		}
		rows = append(rows, hexRow{Offset: fmt.Sprintf("%04x", off), Hex: strings.TrimSpace(hx.String()), Text: txt.String()})
	}
	return rows
}
