package vault

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	"github.com/minio/kes"
	kesapi "github.com/minio/kms-go/kes"

	"github.com/sselab/sselab/pkg/kesserver"
)

// errSealed is what the keystore answers while Vault is sealed: KES then
// serves the keys it has cached.
var errSealed = errors.New("vault: Vault is sealed")

// opTimeout bounds one request of the keystore to Vault.
const opTimeout = 15 * time.Second

// KeyStore keeps KES's keys in a KV secrets engine of Vault or OpenBao,
// exactly as 'kes server' does with a 'keystore: vault:' section: key NAME
// is the entry ENGINE/PREFIX/NAME (KV v1) or ENGINE/data/PREFIX/NAME (KV
// v2, created with check-and-set 0 so that it is never overwritten)
// holding {NAME: value}. Labs and 'kes server' can share the keys.
//
// While open it keeps its Vault token alive with hashicorp/vault/api's
// lifetime watcher: it renews the token at about two thirds of its TTL,
// and logs in again before the token lapses: when its max TTL is near,
// when renewal failed, or when Vault refused it (a 403 for a token that
// can no longer look itself up). A login that does not reach Vault is
// retried, backing off from 1 s to 30 s; a refused one waits for a new
// secret_id in Config.SecretFile, or 5 minutes. Auth reports how it
// stands. Every StatusPing it asks Vault whether it is sealed; while it
// is, Create, Get, Delete and List fail at once and KES serves the keys
// it has cached.
type KeyStore struct {
	cfg    *Config
	client *vaultapi.Client
	logf   func(format string, args ...any)
	sealed atomic.Bool

	mu         sync.Mutex
	auth       Auth
	secret     string                 // the AppRole secret_id in use
	fileSecret string                 // what the secret file held when last read
	loginFails bool                   // the last login failed: auth.Error says why
	relogin    chan (<-chan struct{}) // Vault refused the token of that generation: log in again now
	loggedIn   chan struct{}          // closed (and replaced) by every login; guarded by mu

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Connect logs in to Vault and returns the keystore. The token is kept
// alive until Close, whatever becomes of ctx once Connect returned. logf,
// if set, hears when the login starts or stops working.
func Connect(ctx context.Context, c *Config, logf func(format string, args ...any)) (*KeyStore, error) {
	client, err := newClient(c, opTimeout)
	if err != nil {
		return nil, err
	}
	if logf == nil {
		logf = func(string, ...any) {}
	}
	s := &KeyStore{cfg: c, client: client, logf: logf, relogin: make(chan (<-chan struct{}), 1), loggedIn: make(chan struct{})}
	s.auth.Method = "kubernetes"
	if c.AppRole != nil {
		// The secret given wins over what the file held before: the file
		// counts only once it changes.
		s.auth.Method, s.secret, s.fileSecret = "approle", c.AppRole.Secret, readSecretFile(c.SecretFile)
	}
	secret, err := s.login(ctx)
	if err != nil {
		return nil, err
	}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.wg.Go(func() { s.keepToken(bg, secret) })
	s.wg.Go(func() { s.watchSeal(bg) })
	return s, nil
}

// watchSeal asks Vault every StatusPing whether it is sealed, until ctx
// ends. An answer that does not come leaves the last one standing.
func (s *KeyStore) watchSeal(ctx context.Context) {
	every := s.cfg.StatusPing
	if every <= 0 {
		every = 10 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		hctx, cancel := context.WithTimeout(ctx, opTimeout)
		h, err := rootClient(s.client).Sys().HealthWithContext(hctx)
		cancel()
		if err == nil {
			s.sealed.Store(h.Sealed)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// String names the keystore in KES's messages.
func (s *KeyStore) String() string { return "Hashicorp Vault: " + s.cfg.Endpoint }

// Status asks Vault whether it can serve the keys.
func (s *KeyStore) Status(ctx context.Context) (kes.KeyStoreState, error) {
	start := time.Now()
	h, err := rootClient(s.client).Sys().HealthWithContext(ctx)
	switch {
	case err != nil:
		return kes.KeyStoreState{}, fmt.Errorf("vault: %s: %w", s.cfg.Endpoint, err)
	case !h.Initialized:
		return kes.KeyStoreState{}, fmt.Errorf("vault: Vault at %s is not initialized", s.cfg.Endpoint)
	case h.Sealed:
		s.sealed.Store(true)
		return kes.KeyStoreState{}, errSealed
	}
	return kes.KeyStoreState{Latency: time.Since(start)}, nil
}

// entry is the path of key name's entry, for reading and writing.
func (s *KeyStore) entry(name string) string {
	if s.cfg.KVVersion == KVv2 {
		return path.Join(s.cfg.Engine, "data", s.cfg.Prefix, name)
	}
	return path.Join(s.cfg.Engine, s.cfg.Prefix, name)
}

// Create stores a new key; an entry of that name is never overwritten
// (kesapi.ErrKeyExists).
func (s *KeyStore) Create(ctx context.Context, name string, value []byte) error {
	if s.sealed.Load() {
		return errSealed
	}
	location := s.entry(name)
	var existing *vaultapi.Secret
	err := s.call(ctx, func() (err error) {
		existing, err = s.client.Logical().ReadWithContext(ctx, location)
		return err
	})
	if err != nil {
		return fmt.Errorf("vault: create %s: %w", location, err)
	}
	if existing != nil && len(existing.Data) > 0 {
		data := existing.Data
		if s.cfg.KVVersion == KVv2 {
			data, _ = existing.Data["data"].(map[string]any)
		}
		if _, ok := data[name]; !ok {
			return fmt.Errorf("vault: %s exists but holds no key %q (deleted with KV v2's soft delete, or not written by KES); remove it or pick another key name", location, name)
		}
		return kesapi.ErrKeyExists
	}
	body := map[string]any{name: string(value)}
	if s.cfg.KVVersion == KVv2 {
		// Check-and-set 0: Vault refuses the write if the entry exists by
		// now, so that a key is never replaced.
		body = map[string]any{"options": map[string]any{"cas": 0}, "data": body}
	}
	err = s.call(ctx, func() error {
		_, err := s.client.Logical().WriteWithContext(ctx, location, body)
		return err
	})
	var respErr *vaultapi.ResponseError
	if errors.As(err, &respErr) && respErr.StatusCode == http.StatusBadRequest && strings.Contains(strings.Join(respErr.Errors, " "), "check-and-set") {
		return kesapi.ErrKeyExists
	}
	if err != nil {
		return fmt.Errorf("vault: create %s: %w", location, err)
	}
	return nil
}

// Get returns the key's value, or kesapi.ErrKeyNotFound. With KV v2 it
// reads version 1, the one Create wrote.
func (s *KeyStore) Get(ctx context.Context, name string) ([]byte, error) {
	if s.sealed.Load() {
		return nil, errSealed
	}
	location := path.Join(s.cfg.Prefix, name)
	var (
		entry *vaultapi.KVSecret
		err   error
	)
	err = s.call(ctx, func() (err error) {
		if s.cfg.KVVersion == KVv2 {
			entry, err = s.client.KVv2(s.cfg.Engine).GetVersion(ctx, location, 1)
		} else {
			entry, err = s.client.KVv1(s.cfg.Engine).Get(ctx, location)
		}
		return err
	})
	switch {
	case errors.Is(err, vaultapi.ErrSecretNotFound) || (err == nil && entry == nil):
		return nil, kesapi.ErrKeyNotFound
	case err != nil:
		return nil, fmt.Errorf("vault: read %s/%s: %w", s.cfg.Engine, location, err)
	}
	value, ok := entry.Data[name].(string)
	switch {
	case !ok:
		return nil, fmt.Errorf("vault: %s/%s holds no key %q", s.cfg.Engine, location, name)
	case strings.HasPrefix(value, "vault:v1:"):
		return nil, fmt.Errorf("vault: %s/%s is encrypted with a Vault transit key, which sselab does not use", s.cfg.Engine, location)
	}
	return []byte(value), nil
}

// Delete removes the key's entry; with KV v2 every version of it.
func (s *KeyStore) Delete(ctx context.Context, name string) error {
	if s.sealed.Load() {
		return errSealed
	}
	location := path.Join(s.cfg.Prefix, name)
	err := s.call(ctx, func() error {
		if s.cfg.KVVersion == KVv2 {
			return s.client.KVv2(s.cfg.Engine).DeleteMetadata(ctx, location)
		}
		return s.client.KVv1(s.cfg.Engine).Delete(ctx, location)
	})
	if err != nil {
		return fmt.Errorf("vault: delete %s/%s: %w", s.cfg.Engine, location, err)
	}
	return nil
}

// List lists the keys under the prefix, as kesserver.ListNames does.
func (s *KeyStore) List(ctx context.Context, prefix string, n int) ([]string, string, error) {
	if s.sealed.Load() {
		return nil, "", errSealed
	}
	location := path.Join(s.cfg.Engine, s.cfg.Prefix)
	if s.cfg.KVVersion == KVv2 {
		location = path.Join(s.cfg.Engine, "metadata", s.cfg.Prefix)
	}
	var secret *vaultapi.Secret
	err := s.call(ctx, func() (err error) {
		secret, err = s.client.Logical().ListWithContext(ctx, location)
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("vault: list %s: %w", location, err)
	}
	var names []string
	if secret != nil {
		keys, ok := secret.Data["keys"].([]any)
		if !ok {
			return nil, "", fmt.Errorf("vault: list %s: the answer holds no key list", location)
		}
		for _, k := range keys {
			if name := fmt.Sprint(k); !strings.HasSuffix(name, "/") { // not a folder
				names = append(names, name)
			}
		}
	}
	return kesserver.ListNames(names, prefix, n)
}

// Close stops keeping the token alive and watching the seal, and waits
// until both have stopped. It is safe to call more than once.
func (s *KeyStore) Close() error {
	s.cancel()
	s.wg.Wait()
	return nil
}
