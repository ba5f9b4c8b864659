package lab

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	kesapi "github.com/minio/kms-go/kes"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/encrypt"
)

// RekeyOptions says what 'sselab bucket rekey' does.
type RekeyOptions struct {
	// Target is the encryption every object ends under: ModeSSEKMS with
	// a key, or ModeSSES3.
	Target BucketMode
	// OnlyPlaintext leaves objects that are encrypted already as they are.
	OnlyPlaintext bool
	// Prefix limits the rekey to the objects whose names start with it.
	Prefix string
	// Concurrency is the number of copies at a time; 0 means
	// DefaultRekeyConcurrency.
	Concurrency int
	// DryRun only counts: it changes nothing.
	DryRun bool
	// KeepDefault leaves the bucket's default encryption as it is.
	KeepDefault bool
	// Verify checks the SHA-256 of every object's content before and
	// after its copy, not only of a sample.
	Verify bool
	// Progress, if set, is called about ten times a second while objects
	// are copied, and once at the end.
	Progress func(RekeyProgress)
}

// Limits of RekeyOptions.Concurrency.
const (
	DefaultRekeyConcurrency = 4
	MaxRekeyConcurrency     = 64
)

// RekeyProgress says how far the copies are.
type RekeyProgress struct {
	Objects, TotalObjects int
	Bytes, TotalBytes     int64
}

// RekeyGroup counts the objects under one scheme and key.
type RekeyGroup struct {
	Scheme  string `json:"scheme"`
	Key     string `json:"key,omitempty"`
	Objects int    `json:"objects"`
	Bytes   int64  `json:"bytes"`
}

// RekeyReport is what a rekey found and did; its JSON field names are
// stable.
type RekeyReport struct {
	Bucket string `json:"bucket"`
	// Target is "SSE-KMS" or "SSE-S3"; TargetKey the KES key of SSE-KMS.
	Target    string `json:"target"`
	TargetKey string `json:"target_key,omitempty"`
	Prefix    string `json:"prefix,omitempty"`
	DryRun    bool   `json:"dry_run"`
	// Before counts the objects per scheme and key as the listing found
	// them, SSE-C objects included.
	Before []RekeyGroup `json:"before"`
	// Objects and Bytes are what the listing found.
	Objects int   `json:"objects"`
	Bytes   int64 `json:"bytes"`
	// ToRekey and ToRekeyBytes are the objects to copy.
	ToRekey      int   `json:"to_rekey"`
	ToRekeyBytes int64 `json:"to_rekey_bytes"`
	// Rekeyed and RekeyedBytes are the objects copied under the target.
	Rekeyed      int   `json:"rekeyed"`
	RekeyedBytes int64 `json:"rekeyed_bytes"`
	// Already counts objects under the target already.
	Already int `json:"already"`
	// SkippedSSEC counts SSE-C objects: their key is not known.
	SkippedSSEC int `json:"skipped_sse_c"`
	// SkippedEncrypted counts encrypted objects left alone by
	// --only-plaintext.
	SkippedEncrypted int `json:"skipped_encrypted"`
	// Gone counts objects deleted between the listing and their copy.
	Gone int `json:"gone"`
	// NotTried counts the objects to copy that were not tried: the
	// rekey was interrupted, or stopped after maxFailuresInRow failures
	// in a row.
	NotTried int `json:"not_tried"`
	// Failed counts the copies that failed; Errors holds the first few.
	Failed int      `json:"failed"`
	Errors []string `json:"errors,omitempty"`
	// Verified counts the objects whose SHA-256 was compared before and
	// after their copy.
	Verified int `json:"verified"`
	// DefaultSet is true when rekey made the target the bucket's
	// default encryption (false when it was already, or with
	// --keep-default).
	DefaultSet bool `json:"default_set"`
	// Versioned is true for a bucket with versioning; OlderVersions
	// counts the noncurrent versions (and delete markers) under Prefix,
	// which keep their encryption.
	Versioned     bool    `json:"versioned"`
	OlderVersions int     `json:"older_versions"`
	Interrupted   bool    `json:"interrupted"`
	Seconds       float64 `json:"seconds"`
}

// maxRekeyErrors bounds RekeyReport.Errors.
const maxRekeyErrors = 5

