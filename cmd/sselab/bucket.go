package main

import (
	"context"
	"errors"
	"fmt"
	"io"

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

A key named with --sse-kms must exist in KES ('sselab key list').

Examples:
  sselab bucket create photos --sse-kms photos-key
  sselab bucket encryption photos --sse-s3
  sselab bucket encryption photos
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
	return nil
}
