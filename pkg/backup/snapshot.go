package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sselab/sselab/pkg/keystore"
	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/labdir"
	"github.com/sselab/sselab/pkg/pki"
)

// maxEntry bounds one entry: a key is a few hundred bytes, a certificate
// or settings file a few kilobytes.
const maxEntry = 16 << 20

// createWait is how long Snapshot waits for a key file that is empty
// because KES is writing it (its file keystore creates the file, then
// writes it).
const createWait = 2 * time.Second

// datesTimeout bounds how long Snapshot asks a running lab for the keys'
// creation dates; a KES that does not answer leaves them empty.
const datesTimeout = 30 * time.Second

// Options tune Snapshot.
type Options struct {
	// Version is the sselab version the manifest names; "" takes it from
	// the binary's build information.
	Version string

	// Now returns the time the manifest records; nil means time.Now.
	Now func() time.Time

	// Lab is the lab running on the directory, if one runs: it is asked
	// for each key's creation date. Nil leaves the dates empty.
	Lab *lab.Handle
}

// Snapshot reads what a backup holds from the state directory l. It may
// run while a lab runs there: it lists each directory once and reads each
// file once, so every entry is a whole file as it was at one moment (KES
// replaces no key file; sselab replaces its files by renaming). The key
// index is read before the keystore is listed, so that a key made
// meanwhile is in the keystore rather than named by the index alone.
func Snapshot(ctx context.Context, l labdir.Layout, o Options) (*Archive, error) {
	s := snapshot{root: l.Root}
	for _, f := range []string{l.SettingsFile(), l.CredentialsFile(), l.KeyIndexFile(), l.VaultSecretFile()} {
		if err := s.file(f); err != nil {
			return nil, err
		}
	}
	if err := s.tree(l.CertsDir()); err != nil {
		return nil, err
	}
	for _, d := range []string{l.SealedKeyStoreDir(), l.KeyStoreDir()} {
		if err := s.keys(ctx, d); err != nil {
			return nil, err
		}
	}
	a := newArchive(Manifest{}, s.entries)
	if err := a.describe(l, o); err != nil {
		return nil, err
	}
	if o.Lab != nil {
		creationDates(ctx, o.Lab, a.Manifest.Keys)
	}
	return a, nil
}

// snapshot collects the entries of a backup.
type snapshot struct {
	root    string
	entries []Entry
}

// file adds the file at p if it exists.
func (s *snapshot) file(p string) error {
	e, ok, err := s.read(p)
	if ok {
		s.entries = append(s.entries, e)
	}
	return err
}

// read reads the file at p once: its mode and content from one open
// file. A missing file is not an error (ok false).
func (s *snapshot) read(p string) (e Entry, ok bool, err error) {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return Entry{}, false, nil
	}
	if err != nil {
		return Entry{}, false, fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Entry{}, false, fmt.Errorf("backup: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return Entry{}, false, nil
	}
	data, err := io.ReadAll(io.LimitReader(f, maxEntry+1))
	if err != nil {
		return Entry{}, false, fmt.Errorf("backup: read %s: %w", p, err)
	}
	if len(data) > maxEntry {
		return Entry{}, false, fmt.Errorf("backup: %s is larger than %d MiB; it is not a file sselab wrote", p, maxEntry>>20)
	}
	r, err := filepath.Rel(s.root, p)
	if err != nil {
		return Entry{}, false, fmt.Errorf("backup: %w", err)
	}
	return Entry{Path: filepath.ToSlash(r), Mode: fi.Mode().Perm(), Data: data}, true, nil
}