// maxFailuresInRow stops a rekey whose copies keep failing (KES sealed,
// a full disk): the rest would fail the same way.
const maxFailuresInRow = 10

// rekeyTries is how often a request of the rekey is tried: a copy that
// fails for a lasting cause fails fast, and a rerun tries it again.
const rekeyTries = 2

// rekeyLimits are the upload limits of rekey's S3 client; nil keeps
// S3's, under which one CopyObject takes an object of up to 5 GiB and a
// bigger one goes through a multipart copy. Tests lower them to take the
// multipart copy with small objects.
var rekeyLimits *minio.UploadLimits

// rekeyAction is what rekey does with one object.
type rekeyAction int

const (
	actRekey rekeyAction = iota
	actAlready
	actSkipSSEC
	actSkipEncrypted
)

// classify says what rekey does with o for target.
func classify(o Object, target BucketMode, onlyPlaintext bool) rekeyAction {
	scheme := o.Scheme()
	switch {
	case scheme == SchemeC:
		return actSkipSSEC
	case underTarget(o, target):
		return actAlready
	case onlyPlaintext && scheme != SchemeNone:
		return actSkipEncrypted
	}
	return actRekey
}

// underTarget reports whether o is encrypted as target asks.
func underTarget(o Object, target BucketMode) bool {
	switch target.Mode {
	case ModeSSEKMS:
		return o.Scheme() == SchemeKMS && o.KMSKey() == target.Key
	case ModeSSES3:
		return o.Scheme() == SchemeS3
	}
	return false
}

// planRekey counts objs into a report and returns the objects to copy.
func planRekey(r *RekeyReport, objs []Object, o RekeyOptions) []Object {
	groups := map[RekeyGroup]*RekeyGroup{}
	var todo []Object
	for _, obj := range objs {
		g := RekeyGroup{Scheme: obj.Scheme()}
		if g.Scheme == SchemeKMS {
			g.Key = obj.KMSKey()
		}
		if groups[g] == nil {
			groups[g] = &RekeyGroup{Scheme: g.Scheme, Key: g.Key}
		}
		groups[g].Objects++
		groups[g].Bytes += obj.Size
		r.Objects++
		r.Bytes += obj.Size
		switch classify(obj, o.Target, o.OnlyPlaintext) {
		case actRekey:
			todo = append(todo, obj)
			r.ToRekey++
			r.ToRekeyBytes += obj.Size
		case actAlready:
			r.Already++
		case actSkipSSEC:
			r.SkippedSSEC++
		case actSkipEncrypted:
			r.SkippedEncrypted++
		}
	}
	r.Before = make([]RekeyGroup, 0, len(groups))
	for _, g := range groups {
		r.Before = append(r.Before, *g)
	}
	sort.Slice(r.Before, func(i, j int) bool {
		a, b := r.Before[i], r.Before[j]
		if a.Scheme != b.Scheme {
			return a.Scheme < b.Scheme
		}
		return a.Key < b.Key
	})
	return todo
}

// sampled reports whether the i-th object to copy has its content
// checked without --verify: the first three and one in a hundred.
func sampled(i int) bool { return i < 3 || i%100 == 0 }

// ErrNothingToRekey is returned when the bucket's default encryption is
// the target already and every object is under it.
var ErrNothingToRekey = errors.New("lab: nothing to re-encrypt")

