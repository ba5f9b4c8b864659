package labdir

import (
	"strings"
	"testing"
)

func TestCheckKeyName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ok   bool
	}{
		{"a", true},
		{"7", true},
		{"sselab-key", true},
		{"Key_1.2-x", true},
		{"0abc", true},
		{strings.Repeat("k", 80), true},
		{"", false},
		{"a/b", false},
		{"../etc", false},
		{strings.Repeat("k", 81), false},
		{"-x", false},
		{".x", false},
		{"_x", false},
		{"a b", false},
		{"a:b", false},
		{"a*", false},
		{"a\n", false},
		{"a\x00b", false},
		{"schlüssel", false},
	}
	for _, tt := range tests {
		err := CheckKeyName(tt.name)
		if got := err == nil; got != tt.ok {
			t.Errorf("CheckKeyName(%q): got ok=%v (err %v), want ok=%v", tt.name, got, err, tt.ok)
			continue
		}
		if err != nil && !strings.Contains(err.Error(), "invalid key name") {
			t.Errorf("CheckKeyName(%q): got %q, want it to say 'invalid key name'", tt.name, err)
		}
	}
}

func TestCheckBucketName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ok   bool
	}{
		{"abc", true},
		{"encrypted", true},
		{"my-bucket", true},
		{"my.bucket", true},
		{"a1b", true},
		{"123", true},
		{strings.Repeat("b", 63), true},
		{"", false},
		{"a", false},
		{"ab", false},
		{"AB", false},
		{"MyBucket", false},
		{"x..y", false},
		{"x.-y", false},
		{"x-.y", false},
		{"my_bucket", false},
		{"my:bucket", false},
		{"my bucket", false},
		{"-abc", false},
		{"abc-", false},
		{".abc", false},
		{"192.168.1.1", false},
		{strings.Repeat("b", 64), false},
	}
	for _, tt := range tests {
		err := CheckBucketName(tt.name)
		if got := err == nil; got != tt.ok {
			t.Errorf("CheckBucketName(%q): got ok=%v (err %v), want ok=%v", tt.name, got, err, tt.ok)
			continue
		}
		if err != nil && !strings.Contains(err.Error(), "invalid bucket name") {
			t.Errorf("CheckBucketName(%q): got %q, want it to say 'invalid bucket name'", tt.name, err)
		}
	}
}

func TestCheckAddress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr string
		want string // "" for valid, else a substring of the error
	}{
		{"127.0.0.1:9000", ""},
		{"127.0.0.1:0", ""},
		{"0.0.0.0:65535", ""},
		{"[::1]:9000", ""},
		{"[::]:9000", ""},
		{"localhost:9000", ""},
		{"lab.example.com:443", ""},
		{"127.0.0.1", "is not host:port"},
		{"localhost", "is not host:port"},
		{"", "is not host:port"},
		{"::1:9000", "is not host:port"},
		{":9000", "has no host; use 127.0.0.1:9000"},
		{"127.0.0.1:70000", "port must be a number from 0 to 65535"},
		{"127.0.0.1:65536", "port must be a number from 0 to 65535"},
		{"127.0.0.1:-1", "port must be a number from 0 to 65535"},
		{"127.0.0.1:http", "port must be a number from 0 to 65535"},
		{"127.0.0.1:", "port must be a number from 0 to 65535"},
	}
	for _, tt := range tests {
		err := CheckAddress("--flag", tt.addr)
		if tt.want == "" {
			if err != nil {
				t.Errorf("CheckAddress(%q): got %v, want nil", tt.addr, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("CheckAddress(%q): got nil, want an error containing %q", tt.addr, tt.want)
			continue
		}
		for _, s := range []string{"--flag", `"` + tt.addr + `"`, tt.want} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("CheckAddress(%q): got %q, want it to contain %q", tt.addr, err, s)
			}
		}
	}
}
