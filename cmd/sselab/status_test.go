package main

import (
	"testing"
	"time"

	"github.com/sselab/sselab/pkg/vault"
)

func TestVaultLogin(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.Local)
	for _, tc := range []struct {
		auth *vault.Auth
		want string
	}{
		{nil, ""},
		{&vault.Auth{Method: "approle", Expires: now.Add(35 * time.Second), LastLogin: now.Add(-5 * time.Second), Logins: 1},
			"token expires in 35s, approle login 11:59:55 (1 login)"},
		{&vault.Auth{Method: "approle", Expires: now.Add(time.Minute), LastLogin: now.Add(-time.Hour), LastRenewal: now.Add(-time.Minute), Logins: 3},
			"token expires in 1m0s, renewed 11:59:00, approle login 11:00:00 (3 logins)"},
		{&vault.Auth{Method: "kubernetes", Expires: now.Add(-time.Second), LastLogin: now.Add(-time.Hour), Logins: 2},
			"token expired, kubernetes login 11:00:00 (2 logins)"},
	} {
		if got := vaultLogin(tc.auth, now); got != tc.want {
			t.Errorf("vaultLogin(%+v) = %q, want %q", tc.auth, got, tc.want)
		}
	}
}
