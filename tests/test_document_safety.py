"""Documents people and systems supply (issue 22 §1 and §13): converting one never fetches the
server's files, the network or data: URLs, embeds nothing, and a PDF with active content is not
filed. Real files, a real HTTP server on 127.0.0.1 that counts requests, real WeasyPrint, pypdf."""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pypdf
import pytest
from loguru import logger

from robots.context import RunContext
from robots.queue import Claim
from robots.tasks import BusinessError
from tasks.documents import DocumentTooLarge, html_to_pdfa, pdf_kind
from tasks.pdf_fetch import ASSETS, ShippedOnly
from tests.conftest import Env

SECRETS = {
    "console-secret": "KONSOLLHEMMELIG-7f3a9c",
    "credentials.toml": "ROBOTPASSORD-b41d22",
    "audit-key": "REVISJONSNOKKEL-e90c5a",
}
URL_SECRET = "URLTOKEN-5dd1e8"  # a secret carried in a URL's query: never printed
SERVED = "NETTHEMMELIG-33aa71"  # what the local server would hand out


class Counting(BaseHTTPRequestHandler):
    hits: list[str]

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self.hits.append(self.path)
        body = f"body::after{{content:'{SERVED}'}}".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, list[str]]]:
    hits: list[str] = []
    handler = type("Handler", (Counting,), {"hits": hits})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", hits
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def secrets_dir(tmp_path: Path) -> Path:
    """The server's secret files, and files an attacker would like rendered: a stylesheet and
    an SVG that would put a secret on the page if they were fetched."""
    folder = tmp_path / "var"
    folder.mkdir()
    for name, secret in SECRETS.items():
        (folder / name).write_text(f"secret = {secret}\n")
    (folder / "stil.css").write_text(f"body::before{{content:'{SECRETS['console-secret']}'}}")
    (folder / "bilde.svg").write_text(
        "<svg xmlns='http://www.w3.org/2000/svg' width='400' height='40'>"
        f"<text x='0' y='20'>{SECRETS['audit-key']}</text></svg>"
    )
    return folder


def everything_in(path: Path) -> str:
    """The PDF as an attacker reads it: raw bytes, every stream decompressed, every embedded
    file, and the extracted text."""
    raw = path.read_bytes()
    parts = [raw.decode("latin-1")]
    for body in re.findall(rb"stream\r?\n(.*?)endstream", raw, re.DOTALL):
        with contextlib.suppress(zlib.error):
            parts.append(zlib.decompressobj().decompress(body).decode("latin-1"))
    reader = pypdf.PdfReader(str(path))
    for name, contents in reader.attachments.items():
        parts.append(name)
        parts.extend(c.decode("latin-1") for c in contents)
    parts.extend(page.extract_text() for page in reader.pages)
    return "\n".join(parts)


def text_of(path: Path) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(str(path)).pages)


