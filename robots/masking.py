"""Masking of personal data and secrets before anything is stored or shown.

Every path that persists text (run events, JSONL files, error messages, exports) goes through
`mask`, so a fødselsnummer or a registered secret never reaches disk in clear.
"""

from __future__ import annotations

import re
import threading
from typing import Any

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
    """Remember a secret value (a password from the vault, a token) so it is masked everywhere."""
    global _secret_pattern
    if not value or len(value) < 4:
        return
    with _lock:
        if value in _secrets:
            return
        _secrets.add(value)
        ordered = sorted(_secrets, key=len, reverse=True)
        _secret_pattern = re.compile("|".join(re.escape(s) for s in ordered))


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
    """Mask strings inside any JSON-like structure; values under secret-looking keys are hidden."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {
            k: SECRET_PLACEHOLDER if isinstance(k, str) and _SECRET_FIELD.search(k) else mask(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and 10**8 <= value < 10**11:
        # a fødselsnummer stored as a number lost its leading zero
        text = f"{value:011d}"
        masked = mask_text(text)
        return masked if masked != text else value
    return value
