package lab

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sselab/sselab/internal/testtools"
	"github.com/sselab/sselab/pkg/labdir"
	"github.com/sselab/sselab/pkg/pki"
)

func newTestPKI(t *testing.T, dir string) *pki.PKI {
	t.Helper()
	p, err := pki.LoadOrCreate(pki.Options{Dir: filepath.Join(dir, "certs")})
	if err != nil {
		t.Fatalf("pki.LoadOrCreate: %v", err)
	}
	return p
}

func TestOpenNotRunning(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(t *testing.T, l labdir.Layout)
	}{
		{"empty dir", func(t *testing.T, l labdir.Layout) {}},
		{"stale state, no lock file", func(t *testing.T, l labdir.Layout) {
			if err := labdir.WriteJSON(l.StateFile(), labdir.State{PID: 999999999, S3Endpoint: "https://127.0.0.1:9000"}); err != nil {
				t.Fatal(err)
			}
		}},
		{"stale state and lock file, nobody holds the lock", func(t *testing.T, l labdir.Layout) {
			if err := labdir.WriteJSON(l.StateFile(), labdir.State{PID: 999999999}); err != nil {
				t.Fatal(err)
			}
			testtools.WriteFile(t, l.LockFile(), "999999999\n")
		}},
		{"held lock, no state yet (lab starting)", func(t *testing.T, l labdir.Layout) {
			lock, err := labdir.Lock(l)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(lock.Release)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			tt.setup(t, labdir.Layout{Root: dir})
			h, err := Open(dir)
			if h != nil {
				t.Errorf("Open: got a handle %+v, want nil", h)
			}
			if !errors.Is(err, ErrNotRunning) {
				t.Fatalf("Open: got %v, want ErrNotRunning", err)
			}
			testtools.WantErrContains(t, err, "'sselab up --dir "+dir+"'")
		})
	}

	missing := filepath.Join(t.TempDir(), "missing")
	if _, err := Open(missing); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Open(missing dir): got %v, want ErrNotRunning", err)
	}
}

func TestOpenDamagedState(t *testing.T) {
	t.Parallel()
	l := labdir.Layout{Root: t.TempDir()}
	testtools.WriteFile(t, l.StateFile(), "{")
	_, err := Open(l.Root)
	testtools.WantErrContains(t, err, l.StateFile(), "damaged")
}

func TestOpenRunning(t *testing.T) {
	t.Parallel()
	l := labdir.Layout{Root: t.TempDir()}
	lock, err := labdir.Lock(l)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	state := labdir.State{
		PID:         12345,
		Started:     time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		S3Endpoint:  "https://127.0.0.1:9000",
		KESEndpoint: "https://127.0.0.1:7373",
		Key:         "k",
		Buckets:     []string{"encrypted"},
	}
	if err := labdir.WriteJSON(l.StateFile(), state); err != nil {
		t.Fatal(err)
	}

	// Running, but the credentials are missing: an error, not a handle.
	if h, err := Open(l.Root); err == nil || errors.Is(err, ErrNotRunning) {
		t.Fatalf("Open without credentials: got %v, %v; want an error other than ErrNotRunning", h, err)
	}

	creds, err := labdir.LoadOrCreateCredentials(l.CredentialsFile())
	if err != nil {
		t.Fatal(err)
	}
	// No PKI yet: an error naming the certs.
	if h, err := Open(l.Root); err == nil {
		t.Fatalf("Open without a PKI: got %v, want an error", h)
	}
	p := newTestPKI(t, l.Root)

	h, err := Open(l.Root)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if !reflect.DeepEqual(h.State, state) {
		t.Errorf("State: got %+v, want %+v", h.State, state)
	}
	if h.Credentials != creds {
		t.Errorf("Credentials: got %+v, want %+v", h.Credentials, creds)
	}
	if h.Layout != l {
		t.Errorf("Layout: got %+v, want %+v", h.Layout, l)
	}
	if got, want := h.PKI.Operator.Identity(), p.Operator.Identity(); got != want {
		t.Errorf("operator identity: got %s, want %s", got, want)
	}
	if h.KES() == nil {
		t.Errorf("KES(): got nil")
	}
	if _, err := h.S3(); err != nil {
		t.Errorf("S3(): %v", err)
	}
}

