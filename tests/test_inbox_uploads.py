"""Files into the archive inbox (issue 22 §15, issue 23): the console's "Arkiver et dokument"
form takes the file, a long name keeps its suffix, and a file already submitted by a person is
not queued a second time by the inbox scan. A real console over HTTP, real files, real queue."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from robots.context import RunContext, Services
from robots.models import WorkItem
from robots.outbox import Outbox
from robots.queue import Claim
from tests.conftest import PASSWORD, Env, wait_for
from tests.test_console import csrf_of, login

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
LONG = "Søknad om dispensasjon fra reguleringsplan for Storgata " * 6 + "æøå.pdf"  # > 300 chars


def items(env: Env, task: str = "arkivering") -> list[WorkItem]:
    with env.db.session() as session:
        return list(session.scalars(select(WorkItem).where(WorkItem.task == task)))


def inbox_of(env: Env) -> Path:
    from tasks.arkivering import inbox

    return inbox(env.settings)


# 23-1: the form takes the file -----------------------------------------------------------------


@pytest.mark.parametrize("reference", ["SAK-2026-7", ""])
def test_the_archive_form_takes_the_file(console: Any, reference: str) -> None:
    env, server, _ = console
    kari = login(server, "caseworker")
    token = csrf_of(kari, "/ny/arkivering")
    content = PDF + b"% mitt brev\n"
    response = kari.post(
        "/ny/arkivering",
        data={"csrf": token, "reference": reference},
        files={"fil": ("brev.pdf", content, "application/pdf")},
    )
    assert response.status_code == 303, response.text[-2000:]
    (item,) = items(env)
    assert response.headers["location"] == f"/elementer/{item.id}"
    digest = hashlib.sha256(content).hexdigest()
    assert item.reference == (reference or f"fil:{digest[:32]}")
    assert item.payload["sha256"] == digest
    assert (inbox_of(env) / item.payload["filnavn"]).read_bytes() == content


# 15c: a long name keeps its suffix and fits the file system ------------------------------------


@pytest.mark.parametrize("name", [LONG, "a" * 300 + ".pdf", "æ" * 300 + ".PDF", "x" * 400])
def test_a_long_upload_name_keeps_its_suffix_within_the_name_limit(
    sqlite_env: Env, name: str
) -> None:
    from tasks.arkivering import FileInput, store_upload

    stored = store_upload(sqlite_env.settings, name, PDF)
    filename = stored["filnavn"]
    assert Path(filename).suffix == Path(name).suffix
    # the rejected/ reason file adds ".grunn.txt": that name must fit in 255 bytes too
    assert len((filename + ".grunn.txt").encode("utf-8")) <= 255
    assert (inbox_of(sqlite_env) / filename).read_bytes() == PDF
    FileInput(filnavn=filename, sha256=stored["sha256"])  # and the task takes it


# 15b: one document, one item ------------------------------------------------------------------


def scan(env: Env) -> dict[str, Any]:
    from tasks.arkivering import ScanInput, scan_inbox

    queue = env.queue()
    ctx = RunContext(
        Claim(1, 1, "arkivering.scan_inbox", "skann", {}, 1, "w"),
        env.settings,
        services=Services(queue, Outbox(env.db, env.settings)),
    )
    return scan_inbox(ctx, ScanInput())


def test_the_inbox_scan_does_not_queue_a_file_a_person_submitted(env: Env) -> None:
    from tasks.arkivering import store_upload

    stored = store_upload(env.settings, "Brev fra Kari.pdf", PDF + b"% kari\n")
    env.queue().submit("arkivering", "SAK-2026-7", stored, submitted_by="kari")
    (inbox_of(env) / "BYGG-1__Brev__I__2026-03-01.pdf").write_bytes(PDF + b"% annet\n")
    assert scan(env) == {"found": 2, "queued": 1}  # only the file nobody submitted
    assert scan(env) == {"found": 2, "queued": 0}
    by_file = {i.payload["filnavn"]: i.reference for i in items(env)}
    assert by_file[stored["filnavn"]] == "SAK-2026-7"
    assert by_file["BYGG-1__Brev__I__2026-03-01.pdf"].startswith("fil:")
    assert len(by_file) == len(items(env)) == 2


# 23-1 and 15c as a person does it: real Chromium through the login form ------------------------


def test_a_caseworker_archives_a_file_through_the_form_in_chromium(
    console: Any, page: Any, tmp_path: Path
) -> None:
    env, server, _ = console
    page.goto(f"{server.url}/login")
    page.get_by_label("Brukernavn").fill("caseworker")
    page.get_by_label("Passord").fill(PASSWORD)
    page.get_by_role("button", name="Logg inn").click()
    page.get_by_role("heading", name="Mine saker").wait_for()
    content = PDF + b"% fra nettleseren\n"
    real = tmp_path / "brev.pdf"
    real.write_bytes(content + b"brev.pdf")
    # No file system here holds a 300-character name, but a browser may send one: Chromium
    # uploads it from memory under that name.
    long = {"name": LONG, "mimeType": "application/pdf", "buffer": content + LONG.encode()}
    for number, (name, chosen) in enumerate((("brev.pdf", real), (LONG, long))):
        page.goto(f"{server.url}/ny/arkivering")
        page.get_by_label("Referanse").fill(f"SAK-2026-{number}")
        page.get_by_label("Fil som skal arkiveres").set_input_files(chosen)
        page.get_by_role("button", name="Send inn").click()
        wait_for(lambda: re.search(r"/elementer/\d+$", page.url), timeout=15, message="item page")
        shown = page.locator("main").inner_text()
        assert f"SAK-2026-{number}" in shown and "Status: venter" in shown
        item = next(i for i in items(env) if i.reference == f"SAK-2026-{number}")
        assert page.url.endswith(f"/elementer/{item.id}")
        stored = inbox_of(env) / item.payload["filnavn"]
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == item.payload["sha256"]
        assert stored.read_bytes() == content + name.encode() and stored.suffix == ".pdf"