def attacks(var: Path, net: str) -> dict[str, str]:
    """One hostile document per way WeasyPrint pulls in outside content."""
    f = {name: (var / name).as_uri() for name in (*SECRETS, "stil.css", "bilde.svg")}
    q = f"?token={URL_SECRET}"
    data_css = f"data:text/css,body::after{{content:'{SECRETS['credentials.toml']}'}}"
    return {
        "link-attachment": "".join(
            f"<link rel='attachment' href='{f[n]}' title='{n}'>" for n in SECRETS
        ),
        "a-attachment": f"<a rel='attachment' href='{f['audit-key']}' download='k'>vedlegg</a>",
        "img-http": f"<img src='{net}/bilde.png{q}'>",
        "img-file": f"<img src='{f['bilde.svg']}'>",
        "link-stylesheet": f"<link rel='stylesheet' href='{f['stil.css']}'>"
        f"<link rel='stylesheet' href='{net}/stil.css{q}'>",
        "css-import": f"<style>@import url('{f['stil.css']}'); @import '{net}/i.css{q}';</style>",
        "css-url": f"<p style=\"background:url('{net}/bg.png{q}')\">x</p>"
        f"<p style=\"list-style-image:url('{f['bilde.svg']}')\">y</p>",
        "font-face": f"<style>@font-face{{font-family:X;src:url('{net}/f.ttf{q}')}}"
        "body{font-family:X}</style>",
        "object-embed-iframe": f"<object data='{f['bilde.svg']}'></object>"
        f"<embed src='{net}/e.svg{q}'><iframe src='{f['console-secret']}'></iframe>",
        "svg-image": "<svg xmlns='http://www.w3.org/2000/svg' "
        "xmlns:xlink='http://www.w3.org/1999/xlink' width='200' height='50'>"
        f"<image href='{f['bilde.svg']}' width='100' height='50'/>"
        f"<image xlink:href='{net}/s.svg{q}' width='100' height='50'/></svg>",
        "data-urls": f"<link rel='stylesheet' href=\"{data_css}\">"
        f"<link rel='attachment' href='data:text/plain,{SECRETS['audit-key']}'>"
        f"<img src=\"data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg'>"
        f"<text y='10'>{SECRETS['console-secret']}</text></svg>\">",
        "base-href": f"<base href='{var.as_uri()}/'><link rel='attachment' href='audit-key'>"
        "<img src='bilde.svg'>",
    }


@pytest.fixture
def warnings() -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(str(message)), level="WARNING")
    yield lines
    logger.remove(sink)


@pytest.mark.parametrize("attack", list(attacks(Path("/x"), "http://h")))
def test_a_hostile_document_converts_without_anything_from_outside(
    attack: str,
    tmp_path: Path,
    secrets_dir: Path,
    server: tuple[str, list[str]],
    warnings: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    net, hits = server
    document = (
        "<!doctype html><html><head><title>Brev</title>"
        f"{attacks(secrets_dir, net)[attack]}</head>"
        f"<body><h1>Brev til kommunen</h1>{attacks(secrets_dir, net)[attack]}</body></html>"
    )
    pdf = tmp_path / "brev.pdf"
    html_to_pdfa(document, pdf, title="Brev")
    assert "Brev til kommunen" in text_of(pdf)  # the document itself is there
    seen = everything_in(pdf)
    for secret in (*SECRETS.values(), SERVED):
        assert secret not in seen
    assert pypdf.PdfReader(str(pdf)).attachments == {}
    assert hits == []  # the network was never asked
    said = "\n".join(warnings)
    assert "eksterne ressurser" in said and "avvist" in said
    assert URL_SECRET not in said + caplog.text
    assert not any(s in said + caplog.text for s in SECRETS.values())


def test_a_plain_document_converts_without_a_warning(tmp_path: Path, warnings: list[str]) -> None:
    pdf = tmp_path / "brev.pdf"
    html_to_pdfa("<h1>Søknad</h1><p>Æøå</p>", pdf, title="Søknad")
    assert "Søknad" in text_of(pdf)
    assert warnings == []


def test_only_files_the_project_ships_are_fetched(tmp_path: Path, secrets_dir: Path) -> None:
    fetcher = ShippedOnly()
    shipped = sorted(p for p in ASSETS.iterdir() if p.is_file())
    assert shipped, "the project ships at least its base stylesheet"
    response = fetcher.fetch(shipped[0].as_uri())
    assert response.read() == shipped[0].read_bytes()
    escape = ASSETS.as_uri() + "/../documents.py"
    link = ASSETS / "lenke.css"
    try:
        link.symlink_to(secrets_dir / "console-secret")
        for url in (
            escape,
            link.as_uri(),
            (secrets_dir / "console-secret").as_uri(),
            "data:text/plain,x",
            "http://127.0.0.1:1/x",
        ):
            with pytest.raises(ValueError):
                fetcher.fetch(url)
    finally:
        link.unlink()
    assert fetcher.refused == 5


def test_the_shipped_stylesheet_is_applied(tmp_path: Path) -> None:
    """The allow-list is used for real: every conversion gets the base stylesheet (11pt, not
    WeasyPrint's 12pt), fetched through the same fetcher."""
    pdf = tmp_path / "a.pdf"
    html_to_pdfa("<!doctype html><html><body><p>Hei</p></body></html>", pdf)
    sizes: list[float] = []
    pypdf.PdfReader(str(pdf)).pages[0].extract_text(
        visitor_text=lambda text, cm, tm, font, size: sizes.append(size) if text else None
    )
    assert sizes and all(abs(s - 11 * 4 / 3) < 0.01 for s in sizes), sizes  # 11pt in CSS px


def test_a_document_too_large_to_convert_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DocumentTooLarge, match="for stort til å gjøres om til PDF"):
        html_to_pdfa("<p>" + "x" * 2000 + "</p>", tmp_path / "x.pdf", max_bytes=1000)
    assert not (tmp_path / "x.pdf").exists()