func TestStatusErr(t *testing.T) {
	t.Parallel()
	up := KESStatus{Up: true, KeyStoreReachable: true}
	tests := []struct {
		name       string
		s          Status
		want       string // "" for nil
		notRunning bool
	}{
		{"ready", Status{Running: true, Ready: true}, "", false},
		{"not running", Status{Dir: "/lab"}, "no lab is running on /lab; start it with 'sselab up --dir /lab'", true},
		{"kes down", Status{Running: true, KES: KESStatus{Error: "connection refused"}}, "KES is not answering: connection refused", false},
		{"keystore unreachable", Status{Running: true, KES: KESStatus{Up: true}}, "KES cannot reach its keystore", false},
		{"minio not ready", Status{Running: true, KES: up, MinIO: MinIOStatus{Error: "503 Service Unavailable"}}, "MinIO is not ready: 503 Service Unavailable", false},
		{"key missing", Status{Running: true, KES: up, MinIO: MinIOStatus{Ready: true}, Key: KeyStatus{Name: "k1", Error: "key does not exist"}}, "the default key k1 is missing: key does not exist", false},
		{"bucket not encrypted", Status{Running: true, KES: up, MinIO: MinIOStatus{Ready: true}, Key: KeyStatus{Name: "k1", Present: true}}, "a bucket has no default encryption", false},
		{"disk read-only", Status{Running: true, KES: up, Disk: DiskStatus{Error: "cannot write to /lab (read-only file system); free space or make it writable"}}, "cannot write to /lab (read-only file system)", false},
	}
	for _, tt := range tests {
		if tt.s.Disk == (DiskStatus{}) {
			tt.s.Disk.Writable = true // a disk that is fine, unless the case says otherwise
		}
		err := tt.s.Err()
		if tt.want == "" {
			if err != nil {
				t.Errorf("%s: got %v, want nil", tt.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: got nil, want %q", tt.name, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %q, want it to contain %q", tt.name, err, tt.want)
		}
		if got := errors.Is(err, ErrNotRunning); got != tt.notRunning {
			t.Errorf("%s: errors.Is(ErrNotRunning) got %v, want %v", tt.name, got, tt.notRunning)
		}
	}
}

func TestStatusNothingAnswers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dead := testtools.FreeAddr(t)
	h := &Handle{
		Layout: labdir.Layout{Root: dir},
		State: labdir.State{
			PID: 4242, S3Endpoint: "https://" + dead, KESEndpoint: "https://" + dead,
			ControlAddress: dead, Key: "k1", Buckets: []string{"one", "two"},
		},
		Credentials: labdir.Credentials{RootUser: "u", RootPassword: "password"},
		PKI:         newTestPKI(t, dir),
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	st := h.Status(ctx)
	if st.Ready || st.KES.Up || st.MinIO.Ready || st.Key.Present {
		t.Errorf("got %+v, want nothing up or ready", st)
	}
	if st.KES.Error == "" || st.MinIO.Error == "" {
		t.Errorf("got KES error %q, MinIO error %q, want both set", st.KES.Error, st.MinIO.Error)
	}
	if st.Dir != dir || !st.Running || st.PID != 4242 || st.Key.Name != "k1" {
		t.Errorf("got %+v, want dir %s, running, pid 4242, key k1", st, dir)
	}
	if len(st.Buckets) != 2 || st.Buckets[0].Name != "one" || st.Buckets[1].Name != "two" {
		t.Fatalf("buckets: got %+v, want one and two", st.Buckets)
	}
	for _, b := range st.Buckets {
		if b.Error != "MinIO is not ready" {
			t.Errorf("bucket %s: got error %q, want \"MinIO is not ready\"", b.Name, b.Error)
		}
	}
	testtools.WantErrContains(t, st.Err(), "KES is not answering")
}

func TestEnv(t *testing.T) {
	t.Parallel()
	p := newTestPKI(t, t.TempDir())
	tests := []struct {
		endpoint string
		creds    labdir.Credentials
	}{
		{"https://127.0.0.1:9000", labdir.Credentials{RootUser: "sselab-abcdefgh", RootPassword: "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}},
		{"http://localhost:9100", labdir.Credentials{RootUser: "user", RootPassword: "p@ss/w:rd?#%"}},
	}
	for _, tt := range tests {
		h := &Handle{
			Layout:      labdir.Layout{Root: filepath.Dir(p.Dir)},
			State:       labdir.State{S3Endpoint: tt.endpoint, KESEndpoint: "https://127.0.0.1:7373"},
			Credentials: tt.creds,
			PKI:         p,
		}
		got := make(map[string]string)
		vars, err := h.Env()
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vars {
			if _, dup := got[v.Name]; dup {
				t.Errorf("%s: set twice", v.Name)
			}
			got[v.Name] = v.Value
		}

		mc, ok := got["MC_HOST_"+MCAlias]
		if !ok {
			t.Fatalf("MC_HOST_%s is missing", MCAlias)
		}
		u, err := url.Parse(mc)
		if err != nil {
			t.Fatalf("MC_HOST_%s %q: %v", MCAlias, mc, err)
		}
		want, _ := url.Parse(tt.endpoint)
		if u.Scheme != want.Scheme || u.Host != want.Host {
			t.Errorf("MC_HOST_%s: got %s://%s, want %s://%s", MCAlias, u.Scheme, u.Host, want.Scheme, want.Host)
		}
		if pw, _ := u.User.Password(); u.User.Username() != tt.creds.RootUser || pw != tt.creds.RootPassword {
			t.Errorf("MC_HOST_%s credentials: got %q:%q, want %q:%q", MCAlias, u.User.Username(), pw, tt.creds.RootUser, tt.creds.RootPassword)
		}

		for name, w := range map[string]string{
			"AWS_ACCESS_KEY_ID":                           tt.creds.RootUser,
			"AWS_SECRET_ACCESS_KEY":                       tt.creds.RootPassword,
			"AWS_ENDPOINT_URL":                            tt.endpoint,
			"AWS_REGION":                                  "us-east-1",
			"REQUESTS_CA_BUNDLE":                          p.CAFile(),
			"SSL_CERT_FILE":                               p.CAFile(),
			"RCLONE_CA_CERT":                              p.CAFile(),
			"RCLONE_CONFIG_SSELAB_TYPE":                   "s3",
			"RCLONE_CONFIG_SSELAB_PROVIDER":               "Minio",
			"RCLONE_CONFIG_SSELAB_ENDPOINT":               tt.endpoint,
			"RCLONE_CONFIG_SSELAB_ACCESS_KEY_ID":          tt.creds.RootUser,
			"RCLONE_CONFIG_SSELAB_SECRET_ACCESS_KEY":      tt.creds.RootPassword,
			"RCLONE_CONFIG_SSELAB_SERVER_SIDE_ENCRYPTION": "aws:kms",
			"KES_SERVER":                                  "https://127.0.0.1:7373",
			"KES_CLIENT_CERT":                             p.Operator.CertFile,
			"KES_CLIENT_KEY":                              p.Operator.KeyFile,
		} {
			if got[name] != w {
				t.Errorf("%s: got %q, want %q", name, got[name], w)
			}
		}
		if !testtools.Exists(t, got["SSL_CERT_FILE"]) || !testtools.Exists(t, got["KES_CLIENT_CERT"]) || !testtools.Exists(t, got["KES_CLIENT_KEY"]) {
			t.Errorf("SSL_CERT_FILE, KES_CLIENT_CERT or KES_CLIENT_KEY names a missing file")
		}
		if h.State.S3Endpoint != tt.endpoint {
			t.Errorf("Env changed the state's endpoint to %q", h.State.S3Endpoint)
		}
		unset := 0
		for _, v := range vars {
			if v.Unset {
				unset++
				if v.Name != "AWS_CA_BUNDLE" || v.Value != "" {
					t.Errorf("unsets %s (value %q), want only AWS_CA_BUNDLE unset", v.Name, v.Value)
				}
			} else if v.Name == "AWS_CA_BUNDLE" {
				t.Error("AWS_CA_BUNDLE is set: rclone 1.60 fails with it")
			}
		}
		if unset != 1 {
			t.Errorf("%d variables unset, want AWS_CA_BUNDLE", unset)
		}

		cfg, err := h.S3cmdConfig()
		if err != nil {
			t.Fatal(err)
		}
		want, _ = url.Parse(tt.endpoint)
		for _, line := range []string{
			"access_key = " + tt.creds.RootUser,
			"secret_key = " + tt.creds.RootPassword,
			"host_base = " + want.Host,
			"host_bucket = " + want.Host,
			"use_https = " + map[bool]string{true: "True", false: "False"}[want.Scheme == "https"],
			"ca_certs_file = " + p.CAFile(),
		} {
			if !strings.Contains(cfg, "\n"+line+"\n") {
				t.Errorf("s3cmd config lacks %q:\n%s", line, cfg)
			}
		}
	}
}

func TestRclonePath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		enc  BucketEncryption
		want string
	}{
		{BucketEncryption{Algorithm: "aws:kms", KeyID: "sselab-key"}, "sselab:b"},
		{BucketEncryption{Algorithm: "aws:kms"}, "sselab:b"},
		{BucketEncryption{Algorithm: "aws:kms", KeyID: "other"}, "sselab,sse_kms_key_id=other:b"},
		{BucketEncryption{Algorithm: "AES256"}, "sselab,server_side_encryption=AES256:b"},
		{BucketEncryption{}, "sselab,server_side_encryption='':b"},
	}
	for _, tt := range tests {
		if got := RclonePath("b", tt.enc, "sselab-key"); got != tt.want {
			t.Errorf("RclonePath(%+v): got %q, want %q", tt.enc, got, tt.want)
		}
	}
}

func TestEnvBadEndpoint(t *testing.T) {
	t.Parallel()
	h := &Handle{Layout: labdir.Layout{Root: t.TempDir()}, State: labdir.State{S3Endpoint: "127.0.0.1:9000"}}
	if _, err := h.Env(); err == nil || !strings.Contains(err.Error(), "bad S3 endpoint") {
		t.Errorf("Env with endpoint without scheme: got %v, want an error naming the bad endpoint", err)
	}
}

func TestCheckDisk(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := checkDisk(dir)
	if !d.OK() || d.FreeBytes == 0 || d.Path != dir {
		t.Errorf("checkDisk of a writable temp dir: %+v", d)
	}
	if left := testtools.Entries(t, dir); len(left) != 0 {
		t.Errorf("the write probe left %v behind", left)
	}
	d = checkDisk(filepath.Join(dir, "missing"))
	if d.OK() || d.Writable || !strings.Contains(d.Error, "cannot write to") {
		t.Errorf("checkDisk of a missing dir: %+v", d)
	}
}

func TestDownWaitsForLock(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lock, err := labdir.Lock(labdir.Layout{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	h := &Handle{Layout: labdir.Layout{Root: dir}, State: labdir.State{PID: 77, ControlAddress: strings.TrimPrefix(srv.URL, "http://")}}

	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	err = h.Down(ctx)
	testtools.WantErrContains(t, err, "pid 77", "did not stop in time")
	if !errors.Is(err, ctx.Err()) {
		t.Errorf("got %v, want it to wrap %v", err, ctx.Err())
	}

	// Released while Down waits: Down returns nil.
	ctx, cancel = context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.Down(ctx) }()
	lock.Release()
	if err := <-done; err != nil {
		t.Errorf("Down after release: got %v, want nil", err)
	}
}

func TestHandleInfo(t *testing.T) {
	t.Parallel()
	want := labdir.Info{PID: 1, MinIOPID: 2, MinIORestarts: 3}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Header.Get("Authorization") != "Bearer tok":
			http.Error(w, "forbidden", http.StatusForbidden)
		case r.Method != http.MethodGet || r.URL.Path != "/v1/info":
			http.NotFound(w, r)
		default:
			json.NewEncoder(w).Encode(want)
		}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	ctx := testtools.Context(t)

	h := &Handle{State: labdir.State{ControlAddress: addr, ControlToken: "tok"}}
	got, err := h.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Info: got %+v, want %+v", got, want)
	}
	h.State.ControlToken = "other"
	_, err = h.Info(ctx)
	testtools.WantErrContains(t, err, "403 Forbidden", "/v1/info")

	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("not json"))
	}))
	defer bad.Close()
	h.State.ControlAddress = strings.TrimPrefix(bad.URL, "http://")
	if _, err := h.Info(ctx); err == nil {
		t.Errorf("Info with a non-JSON answer: got nil error, want one")
	}
}
