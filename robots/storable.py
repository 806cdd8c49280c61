"""Text that every database can store.

PostgreSQL refuses the NUL character (U+0000) in text and JSON values, and no driver can encode a
lone UTF-16 surrogate (U+D800-U+DFFF) as UTF-8. Input that holds them is refused at the door
(`unstorable`), and everything the robot writes itself (run-log lines, error messages, results)
passes through `storable`, which replaces them with visible stand-ins, so one odd character can
never stop a worker from recording what happened.
"""

from __future__ import annotations

import re
from typing import Any

_REFUSED = re.compile(r"[\x00\ud800-\udfff]")
NUL_STAND_IN = "\u2400"  # ␀ SYMBOL FOR NULL
SURROGATE_STAND_IN = "\ufffd"  # � REPLACEMENT CHARACTER


def _describe(char: str) -> str:
    if char == "\x00":
        return "NUL-tegn (U+0000)"
    return f"ugyldig Unicode (U+{ord(char):04X})"


def refused_in(text: str) -> str | None:
    """A Norwegian description of the first character the database refuses, or None."""
    match = _REFUSED.search(text)
    return None if match is None else _describe(match.group(0))


def unstorable(value: Any, path: str = "") -> list[tuple[str, str]]:
    """(field path, reason) for every string (or key) in a JSON-like value that cannot be stored."""
    problems: list[tuple[str, str]] = []
    if isinstance(value, str):
        reason = refused_in(value)
        if reason:
            problems.append((path or "(hele)", f"inneholder tegn som ikke kan lagres: {reason}"))
    elif isinstance(value, dict):
        for key, inner in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and refused_in(key):
                problems.append(
                    (path or "(hele)", "et feltnavn inneholder tegn som ikke kan lagres")
                )
            problems.extend(unstorable(inner, where))
    elif isinstance(value, list | tuple):
        for index, inner in enumerate(value):
            problems.extend(unstorable(inner, f"{path}.{index}" if path else str(index)))
    return problems


def storable_text(text: str) -> str:
    if not _REFUSED.search(text):
        return text
    return _REFUSED.sub(
        lambda m: NUL_STAND_IN if m.group(0) == "\x00" else SURROGATE_STAND_IN, text
    )


def storable(value: Any) -> Any:
    """The value with every refused character replaced (strings, keys, nested lists/dicts)."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        return {
            storable_text(k) if isinstance(k, str) else k: storable(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value
