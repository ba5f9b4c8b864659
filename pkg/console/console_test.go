package console_test

import (
	"bytes"
	"crypto/tls"
	"html"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sselab/sselab/internal/fakevault"
	"github.com/sselab/sselab/internal/labtest"
	"github.com/sselab/sselab/internal/testtools"
	"github.com/sselab/sselab/pkg/console"
	"github.com/sselab/sselab/pkg/keystore"
	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/labdir"
	"github.com/sselab/sselab/pkg/pki"
	"github.com/sselab/sselab/pkg/runner"
)

// consoleLab is a real lab (MinIO, embedded KES) whose runner serves the
// console on a free port.
type consoleLab struct {
	h   *lab.Handle
	url string
}

// startLab starts a lab with its console for the tests of one function.
func startLab(t *testing.T) *consoleLab {
	t.Helper()
	h := labtest.Up(t, runner.Options{})
	if h.State.WebURL == "" {
		t.Fatal("state file: no web_url")
	}
	return &consoleLab{h: h, url: h.State.WebURL}
}

// browser is an HTTP client with a cookie jar that trusts the lab CA and
// does not follow redirects, so tests see them.
type browser struct {
	t    *testing.T
	c    *http.Client
	base string
	do   func(*http.Request) *http.Response
}

func newBrowser(t *testing.T, cl *consoleLab) *browser {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{
		Jar:           jar,
		Transport:     &http.Transport{TLSClientConfig: cl.h.PKI.ClientTLS(nil)},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       time.Minute,
	}
	b := &browser{t: t, c: c, base: cl.url}
	b.do = func(r *http.Request) *http.Response {
		resp, err := c.Do(r)
		if err != nil {
			t.Fatalf("%s %s: %v", r.Method, r.URL.Path, err)
		}
		return resp
	}
	return b
}

// handlerBrowser sends the requests straight to a console's handler, as
// if over HTTPS from 127.0.0.1, keeping cookies.
func handlerBrowser(t *testing.T, s *console.Server) *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, base: "https://console.test"}
	b.do = func(r *http.Request) *http.Response {
		for _, c := range jar.Cookies(r.URL) {
			r.AddCookie(c)
		}
		r.RemoteAddr = "127.0.0.1:50000"
		r.TLS = &tls.ConnectionState{}
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		resp := w.Result()
		jar.SetCookies(r.URL, resp.Cookies())
		return resp
	}
	return b
}

// page is an answer with its body read.
type page struct {
	code     int
	location string
	body     string
}

func (b *browser) send(r *http.Request) page {
	resp := b.do(r)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{code: resp.StatusCode, location: resp.Header.Get("Location"), body: string(body)}
}

func (b *browser) get(path string) page {
	r, _ := http.NewRequest(http.MethodGet, b.base+path, nil)
	return b.send(r)
}

func (b *browser) post(path string, form url.Values) page {
	r, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.send(r)
}

// follow gets the page a redirect points to.
func (b *browser) follow(p page) page {
	b.t.Helper()
	if p.code != http.StatusSeeOther {
		b.t.Fatalf("got %d, want a redirect; body:\n%s", p.code, p.body)
	}
	u, _ := url.Parse(p.location)
	return b.get(u.RequestURI())
}

var (
	loginToken = regexp.MustCompile(`name="login" value="([^"]+)"`)
	csrfToken  = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	flashText  = regexp.MustCompile(`(?s)class="flash (ok|bad)"[^>]*>(.*?)</p>`)
)

// login logs in with user and password and returns the answer.
func (b *browser) login(user, password string) page {
	b.t.Helper()
	m := loginToken.FindStringSubmatch(b.get("/login").body)
	if m == nil {
		b.t.Fatal("log-in page: no log-in token")
	}
	return b.post("/login", url.Values{"login": {m[1]}, "user": {user}, "password": {password}})
}

