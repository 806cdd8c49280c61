"""Personal data at rest: an item's sensitive input is sealed (encrypted) with a key that is not
in the database, so a database administrator or a backup never reads a fødselsnummer.

Sealed are the input fields a task marks as sensitive (a `Fodselsnummer` field, or
`Field(json_schema_extra={"sensitive": True})`) and every value in the input that holds a
fødselsnummer. A sealed value is stored as `{"sealed": <Fernet token>, "shown": <masked form>,
"tag": <keyed hash>}`: the worker opens it for the task, people see `shown`, and duplicate
detection (`unique_on`) compares `tag`. In a reference each fødselsnummer becomes its long keyed
tag (`fnr#` and 16 hex digits): the same reference still finds the same item, and a search for
the number finds it by the same tag.

The key is the `personal_data_key` setting (RPA_PERSONAL_DATA_KEY) or else a key file created
once in data_dir (personal.key, mode 0600). Keep it out of the database's backups; losing it
loses the sealed input of items not yet run.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from robots import fnr
from robots.anchor import _key_file
from robots.masking import lost_leading_zero, mask
from robots.settings import Settings

REFERENCE_TAG_LENGTH = 16
_SEALED_KEYS = {"sealed", "shown", "tag"}
_installed: tuple[Any, ...] | None = None
_fernet: Fernet | None = None
_tag_key = b""


class Unreadable(ValueError):
    """A sealed value that this installation's key cannot open (another key, or altered)."""


def install(settings: Settings) -> None:
    """Read (or create) the installation's key and use it in this process: for sealing, and
    for the keyed tags of masked fødselsnumre. Cheap when nothing changed."""
    global _installed, _fernet, _tag_key
    configured = settings.personal_data_key.get_secret_value()
    marker = (configured, settings.data_path.resolve(), settings.fnr_mask_form)
    if marker == _installed:
        return
    master = configured.encode() if configured else _key_file(settings.data_path / "personal.key")

    def derive(purpose: bytes) -> bytes:
        return hmac.new(master, purpose, hashlib.sha256).digest()

    _fernet = Fernet(base64.urlsafe_b64encode(derive(b"seal")))
    _tag_key = derive(b"tag")
    fnr.use_masking(derive(b"fnr-tag"), settings.fnr_mask_form)
    _installed = marker


def _keys() -> Fernet:
    if _fernet is None:
        raise RuntimeError("sealing.install(settings) is not called in this process")
    return _fernet


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == _SEALED_KEYS


def tag_of(value: Any) -> str:
    """The keyed hash of a JSON value (for `unique_on` on a sealed field)."""
    canonical = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return hmac.new(_tag_key, canonical.encode(), hashlib.sha256).hexdigest()[:32]


def _holds_fnr(value: Any) -> bool:
    return bool(mask(value) != value)


def seal_value(value: Any) -> dict[str, str]:
    token = _keys().encrypt(json.dumps(value, ensure_ascii=False).encode()).decode()
    shown = mask(value) if _holds_fnr(value) else "*****"
    return {"sealed": token, "shown": shown, "tag": tag_of(value)}


def sensitive_fields(model: type[Any]) -> set[str]:
    """The input model's fields that hold personal data (see the module's docstring)."""
    found = set()
    for name, info in getattr(model, "model_fields", {}).items():
        extra = info.json_schema_extra
        typed = "Fodselsnummer" in repr(info.annotation)
        if typed or (isinstance(extra, dict) and extra.get("sensitive")):
            found.add(name)
    return found


def seal_payload(payload: dict[str, Any], sensitive: set[str]) -> dict[str, Any]:
    """The payload to store: sensitive fields and every value holding a fødselsnummer sealed."""
    return {key: _seal(value, key in sensitive, key) for key, value in payload.items()}


def _seal(value: Any, sensitive: bool, key: str = "") -> Any:
    if value is None or value == "":
        return value
    if sensitive or _holds_fnr(value) or _is_lost_fnr(key, value):
        return seal_value(value)
    if isinstance(value, dict):
        return {k: _seal(v, False, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_seal(v, False, key) for v in value]
    return value


def _is_lost_fnr(key: str, value: Any) -> bool:
    from robots.masking import FNR_FIELD

    return bool(FNR_FIELD.search(key)) and lost_leading_zero(value) is not None


def open_payload(payload: Any) -> Any:
    """The payload as submitted (for the worker that runs the item, or a person allowed)."""
    if is_sealed(payload):
        try:
            return json.loads(_keys().decrypt(payload["sealed"].encode()))
        except InvalidToken:
            raise Unreadable(
                "kan ikke åpne kryptert inndata med denne installasjonens nøkkel"
            ) from None
    if isinstance(payload, dict):
        return {k: open_payload(v) for k, v in payload.items()}
    if isinstance(payload, list):
        return [open_payload(v) for v in payload]
    return payload


def shown_payload(payload: Any) -> Any:
    """The payload as people see it: each sealed value as its masked form."""
    if is_sealed(payload):
        return payload["shown"]
    if isinstance(payload, dict):
        return {k: shown_payload(v) for k, v in payload.items()}
    if isinstance(payload, list):
        return [shown_payload(v) for v in payload]
    return payload


_LONG_TAG = re.compile(rf"({re.escape(fnr.TAG_PREFIX)}[0-9a-f]{{6}})[0-9a-f]{{10}}\b")


def seal_reference(reference: str) -> str:
    """The reference as stored: each fødselsnummer replaced by its long keyed tag."""
    return fnr.tag_numbers(reference, REFERENCE_TAG_LENGTH)


def shown_reference(reference: str) -> str:
    """A stored reference as people see it: long tags shortened to the masked form."""
    return _LONG_TAG.sub(r"\1", reference)
