package backup

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sselab/sselab/internal/fsutil"
	"github.com/sselab/sselab/pkg/keystore"
	"github.com/sselab/sselab/pkg/labdir"
	"github.com/sselab/sselab/pkg/pki"
)

// Restore makes a new state directory l.Root from a. The directory must
// not exist or be empty, and no lab may run there. Everything is written
// into a temporary directory next to it, synced, and renamed into place,
// so that a failure leaves nothing behind. Directories get mode 0700,
// certificates 0644 and every other file 0600.
func Restore(a *Archive, l labdir.Layout) (err error) {
	dir := filepath.Clean(l.Root)
	exists, err := checkNewDir(l)
	if err != nil {
		return err
	}
	parent := filepath.Dir(dir)
	made, err := mkdirParent(parent)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, ".tmp-"+filepath.Base(dir)+"-restore-*")
	if err != nil {
		return fmt.Errorf("backup: cannot write next to %s: %w", dir, fsutil.PathCause(err))
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
			if made != "" {
				os.RemoveAll(made)
			}
		}
	}()
	if err := stage(a, tmp); err != nil {
		return fmt.Errorf("backup: cannot write %s (%w); nothing was restored", dir, fsutil.PathCause(err))
	}
	if exists {
		if err := os.Remove(dir); err != nil { // empty: checked above
			return fmt.Errorf("backup: %w", err)
		}
		defer func() {
			if err != nil {
				os.Mkdir(dir, fsutil.DirPerm)
			}
		}()
	}
	if err := fsutil.RenameDir(tmp, dir); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// CheckDir refuses, before a backup is opened (and a passphrase asked
// for), a state directory that Restore, or RestoreKeys if keysOnly,
// refuses whatever the backup holds.
func CheckDir(l labdir.Layout, keysOnly bool) error {
	var err error
	if keysOnly {
		_, err = checkLabDir(l)
	} else {
		_, err = checkNewDir(l)
	}
	return err
}

// checkNewDir refuses a directory that Restore cannot make: one where a
// lab runs, or that has something in it. It reports whether it exists.
func checkNewDir(l labdir.Layout) (exists bool, err error) {
	dir := filepath.Clean(l.Root)
	if labdir.Locked(l) {
		return false, fmt.Errorf("backup: a lab runs on %s; restore into a new directory, or stop it with 'sselab down --dir %s' and put back lost keys with --keys-only", dir, dir)
	}
	return emptyOrAbsent(dir)
}

// checkLabDir refuses a directory RestoreKeys cannot put keys into: one
// where a lab runs, or that holds no lab. It returns the lab's settings.
func checkLabDir(l labdir.Layout) (labdir.Settings, error) {
	var st labdir.Settings
	if labdir.Locked(l) {
		return st, fmt.Errorf("backup: a lab runs on %s; stop it with 'sselab down --dir %s', then restore the keys", l.Root, l.Root)
	}
	err := labdir.ReadJSON(l.SettingsFile(), &st)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return st, fmt.Errorf("backup: %s holds no lab (no %s); restore the whole lab into a new directory instead (without --keys-only)", l.Root, filepath.Base(l.SettingsFile()))
	case err != nil:
		return st, fmt.Errorf("backup: %w", err)
	}
	return st, nil
}

// emptyOrAbsent refuses a directory with something in it; it reports
// whether the directory exists.
func emptyOrAbsent(dir string) (exists bool, err error) {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("backup: %w", err)
	case !fi.IsDir():
		return false, fmt.Errorf("backup: %s is a file, not a directory; pass a new directory with --dir", dir)
	}
	names, err := os.ReadDir(dir)
	if err != nil {
		return false, fmt.Errorf("backup: %w", err)
	}
	if len(names) > 0 {
		return false, fmt.Errorf("backup: %s is not empty; restore into a new directory, or put back lost keys into the lab there with --keys-only", dir)
	}
	return true, nil
}

// mkdirParent makes dir (0700) and its missing parents, and returns the
// topmost one it made, or "".
func mkdirParent(dir string) (made string, err error) {
	for p := dir; ; p = filepath.Dir(p) {
		if _, err := os.Stat(p); err == nil || p == filepath.Dir(p) {
			break
		}
		made = p
	}
	if err := fsutil.MkdirPrivate(dir); err != nil {
		return "", fmt.Errorf("backup: cannot make %s: %w", dir, fsutil.PathCause(err))
	}
	return made, nil
}

