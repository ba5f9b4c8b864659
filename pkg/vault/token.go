package vault

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
)

// Login retries back off from loginRetryMin to loginRetryMax. After a
// refused login (wrong or expired credentials) the keystore tries again
// only when the secret file changes, or after loginRetryRefused: Vault
// locks a role out after a few refusals in a row.
const (
	loginRetryMin     = time.Second
	loginRetryMax     = 30 * time.Second
	loginRetryRefused = 5 * time.Minute
	secretFilePoll    = 2 * time.Second
)

// Auth is how the keystore's login to Vault stands. Its JSON field names
// are part of 'sselab status --json'.
type Auth struct {
	// Method is the login: "approle" or "kubernetes".
	Method string `json:"method"`
	// Expires is when the current token expires; zero for a token
	// without a TTL.
	Expires time.Time `json:"expires,omitzero"`
	// LastLogin and LastRenewal are when the keystore last logged in and
	// renewed its token.
	LastLogin   time.Time `json:"last_login,omitzero"`
	LastRenewal time.Time `json:"last_renewal,omitzero"`
	// Logins counts the logins since the keystore connected, the first
	// one included.
	Logins int `json:"logins"`
	// Error says why the keystore has no working token now: a login that
	// failed, or Vault refusing the token; "" while it works.
	Error string `json:"error,omitempty"`
	// LastError and LastErrorAt are the latest Error and when it came,
	// kept after recovery.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
}

// Auth returns how the keystore's login stands.
func (s *KeyStore) Auth() Auth {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.auth
}

// login logs in once, with the secret_id of the secret file if it has
// changed, and records the outcome.
func (s *KeyStore) login(ctx context.Context) (*vaultapi.Secret, error) {
	c := *s.cfg
	if c.AppRole != nil {
		a := *c.AppRole
		s.mu.Lock()
		if fresh := readSecretFile(c.SecretFile); fresh != "" && fresh != s.fileSecret {
			s.secret, s.fileSecret = fresh, fresh
		}
		a.Secret = s.secret
		s.mu.Unlock()
		c.AppRole = &a
	}
	secret, err := login(ctx, &c, s.client)
	if err != nil {
		if errors.As(err, new(refusedError)) && c.AppRole != nil {
			err = fmt.Errorf("%w. A secret_id with a secret_id_ttl expires: issue a new one ('vault write -f -field=secret_id auth/approle/role/ROLE/secret-id')%s", err, s.newSecretHint())
		}
		s.mu.Lock()
		s.loginFails = true
		s.mu.Unlock()
		s.failed(err)
		return nil, err
	}
	now := time.Now()
	s.mu.Lock()
	close(s.loggedIn) // requests waiting for a new token retry now
	s.loggedIn = make(chan struct{})
	s.loginFails = false
	s.auth.LastLogin, s.auth.Logins = now, s.auth.Logins+1
	s.auth.Expires = expiry(now, secret.Auth.LeaseDuration)
	s.mu.Unlock()
	s.works()
	return secret, nil
}

// newSecretHint says where a new secret_id goes so that the next login
// takes it.
func (s *KeyStore) newSecretHint() string {
	if s.cfg.SecretFile == "" {
		return " and start the lab with it"
	}
	return " and write it to " + s.cfg.SecretFile + " (mode 0600): the next login takes it"
}

