package backup

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"filippo.io/age"
)

// maxManifest bounds manifest.json: about 300 bytes per file.
const maxManifest = 64 << 20

// maxTotal bounds what Decode keeps in memory.
const maxTotal = 1 << 30

// Encode writes a as a backup to w, encrypted to recipients: the
// manifest as it is, then every entry.
func Encode(w io.Writer, a *Archive, recipients ...age.Recipient) error {
	if len(recipients) == 0 {
		return errors.New("backup: no passphrase or recipient to encrypt the backup to")
	}
	manifest, err := json.MarshalIndent(a.Manifest, "", "  ")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	enc, err := age.Encrypt(w, recipients...)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	tw := tar.NewWriter(enc)
	if err := writeEntry(tw, Entry{Path: ManifestName, Mode: 0o600, Data: append(manifest, '\n')}, a); err != nil {
		return err
	}
	for _, e := range a.Entries {
		if err := writeEntry(tw, e, a); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// writeEntry writes one regular file to the archive.
func writeEntry(tw *tar.Writer, e Entry, a *Archive) error {
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     e.Path,
		Mode:     int64(e.Mode.Perm()),
		Size:     int64(len(e.Data)),
		ModTime:  a.Manifest.Created,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("backup: %s: %w", e.Path, err)
	}
	if _, err := tw.Write(e.Data); err != nil {
		return fmt.Errorf("backup: %s: %w", e.Path, err)
	}
	return nil
}

// Decode reads a backup from r with identities: it decrypts it, refuses
// a format it does not know, and checks every entry against the manifest
// and the manifest against the entries. Its errors wrap ErrWrongKey,
// ErrNotBackup, ErrNewerFormat or ErrDamaged.
func Decode(r io.Reader, identities ...age.Identity) (*Archive, error) {
	a, err := decode(r, identities)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	return a, nil
}

// decode is Decode with errors that do not say who they are.
func decode(r io.Reader, identities []age.Identity) (*Archive, error) {
	plain, err := age.Decrypt(r, identities...)
	if err != nil {
		return nil, decryptError(err, identities)
	}
	tr := tar.NewReader(plain)
	m, err := readManifest(tr)
	if err != nil {
		return nil, damaged(err)
	}
	a := &Archive{Manifest: *m}
	if err := a.readEntries(tr); err != nil {
		return nil, damaged(err)
	}
	// age authenticates the end of the stream only when it is read:
	// a backup cut after the archive's last entry is refused here.
	if _, err := io.Copy(io.Discard, plain); err != nil {
		return nil, damaged(err)
	}
	return a, nil
}

// damaged marks an error reading the archive as damage, unless it says
// something more precise already.
func damaged(err error) error {
	if errors.Is(err, ErrNewerFormat) || errors.Is(err, ErrNotBackup) || errors.Is(err, ErrDamaged) {
		return err
	}
	return fmt.Errorf("%w: it was cut short or changed after it was written (%w)", ErrDamaged, err)
}

// decryptError explains why age could not decrypt a backup.
func decryptError(err error, identities []age.Identity) error {
	var noMatch *age.NoIdentityMatchError
	if !errors.As(err, &noMatch) {
		if strings.Contains(err.Error(), "header") {
			return fmt.Errorf("%w, or its beginning is damaged (age: %w)", ErrNotBackup, err)
		}
		return fmt.Errorf("%w (age: %w)", ErrDamaged, err)
	}
	byPassphrase := slices.Contains(noMatch.StanzaTypes, "scrypt")
	withPassphrase := slices.ContainsFunc(identities, func(i age.Identity) bool { _, ok := i.(*age.ScryptIdentity); return ok })
	switch {
	case byPassphrase && withPassphrase:
		return fmt.Errorf("%w: wrong passphrase", ErrWrongKey)
	case byPassphrase:
		return fmt.Errorf("%w: this backup is encrypted with a passphrase, not to an age key; give the passphrase instead of --identity", ErrWrongKey)
	case withPassphrase:
		return fmt.Errorf("%w: this backup is encrypted to an age key (made with --recipient); pass --identity FILE with its identity", ErrWrongKey)
	}
	return fmt.Errorf("%w: no identity in the --identity file opens this backup", ErrWrongKey)
}

// readManifest reads the first entry: manifest.json. The format and its
// version are checked before anything else is read, so that a newer
// format, whatever else it changed, is refused with one clear error.
func readManifest(tr *tar.Reader) (*Manifest, error) {
	hdr, err := tr.Next()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: it holds no manifest", ErrNotBackup)
	}
	if err != nil {
		return nil, err
	}
	if hdr.Name != ManifestName || hdr.Typeflag != tar.TypeReg {
		return nil, fmt.Errorf("%w: its first entry is %q, not %s", ErrNotBackup, hdr.Name, ManifestName)
	}
	data, err := readAll(tr, maxManifest)
	if err != nil {
		return nil, err
	}
	var head struct {
		Format  string `json:"format"`
		Version int    `json:"version"`
		Sselab  string `json:"sselab_version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("%w: its manifest is not JSON (%w)", ErrDamaged, err)
	}
	switch {
	case head.Format != Format:
		return nil, fmt.Errorf("%w: its manifest names the format %q", ErrNotBackup, head.Format)
	case head.Version > FormatVersion:
		return nil, fmt.Errorf("%w (format version %d, by sselab %s); this sselab reads versions up to %d: use a newer sselab", ErrNewerFormat, head.Version, head.Sselab, FormatVersion)
	case head.Version < 1:
		return nil, fmt.Errorf("%w: its manifest has format version %d", ErrDamaged, head.Version)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%w: its manifest does not read (%w)", ErrDamaged, err)
	}
	return &m, m.check()
}

// check makes sure the manifest is whole: its files are ones a backup may
// hold, each once, and its keys are files of a keystore with the same
// checksum.
func (m *Manifest) check() error {
	files := make(map[string]File, len(m.Files))
	for _, f := range m.Files {
		if err := checkPath(f.Path); err != nil {
			return err
		}
		if _, dup := files[f.Path]; dup {
			return fmt.Errorf("%w: its manifest lists %s twice", ErrDamaged, f.Path)
		}
		if _, err := parseMode(f.Mode); err != nil {
			return fmt.Errorf("%w: its manifest gives %s the %w", ErrDamaged, f.Path, err)
		}
		files[f.Path] = f
	}
	for _, k := range m.Keys {
		name, isKey := keyEntry(k.Path)
		if f, ok := files[k.Path]; !ok || !isKey || name != k.Name || f.SHA256 != k.SHA256 {
			return fmt.Errorf("%w: its manifest lists the key %s with an entry %s that does not match its files", ErrDamaged, k.Name, k.Path)
		}
	}
	return nil
}

// readEntries reads every entry after the manifest, checking each one's
// size and SHA-256 against the manifest, and that every file the manifest
// lists is there.
func (a *Archive) readEntries(tr *tar.Reader) error {
	want := make(map[string]File, len(a.Manifest.Files))
	for _, f := range a.Manifest.Files {
		want[f.Path] = f
	}
	total := int64(0)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		f, ok := want[hdr.Name]
		switch {
		case !ok:
			return fmt.Errorf("%w: it holds %q, which its manifest does not list (or lists twice)", ErrDamaged, hdr.Name)
		case hdr.Typeflag != tar.TypeReg:
			return fmt.Errorf("%w: its entry %s is not a regular file", ErrDamaged, hdr.Name)
		case hdr.Size != f.Size:
			return fmt.Errorf("%w: its entry %s has %d bytes, its manifest says %d", ErrDamaged, hdr.Name, hdr.Size, f.Size)
		}
		if total += hdr.Size; total > maxTotal {
			return fmt.Errorf("%w: it holds more than %d MiB", ErrDamaged, maxTotal>>20)
		}
		data, err := readAll(tr, maxEntry)
		if err != nil {
			return err
		}
		if sum(data) != f.SHA256 {
			return fmt.Errorf("%w: its entry %s does not match the SHA-256 in its manifest", ErrDamaged, hdr.Name)
		}
		mode, _ := parseMode(f.Mode) // checked with the manifest
		a.Entries = append(a.Entries, Entry{Path: f.Path, Mode: mode, Data: data})
		delete(want, hdr.Name)
	}
	if len(want) > 0 {
		missing := make([]string, 0, len(want))
		for p := range want {
			missing = append(missing, p)
		}
		slices.Sort(missing)
		return fmt.Errorf("%w: its manifest lists %s, which it does not hold", ErrDamaged, strings.Join(missing, ", "))
	}
	slices.SortFunc(a.Entries, func(x, y Entry) int { return strings.Compare(x.Path, y.Path) })
	return nil
}

// readAll reads the rest of the current entry, at most limit bytes.
func readAll(r io.Reader, limit int64) ([]byte, error) {
	var b bytes.Buffer
	n, err := b.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, fmt.Errorf("%w: an entry is larger than %d MiB", ErrDamaged, limit>>20)
	}
	return b.Bytes(), nil
}
