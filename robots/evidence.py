"""Failure evidence that cannot leak: screenshots blacked out by content, traces masked whole.

A screenshot masks the elements a selector file marks `pii` (a field, a column, a region) and,
before every shot, whatever the page *shows* that looks like a fødselsnummer or D-number (all the
ways of writing one that `robots.fnr` knows) or equals a registered secret, in text and in form
fields: black boxes are laid over those places, the shot is taken, the boxes removed.

A Playwright trace is a zip of the actions, DOM snapshots, network log and the bodies of requests
and responses (`resources/`). Every entry is masked, whatever its name: text as text (fødselsnumre,
secrets, `password=` pairs, URL-encoded forms included), anything else byte by byte on its ASCII
digits and the secrets' bytes.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from robots import fnr
from robots.masking import mask_text, registered_secrets

# The JavaScript twin of robots.fnr's candidate pattern (ASCII digits; Python checks each hit).
_JS_PATTERN = (
    r"(?<!\d)\d{2}\.?\d{2}\.?\d{2}"
    r"(?:[ \t\u00a0\u202f\u2007.+\-]|%20|%2[bB]|%2[dD]|%09|%[cC]2%[aA]0){0,3}\d{5}(?!\d)"
)

_FIND = """
([pattern, secrets]) => {
  const re = new RegExp(pattern, 'g');
  const boxes = [];
  const add = (rects, text) => {
    for (const r of rects) {
      if (r.width > 0 && r.height > 0) {
        boxes.push({x: r.left + window.scrollX, y: r.top + window.scrollY,
                    w: r.width, h: r.height, text});
      }
    }
  };
  const hitsIn = (value) => {
    const hits = [];
    for (const m of value.matchAll(re)) hits.push([m.index, m[0]]);
    for (const s of secrets) {
      for (let i = value.indexOf(s); i >= 0; i = value.indexOf(s, i + 1)) hits.push([i, s]);
    }
    return hits;
  };
  if (!document.body) return boxes;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const value = node.nodeValue;
    if (!value || value.length < 4) continue;
    for (const [index, text] of hitsIn(value)) {
      const range = document.createRange();
      range.setStart(node, index);
      range.setEnd(node, index + text.length);
      add(range.getClientRects(), text);
    }
  }
  for (const el of document.querySelectorAll('input, textarea, select')) {
    const hits = hitsIn(el.value || '');
    if (hits.length) add([el.getBoundingClientRect()], hits[0][1]);
  }
  return boxes;
}
"""

_COVER = """
(boxes) => {
  for (const b of boxes) {
    const d = document.createElement('div');
    d.setAttribute('data-rpa-mask', '');
    d.style.cssText = `position:absolute;left:${b.x - 2}px;top:${b.y - 1}px;` +
      `width:${b.w + 4}px;height:${b.h + 2}px;background:#000;` +
      'z-index:2147483647;pointer-events:none;margin:0;padding:0;border:0';
    document.documentElement.appendChild(d);
  }
}
"""

_UNCOVER = "() => document.querySelectorAll('[data-rpa-mask]').forEach((d) => d.remove())"


def sensitive_boxes(page: Any) -> list[dict[str, Any]]:
    """Boxes (document coordinates) of visible text and form values that are personal data."""
    secrets = registered_secrets()
    found = page.evaluate(_FIND, [_JS_PATTERN, secrets])
    return [box for box in found if box["text"] in secrets or fnr.find(box["text"])]


def masked_screenshot(page: Any, path: Path, locators: list[Any]) -> list[dict[str, Any]]:
    """A full-page screenshot with `pii` locators and personal data shown on the page blacked
    out; returns the content boxes it covered (for the run log and the tests)."""
    boxes = sensitive_boxes(page)
    page.evaluate(_COVER, boxes)
    try:
        page.screenshot(
            path=path, full_page=True, mask=locators, mask_color="#000000", timeout=10_000
        )
    finally:
        page.evaluate(_UNCOVER)
    return boxes


def mask_bytes(data: bytes) -> bytes:
    """Mask one entry of a trace: as UTF-8 text when it is text, else on its bytes (Latin-1
    keeps every byte, so digits and ASCII secrets are found and nothing else changes)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return mask_text(data.decode("latin-1")).encode("latin-1", errors="replace")
    return mask_text(text).encode("utf-8")


def mask_trace(path: Path) -> None:
    """Rewrite a trace archive with every entry masked (see the module docstring)."""
    masked = path.with_suffix(".masking")
    with (
        zipfile.ZipFile(path) as source,
        zipfile.ZipFile(masked, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            target.writestr(info, mask_bytes(source.read(info.filename)))
    masked.replace(path)
