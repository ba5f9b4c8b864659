package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sselab/sselab/internal/testtools"
)

// page drives the lab console in a real Chromium.
type page struct {
	t   *testing.T
	ctx context.Context
	url string
}

// do runs browser steps; on failure it saves a screenshot and fails.
func (p *page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, steps...); err != nil {
		testtools.Screenshot(p.t, p.ctx, "failed-"+strings.ReplaceAll(what, " ", "-"))
		p.t.Fatalf("%s: %v", what, err)
	}
}

// text returns the visible text of the first element sel selects, or "".
func (p *page) text(sel string) string {
	p.t.Helper()
	js := fmt.Sprintf(`(document.querySelector(%q) || {innerText: ""}).innerText`, sel)
	s, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		p.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.Join(strings.Fields(s), " ")
}

// loaded reports whether the page has finished loading: only then does
// the browser's DOM agree with the node ids the next query gets (a click
// right after a navigation could meet "Could not find node with given
// id").
func (p *page) loaded() bool {
	p.t.Helper()
	done, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](`document.readyState === "complete"`))
	return err == nil && done
}

// waitText waits until the element sel selects shows want, and fails with
// what it shows otherwise.
func (p *page) waitText(sel, want string) {
	p.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := p.text(sel)
		if strings.Contains(got, want) && p.loaded() {
			return
		}
		if time.Now().After(deadline) {
			testtools.Screenshot(p.t, p.ctx, "failed-wait")
			p.t.Fatalf("%s shows %q, want %q (page %s)", sel, got, want, p.location())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *page) location() string {
	loc, _ := chromedp.Run(p.ctx, chromedp.Location())
	return loc
}

// open navigates to a path of the console.
func (p *page) open(path string) {
	p.t.Helper()
	p.do("open "+path, chromedp.Navigate(p.url+path))
}

// TestConsoleInABrowser is the lab console's user story in a real
// Chromium against a real lab: log in; see the lab ready; create a key;
// create a bucket, open its settings and choose SSE-KMS with that key;
// upload through the file input and by dropping a file; read the scheme
// and key id in the side panel as MinIO reports them; download; be
// refused deleting the key that data depends on; run verify on the Proof
// page with every check passing; see the object's bytes on the drive
// beside its plaintext. It saves a screenshot of each page.
func TestConsoleInABrowser(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "lab")
	h := upDetached(t, dir)
	if h.State.WebURL == "" {
		t.Fatal("state file: no web_url")
	}
	// Where to find it: status and env name it.
	if out := mustRun(t, "status", "--dir", dir).stdout; !regexp.MustCompile(`(?m)^lab console\s+ok\s+` + regexp.QuoteMeta(h.State.WebURL) + `$`).MatchString(out) {
		t.Errorf("status: no 'lab console ok %s' row:\n%s", h.State.WebURL, out)
	}
	if out := mustRun(t, "env", "--dir", dir).stdout; !strings.Contains(out, "SSELAB_WEB_URL="+h.State.WebURL) {
		t.Errorf("env: no SSELAB_WEB_URL=%s:\n%s", h.State.WebURL, out)
	}

	ctx := testtools.Browser(t, testtools.SPKIHash(h.PKI.Console.Cert))
	p := &page{t: t, ctx: ctx, url: h.State.WebURL}
	shot := func(name string) { testtools.Screenshot(t, ctx, name) }

	// Log in: any page leads to the log-in form first.
	p.open("/buckets")
	p.waitText("h1", "Log in to the lab")
	p.do("log in with a wrong password",
		chromedp.SendKeys(chromedp.ID("user"), h.Credentials.RootUser),
		chromedp.SendKeys(chromedp.ID("password"), "not-the-password"),
		chromedp.Click(chromedp.ID("login-button")))
	p.waitText("#login-error", "The user name or password is wrong.")
	shot("login-refused")
	p.do("log in",
		chromedp.SetValue(chromedp.ID("user"), h.Credentials.RootUser),
		chromedp.SetValue(chromedp.ID("password"), h.Credentials.RootPassword),
		chromedp.Click(chromedp.ID("login-button")))
	p.waitText("h1", "Buckets") // where the user was going

	p.open("/")
	p.waitText("#health", "The lab is ready")
	for _, want := range []string{"KES ✔ serving", "Keystore ✔", "MinIO ✔ ready", "Default key ✔ present " + h.State.Key, "Disk ✔ writable", "Bucket encrypted ✔ encrypted SSE-KMS key " + h.State.Key} {
		if got := p.text("#status"); !strings.Contains(got, want) {
			t.Errorf("overview: status table %q lacks %q", got, want)
		}
	}
	shot("overview")

	// A key, through the Keys page.
	p.open("/keys")
	p.do("create a key", chromedp.SendKeys(chromedp.ID("key-name"), "photos-key"), chromedp.Click(chromedp.CSS("#create-key button")))
	p.waitText("#flash", "Key photos-key created in KES.")

	// A bucket without encryption, then SSE-KMS with that key in its
	// settings.
	p.open("/buckets")
	p.do("create a bucket",
		chromedp.SendKeys(chromedp.ID("bucket-name"), "photos"),
		chromedp.Click(chromedp.CSS(`#create-bucket input[value="none"]`)),
		chromedp.Click(chromedp.CSS("#create-bucket button")))
	p.waitText("#flash", "Bucket photos created with no default encryption.")
	shot("buckets-created")
	p.do("open the bucket's settings", chromedp.Click(chromedp.CSS(`a.gear[href="/buckets/photos/settings"]`)))
	p.waitText("#current-encryption", "none")
	p.do("choose SSE-KMS with photos-key",
		chromedp.Click(chromedp.CSS(`#encryption-form input[value="sse-kms"]`)),
		chromedp.SetValue(chromedp.ID("key-picker"), "photos-key"),
		chromedp.Click(chromedp.ID("save-encryption")))
	p.waitText("#flash", "Bucket photos now has SSE-KMS with key photos-key.")
	p.waitText("#current-encryption", "SSE-KMS key photos-key")
	shot("bucket-settings")
	if enc, err := h.BucketEncryption(t.Context(), "photos"); err != nil || enc.KeyID != "photos-key" {
		t.Errorf("MinIO's encryption of photos: %+v, %v; want SSE-KMS with photos-key", enc, err)
	}

	// Upload through the file input.
	file := filepath.Join(t.TempDir(), "report.txt")
	content := "quarterly numbers, confidential: " + strings.Repeat("0123456789", 20)
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	p.open("/buckets/photos")
	p.do("upload through the file input",
		chromedp.SetUploadFiles(chromedp.ID("file-input"), []string{file}),
		chromedp.Click(chromedp.ID("upload-button")))
	p.waitText("#flash", "Uploaded report.txt.")
	p.waitText("#panel-scheme", "SSE-KMS")
	st, err := h.StatObject(t.Context(), "photos", "report.txt")
	if err != nil {
		t.Fatal(err)
	}
	if st.KMSKeyID != "arn:aws:kms:photos-key" {
		t.Errorf("MinIO reports key id %q for report.txt, want arn:aws:kms:photos-key", st.KMSKeyID)
	}
	if got := p.text("#panel-key-id"); got != st.KMSKeyID {
		t.Errorf("side panel key id %q, MinIO reports %q", got, st.KMSKeyID)
	}
	if got := p.text("#panel-sse"); got != st.SSE {
		t.Errorf("side panel X-Amz-Server-Side-Encryption %q, MinIO reports %q", got, st.SSE)
	}
	if got := p.text("#panel-etag"); got != st.ETag {
		t.Errorf("side panel ETag %q, MinIO reports %q", got, st.ETag)
	}
	if got, want := p.text("#panel-size"), fmt.Sprintf("(%d bytes)", len(content)); !strings.Contains(got, want) {
		t.Errorf("side panel size %q, want %q", got, want)
	}
	shot("object-panel")

	// Download it back, as the Download button's link does.
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`fetch(document.getElementById("download").href).then(r => r.text())`, chromedp.EvalAwaitPromise))
	if err != nil || got != content {
		t.Errorf("download: got %q, %v; want the uploaded content", got, err)
	}

	// Upload by dropping a file on the drop zone.
	p.do("drop a file", chromedp.Evaluate[chromedp.Void](`(() => {
		const dt = new DataTransfer();
		dt.items.add(new File(["dropped in the browser"], "dropped.txt", {type: "text/plain"}));
		document.getElementById("drop-zone").dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
	})()`))
	p.waitText("#flash", "Uploaded dropped.txt.")
	p.waitText("#object-panel h2", "dropped.txt")
	p.waitText("#panel-key-id", "arn:aws:kms:photos-key")
	shot("object-dropped")

	// The key is in use: deleting it is refused, with the reason.
	p.open("/keys")
	p.waitText("#keys", "photos-key")
	shot("keys")
	p.open("/keys/photos-key")
	p.waitText("#key-use", "photos/report.txt")
	p.do("delete the key in use",
		chromedp.SendKeys(chromedp.ID("confirm"), "photos-key"),
		chromedp.Click(chromedp.ID("delete-key-button")))
	p.waitText(".flash.bad", "Key photos-key is in use: 2 object(s)")
	p.waitText(".flash.bad", "Deleting it is refused")
	shot("key-delete-refused")
	if _, err := h.DescribeKey(t.Context(), "photos-key"); err != nil {
		t.Errorf("photos-key after the refused deletion: %v", err)
	}

	// Proof: verify's checks, every one passing.
	p.open("/proof")
	p.do("run verify", chromedp.Click(chromedp.ID("verify-button")))
	p.waitText("#verify-result", "checks passed")
	if got := p.text("#checks"); strings.Contains(got, "FAIL") || !strings.Contains(got, "PASS") {
		t.Errorf("proof: checks %q; want every one PASS", got)
	}
	shot("proof")

	// The bytes on the drive beside the plaintext.
	p.do("show the bytes of report.txt",
		chromedp.SetValue(chromedp.ID("object-picker"), "photos/report.txt"),
		chromedp.Click(chromedp.ID("show-bytes-button")))
	p.waitText("#bytes-verdict", "the drive holds ciphertext")
	if plain := p.text("#plain-bytes"); !strings.Contains(plain, "quarterly numbe") {
		t.Errorf("decrypted bytes %q lack the plaintext", plain)
	}
	if disk := p.text("#disk-bytes"); disk == "" || strings.Contains(disk, "quarterly") {
		t.Errorf("bytes on the drive %q: want ciphertext", disk)
	}
	shot("proof-bytes")

	// What the pages did is what MinIO and KES hold.
	uses, err := h.KeyUses(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(uses["photos-key"])
	if u := uses["photos-key"]; len(u.Buckets) != 1 || len(u.Objects) != 2 {
		t.Errorf("what depends on photos-key: %s; want bucket photos and its 2 objects", b)
	}
}
