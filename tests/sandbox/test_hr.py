"""Personalportalen: HTTP behaviour, seeded data, faults, and a smoke test in real Chromium."""

from __future__ import annotations

from collections import Counter
from datetime import date

import httpx

from robots import fnr
from sandbox.common import Faults
from sandbox.hr.data import ABSENCE_DAYS


def login(url: str, user: str = "robot", password: str = "robot-passord") -> httpx.Client:
    client = httpx.Client(base_url=url)
    response = client.post("/login", data={"username": user, "password": password})
    assert response.status_code == 303
    return client


def test_login_required_wrong_password_and_session(sandbox) -> None:  # type: ignore[no-untyped-def]
    url = sandbox.hr.url
    assert httpx.get(f"{url}/ansatte").headers["location"] == "/login?neste=/ansatte"
    bad = httpx.post(f"{url}/login", data={"username": "robot", "password": "feil"})
    assert bad.status_code == 401 and "Feil brukernavn eller passord" in bad.text
    empty = httpx.post(f"{url}/login", data={"username": "", "password": ""})
    assert empty.status_code == 400 and "Fyll inn brukernavn" in empty.text
    client = login(url)
    assert client.get("/ansatte").status_code == 200
    assert client.get("/logout").status_code == 303
    assert client.get("/ansatte").status_code == 303


def test_seed_data_is_realistic_and_deterministic(sandbox) -> None:  # type: ignore[no-untyped-def]
    data = sandbox.hr_app.state.data
    employees = data.query("SELECT * FROM employee")
    assert 480 <= len(employees) <= 520
    assert all(fnr.is_valid(e["fnr"]) and int(e["fnr"][2:4]) > 80 for e in employees)
    assert len(sandbox.hr_app.state.data.new_hire_ids) == 10
    absences, total = data.absences(1, 1000)
    assert total == len(ABSENCE_DAYS) == 40
    days = sorted((data.today - date.fromisoformat(a["first_day"])).days + 1 for a in absences)
    assert days == sorted(ABSENCE_DAYS)
    for milestone in (16, 28, 49, 56, 182):  # each legal milestone has absences close to it
        assert any(abs(milestone - d) <= 7 for d in days)
    assert Counter(a["kind"] for a in absences)["egenmelding"] >= 1
    assert {a["grade"] for a in absences} == {50, 100}
    first = [e["fnr"] for e in employees[:20]]
    again = sandbox.hr_app.state.data.__class__(data.path.parent / "again.db", today=data.today)
    assert [e["fnr"] for e in again.query("SELECT * FROM employee")[:20]] == first


def test_new_hires_paginate_checklist_and_it_request(sandbox) -> None:  # type: ignore[no-untyped-def]
    client = login(sandbox.hr.url)
    first = client.get("/nyansatte")
    assert "10 treff" in first.text and "Side 1 av 2" in first.text and "Neste side" in first.text
    second = client.get("/nyansatte?side=2")
    assert second.text.count("data-ansattnr") == 5
    hire = sandbox.hr_app.state.data.new_hire_ids[0]
    assert client.post(f"/ansatte/{hire}/sjekkliste/arbeidsavtale").status_code == 303
    client.post(f"/ansatte/{hire}/sjekkliste/arbeidsavtale")  # again: unchanged
    state = httpx.get(f"{sandbox.hr.url}/_sandbox/employees/{hire}").json()
    done = [i for i in state["checklist"] if i["done_at"]]
    assert [i["code"] for i in done] == ["arbeidsavtale"] and done[0]["done_by"] == "robot"
    missing = client.post(f"/ansatte/{hire}/it-tilgang", data={"systems": "", "reference": ""})
    assert missing.status_code == 400 and "må fylles ut" in missing.text
    ok = client.post(f"/ansatte/{hire}/it-tilgang", data={"systems": "E-post", "reference": "R1"})
    assert ok.status_code == 303
    dup = client.post(f"/ansatte/{hire}/it-tilgang", data={"systems": "E-post", "reference": "R1"})
    assert dup.status_code == 409 and "finnes allerede" in dup.text
    assert client.post(f"/ansatte/{hire}/sjekkliste/ukjent").status_code == 404


def test_faults_are_deterministic(sandbox) -> None:  # type: ignore[no-untyped-def]
    def run() -> list[int]:
        sandbox.set_faults(Faults(seed=7, error_rate=0.3))
        client = httpx.Client(base_url=sandbox.hr.url)
        return [client.get("/login").status_code for _ in range(30)]

    first, second = run(), run()
    assert first == second and 500 in first and 200 in first
    sandbox.set_faults(Faults(seed=1, session_expiry_rate=1.0))
    client = login(sandbox.hr.url)
    expired = client.get("/ansatte")
    assert expired.status_code == 303 and "utlopt=1" in expired.headers["location"]
    sandbox.set_faults(Faults(seed=1, popup_rate=1.0, layout_variant=True))
    client = login(sandbox.hr.url)
    page = client.get("/ansatte").text
    assert "Ny versjon tilgjengelig" in page and 'id="grid-main"' in page
    assert 'id="resultater"' not in page


def test_smoke_in_chromium(sandbox, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{sandbox.hr.url}/nyansatte")
    page.get_by_label("Brukernavn").fill("robot")
    page.get_by_label("Passord").fill("robot-passord")
    page.get_by_role("button", name="Logg inn").click()
    page.get_by_role("heading", name="Nyansatte").wait_for()
    page.get_by_role("link", name="Neste side").click()
    rows = page.locator("tr[data-ansattnr]")
    assert rows.count() == 5
    rows.first.get_by_role("link").click()
    page.get_by_role("button", name="Merk utført: Skriftlig arbeidsavtale arkivert").click()
    page.get_by_role("status").wait_for()
    assert "Punktet er registrert" in page.get_by_role("status").inner_text()
