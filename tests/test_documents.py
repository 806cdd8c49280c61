"""Archive format (issue 16 §5): what the robots make is PDF/A and says so; fonts embedded."""

from __future__ import annotations

from pathlib import Path

import pypdf

from sandbox.archive.data import archive_format
from tasks.documents import html_to_pdfa, pdf_kind

PLAIN = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def fonts_embedded(path: Path) -> list[bool]:
    found = []
    for page in pypdf.PdfReader(str(path)).pages:
        for ref in page["/Resources"]["/Font"].values():
            font = ref.get_object()
            descriptor = font.get("/FontDescriptor")
            if descriptor is None:  # Type0: the descendant font carries it
                descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"]
            keys = descriptor.get_object().keys()
            found.append(any(k in keys for k in ("/FontFile", "/FontFile2", "/FontFile3")))
    return found


def test_generated_documents_are_pdfa_2b_with_embedded_fonts(tmp_path: Path) -> None:
    path = tmp_path / "avtale.pdf"
    html_to_pdfa("<h1>Arbeidsavtale</h1><p>Æøå – § 14-6</p>", path, title="Arbeidsavtale")
    reader = pypdf.PdfReader(str(path))
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data()
    assert b'pdfaid:part="2"' in xmp and b'pdfaid:conformance="B"' in xmp
    assert reader.trailer["/Root"]["/OutputIntents"][0].get_object()["/S"] == "/GTS_PDFA1"
    embedded = fonts_embedded(path)
    assert embedded and all(embedded)
    kind = pdf_kind(path)
    assert (kind.variantformat, kind.format, kind.conformance) == ("A", "fmt/477", "PDF/A-2b")
    # The sandbox archive, deciding on its own, agrees.
    assert archive_format(path.read_bytes()) == ("A", "fmt/477")


def test_a_plain_pdf_is_production_format(tmp_path: Path) -> None:
    path = tmp_path / "faktura.pdf"
    path.write_bytes(PLAIN)
    assert (pdf_kind(path).variantformat, pdf_kind(path).format) == ("P", "fmt/276")
    assert archive_format(PLAIN) == ("P", "fmt/276")
