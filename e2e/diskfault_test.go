package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/labdir"
)

// TestDiskFull fills the file system of a running lab's state directory
// (a 64 MiB tmpfs): a PUT fails, 'sselab key create' fails with one line
// that says the disk is full, and what existed (keys, objects, the PKI,
// settings, credentials) is intact and readable. Once space is freed the
// lab works again without a restart, and after down and up everything is
// there.
func TestDiskFull(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	mnt := t.TempDir()
	mountOrSkip(t, "-t", "tmpfs", "-o", "size=64m,mode=0700", "tmpfs", mnt)
	t.Cleanup(func() { unmount(t, mnt) }) // after the lab stops: cleanups run last first
	dir := filepath.Join(mnt, "lab")
	filler := filepath.Join(mnt, "filler")
	diskFault(t, dir, func(t *testing.T) { fill(t, filler) }, func(t *testing.T) {
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
	}, []string{"space", "full"})
}

// TestDiskReadOnly makes a running lab's state directory read-only (a
// read-only bind mount over it: files the lab already has open stay
// writable, every new write fails with EROFS, as after a file system
// error): a PUT fails, 'sselab key create' fails with one line that says
// so, nothing that existed is damaged, and once the directory is
// writable again the lab works again, also after down and up.
func TestDiskReadOnly(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "lab")
	mounted := false
	diskFault(t, dir, func(t *testing.T) {
		mountOrSkip(t, "--bind", dir, dir)
		mounted = true
		t.Cleanup(func() { // runs before the lab stops if the test fails half-way
			if mounted {
				unmount(t, dir)
			}
		})
		mountOrSkip(t, "-o", "remount,bind,ro", dir)
		if err := os.WriteFile(filepath.Join(dir, "probe"), nil, 0o600); err == nil || !strings.Contains(err.Error(), "read-only file system") {
			t.Fatalf("writing to the read-only %s: %v, want read-only file system", dir, err)
		}
	}, func(t *testing.T) {
		unmount(t, dir)
		mounted = false
	}, []string{"read-only"})
}

