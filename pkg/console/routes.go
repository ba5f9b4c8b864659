package console

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

//go:embed web
var webFS embed.FS

// routes registers the console's pages.
func (s *Server) routes() {
	static, _ := fs.Sub(webFS, "web/static")
	s.mux = http.NewServeMux()
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	s.mux.HandleFunc("GET /login", s.loginPage)
	s.mux.HandleFunc("POST /login", s.login)
	s.mux.HandleFunc("POST /logout", s.auth(s.logout))

	s.mux.HandleFunc("GET /{$}", s.auth(s.overview))
	s.mux.HandleFunc("GET /buckets", s.auth(s.buckets))
	s.mux.HandleFunc("POST /buckets", s.auth(s.createBucket))
	s.mux.HandleFunc("GET /buckets/{bucket}", s.auth(s.objects))
	s.mux.HandleFunc("GET /buckets/{bucket}/settings", s.auth(s.bucketSettings))
	s.mux.HandleFunc("POST /buckets/{bucket}/settings", s.auth(s.setBucketEncryption))
	s.mux.HandleFunc("POST /buckets/{bucket}/upload", s.upload) // checks session and CSRF itself, before reading the body
	s.mux.HandleFunc("GET /buckets/{bucket}/download", s.auth(s.download))
	s.mux.HandleFunc("POST /buckets/{bucket}/delete", s.auth(s.deleteObject))
	s.mux.HandleFunc("GET /keys", s.auth(s.keys))
	s.mux.HandleFunc("POST /keys", s.auth(s.createKey))
	s.mux.HandleFunc("GET /keys/{key}", s.auth(s.key))
	s.mux.HandleFunc("POST /keys/{key}/delete", s.auth(s.deleteKey))
	s.mux.HandleFunc("GET /proof", s.auth(s.proof))
	s.mux.HandleFunc("POST /proof", s.auth(s.runProof))
}

// handler is a page handler that runs with a valid session.
type handler func(w http.ResponseWriter, r *http.Request, sess *session)

// auth lets requests with a valid session through, and for POST only
// with the session's CSRF token. Others go to the log-in page (pages) or
// get 403 (forms).
func (s *Server) auth(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, expired := s.session(r)
		if sess == nil {
			s.toLogin(w, r, expired)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20) // forms are small; uploads do not come here
			if !validCSRF(r, sess, r.PostFormValue("csrf")) {
				s.forbidden(w, r)
				return
			}
		}
		h(w, r, sess)
	}
}

// toLogin sends a request without a valid session to the log-in page,
// which then brings the user back to where they were going.
func (s *Server) toLogin(w http.ResponseWriter, r *http.Request, expired bool) {
	if r.Method != http.MethodGet {
		s.forbidden(w, r)
		return
	}
	q := url.Values{}
	if r.URL.Path != "/" {
		q.Set("next", r.URL.RequestURI())
	}
	if expired {
		q.Set("expired", "1")
	}
	target := "/login"
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// forbidden refuses a state-changing request without a valid session or
// CSRF token: nothing is done.
func (s *Server) forbidden(w http.ResponseWriter, r *http.Request) {
	s.log.Printf("refused %s %s from %s: no valid session or CSRF token", r.Method, r.URL.Path, clientAddr(r))
	if wantsJSON(r) {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "Your session has ended or the form is stale; reload the page and log in again."})
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusForbidden)
	s.render(w, "message", page{Title: "Not done", Message: "Nothing was changed: your session has ended or the form was stale. Reload the page and try again."})
}

// page is what every template gets.
type page struct {
	Title   string
	Nav     string // the active menu entry
	CSRF    string
	Flash   *flash
	Message string // for the message template
	Lab     labInfo
	Data    any
}

// labInfo is the header of every page.
type labInfo struct {
	Dir    string
	S3     string
	KES    string
	CAFile string
}

// templates are parsed once, when the first page is shown (not when any
// sselab command starts): each page is the layout plus its own file.
var templates = sync.OnceValue(func() map[string]*template.Template {
	funcs := template.FuncMap{
		"size": func(n any) string {
			switch n := n.(type) {
			case int64:
				return humanSize(n)
			case uint64:
				return humanSize(int64(min(n, 1<<62)))
			}
			return fmt.Sprint(n)
		},
		"time": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.Local().Format("2006-01-02 15:04:05")
		},
		"keyname": func(arn string) string { return strings.TrimPrefix(arn, "arn:aws:kms:") },
		"dict": func(kv ...any) map[string]any {
			m := make(map[string]any, len(kv)/2)
			for i := 0; i+1 < len(kv); i += 2 {
				m[kv[i].(string)] = kv[i+1]
			}
			return m
		},
		"short": func(s string, n int) string {
			if len(s) <= n {
				return s
			}
			return s[:n] + "…"
		},
	}
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(webFS, "web/templates/layout.html"))
	pages, _ := fs.Glob(webFS, "web/templates/*.html")
	m := make(map[string]*template.Template)
	for _, p := range pages {
		name := p[len("web/templates/") : len(p)-len(".html")]
		if name == "layout" {
			continue
		}
		m[name] = template.Must(template.Must(base.Clone()).ParseFS(webFS, p))
	}
	return m
})

// render writes a page.
func (s *Server) render(w http.ResponseWriter, name string, p page) {
	p.Lab = labInfo{Dir: s.lab.Layout.Root, S3: s.lab.State.S3Endpoint, KES: s.lab.State.KESEndpoint, CAFile: s.lab.State.CAFile}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
	}
	// A page is written whole or not at all: a template that fails half
	// way would show a page that silently lacks its end.
	var buf bytes.Buffer
	if err := templates()[name].ExecuteTemplate(&buf, "layout.html", p); err != nil {
		s.log.Printf("page %s: %v", name, err)
		buf.Reset()
		templates()["message"].ExecuteTemplate(&buf, "layout.html", page{Title: "Not shown", Lab: p.Lab,
			Message: "This page could not be shown (" + err.Error() + "); the lab's log has the details."})
	}
	w.Write(buf.Bytes())
}

// view renders a page for a session, with its CSRF token and message.
func (s *Server) view(w http.ResponseWriter, sess *session, name, nav, title string, data any) {
	s.render(w, name, page{Title: title, Nav: nav, CSRF: sess.csrf, Flash: s.sessions.takeFlash(sess), Data: data})
}

// finish ends a form: the message for the next page, then back to target.
func (s *Server) finish(w http.ResponseWriter, r *http.Request, sess *session, target string, err error, format string, a ...any) {
	if err != nil {
		s.sessions.setFlash(sess, false, "%s", sentence(err))
	} else {
		s.sessions.setFlash(sess, true, format, a...)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}
