package supervisor

import (
	"syscall"
	"testing"
)

// TestChildDiesWithParent runs the test binary as a parent that supervises
// a "serve" grandchild, kills the parent with SIGKILL (no chance to clean
// up), and checks that the grandchild dies too.
func TestChildDiesWithParent(t *testing.T) {
	t.Parallel()
	parent, pid := startParent(t, t.TempDir())
	killParent(t, parent)
	waitGone(t, pid)
}

// TestGuardLinux checks that Linux uses the parent-death signal and no
// watchdog, unless a watchdog is forced: then the watchdog alone, so that
// a test of it cannot pass thanks to the signal.
func TestGuardLinux(t *testing.T) {
	t.Parallel()
	w := &Watchdog{Command: []string{"/bin/true"}}
	forced := &Watchdog{Command: []string{"/bin/true"}, Force: true}
	tests := []struct {
		name         string
		watchdog     *Watchdog
		pdeathsig    syscall.Signal
		wantWatchdog bool
	}{
		{"no watchdog", nil, syscall.SIGKILL, false},
		{"watchdog not forced", w, syscall.SIGKILL, false},
		{"watchdog forced", forced, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Config.Watchdog is set (never nil) so that SetWatchdog,
			// which no test calls, cannot change the outcome.
			cfg := Config{Watchdog: tt.watchdog}
			if cfg.Watchdog == nil {
				cfg.Watchdog = &Watchdog{}
			}
			g, err := newGuard(&cfg, t.Logf)
			if err != nil {
				t.Fatal(err)
			}
			attr := g.sysProcAttr()
			if attr.Pdeathsig != tt.pdeathsig {
				t.Errorf("Pdeathsig: got %v, want %v", attr.Pdeathsig, tt.pdeathsig)
			}
			if !attr.Setpgid {
				t.Error("Setpgid: got false, want true")
			}
			if got := g.watchdog != nil; got != tt.wantWatchdog {
				t.Errorf("watchdog used: got %v, want %v", got, tt.wantWatchdog)
			}
		})
	}
}
