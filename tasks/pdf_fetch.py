"""What a PDF conversion may fetch: only files the project ships.

WeasyPrint fetches whatever a document points to (images, stylesheets, @import, fonts,
<object>/<embed>, SVG <image>, <link rel=attachment>) with urllib: file:, http(s): and data:
alike. A document from outside could so copy the server's secrets into the PDF it files, or
make the server call hosts on its network. Every conversion uses ShippedOnly instead.
"""

from __future__ import annotations

import logging
import mimetypes
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from weasyprint.urls import URLFetcher, URLFetcherResponse

# Files the project ships for its documents (stylesheets, fonts): the only resources a
# conversion may fetch. Everything else a document points to is refused (ShippedOnly).
ASSETS = Path(__file__).resolve().parent / "pdf_assets"
BASE_STYLESHEET = ASSETS / "dokument.css"
MAX_ASSET_BYTES = 5_000_000  # one shipped resource (a font file at most)
REFUSED = "ekstern ressurs avvist"  # the refusal's text, without the URL


class ShippedOnly(URLFetcher):  # type: ignore[misc]
    """WeasyPrint's URL fetcher for every conversion: it hands out files under ASSETS (file:
    URLs that resolve inside it, symlinks followed) and refuses everything else, so a document
    cannot pull the server's files, the network or data: URLs into its PDF, nor make the server
    call anyone. It counts what it refused and keeps the URLs (for the log filter only)."""

    def __init__(self, root: Path = ASSETS) -> None:
        super().__init__(timeout=5, allowed_protocols=("file",), allow_redirects=False)
        self.root = root.resolve()
        self.refused = 0
        self.urls: set[str] = set()

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        path = self._shipped(url)
        if path is None:
            self.refused += 1
            self.urls.add(url)
            raise ValueError(REFUSED)
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": kind})

    def _shipped(self, url: str) -> Path | None:
        parts = urlsplit(url)
        if parts.scheme.lower() != "file" or parts.netloc not in ("", "localhost"):
            return None
        path = Path(url2pathname(unquote(parts.path))).resolve()
        if not (path.is_relative_to(self.root) and path.is_file()):
            return None
        return path if path.stat().st_size <= MAX_ASSET_BYTES else None


class QuietAboutRefused(logging.Filter):
    """WeasyPrint logs each failed fetch with its URL, which may carry a secret (a token in a
    query); those lines are dropped and one line without URLs is logged instead."""

    def __init__(self, fetcher: ShippedOnly) -> None:
        super().__init__()
        self.fetcher = fetcher

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return REFUSED not in message and not any(u in message for u in self.fetcher.urls)
