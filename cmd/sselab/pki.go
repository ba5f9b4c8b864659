package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sselab/sselab/pkg/labdir"
	"github.com/sselab/sselab/pkg/pki"
)

const pkiUsage = `Usage: sselab pki show [--dir DIR] [--json]

Shows every certificate of the lab's PKI (DIR/certs): its role, subject,
host names and IP addresses, KES identity, expiry and file. It reads the
files only, so the lab need not run.

A certificate that expires within 30 days is marked WARN; the next
'sselab up' renews it (leaf certificates keep their key, so their KES
identity does not change). An expired certificate is marked EXPIRED and
the command exits 1. The lab CA is never renewed: when it expires, move
DIR/certs aside and run 'sselab up': it makes a new CA and certificates
and keeps the keys and data (clients must then trust the new ca.crt).

Flags:
  --dir DIR   state directory of the lab
  --json      print the certificates as JSON

Examples:
  sselab pki show
  sselab pki show --json | jq -r '.certificates[] | select(.role == "operator") | .identity'
`

// warnBefore is how long before expiry 'pki show' warns.
const warnBefore = 30 * 24 * time.Hour

// Status of a certificate in 'pki show'.
const (
	certOK          = "ok"
	certWarn        = "warn"
	certExpired     = "expired"
	certNotYetValid = "not_yet_valid"
)

// certInfo is one certificate as 'pki show' reports it.
type certInfo struct {
	Role        string    `json:"role"`
	SubjectCN   string    `json:"subject_cn"`
	DNSNames    []string  `json:"dns_names"`
	IPAddresses []string  `json:"ip_addresses"`
	Identity    string    `json:"identity"`
	NotBefore   time.Time `json:"not_before"`
	NotAfter    time.Time `json:"not_after"`
	DaysLeft    int       `json:"days_left"` // whole days to NotAfter, negative once expired
	Status      string    `json:"status"`
	Path        string    `json:"path"`
}

// pkiReport is the --json form of 'pki show'.
type pkiReport struct {
	Dir          string     `json:"dir"`
	Certificates []certInfo `json:"certificates"`
}

func runPKI(_ context.Context, args []string, stdout, _ io.Writer) error {
	if wantsHelp(args) {
		return errHelp // run prints the usage
	}
	if args[0] != "show" {
		return usageError{fmt.Errorf("unknown command 'pki %s'", args[0])}
	}
	return runPKIShow(args[1:], stdout, time.Now())
}

func runPKIShow(args []string, stdout io.Writer, now time.Time) error {
	var (
		dir     string
		jsonOut bool
	)
	fs := newFlags("pki show", &dir)
	fs.BoolVar(&jsonOut, "json", false, "")
	if err := parse(fs, args, &dir); err != nil {
		return err
	}
	certsDir := labdir.Layout{Root: dir}.CertsDir()
	certs, loadErr, err := loadCerts(certsDir)
	if err != nil {
		if errors.Is(err, errNoPKI) {
			return fmt.Errorf("no PKI in %s yet; run 'sselab up%s' first, it creates one", certsDir, dirFlag(dir))
		}
		return err
	}
	report := pkiReport{Dir: certsDir}
	for _, c := range certs {
		report.Certificates = append(report.Certificates, describeCert(c, now))
	}
	if jsonOut {
		if err := writeJSON(stdout, report); err != nil {
			return err
		}
	} else {
		printPKI(stdout, report)
	}
	if err := pkiProblem(report, dir); err != nil {
		return err
	}
	return loadErr
}

// errNoPKI says that a lab directory has no PKI yet.
var errNoPKI = errors.New("no PKI")

// loadCerts returns the certificates of the PKI in dir. If pki.Load
// refuses the PKI but every certificate can still be read, they are
// returned with Load's error as loadErr, so that 'pki show' can show what
// is wrong (an expired certificate) before it fails.
func loadCerts(dir string) (certs []*pki.Cert, loadErr, err error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) || err == nil && len(entries) == 0 {
		return nil, nil, errNoPKI
	}
	if err != nil {
		return nil, nil, err
	}
	p, loadErr := pki.Load(dir)
	if loadErr == nil {
		return p.All(), nil, nil
	}
	if certs, err = pki.Certificates(dir); err != nil {
		return nil, nil, loadErr
	}
	return certs, loadErr, nil
}

