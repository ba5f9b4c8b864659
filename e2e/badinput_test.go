package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sselab/sselab/internal/testtools"
	"github.com/sselab/sselab/pkg/labdir"
)

// TestUpBadInput runs `sselab up` with bad input: each case must exit
// non-zero with one line that says what to do (only MinIO's last output
// may follow, indented), leave the state directory as it was, and leave
// no process behind. TestBadInput has more cases.
func TestUpBadInput(t *testing.T) {
	requireLinux(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyAddr := busy.Addr().String()
	_, busyPort, _ := net.SplitHostPort(busyAddr)

	scratch := t.TempDir()
	regular := filepath.Join(scratch, "regular-file")
	os.WriteFile(regular, []byte("x"), 0o600)
	notExec := filepath.Join(scratch, "minio-not-executable")
	os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644)
	notMinIO := filepath.Join(scratch, "not-minio")
	os.WriteFile(notMinIO, []byte("#!/bin/sh\necho hello\n"), 0o755)
	crashing := filepath.Join(scratch, "crashing-minio")
	os.WriteFile(crashing, []byte(`#!/bin/sh
if [ "$1" = "--version" ]; then echo "minio version RELEASE.2025-09-07T16-13-09Z (commit-id=test)"; exit 0; fi
echo "starting"
echo "FATAL: unable to initialize the drive (a test failure)" >&2
exit 1
`), 0o755)

	cases := []struct {
		name string
		args []string
		// prepare makes the directory's state before the run; nil: none.
		prepare  func(t *testing.T, dir string)
		code     int
		want     []string
		details  bool // MinIO's last output lines may follow, indented
		keepsDir bool // dir is not expected to be fresh
		// check returns further problems with the result; nil: none.
		check func(t *testing.T, dir string, r result) []string
		bug   string // a known bug: the case is skipped while it fails
	}{
		{name: "S3 port in use", args: []string{"--address", busyAddr}, code: 1,
			want: []string{"port " + busyPort + " is in use", "--address"}},
		{name: "KES port in use", args: []string{"--kes-address", busyAddr}, code: 1,
			want: []string{"port " + busyPort + " is in use", "--kes-address"}},
		{name: "console port in use", args: []string{"--console-address", busyAddr}, code: 1,
			want: []string{"port " + busyPort + " is in use", "--console-address"}},
		{name: "same port twice", args: []string{"--address", testtools.FreeAddr(t), "--console-address", "SAME"}, code: 2,
			want: []string{"same port", "--console-address", "--address"}},
		{name: "address without port", args: []string{"--address", "127.0.0.1"}, code: 2,
			want: []string{"--address", "host:port"}},
		{name: "unknown flag", args: []string{"--adress", "127.0.0.1:9000"}, code: 2,
			want: []string{"unknown flag: --adress", "see 'sselab up --help'"}},
		{name: "bad key name", args: []string{"--key", "a/b"}, code: 2,
			want: []string{"invalid key name"}},
		{name: "bad bucket name", args: []string{"--bucket", "No_Such"}, code: 2,
			want: []string{"invalid bucket name"}},
		{name: "unwritable dir", args: []string{"--dir", filepath.Join(regular, "lab")}, code: 1,
			want: []string{"cannot use --dir"}},
		{name: "minio missing", args: []string{"--minio", filepath.Join(scratch, "nope")}, code: 1,
			want: []string{"--minio", "no such file"}},
		{name: "minio not executable", args: []string{"--minio", notExec}, code: 1,
			want: []string{"--minio", "not executable"}},
		{name: "minio is not MinIO", args: []string{"--minio", notMinIO}, code: 1,
			want: []string{"not a MinIO server binary"}},
		{name: "minio is mc", args: []string{"--minio", testtools.MC(t)}, code: 1,
			want: []string{"github.com/minio/mc", "not the MinIO server binary"}},
		{name: "MinIO exits during start", args: []string{"--minio", crashing}, code: 1, details: true,
			want: []string{"exited during start", "unable to initialize the drive"}},
		{name: "MinIO exits during start: the log named is there", args: []string{"--minio", crashing}, code: 1, details: true,
			want:  []string{"full log: "},
			check: namedLogExists},
		{name: "KES cannot open its keystore", code: 1, keepsDir: true,
			prepare: func(t *testing.T, dir string) {
				mustRun(t, append([]string{"up", "--detach", "--dir", dir}, freePorts...)...)
				mustRun(t, "down", "--dir", dir)
				keys := labdir.Layout{Root: dir}.KeyStoreDir()
				os.RemoveAll(keys)
				os.WriteFile(keys, []byte("not a directory"), 0o600)
			},
			want: []string{"keystore"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "lab")
			if tc.prepare != nil {
				tc.prepare(t, dir)
			}
			args := append([]string{"up", "--dir", dir}, freePorts...)
			args = append(args, tc.args...) // later flags win
			for i, a := range args {
				if a == "SAME" {
					args[i] = args[i-2] // the --address value
				}
			}
			before := treeHash(t, dir)
			r := sselab(t, args...)
			t.Logf("stderr: %s", r.stderr)
			problems := refusal{code: tc.code, want: tc.want, details: tc.details}.problems(r)
			if tc.check != nil {
				problems = append(problems, tc.check(t, dir, r)...)
			}
			if after := treeHash(t, dir); after != before {
				problems = append(problems, fmt.Sprintf("the state directory changed: before %s, after %s", before, after))
			}
			if !tc.keepsDir && before != "absent" {
				t.Errorf("test setup: %s should not exist before the run", dir)
			}
			if pids := processesMentioning(dir); len(pids) > 0 {
				problems = append(problems, fmt.Sprintf("processes still run for %s: %v", dir, pids))
			}
			judge(t, tc.bug, problems)
		})
	}
}

// namedLogExists checks that a log file an error points to is there.
func namedLogExists(t *testing.T, dir string, r result) []string {
	_, path, ok := strings.Cut(r.stderr, "full log: ")
	if !ok {
		return nil // the want list reports it
	}
	path, _, _ = strings.Cut(path, "\n")
	if _, err := os.Stat(path); err != nil {
		return []string{fmt.Sprintf("the error points to the full log %s, which is gone: %v", path, err)}
	}
	return nil
}
