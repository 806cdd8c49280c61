"""An administrator's day, through the pages only: add a user, change a role, create and
revoke an API key, deactivate a user; each checked by what the person or key can then do."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.journeys.conftest import PASSWORD, Console, log_in, shot


def test_admin_manages_users_and_keys(served: Console, browser_context: Any) -> None:
    console = served
    console.add_user("admin", "admin")
    page = browser_context()
    page.on("dialog", lambda dialog: dialog.accept())  # a confirmation, answered yes
    log_in(page, console, "admin")
    page.get_by_role("link", name="Brukere").click()
    expect(page.get_by_role("heading", name="Brukere og API-nøkler")).to_be_visible()

    # 1. Add a user; the new user can log in.
    page.get_by_label("Brukernavn").fill("ola")
    page.get_by_label("Navn", exact=True).fill("Ola Nordmann")
    page.get_by_label("Rolle", exact=True).select_option("caseworker")
    page.get_by_label("Passord (minst 10 tegn)").fill(PASSWORD)
    shot(page, console, "admin-ny-bruker")
    page.get_by_role("button", name="Legg til").click()
    expect(page.get_by_text("Brukeren ola er lagt til.")).to_be_visible()
    ola = page.get_by_role("row", name="ola", exact=False)
    expect(ola).to_contain_text("Ola Nordmann")

    # 2. Change the role.
    ola.get_by_label("Rolle for ola").select_option("auditor")
    ola.get_by_role("button", name="Endre rolle").click()
    expect(ola.get_by_label("Rolle for ola")).to_have_value("auditor")

    # 3. An API key: shown once, works, and stops working when revoked.
    ola.get_by_label("Ny nøkkel, formål").fill("rapportverktøy")
    ola.get_by_role("button", name="Lag nøkkel").click()
    shown = page.get_by_role("alert").filter(has_text="vises bare nå")
    expect(shown).to_be_visible()
    shot(page, console, "admin-nokkel")
    token = shown.locator("code").inner_text()
    assert re.fullmatch(r"\S{20,}", token)
    api = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{console.url}/api/runs", headers=api).status_code == 200
    page.reload()
    assert token not in page.content()  # shown once only
    ola.get_by_role("button", name="Trekk tilbake").click()
    expect(page.get_by_role("heading", name="Er du sikker?")).to_be_visible()  # asks first
    page.get_by_role("button", name="Ja, trekk tilbake nøkkelen").click()
    expect(page.get_by_text("Nøkkelen er trukket tilbake.")).to_be_visible()
    assert httpx.get(f"{console.url}/api/runs", headers=api).status_code == 401

    # 4. Deactivate the user; they can no longer log in.
    ola.get_by_role("button", name="Deaktiver ola").click()
    page.get_by_role("button", name="Ja, deaktiver ola").click()
    expect(ola).to_contain_text("deaktivert")
    shot(page, console, "admin-brukere")
    other = browser_context()
    other.goto(f"{console.url}/login")
    other.get_by_label("Brukernavn").fill("ola")
    other.get_by_label("Passord").fill(PASSWORD)
    other.get_by_role("button", name="Logg inn").click()
    expect(other.get_by_role("alert")).to_be_visible()
    assert other.url.endswith("/login")
