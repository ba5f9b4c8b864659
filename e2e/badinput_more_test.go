package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sselab/sselab/pkg/labdir"
	"github.com/sselab/sselab/pkg/pki"
)

// refusal is what a refused command must look like to its user.
type refusal struct {
	// code is the exit code: 2 for a mistake on the command line, 1 for
	// everything else.
	code int
	// want are strings the error must contain: what is wrong, and the
	// flag, file or command that helps.
	want []string
	// wantAny are the ways to say what to do next; the error must contain
	// at least one. Nil: want already names the action.
	wantAny []string
	// details allows indented lines after the first one, for an error
	// that quotes a child's last output lines.
	details bool
}

// actions are the words an error uses to tell its user what to do.
var actions = []string{"restore", "remove", "delete", "move", "replace", "rename", "free ", "make room", "run '", "pass --", "pick ", "chmod", "start a new lab", "sselab up", "sselab down"}

// problems returns what is wrong with r as that refusal: exit code, one
// line on stderr starting with "sselab: ", and the strings it must say.
func (f refusal) problems(r result) []string {
	var p []string
	if r.code != f.code {
		p = append(p, fmt.Sprintf("exit code: got %d, want %d", r.code, f.code))
	}
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	switch {
	case !strings.HasSuffix(r.stderr, "\n") || !strings.HasPrefix(lines[0], "sselab: "):
		p = append(p, fmt.Sprintf("stderr: got %q, want a line starting with 'sselab: '", r.stderr))
	case len(lines) > 1 && !f.details:
		p = append(p, fmt.Sprintf("stderr: got %d lines, want one: %q", len(lines), r.stderr))
	case f.details:
		for _, l := range lines[1:] {
			if !strings.HasPrefix(l, "  ") {
				p = append(p, fmt.Sprintf("stderr: detail line %q is not indented under the error", l))
			}
		}
	}
	for _, w := range f.want {
		if !strings.Contains(r.stderr, w) {
			p = append(p, fmt.Sprintf("stderr: got %q, want it to mention %q", r.stderr, w))
		}
	}
	if len(f.wantAny) > 0 && !slices.ContainsFunc(f.wantAny, func(w string) bool { return strings.Contains(r.stderr, w) }) {
		p = append(p, fmt.Sprintf("stderr: got %q, want it to say what to do (one of %q)", r.stderr, f.wantAny))
	}
	return p
}

