package e2e

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sselab/sselab/pkg/labdir"
)

// TestListenersOnLoopback: every socket the lab listens on (sselab with
// KES and its control endpoint, and MinIO) is on a loopback address, and
// so are the defaults. A listener on 0.0.0.0 would fail it.
func TestListenersOnLoopback(t *testing.T) {
	requireLinux(t)
	t.Parallel()
	for _, a := range []string{labdir.DefaultAddress, labdir.DefaultConsoleAddress, labdir.DefaultKESAddress, labdir.DefaultWebAddress} {
		host, _, err := net.SplitHostPort(a)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			t.Errorf("default listen address %s is not loopback", a)
		}
	}
	dir := filepath.Join(t.TempDir(), "lab")
	h := upDetached(t, dir)
	info, err := h.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	listening := listeningSockets(t)
	for _, pid := range []int{info.PID, info.MinIOPID} {
		n := 0
		for _, inode := range socketInodes(t, pid) {
			addr, ok := listening[inode]
			if !ok {
				continue
			}
			n++
			if !addr.IsLoopback() {
				t.Errorf("process %d listens on %s, not on loopback", pid, addr)
			}
		}
		if n == 0 {
			t.Errorf("found no listening socket of process %d: the check sees nothing", pid)
		}
	}
}

// listeningSockets maps the inode of every listening TCP socket on this
// machine to its local IP, from /proc/net/tcp and tcp6.
func listeningSockets(t *testing.T) map[string]net.IP {
	t.Helper()
	socks := map[string]net.IP{}
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(file)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" { // 0A: LISTEN
				continue
			}
			hexIP, _, _ := strings.Cut(fields[1], ":")
			socks[fields[9]] = procIP(t, hexIP)
		}
		f.Close()
	}
	return socks
}

// procIP decodes an address of /proc/net/tcp*: 32-bit words in host
// (little-endian) order.
func procIP(t *testing.T, s string) net.IP {
	b, err := hex.DecodeString(s)
	if err != nil || len(b)%4 != 0 {
		t.Fatalf("bad address %q in /proc/net/tcp", s)
	}
	for i := 0; i < len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	return net.IP(b)
}

// socketInodes lists the inodes of the sockets process pid has open.
func socketInodes(t *testing.T, pid int) []string {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	var inodes []string
	for _, fd := range fds {
		target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if inode, ok := strings.CutPrefix(target, "socket:["); err == nil && ok {
			inodes = append(inodes, strings.TrimSuffix(inode, "]"))
		}
	}
	return inodes
}