// tree adds every regular file below dir, but none whose name starts
// with '.' (temporary files).
func (s *snapshot) tree(dir string) error {
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil // gone since it was listed, or no dir at all
		case err != nil:
			return err
		case p != dir && strings.HasPrefix(d.Name(), "."):
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		case d.Type().IsRegular():
			return s.file(p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// keys adds a keystore directory: its listing taken once, then each file
// read once. A key deleted since the listing is left out; an empty key
// file is one KES is writing, and is read again for a moment.
func (s *snapshot) keys(ctx context.Context, dir string) error {
	list, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	for _, d := range list {
		p := filepath.Join(dir, d.Name())
		if strings.HasPrefix(d.Name(), ".") || !d.Type().IsRegular() {
			continue
		}
		e, ok, err := s.read(p)
		for deadline := time.Now().Add(createWait); ok && err == nil && len(e.Data) == 0 && time.Now().Before(deadline); {
			if err := sleep(ctx, 20*time.Millisecond); err != nil {
				return err
			}
			e, ok, err = s.read(p)
		}
		switch {
		case err != nil:
			return err
		case ok && len(e.Data) == 0:
			return fmt.Errorf("backup: the key file %s is empty; KES cannot use that key: remove it, or restore it from an older backup", p)
		case ok:
			s.entries = append(s.entries, e)
		}
	}
	return nil
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("backup: %w", ctx.Err())
	case <-t.C:
		return nil
	}
}

// describe fills in the manifest's header from the entries (the
// settings, the credentials and the lab CA), not from the disk again.
func (a *Archive) describe(l labdir.Layout, o Options) error {
	settings, ok := a.Entry(rel.settings)
	if !ok {
		return fmt.Errorf("backup: %s holds no lab (no %s); back up a directory where 'sselab up' has run", l.Root, filepath.Base(l.SettingsFile()))
	}
	if _, ok := a.Entry(rel.credentials); !ok {
		return fmt.Errorf("backup: %s has no %s; start the lab once with 'sselab up --dir %s' to make it", l.Root, filepath.Base(l.CredentialsFile()), l.Root)
	}
	var st labdir.Settings
	if err := json.Unmarshal(settings.Data, &st); err != nil {
		return fmt.Errorf("backup: %s is damaged (%w); fix it before making a backup", l.SettingsFile(), err)
	}
	ca, err := a.caIdentity()
	if err != nil {
		return fmt.Errorf("backup: the lab CA %s: %w", filepath.Join(l.Root, filepath.FromSlash(rel.ca)), err)
	}
	m := &a.Manifest
	m.Format, m.Version, m.Sselab, m.CAIdentity = Format, FormatVersion, o.Version, ca
	if m.Sselab == "" {
		m.Sselab = buildVersion()
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	m.Created = now().UTC().Truncate(time.Second)
	m.Keystore = keystore.KindOf(st.Keystore)
	switch m.Keystore {
	case keystore.KindFS, keystore.KindSealed:
	default:
		m.KeysElsewhere = keystore.Where(l, st.Keystore)
	}
	return nil
}

// caIdentity is the KES identity of the lab CA among the entries.
func (a *Archive) caIdentity() (string, error) {
	e, ok := a.Entry(rel.ca)
	if !ok {
		return "", errors.New("missing; a state directory without its CA is no lab to back up")
	}
	cert, err := pki.ParseCertificatePEM(e.Data)
	if err != nil {
		return "", err
	}
	return pki.Identity(cert), nil
}

// newArchive completes m with the keys and files of entries, sorted by
// path, and returns them as an archive.
func newArchive(m Manifest, entries []Entry) *Archive {
	entries = slices.Clone(entries)
	slices.SortFunc(entries, func(a, b Entry) int { return strings.Compare(a.Path, b.Path) })
	m.Files, m.Keys = make([]File, 0, len(entries)), []Key{}
	for _, e := range entries {
		f := fileOf(e)
		m.Files = append(m.Files, f)
		if name, ok := keyEntry(e.Path); ok {
			m.Keys = append(m.Keys, Key{Name: name, Path: e.Path, SHA256: f.SHA256})
		}
	}
	slices.SortFunc(m.Keys, func(a, b Key) int { return strings.Compare(a.Name, b.Name) })
	return &Archive{Manifest: m, Entries: entries}
}

// creationDates asks the running lab when each key was made, a few at a
// time; a key KES cannot describe (in time) keeps an empty date.
func creationDates(ctx context.Context, h *lab.Handle, keys []Key) {
	const workers = 4
	ctx, cancel := context.WithTimeout(ctx, datesTimeout)
	defer cancel()
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				if k, err := h.DescribeKey(ctx, keys[i].Name); err == nil {
					keys[i].Created = k.CreatedAt
				}
			}
		})
	}
	for i := range keys {
		next <- i
	}
	close(next)
	wg.Wait()
}

// buildVersion is the version of the running sselab, as 'sselab version'
// prints it.
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(devel)"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			v += " (" + s.Value + ")"
		}
	}
	return v
}
