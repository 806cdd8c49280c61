"""Archive-format documents: PDF/A, and what a PDF file says it is.

Variantformat "A" (arkivformat) in Noark 5 means PDF/A for text documents (Riksarkivarens
forskrift § 5-17 accepts PDF/A-1 and PDF/A-2; not PDF/A-3, which may carry embedded files).
Documents the robots make (the arbeidsavtale, text files converted for filing) are written as
PDF/A-2b with WeasyPrint from HTML: fonts embedded, sRGB output intent, XMP identification.
A PDF that arrives as it is gets checked: its XMP metadata says which PDF/A part it conforms to,
if any, and that decides its variantformat and PRONOM code.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from loguru import logger

from robots.tasks import BusinessError

# PRONOM identifiers (The National Archives, UK) of the PDF/A flavours the archive accepts.
PRONOM = {
    ("1", "A"): "fmt/95",
    ("1", "B"): "fmt/354",
    ("2", "A"): "fmt/476",
    ("2", "B"): "fmt/477",
    ("2", "U"): "fmt/478",
}
PDF_PRONOM = "fmt/276"  # PDF 1.7, the production format of a PDF that is not PDF/A


@dataclass(frozen=True)
class PdfKind:
    """What a PDF is, for its dokumentobjekt: variantformat A (PDF/A) or P, and its format."""

    variantformat: str  # "A" arkivformat, "P" produksjonsformat
    format: str  # PRONOM code
    conformance: str = ""  # e.g. "PDF/A-2b"


MAX_HTML_BYTES = 1_000_000  # a document larger than this is not converted (time, memory)


class DocumentTooLarge(BusinessError):
    """The document is larger than a conversion may take."""


def html_to_pdfa(
    html: str,
    path: Path,
    title: str = "",
    *,
    log: Any = None,
    max_bytes: int = MAX_HTML_BYTES,
) -> None:
    """Write `html` as a PDF/A-2b file (WeasyPrint; fonts embedded). The HTML may come from
    anyone: only shipped resources are fetched (ShippedOnly), nothing is embedded as an
    attachment (PDF/A-2 forbids it, and it is how a file would leave the server), and a
    document over `max_bytes` is a DocumentTooLarge business error."""
    from weasyprint import CSS, HTML

    from tasks.pdf_fetch import BASE_STYLESHEET, QuietAboutRefused, ShippedOnly

    size = len(html.encode("utf-8"))
    if size > max_bytes:
        raise DocumentTooLarge(
            f"Dokumentet er for stort til å gjøres om til PDF ({size:_} byte; grensen er "
            f"{max_bytes:_} byte)".replace("_", " ")
        )
    if "<html" not in html.lower():
        html = (
            "<!doctype html><html lang='nb'><head><meta charset='utf-8'>"
            f"<title>{escape(title)}</title></head><body>{html}</body></html>"
        )
    fetcher = ShippedOnly()
    quiet = QuietAboutRefused(fetcher)
    weasy_log = logging.getLogger("weasyprint")
    weasy_log.addFilter(quiet)
    try:
        base = CSS(url=BASE_STYLESHEET.as_uri(), url_fetcher=fetcher)
        document = HTML(string=html, url_fetcher=fetcher).render(
            stylesheets=[base], pdf_variant="pdf/a-2b"
        )
        dropped = len(document.metadata.attachments)
        document.metadata.attachments = []
        for page in document.pages:
            kept = [link for link in page.links if link[0] != "attachment"]
            dropped += len(page.links) - len(kept)
            page.links = kept
        document.write_pdf(path, pdf_variant="pdf/a-2b")
    finally:
        weasy_log.removeFilter(quiet)
    if fetcher.refused or dropped:
        (log or logger).warning(
            f"{fetcher.refused + dropped} eksterne ressurser i dokumentet er avvist (filer, "
            "nettadresser, data:-adresser og vedlegg hentes aldri); PDF-en er laget uten dem"
        )


_PART = re.compile(rb"pdfaid:part(?:=\"|>)\s*(\d)")
_CONFORMANCE = re.compile(rb"pdfaid:conformance(?:=\"|>)\s*([ABU])", re.IGNORECASE)


def pdf_kind(path: Path) -> PdfKind:
    """Read the PDF's XMP identification (pdfaid:part and conformance)."""
    import pypdf

    try:
        reader = pypdf.PdfReader(str(path))
        metadata = reader.trailer["/Root"].get("/Metadata")
        xmp = metadata.get_object().get_data() if metadata is not None else b""
    except Exception:  # noqa: BLE001 - a broken PDF is simply not PDF/A
        xmp = b""
    part, conformance = _PART.search(xmp), _CONFORMANCE.search(xmp)
    if part and conformance:
        key = (part.group(1).decode(), conformance.group(1).decode().upper())
        if key in PRONOM:
            return PdfKind("A", PRONOM[key], f"PDF/A-{key[0]}{key[1].lower()}")
    return PdfKind("P", PDF_PRONOM)