// diskFault starts a lab on dir, writes objects and a key, breaks the
// disk, checks that writes fail cleanly and nothing is damaged, repairs
// the disk, and checks that the lab works again, also after down and up.
// keyWords are the words of which 'sselab key create' must say one while
// the disk is broken.
func diskFault(t *testing.T, dir string, breakDisk, repair func(t *testing.T), keyWords []string) {
	h := upDetached(t, dir)
	s3, err := h.S3()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	d := []string{"--dir", dir}
	objects := map[string][]byte{}
	put := func(name string, size int) error {
		body := make([]byte, size)
		rand.NewChaCha8(seed()).Read(body)
		pctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		_, err := s3.PutObject(pctx, labdir.DefaultBucket, name, bytes.NewReader(body), int64(size), minio.PutObjectOptions{})
		if err == nil {
			objects[name] = body
		}
		return err
	}
	checkObjects := func(when string) {
		t.Helper()
		for name, body := range objects {
			got := readObject(t, s3, labdir.DefaultBucket, name, minio.GetObjectOptions{})
			if !bytes.Equal(got, body) {
				t.Errorf("%s: %s reads back %d different bytes, want the %d stored", when, name, len(got), len(body))
			}
		}
	}
	checkKeys := func(when string, want ...string) {
		t.Helper()
		var keys []lab.KeyInfo
		if err := json.Unmarshal([]byte(mustRun(t, append([]string{"key", "list", "--json"}, d...)...).stdout), &keys); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, k := range keys {
			names = append(names, k.Name)
		}
		slices.Sort(want)
		if !slices.Equal(names, want) {
			t.Errorf("%s: the keys are %v, want %v", when, names, want)
		}
		files, err := os.ReadDir(h.Layout.KeyStoreDir())
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if fi, err := f.Info(); err != nil || fi.Size() == 0 {
				t.Errorf("%s: keystore file %s is empty or unreadable (%v)", when, f.Name(), err)
			}
		}
	}

	for i, size := range []int{1, 1000, 100_000, 1 << 20} {
		if err := put(fmt.Sprintf("before-%d", i), size); err != nil {
			t.Fatal(err)
		}
	}
	mustRun(t, append([]string{"key", "create", "before"}, d...)...)
	keep := treeHashExcept(t, dir)

	breakDisk(t)
	if err := put("during", 100_000); err == nil {
		t.Error("a PUT succeeded on the broken disk")
	} else {
		t.Logf("PUT on the broken disk: %v", err)
	}
	t.Run("key create refused", func(t *testing.T) {
		r := sselab(t, append([]string{"key", "create", "during"}, d...)...)
		t.Logf("stderr: %s", r.stderr)
		judge(t, "",
			refusal{code: 1, want: []string{"during"}, wantAny: keyWords}.problems(r))
	})
	checkKeys("on the broken disk", "before", labdir.DefaultKey)
	checkObjects("on the broken disk")
	if st, code := status(t, dir); !st.Running {
		t.Errorf("the lab stopped on the broken disk: exit %d, %+v", code, st)
	} else {
		t.Logf("status on the broken disk: exit %d, ready %v, minio %+v, kes %+v", code, st.Ready, st.MinIO, st.KES)
		if code == 0 || st.Ready || st.Disk.OK() || !strings.Contains(st.Disk.Error, "cannot write to") {
			t.Errorf("status on the broken disk: exit %d, ready %v, disk %+v; want it to say the disk cannot be written", code, st.Ready, st.Disk)
		}
	}
	if got := treeHashExcept(t, dir); got != keep {
		t.Error("the PKI, keystore, settings, credentials or state file changed while the disk was broken")
	}

	repair(t)
	// MinIO may need a moment to use its drive again.
	eventually(t, "a PUT after the disk was repaired", 2*time.Minute, func() error { return put("after", 100_000) })
	if _, err := s3.StatObject(ctx, labdir.DefaultBucket, "during", minio.StatObjectOptions{}); minio.ToErrorResponse(err).Code != minio.NoSuchKey {
		t.Errorf("the PUT refused on the broken disk left an object: stat says %v", err)
	}
	mustRun(t, append([]string{"key", "create", "after"}, d...)...)
	checkKeys("after the repair", "after", "before", labdir.DefaultKey)
	checkObjects("after the repair")
	waitReady(t, dir)

	mustRun(t, append([]string{"down"}, d...)...)
	h = upDetached(t, dir)
	if s3, err = h.S3(); err != nil {
		t.Fatal(err)
	}
	checkKeys("after down and up", "after", "before", labdir.DefaultKey)
	checkObjects("after down and up")
}

// waitReady waits until 'sselab status' says the lab is ready.
func waitReady(t *testing.T, dir string) {
	t.Helper()
	eventually(t, "the lab ready after the repair", 2*time.Minute, func() error {
		if st, code := status(t, dir); code != 0 || !st.Ready {
			return fmt.Errorf("exit %d, %+v", code, st)
		}
		return nil
	})
}

// mountOrSkip runs mount(8). Where the test may not mount (no root, no
// CAP_SYS_ADMIN, no mount program), it skips the test and says why.
func mountOrSkip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("mount", args...).CombinedOutput(); err != nil {
		t.Skipf("cannot mount here, this test needs root with CAP_SYS_ADMIN: mount %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
}

// unmount undoes a mount, detaching it lazily if it is still busy.
func unmount(t *testing.T, dir string) {
	t.Helper()
	out, err := exec.Command("umount", dir).CombinedOutput()
	if err == nil {
		return
	}
	if out2, err2 := exec.Command("umount", "--lazy", dir).CombinedOutput(); err2 != nil {
		t.Errorf("umount %s: %v: %s; umount --lazy: %v: %s", dir, err, out, err2, out2)
	}
}
