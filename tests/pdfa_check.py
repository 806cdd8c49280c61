"""A PDF/A-2b check for the tests, from the rules of ISO 19005-2 a reader can see.

veraPDF is not packaged here; this checks, with pypdf, what a generated document can get wrong:
the header version, the file identifier, no encryption, the XMP identification (pdfaid part 2,
conformance B), an sRGB-like output intent (GTS_PDFA1 with an embedded ICC profile), every font
on every page embedded, and no active content (JavaScript, actions, embedded files; the
project's own tasks.pdf_active). It does not check colour spaces of each object, transparency
or the XMP schema in full, as a validator would.
"""

from __future__ import annotations

from pathlib import Path

import pypdf

from tasks.pdf_active import active_content


def _fonts(page: pypdf.PageObject) -> list[tuple[str, bool]]:
    found = []
    resources = page.get("/Resources")
    fonts = resources.get_object().get("/Font") if resources is not None else None
    for name, ref in (fonts.get_object() if fonts is not None else {}).items():
        font = ref.get_object()
        if font.get("/Subtype") == "/Type3":  # glyphs drawn in the file itself
            found.append((name, True))
            continue
        descriptor = font.get("/FontDescriptor")
        if descriptor is None:  # Type0: the descendant font carries it
            descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"]
        keys = descriptor.get_object().keys()
        found.append((name, any(k in keys for k in ("/FontFile", "/FontFile2", "/FontFile3"))))
    return found


def pdfa_2b_problems(path: Path) -> list[str]:
    """What keeps `path` from being PDF/A-2b, as far as this check sees (empty: none)."""
    problems = []
    raw = path.read_bytes()
    if not raw.startswith(b"%PDF-1.") or raw[7:8] not in b"4567":
        problems.append("header is not %PDF-1.4 to 1.7")
    reader = pypdf.PdfReader(str(path))
    if reader.is_encrypted or "/Encrypt" in reader.trailer:
        problems.append("encrypted")
    if "/ID" not in reader.trailer:
        problems.append("no file identifier (/ID) in the trailer")
    root = reader.trailer["/Root"]
    metadata = root.get("/Metadata")
    xmp = metadata.get_object().get_data() if metadata is not None else b""
    if not (b'pdfaid:part="2"' in xmp or b"<pdfaid:part>2<" in xmp):
        problems.append("XMP does not say pdfaid:part 2")
    if not (b'pdfaid:conformance="B"' in xmp or b"<pdfaid:conformance>B<" in xmp):
        problems.append("XMP does not say pdfaid:conformance B")
    intents = [i.get_object() for i in root.get("/OutputIntents", [])]
    pdfa = [i for i in intents if i.get("/S") == "/GTS_PDFA1"]
    if not pdfa:
        problems.append("no GTS_PDFA1 output intent")
    for intent in pdfa:
        profile = intent.get("/DestOutputProfile")
        data = profile.get_object().get_data() if profile is not None else b""
        if data[36:40] != b"acsp":
            problems.append("output intent has no embedded ICC profile")
    for number, page in enumerate(reader.pages, 1):
        problems += [f"font {n} on page {number} not embedded" for n, ok in _fonts(page) if not ok]
    problems += [f"active content: {what}" for what in active_content(path)]
    return problems
