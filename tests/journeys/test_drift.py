"""An operator's day, through the pages only: the dashboard, the items that did not go
through, retrying one, pausing and resuming a robot, running a schedule now, alerts and the
systems the robots use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.journeys.conftest import Console, log_in, shot
from tests.journeys.helpers import reload_until


def test_operator_watches_retries_pauses_and_runs_a_schedule(
    served: Console, browser_context: Any, tmp_path: Path
) -> None:
    console = served
    console.add_user("drift", "operator")
    console.add_user("kari", "caseworker")

    # An item that does not go through: a caseworker files a document with an access code
    # that has no legal basis in the configuration.
    caseworker = browser_context()
    log_in(caseworker, console, "kari")
    coded = tmp_path / "BYGG-2026-001__Vedtak om tilbygg__U__2026-03-02__Q.txt"
    coded.write_text("Vedtak om tilbygg\n", encoding="utf-8")
    caseworker.get_by_role("link", name="Start en robot").first.click()
    caseworker.get_by_role("link", name="Arkiver et dokument").click()
    caseworker.get_by_label("Fil som skal arkiveres").set_input_files(coded)
    caseworker.get_by_role("button", name="Send inn").click()
    caseworker.wait_for_url("**/elementer/*")
    reload_until(caseworker, "forretningsfeil")

    page = browser_context()
    page.on("dialog", lambda dialog: dialog.accept())  # a confirmation, answered yes
    log_in(page, console, "drift")
    expect(page.get_by_role("heading", name="Drift", exact=False).first).to_be_visible()

    # 1. The dashboard.
    page.get_by_role("navigation", name="Hovedmeny").get_by_role("link", name="Drift").click()
    expect(page.locator("main")).to_contain_text("arkivering")
    shot(page, console, "drift-oversikt")

    # 2. The items that did not go through, filtered; retry one.
    page.get_by_role("link", name="Alle elementer, med filter og massehandlinger").click()
    page.get_by_label("Status").select_option("business_error")
    page.get_by_role("button", name="Filtrer").click()
    rows = page.locator("main table tbody tr")
    expect(rows).to_have_count(1)
    shot(page, console, "drift-elementer")
    rows.first.get_by_role("link").first.click()
    page.get_by_role("button", name="Prøv på nytt").click()
    expect(page.get_by_text("på nytt", exact=False).first).to_be_visible()
    reload_until(page, "Forsøk 2")  # the robot tried again (and found the same reason)
    shot(page, console, "drift-element")

    # 3. Pause a robot and start it again.
    page.get_by_role("navigation", name="Hovedmeny").get_by_role("link", name="Drift").click()
    page.get_by_role("button", name="Pause arkivering", exact=True).click()
    expect(page.get_by_role("heading", name="Er du sikker?")).to_be_visible()  # asks first
    page.get_by_role("button", name="Ja, sett arkivering på pause").click()
    expect(page.get_by_text("er satt på pause")).to_be_visible()
    expect(page.get_by_role("button", name="Fortsett arkivering", exact=True)).to_be_visible()
    shot(page, console, "drift-pause")
    page.get_by_role("button", name="Fortsett arkivering", exact=True).click()
    expect(page.get_by_text("er startet igjen")).to_be_visible()

    # 4. Run a schedule now.
    page.get_by_role("link", name="Tidsplaner").click()
    page.get_by_role("button", name="Kjør arkivinnboks nå").click()
    expect(page.get_by_text("Tidsplanen arkivinnboks er kjørt nå")).to_be_visible()
    shot(page, console, "drift-tidsplaner")

    # 5. Alerts and systems.
    page.get_by_role("link", name="Varsler").click()
    expect(page.get_by_role("heading", name="Varsler", exact=False)).to_be_visible()
    shot(page, console, "drift-varsler")
    page.get_by_role("link", name="Systemer").click()
    expect(page.get_by_role("heading", name="Systemer", exact=False)).to_be_visible()
    expect(page.locator("main")).to_contain_text("tilgjengelig")
    shot(page, console, "drift-systemer")