// stage writes every entry of a below root, an empty directory no one
// else sees yet, and syncs it all.
func stage(a *Archive, root string) error {
	if err := os.Remove(root); err != nil { // made again owner-only, also on Windows
		return err
	}
	dirs := []string{root}
	if err := fsutil.MkdirPrivate(root); err != nil {
		return err
	}
	files := make([]string, 0, len(a.Entries))
	for _, e := range a.Entries {
		if err := checkPath(e.Path); err != nil {
			return err
		}
		dst := filepath.Join(root, filepath.FromSlash(e.Path))
		if d := filepath.Dir(dst); !slices.Contains(dirs, d) {
			if err := fsutil.MkdirPrivate(d); err != nil {
				return err
			}
			for ; !slices.Contains(dirs, d); d = filepath.Dir(d) {
				dirs = append(dirs, d)
			}
		}
		if err := fsutil.WriteStaged(dst, e.Data, restoredPerm(e)); err != nil {
			return err
		}
		files = append(files, dst)
	}
	if err := fsutil.SyncFiles(files...); err != nil {
		return err
	}
	slices.SortFunc(dirs, func(x, y string) int { return len(y) - len(x) }) // deepest first
	for _, d := range dirs {
		if err := fsutil.SyncDir(d); err != nil {
			return err
		}
	}
	return nil
}

// restoredPerm is the mode a restored file gets: 0644 for a certificate
// that was readable by others, 0600 for everything else.
func restoredPerm(e Entry) fs.FileMode {
	if inTree(e.Path, rel.certs) && e.Mode&0o044 != 0 && !strings.HasSuffix(e.Path, ".key") {
		return 0o644
	}
	return fsutil.PrivatePerm
}

// KeysReport says what RestoreKeys did.
type KeysReport struct {
	// Restored are the keys put back, Present those that were there with
	// the same bytes already.
	Restored, Present []string
	// Header is set when the sealed keystore's header was put back.
	Header bool
	// Indexed are the names added to the key index.
	Indexed []string
}

// RestoreKeys puts back into the existing state directory l the keys of a
// that its keystore lacks, each file written atomically, and merges the
// key index (the union of the names). A key there with the same bytes is
// fine; one with other bytes is never overwritten: RestoreKeys then names
// those keys and changes nothing. It refuses a directory where a lab
// runs (it holds the directory's lock while it works), a lab whose
// keystore is of another kind, a sealed keystore whose header differs
// from the backup's, and, unless force, a lab with another CA than the
// backup's.
func RestoreKeys(a *Archive, l labdir.Layout, force bool) (KeysReport, error) {
	m := &a.Manifest
	switch {
	case len(m.Keys) == 0 && m.KeysElsewhere != "":
		return KeysReport{}, fmt.Errorf("backup: the backup holds no keys: the lab kept them in %s; restore them with that keystore's own tools", m.KeysElsewhere)
	case len(m.Keys) == 0:
		return KeysReport{}, errors.New("backup: the backup holds no keys; nothing to restore")
	}
	st, err := checkLabDir(l)
	if err != nil {
		return KeysReport{}, err
	}
	if err := checkSameLab(a, l, st, force); err != nil {
		return KeysReport{}, err
	}
	lock, err := labdir.Lock(l) // no 'up' while keys are put back
	if err != nil {
		return KeysReport{}, fmt.Errorf("backup: %w", err)
	}
	defer lock.Release()
	p, err := plan(a, l)
	if err != nil {
		return KeysReport{}, err
	}
	return p.apply(a, l)
}

// checkSameLab refuses to put keys into a lab (with the settings st)
// other than the backup's: one with another keystore kind, or, unless
// force, another CA.
func checkSameLab(a *Archive, l labdir.Layout, st labdir.Settings, force bool) error {
	if kind := keystore.KindOf(st.Keystore); kind != a.Manifest.Keystore {
		return fmt.Errorf("backup: the backup holds the keys of a keystore of kind %s, the lab in %s uses one of kind %s; its keys cannot be put back there: restore the whole lab into a new directory instead", a.Manifest.Keystore, l.Root, kind)
	}
	if force {
		return nil
	}
	caFile := filepath.Join(l.Root, filepath.FromSlash(rel.ca))
	id, err := pki.IdentityOfFile(caFile)
	switch {
	case err != nil:
		return fmt.Errorf("backup: cannot tell whether the backup comes from the lab in %s: its CA %s: %w; pass --force to put the keys back anyway", l.Root, caFile, err)
	case id != a.Manifest.CAIdentity:
		return fmt.Errorf("backup: the backup comes from another lab: its CA's KES identity is %s, that of the lab in %s is %s; its keys belong to other data: pass --force to put them back anyway", short(a.Manifest.CAIdentity), l.Root, short(id))
	}
	return nil
}