// describeCert reports c as of now.
func describeCert(c *pki.Cert, now time.Time) certInfo {
	x := c.Cert
	info := certInfo{
		Role:        c.Role,
		SubjectCN:   x.Subject.CommonName,
		DNSNames:    append([]string{}, x.DNSNames...),
		IPAddresses: []string{},
		Identity:    c.Identity(),
		NotBefore:   x.NotBefore.UTC(),
		NotAfter:    x.NotAfter.UTC(),
		DaysLeft:    int(x.NotAfter.Sub(now) / (24 * time.Hour)), // whole days, toward zero
		Status:      certOK,
		Path:        c.CertFile,
	}
	for _, ip := range x.IPAddresses {
		info.IPAddresses = append(info.IPAddresses, ip.String())
	}
	switch {
	case !now.Before(x.NotAfter):
		info.Status = certExpired
	case now.Before(x.NotBefore):
		info.Status = certNotYetValid
	case x.NotAfter.Sub(now) < warnBefore:
		info.Status = certWarn
	}
	return info
}

// printPKI writes the human form of 'pki show'.
func printPKI(w io.Writer, r pkiReport) {
	fmt.Fprintf(w, "PKI in %s\n", r.Dir)
	for _, c := range r.Certificates {
		var mark, color, note string
		switch c.Status {
		case certOK:
			mark, color = "OK", colorGreen
		case certWarn:
			mark, color = "WARN", colorYellow
			note = "  expires in less than 30 days; the next 'sselab up' renews it"
			if c.Role == pki.RoleCA {
				note = "  expires in less than 30 days; a lab CA is not renewed: plan to move the certs directory aside for a new one"
			}
		case certExpired:
			mark, color = "EXPIRED", colorRed
		case certNotYetValid:
			mark, color = "NOT YET VALID", colorRed
			note = "  check this machine's clock"
		}
		fmt.Fprintf(w, "\n%s  %s%s\n", c.Role, colorize(w, mark, color), note)
		fmt.Fprintf(w, "  subject   CN=%s\n", c.SubjectCN)
		if names := append(append([]string{}, c.DNSNames...), c.IPAddresses...); len(names) > 0 {
			fmt.Fprintf(w, "  SANs      %s\n", strings.Join(names, ", "))
		}
		fmt.Fprintf(w, "  identity  %s\n", c.Identity)
		left := fmt.Sprintf("%d days left", c.DaysLeft)
		if c.Status == certExpired {
			left = "expired"
		}
		fmt.Fprintf(w, "  expires   %s (%s)\n", c.NotAfter.Format("2006-01-02 15:04 MST"), left)
		fmt.Fprintf(w, "  path      %s\n", c.Path)
	}
}

// pkiProblem returns the one-line error for expired (or not yet valid)
// certificates in r, saying how to recover, or nil.
func pkiProblem(r pkiReport, dir string) error {
	var expired, early []string
	for _, c := range r.Certificates {
		switch c.Status {
		case certExpired:
			if c.Role == pki.RoleCA {
				return fmt.Errorf("the lab CA %s expired at %s; a lab CA is never renewed: move %s aside and run 'sselab up' again for a new CA (keys and data are kept; point clients at the new ca.crt)",
					c.Path, c.NotAfter.Format(time.RFC3339), filepath.Dir(c.Path))
			}
			expired = append(expired, c.Role)
		case certNotYetValid:
			early = append(early, c.Role)
		}
	}
	switch {
	case len(expired) > 0:
		return fmt.Errorf("expired: %s; 'sselab up%s' renews expired leaf certificates (run 'sselab down%s' first if the lab is running)",
			strings.Join(expired, ", "), dirFlag(dir), dirFlag(dir))
	case len(early) > 0:
		return fmt.Errorf("not valid yet: %s; check this machine's clock", strings.Join(early, ", "))
	}
	return nil
}
