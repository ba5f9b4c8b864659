package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sselab/sselab/internal/progress"
	"github.com/sselab/sselab/pkg/lab"
)

const bucketUsage = `Usage: sselab bucket <command> [--dir DIR] ...

Creates buckets and sets their default encryption, like 'mc mb' and
'mc encrypt set/info/clear'.

Commands:
  create NAME [--sse-kms KEY | --sse-s3 | --no-encryption]
            create a bucket; by default its objects are encrypted with
            SSE-KMS and the lab's default key
  encryption NAME [--sse-kms KEY | --sse-s3 | --clear] [--json]
            set a bucket's default encryption; without a mode, show it
  rekey NAME (--to KEY | --sse-s3) [--only-plaintext] [--prefix P]
            [--concurrency N] [--dry-run] [--keep-default] [--verify] [--json]
            re-encrypt the objects already stored: copy each object onto
            itself under SSE-KMS with KEY, or SSE-S3, keeping its user
            metadata, content type and tags (not its modification time);
            SSE-C objects and objects under the target already are
            skipped, so running it again finishes an interrupted rekey.
            First makes the target the bucket's default (not with
            --keep-default). --dry-run counts objects per scheme and key
            and changes nothing; --only-plaintext leaves encrypted
            objects alone, and without --to or --sse-s3 encrypts the
            plaintext ones as the bucket's default encryption says;
            --concurrency copies N at a time (default 4);
            --verify compares every object's SHA-256 before and after its
            copy (default: the first three and one in a hundred). Only
            the latest version of each object: older versions of a
            versioned bucket keep their encryption and their key.

A key named with --sse-kms or --to must exist in KES ('sselab key list').

Examples:
  sselab bucket create photos --sse-kms photos-key
  sselab bucket encryption photos --sse-s3
  sselab bucket encryption photos
  sselab bucket rekey photos --to photos-2026 --dry-run
  sselab bucket rekey photos --to photos-2026
  sselab bucket rekey legacy --only-plaintext
`

func runBucket(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if wantsHelp(args) {
		return errHelp // run prints the usage
	}
	var (
		dir, kmsKey                 string
		sseS3, none, clear, jsonOut bool
	)
	sub := args[0]
	if sub == "rekey" {
		return runBucketRekey(ctx, args[1:], stdout, stderr)
	}
	fs := newFlags("bucket "+sub, &dir)
	fs.StringVar(&kmsKey, "sse-kms", "", "")
	fs.BoolVar(&sseS3, "sse-s3", false, "")
	switch sub {
	case "create":
		fs.BoolVar(&none, "no-encryption", false, "")
	case "encryption":
		fs.BoolVar(&clear, "clear", false, "")
		fs.BoolVar(&jsonOut, "json", false, "")
	default:
		return usageError{fmt.Errorf("unknown command 'bucket %s'", sub)}
	}
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{fmt.Errorf("'bucket %s' takes a bucket name", sub)}
	}
	modes := 0
	for _, set := range []bool{kmsKey != "", sseS3, none, clear} {
		if set {
			modes++
		}
	}
	if modes > 1 {
		return usageError{errors.New("choose one of --sse-kms, --sse-s3 and --no-encryption/--clear")}
	}
	h, err := openLab(&dir)
	if err != nil {
		return err
	}
	name := fs.Arg(0)
	mode := lab.BucketMode{Mode: lab.ModeSSEKMS, Key: kmsKey}
	switch {
	case sseS3:
		mode = lab.BucketMode{Mode: lab.ModeSSES3}
	case none || clear:
		mode = lab.BucketMode{Mode: lab.ModeNone}
	case kmsKey == "":
		mode.Key = h.State.Key
	}
	if sub == "create" {
		if err := h.CreateBucket(ctx, name, mode); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "bucket %s created (%s)\n", name, mode)
		return nil
	}
	if modes == 1 {
		if err := h.SetBucketEncryption(ctx, name, mode); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "bucket %s: default encryption %s\n", name, mode)
		return nil
	}
	enc, err := h.BucketEncryption(ctx, name)
	if err != nil {
		return err
	}
	if jsonOut {
		return writeJSON(stdout, enc)
	}
	switch enc.Algorithm {
	case "":
		fmt.Fprintf(stdout, "bucket %s: no default encryption: objects sent without SSE headers are stored in plaintext\n", name)
	case "aws:kms":
		fmt.Fprintf(stdout, "bucket %s: default encryption SSE-KMS with key %s\n", name, enc.KeyID)
	default:
		fmt.Fprintf(stdout, "bucket %s: default encryption SSE-S3 (%s)\n", name, enc.Algorithm)
	}
	if p := lab.RclonePath(name, enc, h.State.Key); p != lab.RcloneRemote+":"+name {
		fmt.Fprintf(stdout, "rclone: write to %s to keep it (the remote %s alone uses SSE-KMS with key %s)\n", p, lab.RcloneRemote, h.State.Key)
	}
	return nil
}

