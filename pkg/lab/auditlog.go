package lab

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/sselab/sselab/pkg/labdir"
	"github.com/sselab/sselab/pkg/pki"
)

// AuditRecord is one line of KES's audit log (DIR/kes/audit.log): a key
// created, imported, deleted or used (generate, decrypt, encrypt, hmac),
// or a request KES refused.
type AuditRecord struct {
	Time time.Time `json:"time"`
	// Identity is the client's KES identity (hex SHA-256 of its public key).
	Identity string `json:"identity"`
	// Who names the identity: "minio", "operator", or the first 12 hex
	// digits of an identity the lab does not know.
	Who string `json:"who"`
	// Operation is what was asked: create, import, delete, generate,
	// decrypt, encrypt, hmac, describe, list, ..., or the path of a
	// request that names no key.
	Operation string `json:"operation"`
	// Key is the key named in the request, or "".
	Key string `json:"key,omitempty"`
	// Code is KES's HTTP status code; 403 is a refusal.
	Code int `json:"code"`
	// Latency is how long KES took; zero for refusals, which KES does not time.
	Latency time.Duration `json:"latency_ns"`
	Message string        `json:"message"`
	Method  string        `json:"method"`
	Path    string        `json:"path"`
	IP      string        `json:"ip"`
}

// Refused reports whether KES refused the request.
func (r AuditRecord) Refused() bool { return r.Code == http.StatusForbidden }

// Result is "ok", "refused" or "error CODE".
func (r AuditRecord) Result() string {
	switch {
	case r.Code == http.StatusOK:
		return "ok"
	case r.Refused():
		return "refused"
	}
	return fmt.Sprintf("error %d", r.Code)
}

// auditLine is the JSON of one audit log line, as KES and sselab's
// kesserver write it.
type auditLine struct {
	Time time.Time `json:"time"`
	Msg  string    `json:"msg"`
	Req  *struct {
		Method   string `json:"method"`
		Path     string `json:"path"`
		IP       string `json:"ip"`
		Identity string `json:"identity"`
	} `json:"req"`
	Res struct {
		Code int   `json:"code"`
		Time int64 `json:"time"`
	} `json:"res"`
}

// Identities names the lab's KES identities: MinIO's client certificate
// is "minio", sselab's own is "operator".
func Identities(p *pki.PKI) map[string]string {
	return map[string]string{
		p.MinIOClient.Identity(): "minio",
		p.Operator.Identity():    "operator",
	}
}

// ParseAuditLine parses one line of the audit log; names maps identities
// to their names (see Identities).
func ParseAuditLine(line []byte, names map[string]string) (AuditRecord, error) {
	var l auditLine
	if err := json.Unmarshal(line, &l); err != nil {
		return AuditRecord{}, fmt.Errorf("lab: not a KES audit record: %w", err)
	}
	if l.Req == nil || l.Time.IsZero() {
		return AuditRecord{}, errors.New("lab: not a KES audit record: no time or request")
	}
	r := AuditRecord{
		Time: l.Time, Identity: l.Req.Identity, Code: l.Res.Code, Latency: time.Duration(l.Res.Time),
		Message: l.Msg, Method: l.Req.Method, Path: l.Req.Path, IP: l.Req.IP,
	}
	r.Who = names[r.Identity]
	if r.Who == "" {
		r.Who = shortIdentity(r.Identity)
	}
	r.Operation = r.Path
	if rest, ok := strings.CutPrefix(r.Path, "/v1/key/"); ok {
		r.Operation, r.Key, _ = strings.Cut(rest, "/")
	}
	return r, nil
}

// shortIdentity is the first 12 hex digits of an identity, or "-" for none.
func shortIdentity(id string) string {
	if id == "" {
		return "-"
	}
	return id[:min(12, len(id))]
}

// AuditFilter selects audit records; zero fields select everything.
type AuditFilter struct {
	// Key selects the records that name this key.
	Key string
	// Identity selects an identity by name ("minio", "operator") or by a
	// prefix of its hex form.
	Identity string
	// Refused selects the refused requests only.
	Refused bool
	// Since drops records before it.
	Since time.Time
}

// Match reports whether r is selected.
func (f AuditFilter) Match(r AuditRecord) bool {
	switch {
	case f.Key != "" && r.Key != f.Key,
		f.Refused && !r.Refused(),
		!f.Since.IsZero() && r.Time.Before(f.Since):
		return false
	case f.Identity != "":
		return r.Who == f.Identity || strings.HasPrefix(r.Identity, strings.ToLower(f.Identity))
	}
	return true
}

// AuditReport says what ReadAudit skipped.
type AuditReport struct {
	// Bad counts complete lines that are not audit records.
	Bad int
	// Partial is set when the last line had no newline and did not parse:
	// KES may be writing it.
	Partial bool
}

// ReadAudit reads the audit log from r, calling emit for each record that
// f selects. Lines that do not parse are counted in the report, not
// fatal.
func ReadAudit(r io.Reader, names map[string]string, f AuditFilter, emit func(AuditRecord) error) (AuditReport, error) {
	var rep AuditReport
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			rec, perr := ParseAuditLine(line, names)
			switch {
			case perr != nil && err == io.EOF:
				rep.Partial = true
			case perr != nil:
				rep.Bad++
			case f.Match(rec):
				if err := emit(rec); err != nil {
					return rep, err
				}
			}
		}
		if err == io.EOF {
			return rep, nil
		}
		if err != nil {
			return rep, fmt.Errorf("lab: reading the audit log: %w", err)
		}
	}
}

// FollowAudit is ReadAudit that goes on: after the end of the file it
// waits for KES to append, every poll, until ctx ends. A line is read
// once it is complete.
func FollowAudit(ctx context.Context, path string, poll time.Duration, names map[string]string, f AuditFilter, emit func(AuditRecord) error) (AuditReport, error) {
	var rep AuditReport
	file, err := waitOpen(ctx, path, poll)
	if err != nil {
		return rep, err
	}
	defer file.Close()
	br := bufio.NewReader(file)
	var pending []byte
	for {
		chunk, err := br.ReadBytes('\n')
		pending = append(pending, chunk...)
		if err == nil {
			if len(bytes.TrimSpace(pending)) > 0 {
				rec, perr := ParseAuditLine(pending, names)
				switch {
				case perr != nil:
					rep.Bad++
				case f.Match(rec):
					if err := emit(rec); err != nil {
						return rep, err
					}
				}
			}
			pending = pending[:0]
			continue
		}
		if err != io.EOF {
			return rep, fmt.Errorf("lab: reading %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			return rep, nil
		case <-time.After(poll):
		}
	}
}

// waitOpen opens path, waiting for it to appear until ctx ends.
func waitOpen(ctx context.Context, path string, poll time.Duration) (*os.File, error) {
	for {
		f, err := os.Open(path)
		if err == nil || !errors.Is(err, os.ErrNotExist) {
			if err != nil {
				return nil, fmt.Errorf("lab: %w", err)
			}
			return f, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// AuditNames loads the lab's identities from the PKI in dir, for
// ParseAuditLine; the lab need not run. Without a PKI every identity is
// shown by its hash.
func AuditNames(l labdir.Layout) map[string]string {
	p, err := pki.Load(l.CertsDir())
	if err != nil {
		return map[string]string{}
	}
	return Identities(p)
}
