package console

import (
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// upload stores the files of a multipart form in a bucket, streaming
// each to MinIO. The session and the CSRF token (header, or the form's
// first field) are checked before any file is read; an upload larger
// than the drive's free space is refused before it starts.
func (s *Server) upload(w http.ResponseWriter, r *http.Request) {
	sess, _ := s.session(r)
	if sess == nil {
		s.forbidden(w, r)
		return
	}
	bucket := r.PathValue("bucket")
	back := "/buckets/" + url.PathEscape(bucket)
	var uploaded []string
	answer := func(code int, msg string) {
		ok := code == http.StatusOK
		if wantsJSON(r) {
			if ok { // the page the script loads next says it
				s.sessions.setFlash(sess, true, "%s", msg)
				writeJSON(w, code, map[string]any{"uploaded": uploaded})
				return
			}
			writeJSON(w, code, map[string]any{"error": msg, "uploaded": uploaded})
			return
		}
		s.sessions.setFlash(sess, ok, "%s", msg)
		if code == http.StatusOK && len(uploaded) > 0 {
			back += "?object=" + url.QueryEscape(uploaded[len(uploaded)-1])
		}
		http.Redirect(w, r, back, http.StatusSeeOther)
	}
	csrfOK := r.Header.Get("X-CSRF-Token") != ""
	if csrfOK && !validCSRF(r, sess, "") {
		s.forbidden(w, r)
		return
	}
	mr, err := r.MultipartReader()
	if err != nil {
		answer(http.StatusBadRequest, "That was not a file upload; choose a file and press Upload.")
		return
	}
	if free, err := s.lab.FreeSpace(); err == nil && r.ContentLength > 0 && uint64(r.ContentLength) > free {
		answer(http.StatusRequestEntityTooLarge, fmt.Sprintf("The upload is %s but MinIO's drive has only %s free; free some space or upload a smaller file. Nothing was uploaded.",
			humanSize(r.ContentLength), humanSize(int64(free))))
		return
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			answer(http.StatusBadRequest, "The upload broke off"+uploadedSoFar(uploaded))
			return
		}
		if part.FormName() == "csrf" {
			v, _ := io.ReadAll(io.LimitReader(part, 256))
			if !validCSRF(r, sess, string(v)) {
				s.forbidden(w, r)
				return
			}
			csrfOK = true
			continue
		}
		if !csrfOK {
			s.forbidden(w, r)
			return
		}
		if part.FormName() != "file" || part.FileName() == "" {
			continue
		}
		name := path.Base(strings.ReplaceAll(part.FileName(), `\`, "/"))
		if _, err := s.lab.PutObject(r.Context(), bucket, name, part, -1, part.Header.Get("Content-Type")); err != nil {
			answer(http.StatusBadGateway, fmt.Sprintf("%s was not uploaded: %s", name, sentence(err))+uploadedSoFar(uploaded))
			return
		}
		uploaded = append(uploaded, name)
	}
	if len(uploaded) == 0 {
		answer(http.StatusBadRequest, "Choose a file to upload.")
		return
	}
	answer(http.StatusOK, "Uploaded "+strings.Join(uploaded, ", ")+".")
}

// uploadedSoFar names the files stored before an upload failed.
func uploadedSoFar(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return " (stored before that: " + strings.Join(names, ", ") + ")."
}

// download sends an object as an attachment, never rendered in the
// console's own pages.
func (s *Server) download(w http.ResponseWriter, r *http.Request, sess *session) {
	bucket, key := r.PathValue("bucket"), r.URL.Query().Get("object")
	obj, err := s.lab.GetObject(r.Context(), bucket, key)
	if err == nil {
		defer obj.Close()
		info, statErr := obj.Stat() // fails here when MinIO cannot decrypt it
		if statErr == nil {
			h := w.Header()
			h.Set("Content-Type", "application/octet-stream")
			h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(key)}))
			h.Set("Content-Length", fmt.Sprint(info.Size))
			io.Copy(w, obj)
			return
		}
		err = statErr
	}
	s.finish(w, r, sess, "/buckets/"+url.PathEscape(bucket)+"?object="+url.QueryEscape(key), err, "")
}

// humanSize writes a byte count for people.
func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