// runBucketRekey runs 'sselab bucket rekey'.
func runBucketRekey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		dir, to        string
		sseS3, jsonOut bool
		allVersions    bool
		o              lab.RekeyOptions
	)
	fs := newFlags("bucket rekey", &dir)
	fs.StringVar(&to, "to", "", "")
	fs.BoolVar(&sseS3, "sse-s3", false, "")
	fs.BoolVar(&o.OnlyPlaintext, "only-plaintext", false, "")
	fs.StringVar(&o.Prefix, "prefix", "", "")
	fs.IntVar(&o.Concurrency, "concurrency", lab.DefaultRekeyConcurrency, "")
	fs.BoolVar(&o.DryRun, "dry-run", false, "")
	fs.BoolVar(&o.KeepDefault, "keep-default", false, "")
	fs.BoolVar(&allVersions, "all-versions", false, "")
	fs.BoolVar(&o.Verify, "verify", false, "")
	fs.BoolVar(&jsonOut, "json", false, "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := rekeyFlags(fs.NArg(), to, sseS3, allVersions, &o); err != nil {
		return err
	}
	h, err := openLab(&dir)
	if err != nil {
		return err
	}
	if o.Target.Mode == "" { // --only-plaintext alone: the bucket's default
		if o.Target, err = defaultTarget(ctx, h, fs.Arg(0)); err != nil {
			return err
		}
	}
	var bar *progress.Bar
	if !jsonOut {
		bar = newBar(stderr, progress.Options{Description: "rekey", Unit: "objects", Total: -1})
		o.Progress = func(p lab.RekeyProgress) { rekeyProgress(bar, p) }
	}
	rep, err := h.Rekey(ctx, fs.Arg(0), o)
	if err != nil && rep.Objects == 0 && !rep.Interrupted {
		return err // refused before anything was listed or done
	}
	var locked *lab.LockedError
	if errors.Is(err, lab.ErrNothingToRekey) || errors.As(err, &locked) {
		return err
	}
	if bar != nil {
		bar.Clear()
	}
	if jsonOut {
		if werr := writeJSON(stdout, rep); werr != nil {
			return werr
		}
	} else {
		printRekey(stdout, rep)
	}
	return err
}

// rekeyFlags checks the flags of 'bucket rekey' and sets o.Target; every
// mistake is a usage error.
func rekeyFlags(nargs int, to string, sseS3, allVersions bool, o *lab.RekeyOptions) error {
	switch {
	case nargs != 1:
		return usageError{errors.New("'bucket rekey' takes a bucket name")}
	case to != "" && sseS3, to == "" && !sseS3 && !o.OnlyPlaintext:
		return usageError{errors.New("choose one of --to KEY and --sse-s3")}
	case allVersions:
		return usageError{errors.New("--all-versions: S3 re-encrypts a version only by copying it, and the copy becomes the newest version, so older versions cannot be re-encrypted in place; they keep their key until they are deleted (mc rm --versions, or a lifecycle rule for noncurrent versions)")}
	case o.Concurrency < 1 || o.Concurrency > lab.MaxRekeyConcurrency:
		return usageError{fmt.Errorf("--concurrency %d: use 1 to %d", o.Concurrency, lab.MaxRekeyConcurrency)}
	}
	switch {
	case to != "":
		o.Target = lab.BucketMode{Mode: lab.ModeSSEKMS, Key: to}
	case sseS3:
		o.Target = lab.BucketMode{Mode: lab.ModeSSES3}
	}
	return nil
}

