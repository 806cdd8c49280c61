"""Masking of personal data and secrets before anything is stored or shown.

Every path that persists text (run events, JSONL files, error messages, exports) goes through
`mask`, so a fødselsnummer or a registered secret never reaches disk in clear.
"""

from __future__ import annotations

import re
import threading
from typing import Any
from urllib.parse import quote, quote_plus

from robots import fnr

SECRET_PLACEHOLDER = "***"

_lock = threading.Lock()
_secrets: set[str] = set()
_secret_pattern: re.Pattern[str] | None = None

# key=value / "key": "value" pairs whose key says the value is a secret.
_SECRET_KEYS = re.compile(
    r"(?i)(\b(?:password|passord|passwd|secret|token|api[_-]?key)\b[\"']?\s*[:=]\s*[\"']?)([^\s\"',;&]+)"
)
# userinfo in URLs: scheme://user:password@host
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]+:)([^@\s]+)(@)")


def register_secret(value: str | None) -> None:
    """Remember a secret value (a password from the vault, a token) so it is masked everywhere,
    also URL-encoded (as it travels in a form post or a query string)."""
    global _secret_pattern
    if not value or len(value) < 4:
        return
    forms = {value, quote(value, safe=""), quote_plus(value, safe="")}
    with _lock:
        if forms <= _secrets:
            return
        _secrets.update(forms)
        ordered = sorted(_secrets, key=len, reverse=True)
        _secret_pattern = re.compile("|".join(re.escape(s) for s in ordered))


def registered_secrets() -> list[str]:
    """The registered secrets as written (for finding them on a page)."""
    with _lock:
        return sorted(_secrets, key=len, reverse=True)


def mask_text(text: str) -> str:
    if not text:
        return text
    pattern = _secret_pattern
    if pattern is not None:
        text = pattern.sub(SECRET_PLACEHOLDER, text)
    text = _URL_PASSWORD.sub(rf"\1{SECRET_PLACEHOLDER}\3", text)
    text = _SECRET_KEYS.sub(rf"\1{SECRET_PLACEHOLDER}", text)
    return fnr.mask_text(text)


_SECRET_FIELD = re.compile(r"(?i)(password|passord|secret|token|api_?key)")


def mask(value: Any) -> Any:
    """Mask strings inside any JSON-like structure (keys too, and bytes); values under
    secret-looking keys are hidden. An 11-digit integer that is a fødselsnummer becomes its
    masked text; every other number stays the number it was."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {
            (mask_text(k) if isinstance(k, str) else k): SECRET_PLACEHOLDER
            if isinstance(k, str) and _SECRET_FIELD.search(k)
            else mask(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask(v) for v in value]
    if isinstance(value, bytes | bytearray):
        text = bytes(value).decode("utf-8", errors="surrogateescape")
        return mask_text(text).encode("utf-8", errors="surrogateescape")
    if isinstance(value, int) and not isinstance(value, bool) and 10**10 <= value < 10**11:
        text = str(value)
        masked = mask_text(text)
        return masked if masked != text else value
    return value