// Rekey re-encrypts the objects of a bucket under o.Target with a
// server-side copy of each object onto itself (the latest version of
// each; older versions of a versioned bucket keep their encryption). It
// takes each object's encryption from one listing with metadata, skips
// SSE-C objects and objects under the target already (so a second run
// finishes what an interrupted one began), and, unless o.KeepDefault,
// first makes the target the bucket's default encryption, so that
// objects written meanwhile land under it too. The report is filled in
// as far as the rekey got, also when it returns an error; an interrupted
// rekey (ctx done) returns ctx's error with Interrupted set.
func (h *Handle) Rekey(ctx context.Context, bucket string, o RekeyOptions) (rep RekeyReport, err error) {
	start := time.Now()
	defer func() { rep.Seconds = time.Since(start).Seconds() }()
	rep = RekeyReport{Bucket: bucket, Prefix: o.Prefix, DryRun: o.DryRun, Target: SchemeS3}
	if o.Target.Mode == ModeSSEKMS {
		rep.Target, rep.TargetKey = SchemeKMS, o.Target.Key
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultRekeyConcurrency
	}
	s3, err := newS3Client(h.S3Endpoint(), h.Credentials, h.HTTPClient().Transport, rekeyTries, rekeyLimits)
	if err != nil {
		return rep, err
	}
	if err := requireBucket(ctx, s3, bucket); err != nil {
		return rep, err
	}
	if err := h.requireTargetKey(ctx, o.Target); err != nil {
		return rep, err
	}
	enc, err := bucketEncryption(ctx, s3, bucket)
	if err != nil && !errors.Is(err, errNoEncryption) {
		return rep, err
	}
	defaultIsTarget := defaultMatches(enc, o.Target)

	objs, _, err := listObjects(ctx, s3, bucket, o.Prefix, 0)
	if err != nil {
		return rep, err
	}
	todo := planRekey(&rep, objs, o)
	if err := olderVersions(ctx, s3, bucket, o.Prefix, &rep); err != nil {
		return rep, err
	}
	if len(todo) == 0 && (defaultIsTarget || o.KeepDefault) && !o.DryRun {
		return rep, fmt.Errorf("%w: every object of bucket %s%s is under %s already (or skipped)", ErrNothingToRekey, bucket, prefixNote(o.Prefix), o.Target)
	}
	if err := refuseLocked(ctx, s3, bucket, todo); err != nil {
		return rep, err
	}
	if o.DryRun {
		return rep, nil
	}
	if !o.KeepDefault && !defaultIsTarget {
		if err := h.setEncryption(ctx, s3, bucket, o.Target); err != nil {
			return rep, err
		}
		rep.DefaultSet = true
	}
	err = copyAll(ctx, s3, todo, o, &rep)
	if ctx.Err() != nil {
		rep.Interrupted = true
		return rep, fmt.Errorf("lab: rekey of bucket %s interrupted: %w", bucket, ctx.Err())
	}
	return rep, err
}

// prefixNote names a prefix for a message.
func prefixNote(prefix string) string {
	if prefix == "" {
		return ""
	}
	return " under " + prefix
}

// defaultMatches reports whether a bucket's default encryption is target.
func defaultMatches(enc BucketEncryption, target BucketMode) bool {
	switch target.Mode {
	case ModeSSEKMS:
		return enc.Algorithm == "aws:kms" && strings.TrimPrefix(enc.KeyID, "arn:aws:kms:") == target.Key
	case ModeSSES3:
		return enc.Algorithm == "AES256"
	}
	return false
}

// requireTargetKey fails, saying how to create it, unless target's KES
// key exists.
func (h *Handle) requireTargetKey(ctx context.Context, target BucketMode) error {
	if target.Mode != ModeSSEKMS {
		return nil
	}
	if _, err := h.KES().DescribeKey(ctx, target.Key); errors.Is(err, kesapi.ErrKeyNotFound) {
		return fmt.Errorf("lab: target key %s does not exist; create it with 'sselab key create %s'", target.Key, target.Key)
	}
	return h.checkMode(ctx, target)
}

// olderVersions counts the noncurrent versions of a versioned bucket.
func olderVersions(ctx context.Context, s3 *minio.Client, bucket, prefix string, rep *RekeyReport) error {
	v, err := s3.GetBucketVersioning(ctx, bucket)
	if err != nil {
		return fmt.Errorf("lab: versioning of bucket %s: %w", bucket, err)
	}
	if v.Status == "" {
		return nil // never versioned
	}
	rep.Versioned = true
	for obj := range s3.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true, Prefix: prefix, WithVersions: true}) {
		if obj.Err != nil {
			return fmt.Errorf("lab: list versions in %s: %w", bucket, obj.Err)
		}
		if !obj.IsLatest {
			rep.OlderVersions++
		}
	}
	return nil
}

// LockedError refuses to rekey a bucket whose objects are under
// retention or legal hold.
type LockedError struct {
	Bucket  string
	Objects []string // the locked objects, at most maxKeyUseObjects
	Count   int
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("lab: bucket %s has object lock and %d object(s), such as %s, are under retention or legal hold: S3 refuses to replace a locked version, so rekey changes nothing in this bucket", e.Bucket, e.Count, e.Objects[0])
}

