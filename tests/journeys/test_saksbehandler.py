"""A caseworker's day, through the pages only: file a document with the archive robot, follow
it on «Mine saker», answer the robot's question about which case it belongs to, and take a
case from manual handling and complete it (the operator sends it there)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.journeys.conftest import Console, log_in, shot
from tests.journeys.helpers import reload_until


def upload(page: Any, console: Console, path: Path) -> str:
    """Start «Arkiver et dokument» with a file; returns the item page's address."""
    page.get_by_role("link", name="Start en robot").first.click()
    page.get_by_role("link", name="Arkiver et dokument").click()
    page.get_by_label("Fil som skal arkiveres").set_input_files(path)
    page.get_by_role("button", name="Send inn").click()
    page.wait_for_url("**/elementer/*")
    return str(page.url)


def test_caseworker_files_answers_and_completes(
    served: Console, browser_context: Any, tmp_path: Path
) -> None:
    console = served
    console.add_user("kari", "caseworker")
    console.add_user("drift", "operator")
    page = browser_context()
    log_in(page, console, "kari")

    # 1. Start a robot with a file whose name says nothing of its case.
    letter = tmp_path / "skannet-brev.txt"
    letter.write_text("Brev om tilbygg i Storgata 3\n", encoding="utf-8")
    page.get_by_role("link", name="Start en robot").first.click()
    expect(page.get_by_role("heading", name="Start en robot")).to_be_visible()
    shot(page, console, "saksbehandler-start")
    page.get_by_role("link", name="Arkiver et dokument").click()
    page.get_by_label("Fil som skal arkiveres").set_input_files(letter)
    shot(page, console, "saksbehandler-skjema")
    page.get_by_role("button", name="Send inn").click()
    page.wait_for_url("**/elementer/*")
    expect(page.get_by_role("heading", name="arkivering")).to_be_visible()

    # 2. «Mine saker» shows it; the robot asks (the file name names no case).
    page.get_by_role("link", name="Mine saker").click()
    reload_until(page, "venter på saksbehandler", within="#elementer")
    shot(page, console, "saksbehandler-mine-saker")

    # 3. Answer the question.
    page.get_by_role("link", name="Spørsmål").click()
    question = page.get_by_role("link", name="Hvilken sak hører dokumentet", exact=False)
    expect(question).to_be_visible()
    shot(page, console, "saksbehandler-sporsmal")
    question.click()
    expect(page.locator("main")).to_contain_text("Brev om tilbygg i Storgata 3")  # the evidence
    page.get_by_label("Saksreferanse").fill("BYGG-2026-001")
    page.get_by_label("Tittel på journalposten").fill("Brev om tilbygg i Storgata 3")
    page.get_by_label("Dokumentets dato").fill("2026-03-01")
    shot(page, console, "saksbehandler-svar")
    page.get_by_role("button", name="Send svar").click()
    expect(page.get_by_text("Svaret er lagret")).to_be_visible()

    # 4. The robot files it after the answer.
    page.get_by_role("link", name="Mine saker").click()
    reload_until(page, "ferdig", within="#elementer")
    shot(page, console, "saksbehandler-ferdig")

    # 5. A document the robot cannot file (an access code without a legal basis) ...
    coded = tmp_path / "BYGG-2026-001__Vedtak om tilbygg__U__2026-03-02__Q.txt"
    coded.write_text("Vedtak om tilbygg\n", encoding="utf-8")
    item_url = upload(page, console, coded)
    reload_until(page, "forretningsfeil")
    expect(page.locator("main")).to_contain_text("tilgangskoden 'Q'")

    # ... the operator sends it to manual handling, with the reason ...
    operator = browser_context()
    log_in(operator, console, "drift")
    operator.goto(item_url)
    operator.get_by_label("Send til manuell behandling, fordi").fill(
        "Mangler skjermingshjemmel; journalfør for hånd"
    )
    operator.get_by_role("button", name="Send til manuell behandling").click()
    expect(operator.get_by_text("er sendt til manuell behandling")).to_be_visible()

    # ... and the caseworker takes it and completes it.
    page.get_by_role("link", name="Manuell behandling").click()
    row = page.get_by_role("row", name="Mangler skjermingshjemmel")
    expect(row).to_be_visible()
    shot(page, console, "saksbehandler-manuell")
    row.get_by_role("link").first.click()
    page.get_by_role("button", name="Ta saken").click()
    expect(page.get_by_text("Du har tatt element")).to_be_visible()
    page.get_by_label("Hva ble gjort").fill("Journalført for hånd med hjemmel offl. § 13")
    shot(page, console, "saksbehandler-fullfor")
    page.get_by_role("button", name="Fullfør saken").click()
    expect(page.get_by_text("er fullført manuelt")).to_be_visible()
    page.get_by_role("link", name="Mine saker").click()
    expect(page.locator("#elementer")).not_to_contain_text("manuell behandling")
