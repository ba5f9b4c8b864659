// sselab lab console: the little that needs a script. Every page works
// without it; it adds drag-and-drop upload, confirmations and progress.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Forms that ask before doing something that cannot be undone.
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (e) => {
      if (!window.confirm(form.dataset.confirm)) e.preventDefault();
    });
  }

  // Verify takes a few seconds: say so.
  const verify = document.getElementById("run-verify");
  if (verify) {
    verify.addEventListener("submit", () => {
      document.getElementById("verify-progress").hidden = false;
      document.getElementById("verify-button").disabled = true;
    });
  }

  // Upload by drag and drop, with the same form's URL and CSRF token.
  const form = document.getElementById("upload-form");
  const zone = document.getElementById("drop-zone");
  if (!form || !zone) return;
  const progress = document.getElementById("upload-progress");
  const send = (files) => {
    if (!files.length) return;
    const body = new FormData();
    body.append("csrf", form.dataset.csrf);
    for (const f of files) body.append("file", f, f.name);
    progress.hidden = false;
    progress.textContent = "Uploading " + Array.from(files, (f) => f.name).join(", ") + "…";
    fetch(form.action, {
      method: "POST",
      body,
      credentials: "same-origin",
      headers: { "X-CSRF-Token": form.dataset.csrf, Accept: "application/json" },
    })
      .then((r) => r.json().then((j) => ({ ok: r.ok, j })))
      .then(({ ok, j }) => {
        if (!ok) {
          progress.textContent = j.error || "The upload failed.";
          progress.classList.add("err");
          return;
        }
        const last = j.uploaded[j.uploaded.length - 1];
        window.location.assign(window.location.pathname + "?object=" + encodeURIComponent(last));
      })
      .catch(() => {
        progress.textContent = "The lab did not answer; is it still running?";
        progress.classList.add("err");
      });
  };
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    send(e.dataTransfer.files);
  });
});