// refuseLocked fails with a LockedError when the bucket has object lock
// and an object to copy is under retention or legal hold.
func refuseLocked(ctx context.Context, s3 *minio.Client, bucket string, todo []Object) error {
	enabled, _, _, _, err := s3.GetObjectLockConfig(ctx, bucket)
	if err != nil && s3Code(err) != "ObjectLockConfigurationNotFoundError" {
		return fmt.Errorf("lab: object lock of bucket %s: %w", bucket, err)
	}
	if enabled != "Enabled" {
		return nil
	}
	locked := &LockedError{Bucket: bucket}
	for _, obj := range todo {
		if !objectLocked(ctx, s3, obj) {
			continue
		}
		locked.Count++
		if len(locked.Objects) < maxKeyUseObjects {
			locked.Objects = append(locked.Objects, obj.Key)
		}
	}
	if locked.Count > 0 {
		return locked
	}
	return nil
}

// objectLocked reports whether an object is under retention that has not
// ended or under legal hold; an answer it cannot get counts as locked.
func objectLocked(ctx context.Context, s3 *minio.Client, obj Object) bool {
	mode, until, err := s3.GetObjectRetention(ctx, obj.Bucket, obj.Key, "")
	if err != nil && s3Code(err) != "NoSuchObjectLockConfiguration" {
		return true
	}
	if mode != nil && until != nil && until.After(time.Now()) {
		return true
	}
	hold, err := s3.GetObjectLegalHold(ctx, obj.Bucket, obj.Key, minio.GetObjectLegalHoldOptions{})
	if err != nil && s3Code(err) != "NoSuchObjectLockConfiguration" {
		return true
	}
	return hold != nil && *hold == minio.LegalHoldEnabled
}

// copyAll copies todo with o.Concurrency workers until done or ctx ends,
// counting into rep.
func copyAll(ctx context.Context, s3 *minio.Client, todo []Object, o RekeyOptions, rep *RekeyReport) error {
	var (
		mu     sync.Mutex
		prog   = RekeyProgress{TotalObjects: len(todo), TotalBytes: rep.ToRekeyBytes}
		next   = make(chan int)
		wg     sync.WaitGroup
		inRow  int                   // failures since the last success
		failed = make(chan struct{}) // closed after maxFailuresInRow
	)
	report := func() {
		if o.Progress != nil {
			mu.Lock()
			p := prog
			mu.Unlock()
			o.Progress(p)
		}
	}
	stopTicker := make(chan struct{})
	tickerDone := make(chan struct{})
	go func() {
		defer close(tickerDone)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopTicker:
				return
			case <-t.C:
				report()
			}
		}
	}()
	for range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				obj := todo[i]
				verified, err := rekeyObject(ctx, s3, obj, o.Target, o.Verify || sampled(i))
				mu.Lock()
				prog.Objects++
				prog.Bytes += obj.Size
				switch {
				case err == nil:
					inRow = 0
					rep.Rekeyed++
					rep.RekeyedBytes += obj.Size
					if verified {
						rep.Verified++
					}
				case s3Code(err) == "NoSuchKey":
					rep.Gone++
				case ctx.Err() != nil:
					// Interrupted before its copy began (the copy itself
					// and its check finish regardless): untouched.
					rep.NotTried++
				default:
					rep.Failed++
					if len(rep.Errors) < maxRekeyErrors {
						rep.Errors = append(rep.Errors, err.Error())
					}
					if inRow++; inRow == maxFailuresInRow {
						close(failed)
					}
				}
				mu.Unlock()
			}
		}()
	}
	sent := 0
feed:
	for i := range todo {
		select {
		case <-ctx.Done():
			break feed
		case <-failed:
			break feed
		case next <- i:
			sent++
		}
	}
	close(next)
	wg.Wait()
	rep.NotTried += len(todo) - sent
	close(stopTicker)
	<-tickerDone
	report()
	if rep.Failed > 0 {
		stopped := ""
		if rep.NotTried > 0 && ctx.Err() == nil {
			stopped = fmt.Sprintf(" (stopped after %d failures in a row; %d not tried)", maxFailuresInRow, rep.NotTried)
		}
		return fmt.Errorf("lab: rekey of bucket %s: %d object(s) failed%s, such as: %s; run the same command again to finish", rep.Bucket, rep.Failed, stopped, rep.Errors[0])
	}
	return nil
}

