package supervisor

import (
	"slices"
	"sync"
	"testing"
)

// TestStartedAtEveryStart checks that Config.Started hears of the first
// child and of its restart, each with the pid PID reports for it.
func TestStartedAtEveryStart(t *testing.T) {
	t.Parallel()
	cfg, _, _ := testConfig(t, "serve", envCrashOnce+"=200")
	cfg.Restart = true
	var (
		mu   sync.Mutex
		pids []int
	)
	cfg.Started = func(pid int) {
		mu.Lock()
		pids = append(pids, pid)
		mu.Unlock()
	}
	started := func() []int {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(pids)
	}
	p := start(t, cfg)
	if got := started(); len(got) != 1 || got[0] != p.PID() {
		t.Fatalf("after Start: Started got %v, want [%d]", got, p.PID())
	}
	waitFor(t, "a restart", func() bool { return p.Restarts() == 1 && p.PID() != 0 })
	waitFor(t, "Started to hear of the restart", func() bool { return len(started()) == 2 })
	got := started()
	if got[1] == got[0] || got[1] != p.PID() {
		t.Errorf("Started got %v; want the first pid, then the restarted child's %d", got, p.PID())
	}
}
