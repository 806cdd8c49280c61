// Shared behaviour of the console pages: live regions fed by server-sent events, the error
// summary taking focus, and a lightbox for screenshots. No framework; every page works without
// JavaScript too (it only stops updating itself).
"use strict";

// A page with data-sse="<url>" listens to that stream; each message is JSON {id, html} (replace
// the element with that id) or {reload: true} for pages that must be drawn again.
function liveUpdates() {
  const root = document.querySelector("[data-sse]");
  if (!root || !window.EventSource) return;
  const source = new EventSource(root.dataset.sse);
  source.addEventListener("update", (event) => {
    const parts = JSON.parse(event.data);
    for (const part of parts) {
      const target = document.getElementById(part.id);
      if (target && target.innerHTML !== part.html) target.innerHTML = part.html;
    }
    document.dispatchEvent(new CustomEvent("konsoll:oppdatert", { detail: parts }));
  });
}

function focusErrors() {
  const summary = document.getElementById("feiloppsummering");
  if (summary) summary.focus();
}

function lightbox() {
  const dialog = document.getElementById("lysboks");
  if (!dialog) return;
  const image = dialog.querySelector("img");
  document.querySelectorAll("img.miniatyr").forEach((thumb) => {
    thumb.addEventListener("click", () => {
      image.src = thumb.src;
      image.alt = thumb.alt;
      dialog.showModal();
    });
    thumb.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); thumb.click(); } });
  });
  dialog.querySelector("button").addEventListener("click", () => dialog.close());
}

document.addEventListener("DOMContentLoaded", () => { liveUpdates(); focusErrors(); lightbox(); });
