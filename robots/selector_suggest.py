"""`runner.py selectors suggest SYSTEM PATH`: ready-to-paste selector YAML for a live page.

Opens the page logged in (the system's login block and the vault's credentials), lists its form
fields, buttons, links, headings and tables, and gives each the most robust locators first:
label, then role and accessible name, then test id, then id, then the name attribute; a
positional CSS path (`nth-of-type`) only for an element nothing else names, since it breaks
with any change to the page's layout. Fields whose label or content looks like personal data
are marked `pii`. Works headless on a server; `--headed` shows the page (and Playwright's
inspector where a display exists).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import yaml
from loguru import logger

from robots import fnr
from robots.locators import ElementSpec, SystemSpec
from robots.settings import Settings

_COLLECT = """
() => {
  const out = [];
  const text = (el) => (el.innerText || el.textContent || '').replace(/\\s+/g, ' ').trim();
  const label = (el) => {
    if (el.labels && el.labels.length) return text(el.labels[0]);
    return el.getAttribute('aria-label') || '';
  };
  const cssPath = (el) => {
    const parts = [];
    for (let node = el; node && node.nodeType === 1 && parts.length < 4;
         node = node.parentElement) {
      let part = node.tagName.toLowerCase();
      if (node.id) { parts.unshift('#' + CSS.escape(node.id)); break; }
      const same = node.parentElement ?
        [...node.parentElement.children].filter(c => c.tagName === node.tagName) : [];
      if (same.length > 1) part += `:nth-of-type(${same.indexOf(node) + 1})`;
      parts.unshift(part);
    }
    return parts.join(' > ');
  };
  const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  const add = (el, kind, role) => {
    if (!visible(el)) return;
    out.push({
      kind, role,
      tag: el.tagName.toLowerCase(),
      type: el.getAttribute('type') || '',
      id: el.id || '',
      name: el.getAttribute('name') || '',
      testid: el.getAttribute('data-testid') || '',
      label: label(el),
      text: kind === 'table'
        ? (el.getAttribute('aria-label') || text(el.querySelector('caption') || el).slice(0, 60))
        : text(el).slice(0, 80),
      value: (el.value || '').slice(0, 80),
      css: cssPath(el),
    });
  };
  document.querySelectorAll('input:not([type=hidden]), select, textarea').forEach(
    el => add(el, 'field', el.tagName === 'SELECT' ? 'combobox' : 'textbox'));
  document.querySelectorAll('button, input[type=submit]').forEach(
    el => add(el, 'button', 'button'));
  document.querySelectorAll('a[href]').forEach(el => add(el, 'link', 'link'));
  document.querySelectorAll('h1, h2, h3').forEach(el => add(el, 'heading', 'heading'));
  document.querySelectorAll('table').forEach(el => add(el, 'table', 'table'));
  document.querySelectorAll('dd, td, span, p').forEach(el => {
    if (el.children.length === 0 && /\\d{6}[\\s.+-]{0,2}\\d{5}/.test(text(el))) add(el, 'text', '');
  });
  return out;
}
"""

_PII_WORDS = re.compile(r"(?i)fødselsnummer|personnummer|\bfnr\b|d-nummer")


def _slug(text: str) -> str:
    plain = text.lower().replace("æ", "ae").replace("ø", "o").replace("å", "a")
    plain = unicodedata.normalize("NFKD", plain).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", plain).strip("_")[:40] or "element"


def _locators(found: dict[str, Any]) -> list[dict[str, Any]]:
    """The most robust first: label, role + name, test id, id, name attribute; the CSS path
    only where none of those exists."""
    locators: list[dict[str, Any]] = []
    if found["label"] and found["kind"] == "field":
        locators.append({"label": found["label"]})
    name = found["label"] if found["kind"] != "field" else ""
    name = name or (found["text"] if found["kind"] in ("button", "link", "heading") else "")
    if found["role"] and name:
        locators.append({"role": found["role"], "name": name})
    if found["testid"]:
        locators.append({"test_id": found["testid"]})
    if found["id"]:
        locators.append({"css": f"#{found['id']}"})
    if found["name"] and found["kind"] in ("field", "button"):
        value = found["name"].replace("\\", "\\\\").replace('"', '\\"')
        locators.append({"css": f'{found["tag"]}[name="{value}"]'})
    if found["css"] and not locators:
        locators.append({"css": found["css"]})
    return locators


def suggest(found: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Elements for a selectors file: logical name -> {locators, pii?}."""
    elements: dict[str, dict[str, Any]] = {}
    for item in found:
        locators = _locators(item)
        if not locators:
            continue
        base = _slug(item["label"] or item["text"] or item["name"] or item["id"] or item["kind"])
        name = base if item["kind"] != "button" else f"{base}_knapp"
        n = 2
        while name in elements:
            name, n = f"{base}_{n}", n + 1
        element: dict[str, Any] = {"locators": locators}
        content = " ".join((item["label"], item["text"], item["value"], item["name"]))
        if _PII_WORDS.search(content) or fnr.find(content):
            element["pii"] = True
        if item["type"] == "password":
            element["secret"] = True
        ElementSpec.model_validate(element)  # only what the selectors file accepts
        elements[name] = element
    return elements


def suggest_page(
    spec: SystemSpec, settings: Settings, path: str, page_name: str, *, pause: bool = False
) -> str:
    """Open `path` on the system, logged in, and return the suggested YAML (masked)."""
    from robots.runtime import BrowserHost, SystemSession

    host = BrowserHost(settings)
    try:
        session = SystemSession(host, spec, settings, logger)
        try:
            session.start_logged_in()  # a page may show anonymous visitors less
            session.goto(path)
            found = session.page.evaluate(_COLLECT)
            if pause:
                session.page.pause()  # Playwright's inspector, where a display exists
        finally:
            session.close()
    finally:
        host.close()
    elements = suggest(found)
    text = yaml.safe_dump(
        {"pages": {page_name: elements}},
        allow_unicode=True,
        sort_keys=False,
        width=100,
        default_flow_style=None,  # each locator on one line, as in selectors/*.yaml
    )
    return fnr.mask_text(text)