// defaultTarget is the target of 'rekey NAME --only-plaintext' without
// --to or --sse-s3: the bucket's default encryption, which the objects
// written before it was set lack.
func defaultTarget(ctx context.Context, h *lab.Handle, bucket string) (lab.BucketMode, error) {
	enc, err := h.BucketEncryption(ctx, bucket)
	if err != nil {
		return lab.BucketMode{}, err
	}
	switch enc.Algorithm {
	case "aws:kms":
		return lab.BucketMode{Mode: lab.ModeSSEKMS, Key: strings.TrimPrefix(enc.KeyID, "arn:aws:kms:")}, nil
	case "AES256":
		return lab.BucketMode{Mode: lab.ModeSSES3}, nil
	}
	return lab.BucketMode{}, fmt.Errorf("bucket %s has no default encryption to apply to its plaintext objects; pass --to KEY or --sse-s3", bucket)
}

// rekeyProgress shows rekey's progress on bar: objects copied of all,
// and bytes in the description.
func rekeyProgress(bar *progress.Bar, p lab.RekeyProgress) {
	bar.SetTotal(int64(p.TotalObjects))
	bar.Describe(fmt.Sprintf("rekey (%s of %s)", humanBytes(p.Bytes), humanBytes(p.TotalBytes)))
	bar.Set(int64(p.Objects))
}

// printRekey prints a rekey report for people.
func printRekey(w io.Writer, r lab.RekeyReport) {
	target := r.Target
	if r.TargetKey != "" {
		target += " with key " + r.TargetKey
	}
	fmt.Fprintf(w, "bucket %s%s: %d object(s), %s\n", r.Bucket, prefixNote(r.Prefix), r.Objects, humanBytes(r.Bytes))
	for _, g := range r.Before {
		name := g.Scheme
		if g.Key != "" {
			name += " key " + g.Key
		}
		fmt.Fprintf(w, "  %-28s %6d object(s)  %s\n", name, g.Objects, humanBytes(g.Bytes))
	}
	if r.DryRun {
		fmt.Fprintf(w, "dry run, nothing changed: %d object(s) (%s) would be re-encrypted under %s; %d under it already; %d SSE-C skipped",
			r.ToRekey, humanBytes(r.ToRekeyBytes), target, r.Already, r.SkippedSSEC)
	} else {
		fmt.Fprintf(w, "re-encrypted under %s: %d object(s), %s; under it already: %d; skipped SSE-C: %d; failed: %d",
			target, r.Rekeyed, humanBytes(r.RekeyedBytes), r.Already, r.SkippedSSEC, r.Failed)
	}
	if r.SkippedEncrypted > 0 {
		fmt.Fprintf(w, "; encrypted, left alone (--only-plaintext): %d", r.SkippedEncrypted)
	}
	fmt.Fprintln(w)
	if r.NotTried > 0 {
		fmt.Fprintf(w, "not tried: %d object(s)\n", r.NotTried)
	}
	if r.Gone > 0 {
		fmt.Fprintf(w, "%d object(s) were deleted during the rekey\n", r.Gone)
	}
	if r.Verified > 0 {
		fmt.Fprintf(w, "sha256 of the content checked before and after the copy: %d object(s)\n", r.Verified)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "  error: %s\n", e)
	}
	if r.SkippedSSEC > 0 {
		fmt.Fprintln(w, "SSE-C objects keep their customer key: only who holds it can re-encrypt them")
	}
	if r.DefaultSet {
		fmt.Fprintf(w, "default encryption of bucket %s is now %s\n", r.Bucket, target)
	}
	if r.Versioned && r.OlderVersions > 0 {
		fmt.Fprintf(w, "bucket %s is versioned: %d older version(s) keep their encryption, and their keys stay in use until they are deleted\n", r.Bucket, r.OlderVersions)
	}
	switch {
	case r.Interrupted:
		fmt.Fprintln(w, "interrupted: run the same command again to finish")
	case r.Failed > 0:
		fmt.Fprintln(w, "run the same command again to finish")
	}
}

// prefixNote names a prefix in a line of output.
func prefixNote(prefix string) string {
	if prefix == "" {
		return ""
	}
	return " (prefix " + prefix + ")"
}
