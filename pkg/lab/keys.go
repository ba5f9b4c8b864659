package lab

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	kesapi "github.com/minio/kms-go/kes"

	"github.com/sselab/sselab/pkg/labdir"
)

// KeyInfo describes a KES key; its JSON field names are stable.
type KeyInfo struct {
	Name      string `json:"name"`
	Algorithm string `json:"algorithm"`
	CreatedAt string `json:"created_at"`
	CreatedBy string `json:"created_by"`
	Default   bool   `json:"default"`
}

// CreateKey creates a new key in KES.
func (h *Handle) CreateKey(ctx context.Context, name string) error {
	if err := labdir.CheckKeyName(name); err != nil {
		return err
	}
	if err := h.KES().CreateKey(ctx, name); err != nil {
		if errors.Is(err, kesapi.ErrKeyExists) {
			return fmt.Errorf("lab: key %s already exists; pick another name", name)
		}
		return h.explainKeystore(ctx, fmt.Errorf("lab: create key %s: %w", name, err))
	}
	return nil
}

// explainKeystore adds the cause KES does not give when it cannot use
// its keystore ("failed to create key"): the lab's own check of the
// keystore (Vault sealed, unreachable, refusing the login) and, with the
// keystore in DIR, a write there, which names the file system's error
// (disk full, read-only) and the fix.
func (h *Handle) explainKeystore(ctx context.Context, err error) error {
	if info, ierr := h.Info(ctx); ierr == nil && info.Keystore != nil && !info.Keystore.OK && info.Keystore.Error != "" {
		return fmt.Errorf("%w: %s", err, info.Keystore.Error)
	}
	if !h.State.Keystore.InDir() {
		return err
	}
	dir := h.Layout.KeyStoreDir()
	perr := probeWrite(dir)
	if perr == nil {
		return err
	}
	return fmt.Errorf("%w: KES cannot write to its keystore %s (%v); free space or make it writable, then try again", err, dir, perr)
}

// ImportKey imports 32 bytes of AES-256 key material, given raw or
// base64-encoded, as a new key.
func (h *Handle) ImportKey(ctx context.Context, name string, material []byte) error {
	if err := labdir.CheckKeyName(name); err != nil {
		return err
	}
	key, err := keyMaterial(material)
	if err != nil {
		return err
	}
	err = h.KES().ImportKey(ctx, name, &kesapi.ImportKeyRequest{Key: key, Cipher: kesapi.AES256})
	if errors.Is(err, kesapi.ErrKeyExists) {
		return fmt.Errorf("lab: key %s already exists; pick another name", name)
	}
	if err != nil {
		return h.explainKeystore(ctx, fmt.Errorf("lab: import key %s: %w", name, err))
	}
	return nil
}

// keyMaterial accepts 32 raw bytes or their base64 text.
func keyMaterial(b []byte) ([]byte, error) {
	if len(b) == 32 {
		return b, nil
	}
	dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err == nil && len(dec) == 32 {
		return dec, nil
	}
	return nil, fmt.Errorf("lab: key material must be 32 bytes, raw or base64 (got %d bytes); make one with 'head -c 32 /dev/urandom | base64'", len(b))
}