// mustLogin logs in as root and returns the CSRF token of the overview.
func (b *browser) mustLogin(c labdir.Credentials) string {
	b.t.Helper()
	if p := b.login(c.RootUser, c.RootPassword); p.code != http.StatusSeeOther || p.location != "/" {
		b.t.Fatalf("log-in: got %d to %q, want 303 to /; body:\n%s", p.code, p.location, p.body)
	}
	return b.csrf("/buckets")
}

// csrf returns the CSRF token of a page.
func (b *browser) csrf(path string) string {
	b.t.Helper()
	m := csrfToken.FindStringSubmatch(b.get(path).body)
	if m == nil {
		b.t.Fatalf("%s: no CSRF token", path)
	}
	return m[1]
}

// flash returns the messages of a page as plain text.
func flash(body string) string {
	var out []string
	for _, m := range flashText.FindAllStringSubmatch(body, -1) {
		txt := regexp.MustCompile(`<[^>]+>`).ReplaceAllString(m[2], "")
		out = append(out, m[1]+": "+strings.Join(strings.Fields(html.UnescapeString(txt)), " "))
	}
	return strings.Join(out, "\n")
}

func wantFlash(t *testing.T, p page, want ...string) {
	t.Helper()
	got := flash(p.body)
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("page messages:\n%s\nwant %q", got, w)
		}
	}
}