# The archive robot's own path: a hostile HTML file in the inbox -------------------------------


def _ctx(env: Env) -> RunContext:
    return RunContext(Claim(1, 1, "arkivering", "ref", {}, 1, "w"), env.settings)


def test_the_archive_robot_files_a_hostile_document_without_the_servers_secrets(
    sqlite_env: Env, server: tuple[str, list[str]], warnings: list[str]
) -> None:
    from tasks.arkivering import as_pdf, inbox

    env = sqlite_env
    net, hits = server
    # The secrets where the installation keeps them: in its data directory.
    var = env.data_dir
    for name, secret in SECRETS.items():
        (var / name).write_text(f"secret = {secret}\n")
    (var / "stil.css").write_text("p{}")
    (var / "bilde.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    ctx = _ctx(env)
    folder = inbox(env.settings)
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "BYGG-1__Brev__I__2026-03-01.html"
    source.write_text(
        "<!doctype html><html><head>"
        + "".join(attacks(var, net).values())
        + "</head><body><p>Søknad om garasje</p></body></html>"
    )
    pdf = as_pdf(ctx, source)
    assert "Søknad om garasje" in text_of(pdf)
    seen = everything_in(pdf)
    assert not any(s in seen for s in (*SECRETS.values(), SERVED))
    assert hits == []
    assert pdf_kind(pdf).conformance == "PDF/A-2b"
    assert any("eksterne ressurser" in line and "avvist" in line for line in warnings)


def test_a_text_file_too_large_to_convert_is_rejected_with_its_reason(sqlite_env: Env) -> None:
    from tasks.arkivering import FileInput, arkivering, inbox

    env = sqlite_env
    folder = inbox(env.settings)
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "BYGG-1__Stor fil__I__2026-03-01.txt"
    source.write_bytes(b"x" * 1_000_001)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    with pytest.raises(BusinessError, match="for stor til å gjøres om til PDF"):
        arkivering(_ctx(env), FileInput(filnavn=source.name, sha256=digest))
    reason = (folder / "rejected" / f"{source.name}.grunn.txt").read_text()
    assert "for stor" in reason and "1 000 000 byte" in reason
    assert not source.exists()


# 13. A PDF with active content is not filed ---------------------------------------------------


def _pdf(folder: Path, name: str, build: Any = None) -> Path:
    """A one-page PDF made with pypdf; `build(writer)` adds the hostile part."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    if build is not None:
        build(writer)
    path = folder / name
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def _action(kind: str, **entries: Any) -> Any:
    from pypdf.generic import DictionaryObject, NameObject

    action = DictionaryObject({NameObject("/S"): NameObject(kind)})
    action.update({NameObject(f"/{k}"): v for k, v in entries.items()})
    return action


def _annotation(writer: Any, subtype: str, **entries: Any) -> None:
    from pypdf.generic import ArrayObject, DictionaryObject, NameObject, NumberObject

    annot = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject(subtype),
            NameObject("/Rect"): ArrayObject([NumberObject(n) for n in (0, 0, 10, 10)]),
        }
    )
    annot.update({NameObject(f"/{k}"): v for k, v in entries.items()})
    writer.pages[0][NameObject("/Annots")] = ArrayObject([writer._add_object(annot)])


def _hostile() -> dict[str, Any]:
    from pypdf.generic import ArrayObject, DictionaryObject, NameObject, TextStringObject

    def root(key: str, value: Any) -> Any:
        return lambda w: w._root_object.update({NameObject(key): value})

    js = TextStringObject("app.alert('hei')")
    return {
        "openaction-javascript": root("/OpenAction", _action("/JavaScript", JS=js)),
        "openaction-submitform": root(
            "/OpenAction", _action("/SubmitForm", F=TextStringObject("http://x/"))
        ),
        "openaction-importdata": root(
            "/OpenAction", _action("/ImportData", F=TextStringObject("data.fdf"))
        ),
        "openaction-uri": root("/OpenAction", _action("/URI", URI=TextStringObject("http://x/"))),
        "catalog-aa-javascript": root(
            "/AA", DictionaryObject({NameObject("/WC"): _action("/JavaScript", JS=js)})
        ),
        "page-aa-launch": lambda w: w.pages[0].update(
            {
                NameObject("/AA"): DictionaryObject(
                    {NameObject("/O"): _action("/Launch", F=TextStringObject("cmd.exe"))}
                )
            }
        ),
        "names-javascript": root(
            "/Names",
            DictionaryObject(
                {
                    NameObject("/JavaScript"): DictionaryObject(
                        {NameObject("/Names"): ArrayObject([TextStringObject("a"), js])}
                    )
                }
            ),
        ),
        "names-embeddedfiles": lambda w: w.add_attachment("hemmelig.txt", b"data"),
        "fileattachment-annotation": lambda w: _annotation(w, "/FileAttachment"),
        "link-launch": lambda w: _annotation(
            w, "/Link", A=_action("/Launch", F=TextStringObject("cmd.exe"))
        ),
        "xfa-form": root(
            "/AcroForm",
            DictionaryObject({NameObject("/XFA"): TextStringObject("<xdp:xdp/>")}),
        ),
        "richmedia": lambda w: _annotation(w, "/RichMedia"),
        # a name spelled with #-escapes is the same name to a reader
        "escaped-name": root("/OpenAction", _action("/J#61vaScript", JS=js)),
    }


@pytest.mark.parametrize("kind", list(_hostile()))
def test_a_pdf_with_active_content_is_rejected_as_it_is(sqlite_env: Env, kind: str) -> None:
    from tasks.arkivering import FileInput, arkivering, inbox

    env = sqlite_env
    folder = inbox(env.settings)
    folder.mkdir(parents=True, exist_ok=True)
    source = _pdf(folder, "BYGG-1__Brev__I__2026-03-01.pdf", _hostile()[kind])
    original = source.read_bytes()
    digest = hashlib.sha256(original).hexdigest()
    with pytest.raises(BusinessError, match="aktivt innhold"):
        arkivering(_ctx(env), FileInput(filnavn=source.name, sha256=digest))
    rejected = folder / "rejected"
    assert (rejected / source.name).read_bytes() == original  # kept as it came
    assert "aktivt innhold" in (rejected / f"{source.name}.grunn.txt").read_text()


@pytest.mark.parametrize(
    "content",
    [
        None,  # a plain pypdf page
        b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n",  # minimal, not pypdf-parseable
    ],
)
def test_a_plain_pdf_is_accepted(sqlite_env: Env, content: bytes | None) -> None:
    from pypdf.generic import NameObject, TextStringObject

    from tasks.arkivering import as_pdf, inbox

    folder = inbox(sqlite_env.settings)
    folder.mkdir(parents=True, exist_ok=True)

    def link(writer: Any) -> None:  # a link the reader clicks is fine
        _annotation(writer, "/Link", A=_action("/URI", URI=TextStringObject("https://x.no/")))
        writer.add_metadata({NameObject("/Title"): "Brev"})

    source = _pdf(folder, "brev.pdf", link)
    if content is not None:
        source.write_bytes(content)
    assert as_pdf(_ctx(sqlite_env), source) == source
