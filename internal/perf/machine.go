package perf

import (
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
)

// Machine describes where the figures were measured.
type Machine struct {
	CPU      string // CPU model
	Cores    int    // logical CPUs
	OS       string // distribution and kernel
	Memory   string // total memory
	Go       string // Go version that built the harness and sselab
	MinIO    string // MinIO version and binary
	KES      string // KES module version
	LoadAvg  string // /proc/loadavg when the run started
	LoadEnd  string // and when it ended
	Governor string // CPU frequency governor, if known
}

// DescribeMachine describes this machine and the programs measured.
func DescribeMachine(minio string) Machine {
	m := Machine{
		CPU:     cpuModel(),
		Cores:   runtime.NumCPU(),
		OS:      osName(),
		Memory:  memTotal(),
		Go:      runtime.Version(),
		MinIO:   minioVersion(minio),
		KES:     moduleVersion("github.com/minio/kes"),
		LoadAvg: LoadAvg(),
	}
	if data, err := os.ReadFile("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"); err == nil {
		m.Governor = strings.TrimSpace(string(data))
	}
	return m
}

// LoadAvg returns the 1, 5 and 15 minute load averages, or "n/a".
func LoadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "n/a"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "n/a"
	}
	return strings.Join(f[:3], " ")
}

// cpuModel returns the CPU's model name from /proc/cpuinfo.
func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
}

// osName returns the distribution and the kernel version.
func osName() string {
	name := runtime.GOOS
	if data, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				name = strings.Trim(v, `"`)
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		name += ", " + runtime.GOOS + " " + strings.TrimSpace(string(data))
	}
	return name + " " + runtime.GOARCH
}

// memTotal returns MemTotal from /proc/meminfo.
func memTotal() string {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "n/a"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "n/a"
}

// minioVersion returns the first line `minio --version` prints and the
// binary's path (a cached build's path names its module version).
func minioVersion(binary string) string {
	out, err := exec.Command(binary, "--version").Output()
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if err != nil || first == "" {
		first = "unknown version"
	}
	return first + " (" + binary + ")"
}

// moduleVersion returns the version of a module linked into this
// program.
func moduleVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == path {
				return d.Version
			}
		}
	}
	return "unknown"
}
