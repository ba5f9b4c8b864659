package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	kesapi "github.com/minio/kms-go/kes"

	"github.com/sselab/sselab/pkg/adopt"
	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/labdir"
)

// checkAdoption checks, before the lab writes anything, what adopting
// o.AdoptDrive takes: a new state directory, the static key in
// o.StaticKeyFile, the drive itself (package adopt), and buckets of the
// lab that the drive does not hold unless --bucket names them. It sets
// o.Key to the static key's name: the adopted lab's default key. It
// returns nil when o adopts nothing.
func checkAdoption(layout labdir.Layout, o *Options) (*adopt.Drive, error) {
	switch {
	case o.AdoptDrive == "" && o.StaticKeyFile == "":
		return nil, nil
	case o.StaticKeyFile == "":
		return nil, labdir.Invalid("runner: --adopt-drive needs --static-key-file FILE, the MINIO_KMS_SECRET_KEY value the drive's MinIO ran with")
	case o.AdoptDrive == "":
		return nil, labdir.Invalid("runner: --static-key-file goes with --adopt-drive PATH, the drive to adopt; to add a key to a lab, use 'sselab key import'")
	}
	if err := checkNewDir(layout.Root); err != nil {
		return nil, err
	}
	key, err := adopt.ReadKeyFile(o.StaticKeyFile)
	if err != nil {
		return nil, err
	}
	if o.Key != "" && o.Key != key.Name {
		return nil, labdir.Invalid("runner: --key %s is not the static key %s: an adopted drive keeps its static key as the default key; leave out --key", o.Key, key.Name)
	}
	o.Key = key.Name
	d, err := adopt.Check(o.AdoptDrive, key)
	if err != nil {
		return nil, err
	}
	root, err := filepath.Abs(layout.Root)
	if err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	if within(d.Path, root) {
		return nil, labdir.Invalid("runner: --dir %s is inside the drive %s; give a --dir outside it", layout.Root, d.Path)
	}
	if len(o.Buckets) == 0 && d.HasBucket(labdir.DefaultBucket) {
		return nil, labdir.Invalid("runner: the drive already has a bucket %s, the lab's default bucket, which the lab would give default SSE-KMS if it has no default encryption: "+
			"name the lab's own bucket with --bucket (--bucket %s lets the lab manage that one)", labdir.DefaultBucket, labdir.DefaultBucket)
	}
	return d, nil
}

// checkNewDir refuses a state directory that holds anything: only a new
// lab adopts a drive, so that no key and no data of another lab meet the
// drive's.
func checkNewDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("runner: cannot use --dir %s: %w", dir, err)
	case len(entries) > 0:
		return labdir.Invalid("runner: --adopt-drive makes a new lab, but --dir %s is not empty; give a --dir that does not exist yet", dir)
	}
	return nil
}

// within reports whether path is dir or inside it.
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// copyDrive copies the adopted drive into the lab as MinIO's drive. The
// drive is only read; a failed copy leaves no part of it in the lab.
func (l *Lab) copyDrive() error {
	d, dst := l.adopt, l.layout.MinIODataDir()
	if free, err := (&lab.Handle{Layout: l.layout}).FreeSpace(); err == nil && uint64(d.Bytes) > free {
		return fmt.Errorf("runner: the drive %s holds %s, but %s has %s free; free space or pick a --dir on another file system", d.Path, mib(d.Bytes), l.layout.Root, mib(int64(free)))
	}
	if d.Note != "" {
		fmt.Fprintf(l.log, "warning: %s\n", d.Note)
	}
	l.step("the static key %s decrypts MinIO's configuration and IAM on %s (%d objects); copying the drive (%d files, %s) into %s",
		d.Key.Name, d.Path, len(d.Checked), d.Files, mib(d.Bytes), dst)
	return d.CopyTo(dst)
}

// importStaticKey imports the adopted drive's static key into KES under
// its name, before MinIO starts (MinIO would otherwise create a new key
// of that name at its first request), and checks that KES unseals a data
// key of MinIO's configuration with it. A key of that name that the
// keystore already holds is taken only if it unseals that data key too:
// then it is the static key (AES-GCM authenticates), as after an earlier
// adoption into the same Vault prefix; any other is refused, never
// overwritten.
func (l *Lab) importStaticKey(ctx context.Context, kc *kesapi.Client) error {
	k, s := l.adopt.Key, l.adopt.Sample()
	err := kc.ImportKey(ctx, k.Name, &kesapi.ImportKeyRequest{Key: k.Material, Cipher: kesapi.AES256})
	exists := errors.Is(err, kesapi.ErrKeyExists)
	if err != nil && !exists {
		return fmt.Errorf("runner: KES does not answer: importing key %q: %w", k.Name, err)
	}
	p, err := kc.Decrypt(ctx, k.Name, s.Ciphertext, s.Context)
	switch {
	case exists && (err != nil || !bytes.Equal(p, s.Plaintext)):
		return fmt.Errorf("runner: %s already holds a key %s that is not the static key; sselab never overwrites a key: adopt with a keystore that lacks it",
			l.kind.Where(l.layout, l.settings.Keystore), k.Name)
	case err != nil:
		return fmt.Errorf("runner: KES does not decrypt MinIO's configuration (%s) with the imported key %s: %w", s.Object, k.Name, err)
	case !bytes.Equal(p, s.Plaintext):
		return fmt.Errorf("runner: KES decrypts MinIO's configuration (%s) with the imported key %s to another data key than the static key does", s.Object, k.Name)
	case exists:
		l.step("KES already holds the static key %s", k.Name)
	default:
		l.step("imported the static key %s into KES", k.Name)
	}
	return nil
}

// mib formats a byte count in MiB.
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