// readSecretFile returns the secret_id in path, or "" if there is none.
func readSecretFile(path string) string {
	if path == "" {
		return ""
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// expiry is when a lease of seconds granted at now ends; zero for none.
func expiry(now time.Time, seconds int) time.Time {
	if seconds <= 0 {
		return time.Time{}
	}
	return now.Add(time.Duration(seconds) * time.Second)
}

// failed records that the login does not work, saying so in the log
// when it stops working or fails differently.
func (s *KeyStore) failed(err error) {
	msg := err.Error()
	s.mu.Lock()
	was := s.auth.Error
	s.auth.Error, s.auth.LastError, s.auth.LastErrorAt = msg, msg, time.Now().UTC()
	s.mu.Unlock()
	if was != msg {
		s.logf("%s; KES serves only the keys it has cached until the login works again", msg)
	}
}

// works records that the token works, saying so in the log if it did
// not before.
func (s *KeyStore) works() {
	s.mu.Lock()
	was := s.auth.Error
	s.auth.Error = ""
	s.mu.Unlock()
	if was != "" {
		s.logf("vault: the login to Vault at %s works again", s.cfg.Endpoint)
	}
}

// refusedWait bounds how long a request that Vault refused waits for the
// login that the refusal starts, before it fails.
const refusedWait = 5 * time.Second

// expiryRace is how close to its known end a token's refusal counts as
// its expiry racing the renewal or the next login, which is not worth a
// line in the log.
const expiryRace = 2 * time.Second

// call runs op, a request to Vault. If Vault refuses the token (it ran
// out between two renewals, or at its max TTL, a moment before the next
// login), call waits for the login that the refusal starts and runs op
// once more: a request that races the token's end does not fail. A
// refusal that no login cures (the policy's) fails after refusedWait.
func (s *KeyStore) call(ctx context.Context, op func() error) error {
	gen := s.generation() // a login from now on makes a retry worth it
	err := op()
	switch {
	case errors.Is(err, vaultapi.ErrSecretNotFound):
		return err // an answer about the entry, not the token
	case !isForbidden(err):
		s.checkToken(err)
		return err
	}
	select {
	case <-gen: // a login happened meanwhile: the refusal was the old token's
	default:
		s.refused(gen)
		select {
		case <-gen:
		case <-ctx.Done():
			return err
		case <-time.After(refusedWait):
			return err
		}
	}
	err = op()
	s.checkToken(err)
	return err
}

// generation returns the channel that the next login closes: the token
// in use when it was taken.
func (s *KeyStore) generation() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loggedIn
}

// checkToken records what a request to Vault says about the token: a
// refusal (403) makes the keystore log in again. While a login fails,
// its error stands, for it says what to do.
func (s *KeyStore) checkToken(err error) {
	s.mu.Lock()
	loginFails := s.loginFails
	s.mu.Unlock()
	if !isForbidden(err) {
		if err == nil && !loginFails {
			s.works()
		}
		return
	}
	s.refused(s.generation())
}

// refused handles Vault's refusal of the token of generation gen: it
// asks for a new login and, unless the token was about to end anyway (a
// race with its renewal or the next login, not worth a line), records and
// logs the refusal.
func (s *KeyStore) refused(gen <-chan struct{}) {
	s.mu.Lock()
	loginFails := s.loginFails
	ending := !s.auth.Expires.IsZero() && time.Until(s.auth.Expires) < expiryRace
	s.mu.Unlock()
	if !loginFails && !ending {
		s.failed(fmt.Errorf("vault: Vault at %s refuses the lab's token (permission denied); logging in again", s.cfg.Endpoint))
	}
	select {
	case s.relogin <- gen:
	default:
	}
}

// keepToken renews the token of secret while it can, and logs in again
// when it cannot (its max TTL is near, or renewals failed) or when Vault
// refused it, until ctx ends.
func (s *KeyStore) keepToken(ctx context.Context, secret *vaultapi.Secret) {
	for {
		var (
			done    <-chan error
			renewed <-chan *vaultapi.RenewOutput
			retry   <-chan time.Time // a refusal that came too soon after a login
		)
		watcher, err := s.client.NewLifetimeWatcher(&vaultapi.LifetimeWatcherInput{Secret: secret})
		if err == nil && secret.Auth.LeaseDuration > 0 {
			go watcher.Start()
			done, renewed = watcher.DoneCh(), watcher.RenewCh()
		}
	watch:
		for {
			select {
			case <-ctx.Done():
				if watcher != nil {
					watcher.Stop()
				}
				return
			case r := <-renewed:
				s.mu.Lock()
				s.auth.LastRenewal = r.RenewedAt
				if r.Secret != nil && r.Secret.Auth != nil {
					s.auth.Expires = expiry(r.RenewedAt, r.Secret.Auth.LeaseDuration)
				}
				s.mu.Unlock()
			case <-done:
				break watch // renewal is over: the max TTL is near, or Vault refused
			case gen := <-s.relogin:
				select {
				case <-gen:
					continue // refused before a login that has happened since
				default:
				}
				if !s.tokenRefused(ctx) {
					continue
				}
				// At most one login per loginRetryMin, whatever refuses.
				s.mu.Lock()
				wait := loginRetryMin - time.Since(s.auth.LastLogin)
				s.mu.Unlock()
				if wait > 0 {
					retry = time.After(wait)
					continue
				}
				break watch
			case <-retry:
				break watch
			}
		}
		if watcher != nil {
			watcher.Stop()
		}
		if secret = s.loginUntil(ctx); secret == nil {
			return
		}
		select { // a refusal of the old token is moot now
		case <-s.relogin:
		default:
		}
	}
}

// tokenRefused asks Vault whether it still takes the token, after a
// request got "permission denied": if it does, the refusal was the
// policy's, which a new login does not cure, and that is what the
// keystore reports. A token that may not look itself up counts as
// refused.
func (s *KeyStore) tokenRefused(ctx context.Context) bool {
	lctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	_, err := s.client.Auth().Token().LookupSelfWithContext(lctx)
	if err != nil {
		return isForbidden(err)
	}
	s.failed(fmt.Errorf("vault: Vault at %s denies the lab a request (permission denied) although its token is valid; the policy must grant %s", s.cfg.Endpoint, PolicyHint(s.cfg)))
	return false
}

// loginUntil logs in until it works or ctx ends (nil). It backs off
// while Vault cannot be reached; after a refusal it waits for a new
// secret_id in the secret file, or loginRetryRefused.
func (s *KeyStore) loginUntil(ctx context.Context) *vaultapi.Secret {
	wait := loginRetryMin
	for {
		lctx, cancel := context.WithTimeout(ctx, opTimeout)
		secret, err := s.login(lctx)
		cancel()
		if err == nil {
			return secret
		}
		if errors.As(err, new(refusedError)) {
			if !s.waitForSecret(ctx) {
				return nil
			}
			continue
		}
		// Jitter, so that labs sharing a Vault do not log in together. A
		// refused token means Vault answers again: try at once.
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait/2 + rand.N(wait/2)):
		case <-s.relogin:
		}
		wait = min(2*wait, loginRetryMax)
	}
}

// waitForSecret waits until the secret file holds another secret_id, or
// loginRetryRefused has passed; false when ctx ended first.
func (s *KeyStore) waitForSecret(ctx context.Context) bool {
	s.mu.Lock()
	old := s.fileSecret
	s.mu.Unlock()
	t := time.NewTicker(secretFilePoll)
	defer t.Stop()
	giveUp := time.After(loginRetryRefused)
	for {
		select {
		case <-ctx.Done():
			return false
		case <-giveUp:
			return true
		case <-t.C:
			if fresh := readSecretFile(s.cfg.SecretFile); fresh != "" && fresh != old {
				return true
			}
		}
	}
}
