//go:build !windows

package adopt

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// driveUser returns the pid and command line of a running MinIO that
// serves drive, or pid 0. It reads /proc where there is one (Linux), else
// asks ps (macOS, the BSDs), whose output loses the boundaries between
// arguments: a drive path with spaces is not recognized there, nor a
// relative one.
func driveUser(drive string) (pid int, cmdline string, err error) {
	if _, err := os.Stat("/proc/self/cmdline"); err == nil {
		return procDriveUser(drive)
	}
	return psDriveUser(drive)
}

// procDriveUser looks for the drive's MinIO in /proc.
func procDriveUser(drive string) (int, string, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, "", err
	}
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		dir := filepath.Join("/proc", e.Name())
		b, err := os.ReadFile(filepath.Join(dir, "cmdline"))
		if err != nil || len(b) == 0 {
			continue // gone, or a kernel thread
		}
		args := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
		cwd, _ := os.Readlink(filepath.Join(dir, "cwd")) // "" for another user's process
		if servesDrive(args, cwd, drive) {
			return pid, shorten(strings.Join(args, " ")), nil
		}
	}
	return 0, "", nil
}

// psDriveUser looks for the drive's MinIO in the output of ps.
func psDriveUser(drive string) (int, string, error) {
	out, err := exec.Command("ps", "-axww", "-o", "pid=,args=").Output()
	if err != nil {
		return 0, "", errCannotTell
	}
	self := os.Getpid()
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		pid, err := strconv.Atoi(f[0])
		if err != nil || pid == self {
			continue
		}
		if servesDrive(f[1:], "", drive) {
			return pid, shorten(strings.Join(f[1:], " ")), nil
		}
	}
	return 0, "", nil
}