// rekeyObject copies obj onto itself under target. With check, it
// compares the SHA-256 of the content before and after the copy and
// returns verified. A copy that has started finishes even when ctx ends:
// MinIO replaces an object only once its copy is complete, so stopping
// half-way would cost the work and save nothing.
func rekeyObject(ctx context.Context, s3 *minio.Client, obj Object, target BucketMode, check bool) (verified bool, err error) {
	var before []byte
	if check {
		if before, err = contentHash(ctx, s3, obj); err != nil {
			return false, err
		}
	}
	var sse encrypt.ServerSide = encrypt.NewSSE()
	if target.Mode == ModeSSEKMS {
		if sse, err = encrypt.NewSSEKMS(target.Key, nil); err != nil {
			return false, fmt.Errorf("lab: %s/%s: %w", obj.Bucket, obj.Key, err)
		}
	}
	dst := minio.CopyDestOptions{Bucket: obj.Bucket, Object: obj.Key, Encryption: sse}
	src := minio.CopySrcOptions{Bucket: obj.Bucket, Object: obj.Key}
	if obj.Size > s3.UploadLimits().MaxPartSize { // 5 GiB
		// A multipart copy: minio-go carries the user metadata over
		// itself; the content type and the tags are set here.
		if err := bigCopyOptions(ctx, s3, obj, &dst); err != nil {
			return false, err
		}
		_, err = s3.ComposeObject(ctx, dst, src)
	} else {
		_, err = s3.CopyObject(context.WithoutCancel(ctx), dst, src)
	}
	if err != nil {
		return false, fmt.Errorf("lab: re-encrypt %s/%s: %w", obj.Bucket, obj.Key, err)
	}
	if !check {
		return false, nil
	}
	after, err := contentHash(context.WithoutCancel(ctx), s3, obj) // the copy is done: check it
	if err != nil {
		return false, err
	}
	if string(after) != string(before) {
		return false, fmt.Errorf("lab: %s/%s: content changed during its copy (sha256 %x before, %x after)", obj.Bucket, obj.Key, before, after)
	}
	return true, nil
}

// bigCopyOptions sets on the destination of a multipart copy what a
// single CopyObject keeps by itself: the user metadata, the content type
// and the other standard headers, and the tags. minio-go's multipart
// copy starts its upload with the source's user metadata only, so the
// standard headers go in as replaced metadata (which it sends as they
// are, not as x-amz-meta-).
func bigCopyOptions(ctx context.Context, s3 *minio.Client, obj Object, dst *minio.CopyDestOptions) error {
	st, err := s3.StatObject(ctx, obj.Bucket, obj.Key, minio.StatObjectOptions{})
	if err != nil {
		return fmt.Errorf("lab: describe %s/%s: %w", obj.Bucket, obj.Key, err)
	}
	meta := make(map[string]string, len(st.UserMetadata)+len(keptHeaders))
	for k, v := range st.UserMetadata {
		meta[k] = v
	}
	for _, h := range keptHeaders {
		if v := st.Metadata.Get(h); v != "" {
			meta[h] = v
		}
	}
	dst.UserMetadata, dst.ReplaceMetadata = meta, true
	t, err := s3.GetObjectTagging(ctx, obj.Bucket, obj.Key, minio.GetObjectTaggingOptions{})
	if err != nil {
		return fmt.Errorf("lab: tags of %s/%s: %w", obj.Bucket, obj.Key, err)
	}
	dst.UserTags, dst.ReplaceTags = t.ToMap(), true
	return nil
}

// keptHeaders are the standard headers an object keeps through rekey.
var keptHeaders = []string{"Content-Type", "Content-Encoding", "Content-Disposition", "Content-Language", "Cache-Control", "Expires"}

// contentHash returns the SHA-256 of an object's content.
func contentHash(ctx context.Context, s3 *minio.Client, obj Object) ([]byte, error) {
	r, err := s3.GetObject(ctx, obj.Bucket, obj.Key, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("lab: read %s/%s: %w", obj.Bucket, obj.Key, err)
	}
	defer r.Close()
	sum := sha256.New()
	if _, err := io.Copy(sum, r); err != nil {
		return nil, fmt.Errorf("lab: read %s/%s: %w", obj.Bucket, obj.Key, err)
	}
	return sum.Sum(nil), nil
}
