"""The console: roles through pages and API, CSRF, escaping, injection, masking, the audit
chain view, retention; and each role's main journey in real Chromium."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, func, select, update

from robots import audit, fnr
from robots.console import auth
from robots.console.app import create_app
from robots.console.auth import add_user
from robots.models import AuditEvent, Run, RunEvent, User, WorkItem, utcnow
from sandbox.common import ServerThread
from tests.conftest import PASSWORD, ROLES, Env  # the `console` fixture is in conftest
from tests.test_fnr import make


def login(server: ServerThread, user: str, password: str = PASSWORD) -> httpx.Client:
    client = httpx.Client(base_url=server.url)
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    response = client.post("/login", data={"username": user, "password": password, "csrf": csrf})
    assert response.status_code == 303, response.text
    return client


def csrf_of(client: httpx.Client, path: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)


def api(server: ServerThread, token: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"})


# What each role may do, through the API.
MATRIX = {
    ("GET", "/api/items"): {"caseworker", "operator", "auditor", "admin"},
    ("POST", "/api/items"): {"caseworker", "admin"},
    ("GET", "/api/dashboard"): {"operator", "admin"},
    ("GET", "/api/schedules"): {"operator", "admin"},
    ("POST", "/api/pauses/task/probe"): {"operator", "admin"},
    ("GET", "/api/runs"): {"operator", "auditor", "admin"},  # operators diagnose failures
    ("GET", "/api/audit"): {"auditor", "admin"},
    ("GET", "/api/audit/verify"): {"auditor", "admin"},
}


def test_role_matrix_through_the_api(console: Any) -> None:
    env, server, tokens = console
    for role in ROLES:
        client = api(server, tokens[role])
        for (method, path), allowed in MATRIX.items():
            body = {"task": "probe", "reference": f"{role}-{path}", "payload": {}}
            response = client.request(method, path, json=body if method == "POST" else None)
            if role in allowed:
                assert response.status_code in (200, 201), (role, path, response.text)
            else:
                assert response.status_code == 403, (role, path, response.status_code)
    # retry and cancel: operator yes, auditor no
    item = (
        api(server, tokens["caseworker"])
        .post("/api/items", json={"task": "probe", "reference": "x", "payload": {}})
        .json()
    )
    assert api(server, tokens["auditor"]).post(f"/api/items/{item['id']}/cancel").status_code == 403
    assert (
        api(server, tokens["operator"]).post(f"/api/items/{item['id']}/cancel").json()["status"]
        == "cancelled"
    )
    assert (
        api(server, tokens["caseworker"]).post(f"/api/items/{item['id']}/cancel").status_code == 403
    )
    assert (
        api(server, tokens["caseworker"]).post(f"/api/items/{item['id']}/retry").json()["status"]
        == "pending"
    )
    assert httpx.get(f"{server.url}/api/items").status_code == 401
    assert api(server, "rpa_feil").get("/api/items").status_code == 401


def test_role_matrix_through_the_pages(console: Any) -> None:
    _, server, _ = console
    pages = {
        "/mine": {"caseworker", "admin"},
        "/drift": {"operator", "admin"},
        "/tidsplaner": {"operator", "admin"},
        "/revisjon": {"operator", "auditor", "admin"},
        "/admin/brukere": {"admin"},
        "/ny": {"caseworker", "admin"},
        "/drift/elementer": {"operator", "admin"},
        "/revisjonsspor": {"auditor", "admin"},
        "/ny/probe": {"caseworker", "admin"},
    }
    for role in ROLES:
        client = login(server, role)
        for path, allowed in pages.items():
            status = client.get(path).status_code
            assert status == (200 if role in allowed else 403), (role, path, status)
    assert httpx.get(f"{server.url}/drift").status_code == 303  # not logged in: to login


def test_submit_form_validation_escaping_and_own_items_only(console: Any) -> None:
    env, server, _ = console
    kari = login(server, "caseworker")
    token = csrf_of(kari, "/ny/probe")
    bad = kari.post("/ny/probe", data={"csrf": token, "reference": "r1", "sleep_s": "lenge"})
    assert bad.status_code == 400 and "sleep_s: må være et tall" in bad.text
    number = make(date(1990, 5, 17), 123)
    script = "<script>alert('x')</script>"
    ok = kari.post("/ny/probe", data={"csrf": token, "reference": script, "note": f"fnr {number}"})
    assert ok.status_code == 303
    page = kari.get(ok.headers["location"]).text
    assert script not in page and "&lt;script&gt;" in page
    assert number[:6] not in page and fnr.tag(number) in page  # the keyed hash, no birth date
    assert number not in kari.get("/api/items").text
    other = login(server, "kollega")
    item_id = ok.headers["location"].rsplit("/", 1)[1]
    assert other.get(f"/elementer/{item_id}").status_code == 404
    assert other.get("/api/items").json() == []
    assert "&lt;script&gt;" in kari.get("/mine").text


def test_csrf_is_required_on_every_form_and_unsafe_api_call(console: Any) -> None:
    _, server, _ = console
    kari = login(server, "caseworker")
    assert kari.post("/ny/probe", data={"reference": "x"}).status_code == 403
    assert kari.post("/ny/probe", data={"reference": "x", "csrf": "feil"}).status_code == 403
    assert kari.post("/api/items", json={"task": "probe", "reference": "y"}).status_code == 403
    token = csrf_of(kari, "/mine")
    assert (
        kari.post(
            "/api/items", json={"task": "probe", "reference": "y"}, headers={"x-csrf-token": token}
        ).status_code
        == 201
    )
    assert (
        httpx.post(
            f"{server.url}/login", data={"username": "caseworker", "password": PASSWORD}
        ).status_code
        == 403
    )


def test_sql_injection_in_search_fields_is_just_text(console: Any) -> None:
    env, server, tokens = console
    auditor = login(server, "auditor")
    for evil in ("' OR 1=1 --", "x'; DROP TABLE work_item; --", "%' UNION SELECT 1 --"):
        response = auditor.get("/revisjon", params={"reference": evil, "actor": evil})
        assert response.status_code == 200 and "Ingen treff" in response.text
        assert auditor.get("/revisjonsspor", params={"actor": evil}).status_code == 200
    assert api(server, tokens["admin"]).get("/api/items").status_code == 200  # table intact


def test_login_back_off_after_failures(console: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    env, server, _ = console
    verifications: list[str] = []
    real = auth._hasher

    class CountingHasher:
        def verify(self, hashed: str, password: str) -> bool:
            verifications.append(hashed)
            return real.verify(hashed, password)

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

    monkeypatch.setattr(auth, "_hasher", CountingHasher())
    client = httpx.Client(base_url=server.url)

    def attempt(username: str, password: str) -> httpx.Response:
        token = csrf_of(client, "/login")
        return client.post(
            "/login", data={"username": username, "password": password, "csrf": token}
        )

    for _ in range(3):
        assert attempt("auditor", "feil").status_code == 401
    locked = attempt("auditor", PASSWORD)
    unknown = attempt("finnes-ikke", "feil")
    assert locked.status_code == unknown.status_code == 401
    # The same answer whether the user exists, is locked or gave a wrong password ...
    assert auth.REFUSED in locked.text and auth.REFUSED in unknown.text
    assert locked.text.replace("auditor", "") == unknown.text.replace("finnes-ikke", "")
    # ... and the same work: one argon2 verification on every path (no timing difference).
    assert len(verifications) == 5
    with env.db.session() as session:
        user = session.scalars(select(User).where(User.username == "auditor")).one()
        assert user.failed_logins == 3 and user.locked_until is not None
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.actor == "web:auditor")
        ).all()
        unknown_actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.actor == "web:finnes-ikke")
        ).all()
    assert actions.count("login_failed") == 3 and actions.count("login_locked") == 1
    assert unknown_actions == ["login_failed"]


def test_session_cookie_is_secure_when_configured(sqlite_env: Env) -> None:
    env = sqlite_env
    with env.db.session() as session:
        add_user(session, "kari", PASSWORD, "caseworker", "test")
    settings = env.settings.model_copy(update={"console_secure_cookie": True})
    server = ServerThread(create_app(settings, env.db)).start()
    try:
        client = httpx.Client(base_url=server.url)
        response = client.get("/login")
        assert "secure" in response.headers["set-cookie"].lower()
    finally:
        server.stop()


def test_audit_verification_reports_edits_and_deletions(console: Any) -> None:
    env, server, tokens = console
    auditor = api(server, tokens["auditor"])
    assert auditor.get("/api/audit/verify").json()["intact"]
    with env.db.session() as session:
        ids = session.scalars(select(AuditEvent.id).order_by(AuditEvent.id)).all()
        session.execute(update(AuditEvent).where(AuditEvent.id == ids[2]).values(target="item:999"))
    result = auditor.get("/api/audit/verify").json()
    assert result == {
        "intact": False,
        "checked": 2,
        "first_broken_id": ids[2],
        "reason": "innholdet er endret",
        "anchored_from": None,
    }
    # The page checks only what is new since the last checkpoint; its full verification
    # (an explicit action) walks the edited row.
    browser = login(server, "auditor")
    csrf = csrf_of(browser, "/revisjonsspor")
    full = browser.post("/revisjonsspor/kontroller", data={"csrf": csrf}, follow_redirects=True)
    assert f"Kjeden er brutt ved hendelse {ids[2]}" in full.text


def test_csv_export_is_masked_and_audited(console: Any) -> None:
    env, server, tokens = console
    number = make(date(1985, 3, 3), 200)
    env.queue().submit("probe", f"ansatt-{number}", {"fail": "system"}, submitted_by="t")
    result = env.runner("worker", "--until-idle", extra_env={"RPA_DEFAULT_MAX_ATTEMPTS": "1"})
    assert result.returncode == 0
    auditor = login(server, "auditor")
    # Codes are shown in bokmål: outcomes in the run log, actions in the audit trail.
    runs_page = auditor.get("/revisjon").text
    assert ">teknisk feil<" in runs_page and ">system_error<" not in runs_page
    assert ">sendt inn<" in auditor.get("/revisjonsspor").text
    # 1,200 more runs than any page shows: the export streams every one, nothing capped.
    item_id = env.queue().submit("probe", "mange-kjøringer", {}, submitted_by="t").item.id
    with env.db.session() as session:
        session.add_all(
            Run(item_id=item_id, attempt=n, worker_id="w", host="h", pid=1, outcome="done")
            for n in range(1, 1201)
        )
    exported = auditor.get("/revisjon/eksport.csv")
    assert exported.content.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel reads æøå
    csv_text = exported.content.decode("utf-8-sig")
    lines = csv_text.splitlines()
    assert lines[0].startswith("kjøring;element;oppgave") and number not in csv_text
    assert f"ansatt-{fnr.tag(number)}" in csv_text and number[:6] not in csv_text
    with env.db.session() as session:
        runs = session.scalar(select(func.count()).select_from(Run))
        exports = session.scalars(select(AuditEvent).where(AuditEvent.action == "export")).all()
    assert runs is not None and runs > 1200 and len(lines) == runs + 1
    assert [(e.details or {}).get("rows") for e in exports] == [runs]


def test_retention_purges_old_events_and_the_chain_still_verifies(console: Any) -> None:
    env, server, tokens = console
    for i in range(3):
        env.queue().submit("probe", f"gammel-{i}", {}, submitted_by="t")
    assert env.runner("worker", "--until-idle").returncode == 0
    with env.db.session() as session:
        session.execute(
            update(Run).where(Run.id <= 2).values(started_at=utcnow() - timedelta(days=120))
        )
    env.queue().submit("vedlikehold.retention", "natt-1", {}, submitted_by="t")
    assert env.runner("worker", "--until-idle").returncode == 0
    with env.db.session() as session:
        remaining = set(session.scalars(select(RunEvent.run_id)).all())
    assert 1 not in remaining and 2 not in remaining and 3 in remaining
    assert not (env.data_dir / "runs" / "run-1.jsonl").exists()
    check = api(server, tokens["auditor"]).get("/api/audit/verify").json()
    assert check["intact"], check


def test_each_role_main_journey_in_chromium(console: Any, page: Any) -> None:
    env, server, _ = console

    def sign_in(user: str) -> None:
        page.goto(f"{server.url}/login")
        page.get_by_label("Brukernavn").fill(user)
        page.get_by_label("Passord").fill(PASSWORD)
        page.get_by_role("button", name="Logg inn").click()

    def sign_out() -> None:
        page.get_by_role("button", name="Logg ut").click()
        page.get_by_role("heading", name="Logg inn").wait_for()

    # caseworker: submit through the generated form, see the item and its status
    sign_in("caseworker")
    page.get_by_role("heading", name="Mine saker").wait_for()
    page.goto(f"{server.url}/ny/probe")  # a caseworker's task (selftest is for operators)
    page.get_by_label("Referanse").fill("sak-100")
    page.get_by_label("Fritekst som logges").fill("Hei fra saksbehandler")
    page.get_by_role("button", name="Send inn").click()
    assert "Status: venter" in page.locator("main").inner_text()
    page.get_by_role("link", name="Mine saker").click()
    assert page.locator("#elementer tr").count() == 1
    sign_out()
    # operator: dashboard, pause a task, run a schedule now
    sign_in("operator")
    page.get_by_role("heading", name="Drift").wait_for()
    page.get_by_role("button", name="Pause selftest").click()
    page.get_by_role("button", name="Ja, sett selftest på pause").click()  # it asks first
    page.get_by_role("button", name="Fortsett selftest").wait_for()
    sign_out()
    # auditor: run log search and the audit trail with its verification
    sign_in("auditor")
    page.get_by_role("heading", name="Kjørelogg").wait_for()
    page.get_by_role("link", name="Revisjonsspor").click()
    assert page.get_by_role("status").filter(has_text="Kjeden er intakt").is_visible()
    assert page.get_by_role("cell", name="satt på pause", exact=True).count() == 1
    sign_out()
    # admin: sees everything
    sign_in("admin")
    page.get_by_role("heading", name="Drift").wait_for()
    for link in ("Mine saker", "Tidsplaner", "Kjørelogg", "Revisjonsspor"):
        assert page.get_by_role("link", name=link).count() == 1


def test_users_and_tokens_from_the_command_line(sqlite_env: Env) -> None:
    env = sqlite_env
    added = env.runner(
        "users", "add", "per", "--role", "operator", "--password-stdin", stdin="et-langt-passord\n"
    )
    assert added.returncode == 0 and "Brukeren per (operator) er lagt til" in added.stdout
    short = env.runner(
        "users", "add", "ola", "--role", "operator", "--password-stdin", stdin="kort\n"
    )
    assert short.returncode == 3 and "minst 10 tegn" in short.stderr
    role = env.runner(
        "users", "add", "eva", "--role", "sjef", "--password-stdin", stdin="et-langt-passord\n"
    )
    assert role.returncode == 3 and "Ukjent rolle" in role.stderr
    token = env.runner("users", "token", "per")
    assert token.returncode == 0 and "rpa_" in token.stdout
    with env.db.session() as session:
        user = session.scalars(select(User).where(User.username == "per")).one()
        assert user.password_hash.startswith("$argon2")


def test_who_may_start_which_task(console: Any) -> None:
    """Role x task: a caseworker cannot start internal tasks (retention deletes run logs), in
    the form list, the form, the API; an operator can; the municipality can override."""
    env, server, tokens = console
    retention = {"task": "vedlikehold.retention", "reference": "r-1", "payload": {"days": 3650}}
    caseworker = api(server, tokens["caseworker"])
    assert caseworker.post("/api/items", json=retention).status_code == 403
    assert api(server, tokens["auditor"]).post("/api/items", json=retention).status_code == 403
    assert api(server, tokens["operator"]).post("/api/items", json=retention).status_code == 201
    page = login(server, "caseworker")
    listing = page.get("/ny").text
    assert "/ny/probe" in listing and "vedlikehold.retention" not in listing
    assert page.get("/ny/vedlikehold.retention").status_code == 403
    assert caseworker.post(
        "/api/items", json={"task": "onboarding", "reference": "o-1", "payload": {"employee_id": 7}}
    ).status_code in (200, 201)
    # A municipality lets caseworkers run the selftest too.
    settings = env.settings.model_copy(update={"task_roles": {"selftest": ["caseworker"]}})
    other = ServerThread(create_app(settings, env.db)).start()
    try:
        client = httpx.Client(
            base_url=other.url, headers={"Authorization": f"Bearer {tokens['caseworker']}"}
        )
        body = {"task": "selftest", "reference": "s-1", "payload": {}}
        assert client.post("/api/items", json=body).status_code == 201
    finally:
        other.stop()
    with env.db.session() as session:
        tasks = set(session.scalars(select(WorkItem.task)).all())
    assert tasks == {"vedlikehold.retention", "onboarding", "selftest"}


def test_live_updates_arrive_in_the_browser_and_keep_the_local_time(
    console: Any, page: Any
) -> None:
    """ "Mine saker" is updated by server-sent events, drawn by the server in Europe/Oslo time
    (a live poll used to switch the times to UTC, issue 11), without reloading the page."""
    env, server, tokens = console
    api(server, tokens["caseworker"]).post(
        "/api/items", json={"task": "probe", "reference": "tid-1", "payload": {}}
    )
    page.goto(f"{server.url}/login")
    page.get_by_label("Brukernavn").fill("caseworker")
    page.get_by_label("Passord").fill(PASSWORD)
    page.get_by_role("button", name="Logg inn").click()
    page.goto(f"{server.url}/mine")
    page.evaluate("window.__same_page = true")  # gone if the page reloads
    cell = page.locator("#elementer tr td").nth(5)
    before = cell.inner_text()
    assert page.locator("#elementer tr td").nth(3).inner_text() == "venter"
    with env.db.session() as session:
        session.execute(update(WorkItem).values(status="done", finished_at=utcnow()))
    page.wait_for_function(
        "() => document.querySelector('#elementer tr td:nth-child(4)').textContent === 'ferdig'",
        timeout=15_000,
    )
    assert page.evaluate("window.__same_page") is True
    assert page.locator("#elementer tr td").nth(5).inner_text() == before


# No silent caps: every list pages with the database's own totals --------------------------------


def _pages(client: httpx.Client, base: str, query: str = "") -> tuple[list[str], list[str]]:
    """Follow "Neste side" from base?query to the end: the status line of each page, and every
    row id shown."""
    statuses: list[str] = []
    ids: list[str] = []
    path = base + query
    while path:
        html = client.get(path).text
        statuses.append(re.search(r'<p role="status">([^<]*)</p>', html).group(1))
        ids += re.findall(r'<tr(?: data-id="\d+")?><td>(?:<a href="[^"]*">)?(\d+)<', html)
        link = re.search(r'<a href="([^"]+)" rel="next">', html)
        path = base + link.group(1).replace("&amp;", "&") if link else ""
    return statuses, ids


def test_lists_page_through_every_row_with_true_totals(console: Any) -> None:
    env, server, tokens = console
    now = utcnow()
    with env.db.session() as session:
        session.add_all(
            WorkItem(
                task="probe",
                reference=f"sak-{n:04d}" + ("-haster" if n % 7 == 0 else ""),
                payload={},
                status="done" if n % 3 else "failed",
                not_before=now,
                submitted_by="web:caseworker",
            )
            for n in range(2_100)
        )
        session.flush()
        first = session.scalar(select(func.min(WorkItem.id)))
        session.add_all(
            Run(item_id=first, attempt=n, worker_id="w", host="h", pid=1, outcome="done")
            for n in range(2_050)
        )
        for n in range(2_020):
            audit.record(session, "web:auditor", "view", f"run:{n}")
    with env.db.session() as session:
        items = session.scalar(select(func.count()).select_from(WorkItem))
        urgent = session.scalar(select(func.count()).where(WorkItem.reference.like("%haster%")))
        runs = session.scalar(select(func.count()).select_from(Run))
        events = session.scalar(select(func.count()).select_from(AuditEvent))
    assert items == 2_100 and runs == 2_050

    caseworker = login(server, "caseworker")
    statuses, ids = _pages(caseworker, "/mine")
    assert statuses[0] == "Viser 1–50 av 2\u00a0100" and len(statuses) == 42
    assert statuses[-1] == "Viser 2\u00a0051–2\u00a0100 av 2\u00a0100"
    assert len(ids) == len(set(ids)) == 2_100  # every row once, none skipped
    statuses, ids = _pages(caseworker, "/mine", "?q=HASTER")  # a part, any case
    assert statuses[0].endswith(f"av {urgent}") and len(ids) == urgent
    none = caseworker.get("/mine", params={"q": "finnes-ikke"}).text
    assert "Ingen treff" in none

    auditor = login(server, "auditor")
    statuses, ids = _pages(auditor, "/revisjon")
    assert statuses[0] == f"Viser 1–50 av {runs:,}".replace(",", "\u00a0")
    assert len(set(ids)) == runs
    html = auditor.get("/revisjonsspor").text
    total = re.search(r'<p role="status">Viser 1–50 av ([^<]*)</p>', html).group(1)
    assert int(total.replace("\u00a0", "")) >= events  # the page view itself is audited too
    views = auditor.get("/revisjonsspor", params={"target": "run:201", "action": "view"}).text
    assert "Viser 1–11 av 11" in views  # run:201 and run:2010..2019

    listed = api(server, tokens["caseworker"]).get("/api/items", params={"limit": 1000})
    assert listed.headers["x-total-count"] == "2100" and len(listed.json()) == 1000
    assert 'rel="next"' in listed.headers["link"]


def test_the_trail_is_verified_from_its_last_checkpoint_and_fully_on_request(
    console: Any,
) -> None:
    env, server, tokens = console
    with env.db.session() as session:
        for n in range(30):
            audit.record(session, "t", "view", f"run:{n}")
    auditor = login(server, "auditor")
    assert "kontrollert fra første hendelse" in auditor.get("/revisjonsspor").text
    with env.db.session() as session:
        audit.record(session, "t", "view", "run:ny")
    html = auditor.get("/revisjonsspor").text
    assert "Kjeden er intakt" in html and "nye kontrollert nå" in html
    # An old row edited in place (its hash not recomputed): the incremental check does not
    # walk it, the full verification, on request, finds it.
    with env.db.session() as session:
        original = session.get(AuditEvent, 3).target
        session.execute(update(AuditEvent).where(AuditEvent.id == 3).values(target="run:x"))
    assert "Kjeden er intakt" in auditor.get("/revisjonsspor").text
    csrf = csrf_of(auditor, "/revisjonsspor")
    full = auditor.post("/revisjonsspor/kontroller", data={"csrf": csrf}, follow_redirects=True)
    assert "Kjeden er brutt ved hendelse 3: innholdet er endret" in full.text
    with env.db.session() as session:
        action = session.scalars(select(AuditEvent).where(AuditEvent.action == "verify")).one()
        assert action.actor == "web:auditor" and action.details["intact"] is False
    # The newest rows cut off: the incremental check sees it at once.
    with env.db.session() as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == 3).values(target=original))
        newest = session.scalar(select(func.max(AuditEvent.id)))
        session.execute(delete(AuditEvent).where(AuditEvent.id == newest))
    assert "signerte hendelser mangler" in auditor.get("/revisjonsspor").text


def test_the_nightly_task_verifies_the_whole_trail(console: Any) -> None:
    env, server, tokens = console
    queue = env.queue()
    queue.submit("vedlikehold.verify_audit", "natt-1", {}, submitted_by="t")
    assert env.runner("worker", "--until-idle").returncode == 0
    with env.db.session() as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == 2).values(actor="ingen"))
    queue.submit("vedlikehold.verify_audit", "natt-2", {}, submitted_by="t")
    assert env.runner("worker", "--until-idle").returncode == 0
    with env.db.session() as session:
        items = {i.reference: i for i in session.scalars(select(WorkItem))}
    assert items["natt-1"].status == "done" and items["natt-1"].result["intact"] is True
    assert items["natt-2"].status == "business_error"
    assert items["natt-2"].error_message.startswith("Revisjonssporet er brutt ved hendelse 2")
