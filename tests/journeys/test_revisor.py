"""An auditor's day, through the pages only: search the run log, read a run's timeline and
its report, verify the audit trail, and export the run log as CSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.journeys.conftest import Console, log_in, shot
from tests.journeys.helpers import reload_until


def test_auditor_searches_reads_verifies_and_exports(
    served: Console, browser_context: Any, tmp_path: Path
) -> None:
    console = served
    console.add_user("kari", "caseworker")
    console.add_user("revisor", "auditor")

    # Something to audit: a caseworker files a document (named after its case).
    caseworker = browser_context()
    log_in(caseworker, console, "kari")
    named = tmp_path / "BYGG-2026-001__Nabovarsel fra Storgata 3__I__2026-03-01.txt"
    named.write_text("Nabovarsel om tilbygg i Storgata 3\n", encoding="utf-8")
    caseworker.get_by_role("link", name="Start en robot").first.click()
    caseworker.get_by_role("link", name="Arkiver et dokument").click()
    caseworker.get_by_label("Fil som skal arkiveres").set_input_files(named)
    caseworker.get_by_role("button", name="Send inn").click()
    caseworker.wait_for_url("**/elementer/*")
    reload_until(caseworker, "Status: ferdig")

    page = browser_context()
    log_in(page, console, "revisor")

    # 1. Search the run log.
    page.get_by_role("link", name="Kjørelogg").click()
    page.get_by_label("Oppgave").select_option("arkivering")
    page.get_by_label("Sendt inn av").fill("kari")
    page.get_by_role("button", name="Søk").click()
    rows = page.locator("main table tbody tr")
    expect(rows).to_have_count(1)
    shot(page, console, "revisor-kjorelogg")

    # 2. A run's timeline and its report.
    rows.first.get_by_role("link").first.click()
    expect(page.get_by_role("heading", name="Kjøring", exact=False)).to_be_visible()
    expect(page.locator("main")).to_contain_text("Kontroller filens sjekksum")
    shot(page, console, "revisor-kjoring")
    page.get_by_role("link", name="HTML-rapport").click()
    expect(page.locator("body")).to_contain_text("Kontroller filens sjekksum")
    shot(page, console, "revisor-rapport")
    page.go_back()

    # 3. The audit trail and its verification.
    page.get_by_role("link", name="Revisjonsspor").click()
    expect(page.locator("main")).to_contain_text("kari")
    page.get_by_role("button", name="Kontroller hele kjeden nå").click()
    expect(page.get_by_text("intakt", exact=False).first).to_be_visible()
    shot(page, console, "revisor-revisjonsspor")

    # 4. The run log as CSV (masked), as the browser downloads it.
    page.get_by_role("link", name="Kjørelogg").click()
    with page.expect_download() as downloading:
        page.get_by_role("link", name="Eksporter CSV (maskert)").click()
    text = Path(downloading.value.path()).read_text(encoding="utf-8-sig")
    table = list(csv.reader(io.StringIO(text), delimiter=";" if ";" in text[:200] else ","))
    assert len(table) >= 2, text
    assert any("arkivering" in cell for row in table[1:] for cell in row)