// ListKeys returns the keys whose names start with prefix (a trailing '*'
// is accepted as in mc and kes patterns).
func (h *Handle) ListKeys(ctx context.Context, prefix string) ([]KeyInfo, error) {
	prefix = strings.TrimSuffix(prefix, "*")
	// KES v0.24.0 refuses a pattern that is empty or ends in '-' ("key-"),
	// so it lists everything ("*", in one answer) and the prefix applies
	// here.
	names, _, err := h.KES().ListKeys(ctx, "*", -1)
	if err != nil {
		return nil, h.explainKeystore(ctx, fmt.Errorf("lab: list keys: %w", err))
	}
	keys := make([]KeyInfo, 0, len(names))
	for _, n := range names {
		if !strings.HasPrefix(n, prefix) {
			continue
		}
		k, err := h.DescribeKey(ctx, n)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// DescribeKey returns what KES knows about a key.
func (h *Handle) DescribeKey(ctx context.Context, name string) (KeyInfo, error) {
	info, err := h.KES().DescribeKey(ctx, name)
	if errors.Is(err, kesapi.ErrKeyNotFound) {
		return KeyInfo{}, fmt.Errorf("lab: key %s does not exist; see 'sselab key list'", name)
	}
	if err != nil {
		return KeyInfo{}, h.explainKeystore(ctx, fmt.Errorf("lab: describe key %s: %w", name, err))
	}
	return KeyInfo{
		Name:      info.Name,
		Algorithm: info.Algorithm.String(),
		CreatedAt: info.CreatedAt.UTC().Format("2006-01-02T15:04:05Z"),
		CreatedBy: info.CreatedBy.String(),
		Default:   info.Name == h.State.Key,
	}, nil
}

// KeyUse is what depends on a key: buckets whose default encryption
// names it and objects encrypted with it.
type KeyUse struct {
	Buckets []string `json:"buckets"`
	Objects []string `json:"objects"` // bucket/object, at most maxKeyUseObjects
	More    bool     `json:"more"`    // more objects than listed
}

// maxKeyUseObjects bounds how many objects KeyUse lists.
const maxKeyUseObjects = 20

// InUse reports what depends on key. It asks MinIO for every object's
// encryption headers, which is fine at lab scale.
func (h *Handle) InUse(ctx context.Context, key string) (KeyUse, error) {
	uses, err := h.KeyUses(ctx)
	return uses[key], err
}

// KeyUses reports, for every key that data depends on, what depends on
// it: buckets whose default encryption names it and objects encrypted
// with it. It asks MinIO for every object's encryption headers, which is
// fine at lab scale.
func (h *Handle) KeyUses(ctx context.Context) (map[string]KeyUse, error) {
	uses := make(map[string]KeyUse)
	s3, err := h.S3()
	if err != nil {
		return uses, err
	}
	buckets, err := s3.ListBuckets(ctx)
	if err != nil {
		return uses, fmt.Errorf("lab: list buckets: %w", err)
	}
	for _, b := range buckets {
		if enc, err := bucketEncryption(ctx, s3, b.Name); err == nil && enc.KeyID != "" {
			key := strings.TrimPrefix(enc.KeyID, "arn:aws:kms:")
			use := uses[key]
			use.Buckets = append(use.Buckets, b.Name)
			uses[key] = use
		}
		// In a bucket that ever had versioning, every version: an older
		// version needs its key as much as the latest does.
		var objs []Object
		if v, err := s3.GetBucketVersioning(ctx, b.Name); err == nil && v.Status == "" {
			objs, _, err = listObjects(ctx, s3, b.Name, "", 0)
			if err != nil {
				return uses, err
			}
		} else if objs, err = listVersions(ctx, s3, b.Name); err != nil {
			return uses, err
		}
		for _, o := range objs {
			if o.Scheme() != SchemeKMS {
				continue // SSE-C objects cannot be read without their key; not ours
			}
			name := b.Name + "/" + o.Key
			if !o.Latest && o.VersionID != "" && o.VersionID != "null" {
				name += " (older version " + o.VersionID + ")"
			}
			use := uses[o.KMSKey()]
			if len(use.Objects) == maxKeyUseObjects {
				use.More = true
			} else {
				use.Objects = append(use.Objects, name)
			}
			uses[o.KMSKey()] = use
		}
	}
	return uses, nil
}

// DeleteKey deletes a key for good. It refuses the lab's default key
// (MinIO needs it) and, unless force is set, a key that buckets or
// objects depend on.
func (h *Handle) DeleteKey(ctx context.Context, name string, force bool) error {
	if name == h.State.Key {
		return fmt.Errorf("lab: %s is the lab's default key: MinIO encrypts its own data with it and needs it to start; it cannot be deleted", name)
	}
	if _, err := h.DescribeKey(ctx, name); err != nil {
		return err
	}
	if !force {
		use, err := h.InUse(ctx, name)
		if err != nil {
			return err
		}
		if len(use.Buckets) > 0 || len(use.Objects) > 0 {
			return &KeyInUseError{Key: name, Use: use}
		}
	}
	if err := h.KES().DeleteKey(ctx, name); err != nil {
		return h.explainKeystore(ctx, fmt.Errorf("lab: delete key %s: %w", name, err))
	}
	return nil
}

// KeyInUseError refuses to delete a key that data depends on.
type KeyInUseError struct {
	Key string
	Use KeyUse
}

func (e *KeyInUseError) Error() string {
	var parts []string
	if n := len(e.Use.Objects); n > 0 {
		more := ""
		if e.Use.More {
			more = " or more"
		}
		parts = append(parts, fmt.Sprintf("%d%s object(s), such as %s, would become unreadable forever", n, more, e.Use.Objects[0]))
	}
	if len(e.Use.Buckets) > 0 {
		parts = append(parts, "bucket(s) "+strings.Join(e.Use.Buckets, ", ")+" encrypt new objects with it by default")
	}
	return fmt.Sprintf("lab: key %s is in use: %s; pass --force to delete it anyway", e.Key, strings.Join(parts, "; "))
}
