package labdir

import (
	"net"
	"regexp"
	"strconv"

	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// keyName is what sselab accepts as a KES key name: KES itself refuses
// '/', control characters and names over 80 bytes; sselab also keeps names
// shell- and URL-safe.
var keyName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$`)

// CheckKeyName reports whether name can be a KES key name.
func CheckKeyName(name string) error {
	if !keyName.MatchString(name) {
		return Invalid("labdir: invalid key name %q: use 1-80 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	return nil
}

// CheckBucketName reports whether S3 accepts name as a bucket name.
func CheckBucketName(name string) error {
	if err := s3utils.CheckValidBucketNameStrict(name); err != nil {
		return Invalid("labdir: invalid bucket name %q: %w; use 3-63 lowercase letters, digits, '.' or '-', starting and ending with a letter or digit", name, err)
	}
	return nil
}

// CheckAddress validates a host:port listen address given with flag.
func CheckAddress(flag, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return Invalid("labdir: %s %q is not host:port (%w)", flag, addr, err)
	}
	if host == "" {
		return Invalid("labdir: %s %q has no host; use 127.0.0.1:%s to stay on this machine", flag, addr, port)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return Invalid("labdir: %s %q: port must be a number from 0 to 65535", flag, addr)
	}
	return nil
}