// short abbreviates a KES identity for a message.
func short(id string) string {
	if len(id) > 16 {
		return id[:16] + "…"
	}
	return id
}

// keysPlan is what RestoreKeys will write.
type keysPlan struct {
	missing []Entry // keys to put back
	header  *Entry  // the sealed keystore's header, if it is missing
	present []string
}

// plan compares the backup's keys with the files in l: it refuses any
// key whose file differs, and a sealed keystore header that differs.
func plan(a *Archive, l labdir.Layout) (*keysPlan, error) {
	p := &keysPlan{}
	var differ []string
	sealed := false
	for _, k := range a.Manifest.Keys {
		e, _ := a.Entry(k.Path)
		sealed = sealed || inDir(k.Path, rel.sealed)
		cur, err := os.ReadFile(onDisk(l, k.Path))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			p.missing = append(p.missing, e)
		case err != nil:
			return nil, fmt.Errorf("backup: %w", err)
		case bytes.Equal(cur, e.Data):
			p.present = append(p.present, k.Name)
		default:
			differ = append(differ, k.Name)
		}
	}
	if len(differ) > 0 {
		return nil, fmt.Errorf("backup: the lab in %s holds other key material than the backup for %s; keys that differ encrypt other data, so none was overwritten and nothing was changed", l.Root, strings.Join(differ, ", "))
	}
	if h, ok := a.Entry(sealedHeader); ok && sealed {
		cur, err := os.ReadFile(onDisk(l, sealedHeader))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			p.header = &h
		case err != nil:
			return nil, fmt.Errorf("backup: %w", err)
		case !bytes.Equal(cur, h.Data):
			return nil, fmt.Errorf("backup: the sealed keystore in %s has another header than the backup's (another passphrase or key-encryption key), so the backup's keys cannot be read there: restore the whole lab into a new directory instead", l.SealedKeyStoreDir())
		}
	}
	return p, nil
}

// apply writes the plan: the header first, so that an interrupted
// restore can be run again, then the keys.
func (p *keysPlan) apply(a *Archive, l labdir.Layout) (KeysReport, error) {
	rep := KeysReport{Present: p.present, Header: p.header != nil}
	if p.header != nil {
		if err := putBack(l, []Entry{*p.header}); err != nil {
			return rep, err
		}
	}
	if err := putBack(l, p.missing); err != nil {
		return rep, err
	}
	for _, e := range p.missing {
		name, _ := keyEntry(e.Path)
		rep.Restored = append(rep.Restored, name)
	}
	added, err := mergeIndexFile(a, l)
	rep.Indexed = added
	return rep, err
}

// putBack writes entries into l, each one atomically, mode 0600: all to
// temporary files first, synced together, then renamed, then the
// directories synced, so that a thousand keys cost a few syncs rather
// than two each.
func putBack(l labdir.Layout, entries []Entry) (err error) {
	tmps := make([]string, 0, len(entries))
	defer func() {
		for _, t := range tmps {
			os.Remove(t) // none is left once renamed
		}
	}()
	var dirs []string
	for _, e := range entries {
		dst := onDisk(l, e.Path)
		if d := filepath.Dir(dst); !slices.Contains(dirs, d) {
			if err := fsutil.MkdirPrivate(d); err != nil {
				return fmt.Errorf("backup: %w", err)
			}
			dirs = append(dirs, d)
		}
		tmp := filepath.Join(filepath.Dir(dst), ".tmp-"+filepath.Base(dst)+"-"+rand.Text()[:8])
		tmps = append(tmps, tmp)
		if err := fsutil.WriteStaged(tmp, e.Data, fsutil.PrivatePerm); err != nil {
			return putBackError(err)
		}
	}
	if err := fsutil.SyncFiles(tmps...); err != nil {
		return putBackError(err)
	}
	for i, e := range entries {
		if err := os.Rename(tmps[i], onDisk(l, e.Path)); err != nil {
			return putBackError(err)
		}
	}
	for _, d := range dirs {
		if err := fsutil.SyncDir(d); err != nil {
			return putBackError(err)
		}
	}
	return nil
}

// putBackError says that putting back keys failed part of the way.
func putBackError(err error) error {
	return fmt.Errorf("backup: cannot put back the keys (%w); fix that and run the restore again: it puts back what is still missing", fsutil.PathCause(err))
}

// onDisk is the file of an entry in the state directory l.
func onDisk(l labdir.Layout, p string) string {
	return filepath.Join(l.Root, filepath.FromSlash(p))
}