// judge reports the problems of a case. A case marked with a known bug
// is skipped while the bug is there, and fails once it is fixed, so that
// the mark is removed.
func judge(t *testing.T, bug string, problems []string) {
	t.Helper()
	switch {
	case bug != "" && len(problems) > 0:
		t.Skipf("BUG: %s:\n  %s", bug, strings.Join(problems, "\n  "))
	case bug != "":
		t.Errorf("this case is marked as a known bug (%s) but passes now: remove the mark", bug)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// Where a bad-input case runs.
const (
	onFresh   = iota // $DIR does not exist
	onStopped        // $DIR is a copy of a lab that was started and stopped
	onRunning        // $DIR is a lab that runs (one for all cases, which must leave it as it was)
)

// TestBadInput runs the sselab commands other than a plain 'up' with bad
// flags, bad names and damaged or missing state. Each case must exit
// non-zero (2 for a command-line mistake) with one line on stderr that
// says what to do, leave the state directory byte-identical, and leave no
// process behind. On the running lab, "byte-identical" covers what no
// running process writes to (certificates, keystore, settings,
// credentials, state and lock files), and the lab must still be ready
// afterwards.
func TestBadInput(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	stopped := filepath.Join(t.TempDir(), "stopped")
	mustRun(t, append([]string{"up", "--detach", "--dir", stopped}, freePorts...)...)
	mustRun(t, "down", "--dir", stopped)
	running := filepath.Join(t.TempDir(), "running")
	h := upDetached(t, running)

	scratch := t.TempDir()
	shortKey := filepath.Join(scratch, "short.key")
	os.WriteFile(shortKey, []byte("too short"), 0o600)
	garbage := filepath.Join(scratch, "garbage.pem")
	os.WriteFile(garbage, []byte("garbage\n"), 0o600)
	fakeMinIO := []byte("#!/bin/sh\necho 'minio version RELEASE.2025-09-07T16-13-09Z'\n")
	long := strings.Repeat("k", 81)
	notRunning := refusal{code: 1, want: []string{"no lab is running on $DIR", "sselab up --dir $DIR"}}

	cases := []struct {
		name string
		on   int
		args []string // "$DIR" stands for the case's directory
		env  []string // "$DIR" too
		// damage changes $DIR before the run (on the running lab it must
		// undo itself with t.Cleanup).
		damage func(t *testing.T, dir string)
		refusal
		bug string // a known bug: the case is skipped while it fails
	}{
		// Mistakes on the command line: exit 2, and the help to read.
		{name: "status with an extra argument", args: []string{"status", "--dir", "$DIR", "extra"},
			refusal: refusal{code: 2, want: []string{`unexpected argument "extra"`, "see 'sselab status --help'"}}},
		{name: "down --dir without a value", args: []string{"down", "--dir"},
			refusal: refusal{code: 2, want: []string{"flag needs an argument: --dir", "see 'sselab down --help'"}}},
		{name: "env --shell bogus", args: []string{"env", "--dir", "$DIR", "--shell", "bogus"},
			refusal: refusal{code: 2, want: []string{`unknown shell "bogus"`, "sh, fish, powershell or cmd", "see 'sselab env --help'"}}},
		{name: "env --json with --shell", args: []string{"env", "--dir", "$DIR", "--json", "--shell", "sh"},
			refusal: refusal{code: 2, want: []string{"--json, --shell and --s3cmd exclude each other", "see 'sselab env --help'"}}},
		{name: "key create without a name", args: []string{"key", "create", "--dir", "$DIR"},
			refusal: refusal{code: 2, want: []string{"'key create' takes a key name", "see 'sselab key --help'"}}},
		{name: "key with an unknown command", args: []string{"key", "rotate", "k", "--dir", "$DIR"},
			refusal: refusal{code: 2, want: []string{"unknown command 'key rotate'", "see 'sselab key --help'"}}},
		{name: "bucket create with two encryptions", args: []string{"bucket", "create", "b1", "--sse-s3", "--sse-kms", "k", "--dir", "$DIR"},
			refusal: refusal{code: 2, want: []string{"choose one of --sse-kms, --sse-s3", "see 'sselab bucket --help'"}}},
		{name: "verify with an unknown flag", args: []string{"verify", "--dir", "$DIR", "--buckets", "b1"},
			refusal: refusal{code: 2, want: []string{"unknown flag: --buckets", "see 'sselab verify --help'"}}},
		{name: "pki with an unknown command", args: []string{"pki", "list", "--dir", "$DIR"},
			refusal: refusal{code: 2, want: []string{"unknown command 'pki list'", "see 'sselab pki --help'"}}},
		{name: "minio use without an argument", args: []string{"minio", "use"}, env: []string{"SSELAB_CACHE_DIR=$DIR/cache"},
			refusal: refusal{code: 2, want: []string{"'minio use' takes 1 argument", "see 'sselab minio --help'"}}},
		{name: "unknown command", args: []string{"stop", "--dir", "$DIR"},
			refusal: refusal{code: 2, want: []string{`unknown command "stop"`, "see 'sselab --help'"}}},

		// Values the command cannot take, however the machine is: a
		// mistake on the command line too, exit 2 and the help to read.
		{name: "up with a port over 65535", args: append([]string{"up", "--dir", "$DIR", "--address", "127.0.0.1:99999"}, freePorts[2:]...),
			refusal: refusal{code: 2, want: []string{"--address", "from 0 to 65535"}}},
		{name: "up with an address without host", args: append([]string{"up", "--dir", "$DIR", "--address", ":0"}, freePorts[2:]...),
			refusal: refusal{code: 2, want: []string{"--address", "use 127.0.0.1:0", "see 'sselab up --help'"}}},

		// Values that only the machine, the state directory or the lab
		// can refuse: exit 1.
		{name: "up --detach with the S3 port in use", args: slices.Concat([]string{"up", "--detach", "--dir", "$DIR", "--address", "BUSY"}, freePorts[2:]),
			refusal: refusal{code: 1, want: []string{"is in use by another program", "pass --address"}}},
		{name: "up --dir that is a file", args: append([]string{"up", "--dir", "$DIR/file"}, freePorts...),
			damage: func(t *testing.T, dir string) {
				os.Mkdir(dir, 0o700)
				os.WriteFile(filepath.Join(dir, "file"), nil, 0o600)
			},
			refusal: refusal{code: 1, want: []string{"cannot use --dir $DIR/file", "not a directory"}, wantAny: []string{"pick ", "another", "remove"}}},
		{name: "up on a read-only directory", args: append([]string{"up", "--dir", "$DIR"}, freePorts...),
			damage: func(t *testing.T, dir string) {
				os.Mkdir(dir, 0o700)
				mountOrSkip(t, "--bind", dir, dir)
				t.Cleanup(func() { unmount(t, dir) })
				mountOrSkip(t, "-o", "remount,bind,ro", dir)
			},
			refusal: refusal{code: 1, want: []string{"$DIR", "read-only file system"}, wantAny: []string{"pick a directory you can write to", "another --dir"}}},
		{name: "up with SSELAB_MINIO naming no file", args: append([]string{"up", "--dir", "$DIR/lab"}, freePorts...), env: []string{"SSELAB_MINIO=$DIR/nope"},
			damage:  func(t *testing.T, dir string) { os.Mkdir(dir, 0o700) },
			refusal: refusal{code: 1, want: []string{"SSELAB_MINIO=$DIR/nope", "no such file"}}},
		{name: "up with --minio naming a directory", args: append([]string{"up", "--dir", "$DIR/lab", "--minio", "$DIR"}, freePorts...),
			damage:  func(t *testing.T, dir string) { os.Mkdir(dir, 0o700) },
			refusal: refusal{code: 1, want: []string{"--minio $DIR"}, wantAny: []string{"directory", "not executable", "not a MinIO"}}},
		{name: "up with a modified cached MinIO", args: append([]string{"up", "--dir", "$DIR/lab"}, freePorts...),
			env: []string{"SSELAB_MINIO=", "SSELAB_CACHE_DIR=$DIR/cache"},
			damage: func(t *testing.T, dir string) {
				v := filepath.Join(dir, "cache", "minio", "v0.0.0-20260212201848-7aac2a2c5b7c")
				os.MkdirAll(v, 0o700)
				os.WriteFile(filepath.Join(v, "minio"), fakeMinIO, 0o755)
				os.WriteFile(filepath.Join(v, "manifest.json"), []byte(`{"version":"v0.0.0-20260212201848-7aac2a2c5b7c","sha256":"`+strings.Repeat("0", 64)+`","source":"build"}`), 0o600)
			},
			refusal: refusal{code: 1, want: []string{"was modified after it was cached", "delete $DIR/cache/minio/v0.0.0-20260212201848-7aac2a2c5b7c"}}},
		{name: "minio use of a version that is not cached", args: []string{"minio", "use", "RELEASE.1999-01-01T00-00-00Z"}, env: []string{"SSELAB_CACHE_DIR=$DIR/cache"},
			refusal: refusal{code: 1, want: []string{"RELEASE.1999-01-01T00-00-00Z is not cached", "sselab minio fetch --release RELEASE.1999-01-01T00-00-00Z"}}},
		{name: "minio use of a file that does not exist", args: []string{"minio", "use", "$DIR/no-minio"}, env: []string{"SSELAB_CACHE_DIR=$DIR/cache"},
			refusal: refusal{code: 1, want: []string{"$DIR/no-minio", "no such file"}}},
		{name: "identity of a private key", args: []string{"identity", "of", "$DIR/certs/operator.key"}, on: onStopped,
			refusal: refusal{code: 1, want: []string{"$DIR/certs/operator.key"}, wantAny: []string{"certificate", ".crt"}}},

		// The lab does not run.
		{name: "status on a stopped lab", on: onStopped, args: []string{"status", "--dir", "$DIR"}, refusal: notRunning},
		{name: "down on a stopped lab", on: onStopped, args: []string{"down", "--dir", "$DIR"}, refusal: notRunning},
		{name: "env on a stopped lab", on: onStopped, args: []string{"env", "--dir", "$DIR"}, refusal: notRunning},
		{name: "key list on a stopped lab", on: onStopped, args: []string{"key", "list", "--dir", "$DIR"}, refusal: notRunning},
		{name: "key create on a stopped lab", on: onStopped, args: []string{"key", "create", "k2", "--dir", "$DIR"}, refusal: notRunning},
		{name: "bucket create on a stopped lab", on: onStopped, args: []string{"bucket", "create", "b2", "--dir", "$DIR"}, refusal: notRunning},
		{name: "verify on a stopped lab", on: onStopped, args: []string{"verify", "--dir", "$DIR"}, refusal: notRunning},
		{name: "status on a directory that was never a lab", args: []string{"status", "--dir", "$DIR"}, refusal: notRunning},
		{name: "down after the lab was killed", on: onStopped, args: []string{"down", "--dir", "$DIR"},
			damage: func(t *testing.T, dir string) {
				// What a SIGKILLed lab leaves: its state file, nobody holding the lock.
				state := fmt.Sprintf(`{"pid": %d, "s3_endpoint": "https://127.0.0.1:1", "control_address": "127.0.0.1:1", "control_token": "x"}`, 1<<22-1)
				os.WriteFile(filepath.Join(dir, "state.json"), []byte(state), 0o600)
				os.WriteFile(filepath.Join(dir, "sselab.lock"), []byte("4194303\n"), 0o600)
			},
			refusal: notRunning},
		{name: "pki show without a PKI", args: []string{"pki", "show", "--dir", "$DIR"},
			refusal: refusal{code: 1, want: []string{"no PKI in $DIR/certs", "run 'sselab up --dir $DIR'"}}},

		// Damaged state files.
		{name: "up with a damaged settings.json", on: onStopped, args: append([]string{"up", "--dir", "$DIR"}, freePorts...),
			damage: func(t *testing.T, dir string) {
				os.WriteFile(filepath.Join(dir, "settings.json"), []byte(`{"address": `), 0o600)
			},
			refusal: refusal{code: 1, want: []string{"$DIR/settings.json is damaged", "restore it from a backup or remove it"}}},
		{name: "up with a damaged credentials.json", on: onStopped, args: append([]string{"up", "--dir", "$DIR"}, freePorts...),
			damage: func(t *testing.T, dir string) {
				os.WriteFile(filepath.Join(dir, "credentials.json"), []byte("\x00\x01 not json"), 0o600)
			},
			refusal: refusal{code: 1, want: []string{"$DIR/credentials.json is damaged", "restore it from a backup or remove it"}}},
		{name: "up with credentials.json without a password", on: onStopped, args: append([]string{"up", "--dir", "$DIR"}, freePorts...),
			damage: func(t *testing.T, dir string) {
				os.WriteFile(filepath.Join(dir, "credentials.json"), []byte(`{"root_user": "u"}`), 0o600)
			},
			refusal: refusal{code: 1, want: []string{"$DIR/credentials.json has no usable root credentials", "fix or remove it"}}},
		{name: "up with credentials.json readable by others", on: onStopped, args: append([]string{"up", "--dir", "$DIR"}, freePorts...),
			damage:  func(t *testing.T, dir string) { os.Chmod(filepath.Join(dir, "credentials.json"), 0o644) },
			refusal: refusal{code: 1, want: []string{"$DIR/credentials.json can be read by other users", "chmod 600 $DIR/credentials.json"}}},
		{name: "status with a damaged state.json", on: onStopped, args: []string{"status", "--dir", "$DIR"},
			damage:  func(t *testing.T, dir string) { os.WriteFile(filepath.Join(dir, "state.json"), []byte("{"), 0o600) },
			refusal: refusal{code: 1, want: []string{"$DIR/state.json is damaged", "remove it"}}},

		// A damaged PKI.
		{name: "up with a garbage lab CA certificate", on: onStopped, args: append([]string{"up", "--dir", "$DIR"}, freePorts...),
			damage: func(t *testing.T, dir string) {
				os.WriteFile(filepath.Join(dir, "certs", "ca.crt"), []byte("garbage\n"), 0o644)
			},
			refusal: refusal{code: 1, want: []string{"$DIR/certs/ca.crt"}, wantAny: actions}},
		{name: "up with a garbage private key", on: onStopped, args: append([]string{"up", "--dir", "$DIR"}, freePorts...),
			damage: func(t *testing.T, dir string) {
				os.WriteFile(filepath.Join(dir, "certs", "minio-kes-client.key"), []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600)
			},
			refusal: refusal{code: 1, want: []string{"$DIR/certs/minio-kes-client.key"}, wantAny: actions}},
		{name: "up with a certificate that does not match its key", on: onStopped, args: append([]string{"up", "--dir", "$DIR"}, freePorts...),
			damage: func(t *testing.T, dir string) {
				replaceWith(t, filepath.Join(dir, "certs", "kes-server.crt"), filepath.Join(dir, "certs", "operator.crt"))
			},
			refusal: refusal{code: 1, want: []string{"$DIR/certs/kes-server.key", "does not match", "$DIR/certs/kes-server.crt"}, wantAny: actions}},
		{name: "up with a leaf the lab CA did not sign", on: onStopped, args: append([]string{"up", "--dir", "$DIR"}, freePorts...),
			damage: func(t *testing.T, dir string) {
				reissue(t, dir, "operator.crt", otherCA(t), func(c *x509.Certificate) {})
			},
			refusal: refusal{code: 1, want: []string{"$DIR/certs/operator.crt", "not issued by the lab CA"}, wantAny: actions}},
		{name: "up with an expired lab CA", on: onStopped, args: append([]string{"up", "--dir", "$DIR"}, freePorts...),
			damage: func(t *testing.T, dir string) {
				reissue(t, dir, "ca.crt", nil, func(c *x509.Certificate) {
					c.NotBefore, c.NotAfter = time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour)
				})
			},
			refusal: refusal{code: 1, want: []string{"$DIR/certs/ca.crt"}, wantAny: []string{"move $DIR/certs aside", "keeps the keys and data"}}},
		{name: "pki show with an expired operator certificate", on: onStopped, args: []string{"pki", "show", "--dir", "$DIR"},
			damage: func(t *testing.T, dir string) {
				reissue(t, dir, "operator.crt", labCA(t, dir), func(c *x509.Certificate) {
					c.NotBefore, c.NotAfter = time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour)
				})
			},
			refusal: refusal{code: 1, want: []string{"expired: operator", "'sselab up --dir $DIR' renews"}}},
		{name: "pki show with a garbage certificate", on: onStopped, args: []string{"pki", "show", "--dir", "$DIR"},
			damage:  func(t *testing.T, dir string) { replaceWith(t, filepath.Join(dir, "certs", "kes-server.crt"), garbage) },
			refusal: refusal{code: 1, want: []string{"$DIR/certs/kes-server.crt"}, wantAny: actions}},

		// The running lab.
		{name: "up on a directory in use", on: onRunning, args: append([]string{"up", "--dir", "$DIR"}, freePorts...),
			refusal: refusal{code: 1, want: []string{"a lab is already running on this directory", "sselab down --dir $DIR"}}},
		{name: "up --detach on a directory in use", on: onRunning, args: append([]string{"up", "--detach", "--dir", "$DIR"}, freePorts...),
			refusal: refusal{code: 1, want: []string{"a lab is already running on this directory", "pick another --dir"}}},
		{name: "key create with a slash", on: onRunning, args: []string{"key", "create", "a/b", "--dir", "$DIR"},
			refusal: refusal{code: 2, want: []string{`invalid key name "a/b"`, "letters, digits"}}},
		{name: "key create with an empty name", on: onRunning, args: []string{"key", "create", "", "--dir", "$DIR"},
			refusal: refusal{code: 2, want: []string{`invalid key name ""`, "1-80 letters"}}},
		{name: "key create with 81 characters", on: onRunning, args: []string{"key", "create", long, "--dir", "$DIR"},
			refusal: refusal{code: 2, want: []string{"invalid key name", "1-80 letters"}}},
		{name: "key create of an existing key", on: onRunning, args: []string{"key", "create", labdir.DefaultKey, "--dir", "$DIR"},
			refusal: refusal{code: 1, want: []string{"key " + labdir.DefaultKey + " already exists", "pick another name"}}},
		{name: "key import of short material", on: onRunning, args: []string{"key", "import", "k3", "--file", shortKey, "--dir", "$DIR"},
			refusal: refusal{code: 1, want: []string{"must be 32 bytes", "head -c 32 /dev/urandom | base64"}}},
		{name: "key describe of a missing key", on: onRunning, args: []string{"key", "describe", "nope", "--dir", "$DIR"},
			refusal: refusal{code: 1, want: []string{"key nope does not exist", "sselab key list"}}},
		{name: "key delete of the default key", on: onRunning, args: []string{"key", "delete", labdir.DefaultKey, "--force", "--dir", "$DIR"},
			refusal: refusal{code: 1, want: []string{labdir.DefaultKey + " is the lab's default key", "cannot be deleted"}}},
		{name: "bucket create with upper case and underscore", on: onRunning, args: []string{"bucket", "create", "No_Such", "--dir", "$DIR"},
			refusal: refusal{code: 2, want: []string{`invalid bucket name "No_Such"`}, wantAny: []string{"lowercase", "a-z"}}},
		{name: "bucket create with two letters", on: onRunning, args: []string{"bucket", "create", "ab", "--dir", "$DIR"},
			refusal: refusal{code: 2, want: []string{`invalid bucket name "ab"`, "shorter than 3"}}},
		{name: "bucket create with a missing key", on: onRunning, args: []string{"bucket", "create", "bucket4", "--sse-kms", "missing", "--dir", "$DIR"},
			refusal: refusal{code: 1, want: []string{"key missing does not exist", "sselab key list"}}},
		{name: "bucket encryption of a missing bucket", on: onRunning, args: []string{"bucket", "encryption", "nobucket", "--dir", "$DIR"},
			refusal: refusal{code: 1, want: []string{"nobucket"}, wantAny: []string{"does not exist", "sselab bucket create"}}},
		{name: "verify --bucket of a missing bucket", on: onRunning, args: []string{"verify", "--bucket", "nobucket", "--dir", "$DIR"},
			refusal: refusal{code: 1, want: []string{"nobucket"}, wantAny: []string{"does not exist", "sselab bucket create"}}},
		{name: "env with a damaged credentials.json", on: onRunning, args: []string{"env", "--dir", "$DIR"},
			damage: func(t *testing.T, dir string) {
				path := filepath.Join(dir, "credentials.json")
				good, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				os.WriteFile(path, []byte("{{"), 0o600)
				t.Cleanup(func() { os.WriteFile(path, good, 0o600) })
			},
			refusal: refusal{code: 1, want: []string{"$DIR/credentials.json is damaged", "restore it from a backup"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var dir string
			switch tc.on {
			case onFresh:
				dir = filepath.Join(t.TempDir(), "dir")
			case onStopped:
				dir = filepath.Join(t.TempDir(), "lab")
				copyTree(t, stopped, dir)
			case onRunning:
				dir = running
			}
			if tc.damage != nil {
				tc.damage(t, dir)
			}
			expand := func(s []string) []string {
				out := make([]string, len(s))
				for i, a := range s {
					out[i] = strings.ReplaceAll(a, "$DIR", dir)
				}
				return out
			}
			args, env := expand(tc.args), expand(tc.env)
			f := tc.refusal
			f.want = expand(f.want)
			if i := slices.Index(args, "BUSY"); i >= 0 {
				ln := listen(t)
				args[i] = ln
			}

			hash := treeHash
			if tc.on == onRunning {
				hash = treeHashExcept
			}
			before, pidsBefore := hash(t, dir), processesMentioning(dir)
			r := sselabEnv(t, env, args...)
			t.Logf("stderr: %s", r.stderr)
			problems := f.problems(r)
			if after := hash(t, dir); after != before {
				problems = append(problems, "the state directory changed")
			}
			for _, pid := range processesMentioning(dir) {
				if !slices.Contains(pidsBefore, pid) {
					problems = append(problems, fmt.Sprintf("process %s that mentions %s still runs", pid, dir))
				}
			}
			judge(t, tc.bug, problems)
		})
	}
	if st, code := status(t, running); code != 0 || !st.Ready {
		t.Errorf("the running lab is not ready after the bad input: exit %d, %+v", code, st)
	}
	s3, err := h.S3()
	if err != nil {
		t.Fatal(err)
	}
	buckets, err := s3.ListBuckets(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(buckets) != 1 || buckets[0].Name != labdir.DefaultBucket {
		t.Errorf("the running lab's buckets after the bad input: got %v, want only %s", buckets, labdir.DefaultBucket)
	}
}

// listen holds a loopback port until the test ends and returns its
// address.
func listen(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// replaceWith overwrites the file at path with the content of src.
func replaceWith(t *testing.T, path, src string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err == nil {
		err = os.WriteFile(path, data, 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// copyTree copies the directory src to dst with the same modes.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		to := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := os.Mkdir(to, info.Mode().Perm()); err != nil {
				return err
			}
		case d.Type().IsRegular():
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if err := os.WriteFile(to, data, info.Mode().Perm()); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: not a file or directory", path)
		}
		return os.Chmod(to, info.Mode().Perm()) // whatever the umask
	})
	if err != nil {
		t.Fatalf("copying %s: %v", src, err)
	}
}

// labCA returns the CA of the PKI in dir/certs.
func labCA(t *testing.T, dir string) *pki.Cert {
	t.Helper()
	p, err := pki.Load(labdir.Layout{Root: dir}.CertsDir())
	if err != nil {
		t.Fatal(err)
	}
	return p.CA
}

// otherCA returns a CA that is not the lab's.
func otherCA(t *testing.T) *pki.Cert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "not the lab CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &pki.Cert{Role: pki.RoleCA, Cert: cert, Key: key}
}

// reissue rewrites the certificate dir/certs/name for the same public
// key, changed by mutate and signed by issuer (nil: self-signed with the
// certificate's own key, for the CA).
func reissue(t *testing.T, dir, name string, issuer *pki.Cert, mutate func(*x509.Certificate)) {
	t.Helper()
	path := filepath.Join(labdir.Layout{Root: dir}.CertsDir(), name)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pki.ParseCertificatePEM(data)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := *cert
	mutate(&tmpl)
	parent, signer := &tmpl, any(nil)
	if issuer != nil {
		parent, signer = issuer.Cert, issuer.Key
	} else {
		keyPEM, err := os.ReadFile(strings.TrimSuffix(path, ".crt") + ".key")
		if err != nil {
			t.Fatal(err)
		}
		if signer, err = pki.ParsePrivateKeyPEM(keyPEM); err != nil {
			t.Fatal(err)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, parent, cert.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}
