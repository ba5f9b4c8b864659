package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/sselab/sselab/pkg/lab"
)

// loginPage shows the log-in form, with a fresh token against cross-site
// log-in in a cookie and in the form.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if sess, _ := s.session(r); sess != nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	msg := ""
	if r.URL.Query().Get("expired") != "" {
		msg = "Your session has expired; log in again."
	}
	s.showLogin(w, http.StatusOK, next, msg)
}

// loginData is what the log-in page shows.
type loginData struct {
	Next, Token, Error string
}

func (s *Server) showLogin(w http.ResponseWriter, code int, next, msg string) {
	tok := token()
	s.setCookie(w, s.loginCookie(), tok, 15*time.Minute)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	s.render(w, "login", page{Title: "Log in", Data: loginData{Next: next, Token: tok, Error: msg}})
}

// login checks the root credentials with MinIO and starts a session.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	next := safeNext(r.PostFormValue("next"))
	c, err := r.Cookie(s.loginCookie())
	if err != nil || c.Value == "" || !validToken(c.Value, r.PostFormValue("login")) {
		s.showLogin(w, http.StatusForbidden, next, "The log-in form was stale; try again.")
		return
	}
	addr := clientAddr(r)
	if wait := s.limiter.wait(addr, s.now()); wait > 0 {
		s.showLogin(w, http.StatusTooManyRequests, next, fmt.Sprintf("Too many failed log-ins from your address; try again in %s.", wait.Round(time.Second)))
		return
	}
	if err := s.checkLogin(r.Context(), r.PostFormValue("user"), r.PostFormValue("password")); err != nil {
		code := http.StatusServiceUnavailable
		if err == errWrongLogin {
			code = http.StatusUnauthorized
			s.limiter.fail(addr, s.now())
			s.log.Printf("failed log-in from %s", addr)
		}
		var down *noMinIOError
		if errors.As(err, &down) {
			s.log.Printf("log-in from %s not checked: %v", addr, down.cause)
		}
		s.showLogin(w, code, next, err.Error())
		return
	}
	s.limiter.succeed(addr)
	sess := s.sessions.start(s.now().Add(s.ttl))
	s.setCookie(w, s.cookie, sess.id, s.ttl)
	s.clearCookie(w, s.loginCookie())
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout ends the session.
func (s *Server) logout(w http.ResponseWriter, r *http.Request, sess *session) {
	s.sessions.end(sess.id)
	s.proofs.Delete(sess.id)
	s.clearCookie(w, s.cookie)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// safeNext keeps a redirect target on this console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

// overview shows the lab's health.
func (s *Server) overview(w http.ResponseWriter, r *http.Request, sess *session) {
	st := s.lab.Status(r.Context())
	var problem string
	if err := st.Err(); err != nil {
		problem = plain(err.Error())
	}
	s.view(w, sess, "overview", "overview", "Overview", struct {
		Status  lab.Status
		Problem string
		State   any
	}{st, problem, s.lab.State})
}

// bucketsData is what the Buckets page shows.
type bucketsData struct {
	Buckets    []lab.Bucket
	Keys       []lab.KeyInfo
	DefaultKey string
	Errors     []string
}

// keyChoice lists the keys for a picker; a failure is one more sentence.
func (s *Server) keyChoice(r *http.Request, errs *[]string) []lab.KeyInfo {
	keys, err := s.lab.ListKeys(r.Context(), "")
	if err != nil {
		*errs = append(*errs, "The key list is not available: "+sentence(err))
	}
	return keys
}

// buckets lists the buckets and offers to create one.
func (s *Server) buckets(w http.ResponseWriter, r *http.Request, sess *session) {
	d := bucketsData{DefaultKey: s.lab.State.Key}
	var err error
	if d.Buckets, err = s.lab.ListBuckets(r.Context()); err != nil {
		d.Errors = append(d.Errors, sentence(err))
	}
	d.Keys = s.keyChoice(r, &d.Errors)
	s.view(w, sess, "buckets", "buckets", "Buckets", d)
}

// mode reads an encryption choice from a form.
func mode(r *http.Request) lab.BucketMode {
	m := lab.BucketMode{Mode: r.PostFormValue("mode"), Key: r.PostFormValue("key")}
	if m.Mode != lab.ModeSSEKMS {
		m.Key = ""
	}
	return m
}

// createBucket creates a bucket with the chosen default encryption.
func (s *Server) createBucket(w http.ResponseWriter, r *http.Request, sess *session) {
	name, m := strings.TrimSpace(r.PostFormValue("name")), mode(r)
	if err := s.lab.CreateBucket(r.Context(), name, m); err != nil {
		s.finish(w, r, sess, "/buckets", err, "")
		return
	}
	s.finish(w, r, sess, "/buckets/"+url.PathEscape(name), nil, "Bucket %s created with %s.", name, m)
}

// settingsData is what a bucket's settings page shows.
type settingsData struct {
	Bucket     string
	Encryption lab.BucketEncryption
	Mode, Key  string // the current setting, as the form's choice
	Keys       []lab.KeyInfo
	Errors     []string
}

// bucketSettings shows a bucket's default encryption and the form to
// change it.
func (s *Server) bucketSettings(w http.ResponseWriter, r *http.Request, sess *session) {
	d := settingsData{Bucket: r.PathValue("bucket")}
	enc, err := s.lab.BucketEncryption(r.Context(), d.Bucket)
	if err != nil {
		d.Errors = append(d.Errors, sentence(err))
	}
	d.Encryption = enc
	switch enc.Algorithm {
	case "aws:kms":
		d.Mode, d.Key = lab.ModeSSEKMS, strings.TrimPrefix(enc.KeyID, "arn:aws:kms:")
	case "AES256":
		d.Mode = lab.ModeSSES3
	default:
		d.Mode = lab.ModeNone
	}
	if d.Key == "" {
		d.Key = s.lab.State.Key
	}
	d.Keys = s.keyChoice(r, &d.Errors)
	s.view(w, sess, "settings", "buckets", d.Bucket+" settings", d)
}

// setBucketEncryption changes a bucket's default encryption.
func (s *Server) setBucketEncryption(w http.ResponseWriter, r *http.Request, sess *session) {
	b, m := r.PathValue("bucket"), mode(r)
	err := s.lab.SetBucketEncryption(r.Context(), b, m)
	s.finish(w, r, sess, "/buckets/"+url.PathEscape(b)+"/settings", err, "Bucket %s now has %s. Objects uploaded from now on follow it; objects already stored keep their encryption.", b, m)
}

// objectsData is what a bucket's object browser shows.
type objectsData struct {
	Bucket     string
	Encryption lab.BucketEncryption
	Objects    []lab.Object
	More       bool
	Selected   *lab.Object
	Headers    [][2]string // the selected object's headers, sorted
	Errors     []string
}

// maxListed bounds how many objects a bucket's page lists.
const maxListed = 500

// objects is a bucket's object browser, with the side panel of the
// object named in ?object=.
func (s *Server) objects(w http.ResponseWriter, r *http.Request, sess *session) {
	d := objectsData{Bucket: r.PathValue("bucket")}
	ctx := r.Context()
	enc, err := s.lab.BucketEncryption(ctx, d.Bucket)
	if err != nil {
		d.Errors = append(d.Errors, sentence(err))
		s.view(w, sess, "objects", "buckets", d.Bucket, d)
		return
	}
	d.Encryption = enc
	if d.Objects, d.More, err = s.lab.ListObjects(ctx, d.Bucket, maxListed); err != nil {
		d.Errors = append(d.Errors, sentence(err))
	}
	if key := r.URL.Query().Get("object"); key != "" {
		o, err := s.lab.StatObject(ctx, d.Bucket, key)
		if err != nil {
			d.Errors = append(d.Errors, sentence(err))
		} else {
			d.Selected = &o
			for k, v := range o.Headers {
				d.Headers = append(d.Headers, [2]string{k, strings.Join(v, ", ")})
			}
			sort.Slice(d.Headers, func(i, j int) bool { return d.Headers[i][0] < d.Headers[j][0] })
		}
	}
	s.view(w, sess, "objects", "buckets", d.Bucket, d)
}

// deleteObject deletes one object.
func (s *Server) deleteObject(w http.ResponseWriter, r *http.Request, sess *session) {
	b, key := r.PathValue("bucket"), r.PostFormValue("object")
	err := s.lab.RemoveObject(r.Context(), b, key)
	s.finish(w, r, sess, "/buckets/"+url.PathEscape(b), err, "Deleted %s.", key)
}

// keyRow is one key on the Keys page.
type keyRow struct {
	lab.KeyInfo
	Use lab.KeyUse
}

// keysData is what the Keys page shows.
type keysData struct {
	Keys   []keyRow
	Errors []string
}

// keys lists KES's keys with what depends on each.
func (s *Server) keys(w http.ResponseWriter, r *http.Request, sess *session) {
	var d keysData
	keys, err := s.lab.ListKeys(r.Context(), "")
	if err != nil {
		d.Errors = append(d.Errors, sentence(err))
	}
	uses, err := s.lab.KeyUses(r.Context())
	if err != nil {
		d.Errors = append(d.Errors, "What uses each key is not known: "+sentence(err))
	}
	for _, k := range keys {
		d.Keys = append(d.Keys, keyRow{KeyInfo: k, Use: uses[k.Name]})
	}
	s.view(w, sess, "keys", "keys", "Keys", d)
}

// createKey creates a key in KES.
func (s *Server) createKey(w http.ResponseWriter, r *http.Request, sess *session) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	if err := s.lab.CreateKey(r.Context(), name); err != nil {
		s.finish(w, r, sess, "/keys", err, "")
		return
	}
	s.finish(w, r, sess, "/keys/"+url.PathEscape(name), nil, "Key %s created in KES.", name)
}