func bucketExists(t *testing.T, h *lab.Handle, name string) bool {
	t.Helper()
	s3, err := h.S3()
	if err != nil {
		t.Fatal(err)
	}
	ok, err := s3.BucketExists(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// TestConsoleAccess: pages need a session, log-in is checked by MinIO
// with one generic message, every form needs its CSRF token, failed
// log-ins are rate-limited, and sessions expire and belong to one lab.
func TestConsoleAccess(t *testing.T) {
	t.Parallel()
	cl := startLab(t)
	creds := cl.h.Credentials

	t.Run("no session", func(t *testing.T) {
		b := newBrowser(t, cl)
		if p := b.get("/keys"); p.code != http.StatusSeeOther || p.location != "/login?next=%2Fkeys" {
			t.Errorf("GET /keys without a session: got %d to %q, want 303 to /login?next=%%2Fkeys", p.code, p.location)
		}
		p := b.post("/buckets", url.Values{"name": {"no-session"}, "mode": {"none"}})
		if p.code != http.StatusForbidden || bucketExists(t, cl.h, "no-session") {
			t.Errorf("POST /buckets without a session: got %d, bucket created %v; want 403 and no bucket", p.code, bucketExists(t, cl.h, "no-session"))
		}
		// After logging in, the user lands where they were going.
		m := loginToken.FindStringSubmatch(b.get("/login?next=%2Fkeys").body)
		p = b.post("/login", url.Values{"login": {m[1]}, "user": {creds.RootUser}, "password": {creds.RootPassword}, "next": {"/keys"}})
		if p.code != http.StatusSeeOther || p.location != "/keys" {
			t.Errorf("log-in with next=/keys: got %d to %q", p.code, p.location)
		}
		// A next that leaves the console is ignored.
		b2 := newBrowser(t, cl)
		m = loginToken.FindStringSubmatch(b2.get("/login").body)
		p = b2.post("/login", url.Values{"login": {m[1]}, "user": {creds.RootUser}, "password": {creds.RootPassword}, "next": {"//evil.test/x"}})
		if p.location != "/" {
			t.Errorf("log-in with next=//evil.test/x: redirect to %q, want /", p.location)
		}
	})

	t.Run("wrong credentials", func(t *testing.T) {
		b := newBrowser(t, cl)
		for _, c := range [][2]string{{creds.RootUser, "wrong-password"}, {"nobody", creds.RootPassword}, {"", ""}} {
			p := b.login(c[0], c[1])
			if p.code != http.StatusUnauthorized {
				t.Errorf("log-in as %q: got %d, want 401", c[0], p.code)
			}
			if got := flash(p.body); got != "bad: ✖ The user name or password is wrong." {
				t.Errorf("log-in as %q: message %q, want the generic one", c[0], got)
			}
			if p := b.get("/"); p.code != http.StatusSeeOther {
				t.Errorf("after a failed log-in: GET / got %d, want a redirect to the log-in page", p.code)
			}
		}
		// The log-in form needs its own token.
		p := b.post("/login", url.Values{"user": {creds.RootUser}, "password": {creds.RootPassword}})
		if p.code != http.StatusForbidden {
			t.Errorf("log-in without the form's token: got %d, want 403", p.code)
		}
	})

	t.Run("csrf", func(t *testing.T) {
		b := newBrowser(t, cl)
		tok := b.mustLogin(creds)
		for _, tt := range []struct {
			name, csrf, origin string
		}{
			{"missing", "", ""},
			{"wrong", "not-the-token", ""},
			{"another site", tok, "https://evil.test"},
		} {
			form := url.Values{"name": {"csrf-" + strings.ReplaceAll(tt.name, " ", "-")}, "mode": {"none"}}
			if tt.csrf != "" {
				form.Set("csrf", tt.csrf)
			}
			r, _ := http.NewRequest(http.MethodPost, b.base+"/buckets", strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			p := b.send(r)
			if p.code != http.StatusForbidden || bucketExists(t, cl.h, form.Get("name")) {
				t.Errorf("CSRF %s: got %d; want 403 and no bucket", tt.name, p.code)
			}
		}
		p := b.post("/buckets", url.Values{"csrf": {tok}, "name": {"csrf-ok"}, "mode": {"none"}})
		if p.code != http.StatusSeeOther || !bucketExists(t, cl.h, "csrf-ok") {
			t.Errorf("with the CSRF token: got %d; want 303 and the bucket", p.code)
		}
		// Logging out needs it too, and ends the session.
		if p := b.post("/logout", nil); p.code != http.StatusForbidden {
			t.Errorf("log-out without the token: got %d, want 403", p.code)
		}
		b.post("/logout", url.Values{"csrf": {tok}})
		if p := b.get("/"); p.code != http.StatusSeeOther {
			t.Errorf("after log-out: GET / got %d, want a redirect", p.code)
		}
		if p := b.post("/buckets", url.Values{"csrf": {tok}, "name": {"after-logout"}, "mode": {"none"}}); p.code != http.StatusForbidden {
			t.Errorf("the old token after log-out: got %d, want 403", p.code)
		}
	})

	t.Run("another lab's cookie", func(t *testing.T) {
		b := newBrowser(t, cl)
		b.mustLogin(creds)
		u, _ := url.Parse(cl.url)
		cookies := b.c.Jar.Cookies(u)
		if len(cookies) != 1 || !strings.HasPrefix(cookies[0].Name, "sselab-") {
			t.Fatalf("cookies after log-in: %v, want one session cookie", cookies)
		}
		// A console of another lab (its own CA) over the same MinIO.
		otherPKI, err := pki.LoadOrCreate(pki.Options{Dir: filepath.Join(t.TempDir(), "certs")})
		if err != nil {
			t.Fatal(err)
		}
		other := &lab.Handle{Layout: cl.h.Layout, State: cl.h.State, Credentials: cl.h.Credentials, PKI: otherPKI}
		s, err := console.New(console.Config{Lab: other})
		if err != nil {
			t.Fatal(err)
		}
		hb := handlerBrowser(t, s)
		for _, name := range []string{cookies[0].Name, strings.Replace(cookies[0].Name, "sselab-", "sselab-x", 1)} {
			r, _ := http.NewRequest(http.MethodGet, hb.base+"/keys", nil)
			r.AddCookie(&http.Cookie{Name: name, Value: cookies[0].Value})
			if p := hb.send(r); p.code != http.StatusSeeOther || !strings.HasPrefix(p.location, "/login") {
				t.Errorf("the other lab's console with cookie %s: got %d to %q, want the log-in page", name, p.code, p.location)
			}
		}
	})

	t.Run("expired session", func(t *testing.T) {
		var mu sync.Mutex
		now := time.Now()
		s, err := console.New(console.Config{Lab: cl.h, SessionTTL: time.Hour, Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
		if err != nil {
			t.Fatal(err)
		}
		b := handlerBrowser(t, s)
		b.mustLogin(creds)
		if p := b.get("/keys"); p.code != http.StatusOK {
			t.Fatalf("GET /keys in a session: got %d", p.code)
		}
		mu.Lock()
		now = now.Add(time.Hour + time.Second)
		mu.Unlock()
		p := b.get("/keys")
		if p.code != http.StatusSeeOther || !strings.Contains(p.location, "expired=1") {
			t.Fatalf("GET /keys after the session expired: got %d to %q, want the log-in page saying so", p.code, p.location)
		}
		wantFlash(t, b.follow(p), "Your session has expired; log in again.")
	})

	t.Run("every page", func(t *testing.T) {
		b := newBrowser(t, cl)
		b.mustLogin(creds)
		bucket := cl.h.State.Buckets[0]
		if _, err := cl.h.PutObject(t.Context(), bucket, "dir/page test.txt", strings.NewReader("page test"), -1, "text/plain"); err != nil {
			t.Fatal(err)
		}
		obj := url.QueryEscape("dir/page test.txt")
		for path, want := range map[string]string{
			"/":                                     "The lab is ready",
			"/buckets":                              `href="/buckets/` + bucket + `/settings"`,
			"/buckets/" + bucket:                    "dir/page test.txt",
			"/buckets/" + bucket + "?object=" + obj: `id="panel-key-id">arn:aws:kms:` + cl.h.State.Key,
			"/buckets/" + bucket + "/settings":      `value="sse-kms" checked`,
			"/keys":                                 cl.h.State.Key,
			"/keys/" + cl.h.State.Key:               "It cannot be deleted.",
			"/proof":                                "Run verify",
			"/proof?bucket=" + bucket + "&object=" + obj: "the drive holds ciphertext",
		} {
			p := b.get(path)
			if p.code != http.StatusOK || !strings.Contains(p.body, want) || strings.Contains(p.body, "could not be shown") || flash(p.body) != "" {
				t.Errorf("GET %s: got %d, messages %q; want 200 showing %q", path, p.code, flash(p.body), want)
			}
		}
		// Download gives the bytes as an attachment, never as a page.
		r, _ := http.NewRequest(http.MethodGet, b.base+"/buckets/"+bucket+"/download?object="+obj, nil)
		resp := b.do(r)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "page test" || resp.Header.Get("Content-Type") != "application/octet-stream" ||
			!strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
			t.Errorf("download: %q, %v; want the object as an attachment", body, resp.Header)
		}
		for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"} {
			if resp.Header.Get(h) == "" {
				t.Errorf("answer lacks %s", h)
			}
		}
	})

	// Last: it blocks log-ins from 127.0.0.1 on this console.
	t.Run("rate limit", func(t *testing.T) {
		b := newBrowser(t, cl)
		for range 5 {
			b.login(creds.RootUser, "wrong")
		}
		p := b.login(creds.RootUser, creds.RootPassword)
		if p.code != http.StatusTooManyRequests {
			t.Errorf("log-in after 5 failures: got %d, want 429", p.code)
		}
		wantFlash(t, p, "Too many failed log-ins from your address; try again in 30s.")
	})
}

// TestConsoleBadInput: each bad input is one sentence on the page and
// changes nothing.
func TestConsoleBadInput(t *testing.T) {
	t.Parallel()
	cl := startLab(t)
	ctx := t.Context()
	b := newBrowser(t, cl)
	tok := b.mustLogin(cl.h.Credentials)

	t.Run("bucket name", func(t *testing.T) {
		p := b.follow(b.post("/buckets", url.Values{"csrf": {tok}, "name": {"Bad_Name"}, "mode": {"sse-kms"}, "key": {cl.h.State.Key}}))
		wantFlash(t, p, `Invalid bucket name "Bad_Name"`)
		if bucketExists(t, cl.h, "bad-name") {
			t.Error("a bucket was created")
		}
	})

	t.Run("key name", func(t *testing.T) {
		p := b.follow(b.post("/keys", url.Values{"csrf": {tok}, "name": {"bad/key"}}))
		wantFlash(t, p, `Invalid key name "bad/key"`)
	})

	t.Run("key deleted behind the console's back", func(t *testing.T) {
		if err := cl.h.CreateKey(ctx, "gone-key"); err != nil {
			t.Fatal(err)
		}
		if p := b.get("/keys/gone-key"); p.code != http.StatusOK || flash(p.body) != "" {
			t.Fatalf("GET /keys/gone-key: got %d, messages %q", p.code, flash(p.body))
		}
		if err := cl.h.KES().DeleteKey(ctx, "gone-key"); err != nil {
			t.Fatal(err)
		}
		wantFlash(t, b.get("/keys/gone-key"), "Key gone-key does not exist")
		p := b.follow(b.post("/buckets", url.Values{"csrf": {tok}, "name": {"with-gone-key"}, "mode": {"sse-kms"}, "key": {"gone-key"}}))
		wantFlash(t, p, "Key gone-key does not exist")
		if bucketExists(t, cl.h, "with-gone-key") {
			t.Error("a bucket was created with a deleted key")
		}
	})

	t.Run("object gone", func(t *testing.T) {
		p := b.get("/buckets/" + cl.h.State.Buckets[0] + "?object=gone.txt")
		wantFlash(t, p, "The object “gone.txt” does not exist (any more).")
	})

	t.Run("key in use", func(t *testing.T) {
		if err := cl.h.CreateKey(ctx, "used-key"); err != nil {
			t.Fatal(err)
		}
		p := b.follow(b.post("/buckets", url.Values{"csrf": {tok}, "name": {"used"}, "mode": {"sse-kms"}, "key": {"used-key"}}))
		wantFlash(t, p, "Bucket used created with SSE-KMS with key used-key.")
		if _, err := cl.h.PutObject(ctx, "used", "doc.txt", strings.NewReader("data"), 4, ""); err != nil {
			t.Fatal(err)
		}
		p = b.follow(b.post("/keys/used-key/delete", url.Values{"csrf": {tok}, "confirm": {"wrong"}}))
		wantFlash(t, p, "Type the key's name, used-key, to confirm; nothing was deleted.")
		p = b.follow(b.post("/keys/used-key/delete", url.Values{"csrf": {tok}, "confirm": {"used-key"}}))
		wantFlash(t, p, "Key used-key is in use: 1 object(s), such as used/doc.txt, would become unreadable forever", "Deleting it is refused")
		if _, err := cl.h.DescribeKey(ctx, "used-key"); err != nil {
			t.Errorf("the key in use was deleted: %v", err)
		}
		if !strings.Contains(p.body, `id="force"`) {
			t.Error("the key page offers no 'delete it anyway' for a key in use")
		}
		p = b.follow(b.post("/keys/"+cl.h.State.Key+"/delete", url.Values{"csrf": {tok}, "confirm": {cl.h.State.Key}, "force": {"yes"}}))
		wantFlash(t, p, "is the lab's default key")
	})

	t.Run("upload larger than the free space", func(t *testing.T) {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		mw.WriteField("csrf", tok)
		fw, _ := mw.CreateFormFile("file", "huge.bin")
		fw.Write([]byte("not really huge"))
		mw.Close()
		free, err := cl.h.FreeSpace()
		if err != nil {
			t.Fatal(err)
		}
		s, err := console.New(console.Config{Lab: cl.h})
		if err != nil {
			t.Fatal(err)
		}
		hb := handlerBrowser(t, s)
		hb.mustLogin(cl.h.Credentials)
		r, _ := http.NewRequest(http.MethodPost, hb.base+"/buckets/"+cl.h.State.Buckets[0]+"/upload", &body)
		r.Header.Set("Content-Type", mw.FormDataContentType())
		r.Header.Set("Accept", "application/json")
		r.ContentLength = int64(free) + 1<<30 // what a browser would announce for such a file
		r.Header.Set("X-CSRF-Token", hb.csrf("/buckets"))
		p := hb.send(r)
		if p.code != http.StatusRequestEntityTooLarge || !strings.Contains(p.body, "free; free some space or upload a smaller file. Nothing was uploaded.") {
			t.Errorf("upload announced bigger than the free space: got %d %s", p.code, p.body)
		}
		if _, err := cl.h.StatObject(ctx, cl.h.State.Buckets[0], "huge.bin"); err == nil {
			t.Error("huge.bin was stored")
		}
	})

	t.Run("MinIO not answering", func(t *testing.T) {
		down := &lab.Handle{Layout: cl.h.Layout, State: cl.h.State, Credentials: cl.h.Credentials, PKI: cl.h.PKI}
		down.State.S3Endpoint = "https://127.0.0.1:1"
		s, err := console.New(console.Config{Lab: down})
		if err != nil {
			t.Fatal(err)
		}
		hb := handlerBrowser(t, s)
		p := hb.login(cl.h.Credentials.RootUser, cl.h.Credentials.RootPassword)
		if p.code != http.StatusServiceUnavailable {
			t.Errorf("log-in while MinIO is down: got %d, want 503", p.code)
		}
		wantFlash(t, p, "MinIO is not answering, so the log-in cannot be checked; try again in a moment.")
	})
}

// TestConsoleOutages: while Vault is sealed and while MinIO does not
// answer, pages say so in one sentence and change nothing; once the cause
// is gone the console works again, with the same session.
func TestConsoleOutages(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a MinIO") // before the fake Vault
	}
	t.Parallel()
	v, err := fakevault.Start(fakevault.Options{TLS: true, Mounts: map[string]int{"kv": 2}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	ca, secret, err := v.WriteFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	flags, err := keystore.ParseFlags("--kms", "vault", "--vault-endpoint", v.URL(), "--vault-ca", ca, "--vault-prefix", "lab",
		"--vault-approle-id", v.RoleID(), "--vault-approle-secret-file", secret)
	if err != nil {
		t.Fatal(err)
	}
	h := labtest.Up(t, runner.Options{Keystore: flags})

	t.Run("vault sealed", func(t *testing.T) {
		cl := &consoleLab{h: h, url: h.State.WebURL}
		b := newBrowser(t, cl)
		tok := b.mustLogin(h.Credentials)
		v.Seal()
		p := b.follow(b.post("/keys", url.Values{"csrf": {tok}, "name": {"while-sealed"}}))
		wantFlash(t, p, "Create key while-sealed: failed to create key: Vault at "+v.URL()+" is sealed; unseal it")
		if strings.Count(flash(p.body), "\n") > 1 || strings.Contains(p.body, "goroutine") {
			t.Errorf("messages while sealed: %q; want one sentence each", flash(p.body))
		}
		if p := b.get("/"); !strings.Contains(p.body, "The lab is not ready") || !strings.Contains(p.body, "sealed") {
			t.Errorf("overview while Vault is sealed: no 'not ready … sealed' banner:\n%s", flash(p.body))
		}
		v.Unseal()
		// KES notices within seconds; the same session then works again.
		deadline := time.Now().Add(30 * time.Second)
		for {
			p = b.follow(b.post("/keys", url.Values{"csrf": {tok}, "name": {"after-unseal"}}))
			if strings.Contains(flash(p.body), "Key after-unseal created in KES.") || time.Now().After(deadline) {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		wantFlash(t, p, "Key after-unseal created in KES.")
		if _, err := h.DescribeKey(t.Context(), "while-sealed"); err == nil {
			t.Error("the key asked for while Vault was sealed exists")
		}
	})

	t.Run("MinIO not answering", func(t *testing.T) {
		// The console reaches MinIO through a proxy that the test stops
		// and starts again on the same port, as a restarting MinIO would.
		target := strings.TrimPrefix(h.State.S3Endpoint, "https://")
		px := startProxy(t, "127.0.0.1:0", target)
		addr := px.addr
		viaProxy := &lab.Handle{Layout: h.Layout, State: h.State, Credentials: h.Credentials, PKI: h.PKI}
		viaProxy.State.S3Endpoint = "https://" + addr
		s, err := console.New(console.Config{Lab: viaProxy})
		if err != nil {
			t.Fatal(err)
		}
		b := handlerBrowser(t, s)
		tok := b.mustLogin(h.Credentials)
		px.close()
		wantFlash(t, b.get("/buckets"), "MinIO or KES is not answering (it may be restarting); reload the page in a moment.")
		p := b.follow(b.post("/buckets", url.Values{"csrf": {tok}, "name": {"while-down"}, "mode": {"none"}}))
		wantFlash(t, p, "not answering")
		startProxy(t, addr, target)
		if p := b.get("/buckets"); flash(p.body) != "" || !strings.Contains(p.body, h.State.Buckets[0]) {
			t.Errorf("after MinIO is back: messages %q, want the bucket list", flash(p.body))
		}
		if bucketExists(t, h, "while-down") {
			t.Error("the bucket asked for while MinIO was down exists")
		}
	})
}

// proxy forwards TCP connections to a target until closed.
type proxy struct {
	addr  string
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func startProxy(t *testing.T, addr, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{addr: ln.Addr().String(), ln: ln}
	t.Cleanup(p.close)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	return p
}

// close stops listening and cuts every connection, as a dying MinIO does.
func (p *proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestConsoleAddress: a console reachable from other machines is
// announced with a warning; --no-web leaves it off entirely.
func TestConsoleAddress(t *testing.T) {
	t.Parallel()
	t.Run("beyond loopback", func(t *testing.T) {
		t.Parallel()
		var log testtools.SyncBuffer
		h := labtest.Up(t, runner.Options{WebAddress: "0.0.0.0:0", Log: io.MultiWriter(&log, t.Output())})
		if !strings.Contains(log.String(), "sselab: warning: the lab console listens on 0.0.0.0:0, beyond this machine") {
			t.Errorf("log: got %q, want the warning about a console beyond loopback", log.String())
		}
		if !strings.HasPrefix(h.State.WebURL, "https://127.0.0.1:") {
			t.Errorf("web_url %q: want the loopback address clients on this machine dial", h.State.WebURL)
		}
		if st := h.Status(t.Context()); st.Web == nil || !st.Web.Up {
			t.Errorf("status of the console: %+v, want up", st.Web)
		}
	})
	t.Run("off", func(t *testing.T) {
		t.Parallel()
		var log testtools.SyncBuffer
		h := labtest.Up(t, runner.Options{NoWeb: true, Log: io.MultiWriter(&log, t.Output())})
		if h.State.WebURL != "" || strings.Contains(log.String(), "lab console") {
			t.Errorf("with NoWeb: web_url %q, log %q; want neither to name a console", h.State.WebURL, log.String())
		}
		st := h.Status(t.Context())
		if st.Web != nil || !st.Ready {
			t.Errorf("status with NoWeb: web %+v, ready %v; want no console and a ready lab", st.Web, st.Ready)
		}
		env, err := h.Env()
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range env {
			if v.Name == "SSELAB_WEB_URL" {
				t.Errorf("env with NoWeb: %s=%s", v.Name, v.Value)
			}
		}
	})
}
