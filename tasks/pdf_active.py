"""Active content in a PDF: what would run, call out or carry other files when it is opened.

An archive keeps a document as it came (the filed checksum is the source's), so a PDF with
JavaScript, launch or form-submit actions, embedded files, XFA forms or rich media is refused,
not cleaned (PDF/A forbids all of them). Two looks, since either alone can be fooled: every
object pypdf can reach from the trailer (names decoded, object streams opened), and every name
token in the raw bytes (which also covers a file pypdf cannot parse but a lenient reader may).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

# PDF names that mean active content, wherever they appear (key or value), and why in bokmål.
ACTIVE = {
    "/JavaScript": "JavaScript",
    "/JS": "JavaScript",
    "/Launch": "start av andre programmer (Launch)",
    "/SubmitForm": "innsending av skjemadata (SubmitForm)",
    "/ImportData": "innhenting av data (ImportData)",
    "/EmbeddedFiles": "innebygde filer",
    "/EmbeddedFile": "innebygde filer",
    "/EF": "innebygde filer",
    "/GoToE": "innebygde filer",
    "/FileAttachment": "innebygde filer (vedleggsmerknad)",
    "/XFA": "XFA-skjema",
    "/RichMedia": "multimedia (RichMedia)",
    "/RichMediaExecute": "multimedia (RichMedia)",
    "/Rendition": "multimedia (Rendition)",
    "/Movie": "multimedia (Movie)",
    "/Sound": "multimedia (Sound)",
}
# Actions that are harmless behind a link the reader clicks, but not run on their own.
AUTOMATIC_ONLY = {"/URI": "åpner en nettadresse av seg selv", "/GoToR": "åpner en annen fil"}
MAX_OBJECTS = 1_000_000  # a PDF with more reachable objects than this is not checked through

_NAME = re.compile(rb"/[^\s/<>\[\]()%{}]+")
_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")


def active_content(path: Path) -> list[str]:
    """Why the PDF at `path` is not fit for the archive, in bokmål; empty when it is fine."""
    raw = path.read_bytes()
    found = {ACTIVE[n] for n in _raw_names(raw) if n in ACTIVE}
    found |= _structural(path)
    return sorted(found)


def _raw_names(raw: bytes) -> set[str]:
    return {
        _ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), token).decode("latin-1")
        for token in set(_NAME.findall(raw))
    }


def _structural(path: Path) -> set[str]:
    import pypdf
    from pypdf.errors import PdfReadError

    try:
        reader = pypdf.PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            return {"kryptering (kan ikke kontrolleres)"}
        return _walk(reader.trailer)
    except (PdfReadError, ValueError, KeyError, TypeError, OSError):
        return set()  # not parseable by pypdf: the raw look above is what there is


def _walk(trailer: Any) -> set[str]:
    """Every name reachable from the trailer (each object once), and actions run without a
    click (/OpenAction, /AA) that go out of the document."""
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

    found: set[str] = set()
    seen: set[tuple[int, int]] = set()
    stack: list[Any] = [trailer]
    while stack:
        if len(seen) > MAX_OBJECTS:
            return found | {"for mange objekter til å kontrolleres"}
        obj = stack.pop()
        if isinstance(obj, IndirectObject):
            if (obj.idnum, obj.generation) in seen:
                continue
            seen.add((obj.idnum, obj.generation))
            obj = obj.get_object()
        if isinstance(obj, DictionaryObject):
            for key, value in obj.items():
                if key in ACTIVE:
                    found.add(ACTIVE[key])
                if key in ("/OpenAction", "/AA"):
                    found |= _automatic(value)
                stack.append(value)
        elif isinstance(obj, ArrayObject):
            stack.extend(obj)
        elif isinstance(obj, NameObject) and obj in ACTIVE:
            found.add(ACTIVE[obj])
    return found


def _automatic(value: Any) -> set[str]:
    """/OpenAction is one action (or a destination); /AA maps triggers to actions."""
    from pypdf.generic import DictionaryObject

    value = value.get_object()
    if not isinstance(value, DictionaryObject):
        return set()
    actions = [value] if "/S" in value else [v.get_object() for v in value.values()]
    return {
        AUTOMATIC_ONLY[str(a["/S"])]
        for a in actions
        if isinstance(a, DictionaryObject) and str(a.get("/S")) in AUTOMATIC_ONLY
    }