// keyData is what a key's page shows.
type keyData struct {
	Key     lab.KeyInfo
	Use     lab.KeyUse
	InUse   bool
	Known   bool // the use could be checked
	Errors  []string
	Missing bool
}

// key describes a key, what depends on it, and offers to delete it.
func (s *Server) key(w http.ResponseWriter, r *http.Request, sess *session) {
	d := keyData{Key: lab.KeyInfo{Name: r.PathValue("key")}}
	info, err := s.lab.DescribeKey(r.Context(), d.Key.Name)
	if err != nil {
		d.Missing = true
		d.Errors = append(d.Errors, sentence(err))
		s.view(w, sess, "key", "keys", d.Key.Name, d)
		return
	}
	d.Key = info
	if d.Use, err = s.lab.InUse(r.Context(), info.Name); err != nil {
		d.Errors = append(d.Errors, "What uses this key is not known: "+sentence(err))
	} else {
		d.Known = true
		d.InUse = len(d.Use.Buckets) > 0 || len(d.Use.Objects) > 0
	}
	s.view(w, sess, "key", "keys", info.Name, d)
}

// deleteKey deletes a key once its name is typed to confirm; a key that
// data depends on only with "delete it anyway" ticked.
func (s *Server) deleteKey(w http.ResponseWriter, r *http.Request, sess *session) {
	name := r.PathValue("key")
	back := "/keys/" + url.PathEscape(name)
	if r.PostFormValue("confirm") != name {
		s.sessions.setFlash(sess, false, "Type the key's name, %s, to confirm; nothing was deleted.", name)
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	if err := s.lab.DeleteKey(r.Context(), name, r.PostFormValue("force") == "yes"); err != nil {
		s.finish(w, r, sess, back, err, "")
		return
	}
	s.finish(w, r, sess, "/keys", nil, "Key %s deleted from KES. Objects encrypted with it can no longer be read.", name)
}

// wantsJSON reports whether the request comes from the console's script.
func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

// writeJSON answers the console's script.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
