"""Masking of personal data and secrets before anything is stored or shown.

Every path that persists text (run events, JSONL files, error messages, exports) goes through
`mask`, so a fødselsnummer or a registered secret never reaches disk in clear.
"""

from __future__ import annotations

import re
import threading
from decimal import Decimal
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
# Fields known to hold fødselsnumre: there a 10-digit number is one that lost its leading zero
# (a spreadsheet cell read as a number), and is masked as the 11 digits it was.
_SCIENTIFIC_NINE = re.compile(r"\d\.\d{1,9}[eE]\+?0?9")
FNR_FIELD = re.compile(r"(?i)(fnr|f(?:ø|o|oe)dsels(?:nummer|nr)|personnummer|d[-_ ]?nummer)")


def mask(value: Any) -> Any:
    """Mask strings inside any JSON-like structure (keys too, sets, and bytes in UTF-8 or
    UTF-16); values under secret-looking keys are hidden. An 11-digit integer (or a float that
    is one) that is a fødselsnummer becomes its masked text; every other number stays the
    number it was."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {_key(k): _field(k, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask(v) for v in value]
    if isinstance(value, set | frozenset):
        return type(value)(mask(v) for v in value)
    if isinstance(value, bytes | bytearray):
        return _mask_bytes(bytes(value))
    if isinstance(value, float) and value.is_integer() and 10**10 <= value < 10**11:
        masked = mask(int(value))
        return value if isinstance(masked, int) else masked
    if isinstance(value, int) and not isinstance(value, bool) and 10**10 <= value < 10**11:
        text = str(value)
        masked = mask_text(text)
        return masked if masked != text else value
    return value


def _key(key: Any) -> Any:
    masked = mask(key)
    return masked if isinstance(masked, str | int | float | bool | None) else key


def _field(key: Any, value: Any) -> Any:
    if isinstance(key, str) and _SECRET_FIELD.search(key):
        return SECRET_PLACEHOLDER
    if isinstance(key, str) and FNR_FIELD.search(key):
        lost = lost_leading_zero(value)
        if lost is not None:
            return fnr.mask_number(lost)
    return mask(value)


def lost_leading_zero(value: Any) -> str | None:
    """The 11-digit fødselsnummer a 10-digit value was before a spreadsheet dropped its leading
    zero, or None."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    if _SCIENTIFIC_NINE.fullmatch(value.strip()):
        value = str(int(Decimal(value.strip())))
    digits = re.sub(r"[\s.\-]", "", value)
    if len(digits) == 10 and digits.isdigit() and fnr.looks_like_number("0" + digits):
        return "0" + digits
    return None


def _mask_bytes(data: bytes) -> bytes:
    """UTF-8 (anything undecodable kept as it was), or UTF-16 when the bytes are that: a BOM,
    or NUL bytes that decode cleanly in one byte order."""
    codecs = []
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        codecs.append("utf-16")
    elif b"\x00" in data and len(data) % 2 == 0:
        codecs.extend(["utf-16-le", "utf-16-be"])
    for codec in codecs:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        masked = mask_text(text)
        if masked != text:
            bom = data[:2] if codec == "utf-16" else b""
            body = masked.encode("utf-16-le" if bom == b"\xff\xfe" else "utf-16-be")
            return bom + body if codec == "utf-16" else masked.encode(codec)
    text = data.decode("utf-8", errors="surrogateescape")
    return mask_text(text).encode("utf-8", errors="surrogateescape")
