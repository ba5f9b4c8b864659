package console

import (
	"context"
	"errors"
	"net"
	"regexp"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"

	kesapi "github.com/minio/kms-go/kes"
	"github.com/minio/minio-go/v7"

	"github.com/sselab/sselab/pkg/lab"
)

// sentence turns an error from the lab, KES or MinIO into one readable
// sentence for a page: never a stack, never raw XML.
func sentence(err error) string {
	var inUse *lab.KeyInUseError
	var resp minio.ErrorResponse
	errors.As(err, &resp) // the lab wraps minio-go's errors
	switch {
	case err == nil:
		return ""
	case errors.As(err, &inUse):
		return capital(strings.TrimSuffix(strings.TrimPrefix(inUse.Error(), "lab: "), "; pass --force to delete it anyway") +
			". Deleting it is refused; tick \"delete it anyway\" only if losing that data is what you want.")
	case errors.Is(err, context.DeadlineExceeded):
		return "The lab took too long to answer; try again in a moment."
	case unreachable(err):
		return "MinIO or KES is not answering (it may be restarting); reload the page in a moment."
	case resp.Code != "":
		return s3Sentence(resp)
	case errors.Is(err, kesapi.ErrNotAllowed):
		return "KES refused: the console's identity is not allowed to do that."
	}
	return plain(err.Error())
}

// s3Sentence says what an S3 error means for the user.
func s3Sentence(resp minio.ErrorResponse) string {
	switch resp.Code {
	case "NoSuchBucket":
		return "The bucket " + quote(resp.BucketName) + " does not exist (any more)."
	case "NoSuchKey":
		return "The object " + quote(resp.Key) + " does not exist (any more)."
	case "BucketAlreadyOwnedByYou", "BucketAlreadyExists":
		return "A bucket named " + quote(resp.BucketName) + " already exists."
	case "BucketNotEmpty":
		return "The bucket " + quote(resp.BucketName) + " is not empty."
	case "XMinioStorageFull":
		return "MinIO's drive is full: free some space on it, or upload a smaller file."
	case "XMinioServerNotInitialized":
		return "MinIO is still starting; try again in a moment."
	case "AccessDenied":
		return "MinIO denied access."
	}
	// MinIO's messages are sentences; KMS failures name the key.
	msg := strings.TrimSpace(resp.Message)
	if msg == "" {
		msg = resp.Code
	}
	return "MinIO: " + plain(msg)
}

// unreachable reports whether err means that a server did not answer.
func unreachable(err error) bool {
	var op *net.OpError
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.As(err, &op) || strings.Contains(err.Error(), "connection refused")
}

// packagePrefix matches the "pkg: " prefixes of wrapped Go errors.
var packagePrefix = regexp.MustCompile(`^(?:[a-z0-9]+: )+`)

// plain turns an error message into a sentence: no package prefixes, a
// capital letter, a full stop.
func plain(msg string) string {
	msg = packagePrefix.ReplaceAllString(strings.TrimSpace(msg), "")
	msg = strings.TrimRight(msg, ".")
	return capital(msg) + "."
}

// capital upper-cases the first letter of s.
func capital(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

// quote puts a name in typographic quotes.
func quote(s string) string { return "“" + s + "”" }
