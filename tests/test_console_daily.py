"""The console for daily use (issue 11): styled error pages, the robot catalogue, plain reasons,
operators' figures and bulk actions, schedules in words, admin pages, live updates by
server-sent events, charts' data. In-process (fast tier): a real console over HTTP on a real
SQLite file."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from robots.console.deps import duration, number, target_link
from robots.labels import schedule_text
from robots.models import AuditEvent, Run, User, WorkItem, utcnow
from robots.views import Views, chart_data, task_figures
from tests.conftest import PASSWORD
from tests.test_console import api, csrf_of, login

NAV = "Hopp til innholdet"


def submit(server: Any, token: str, reference: str, task: str = "probe") -> dict[str, Any]:
    response = api(server, token).post(
        "/api/items", json={"task": task, "reference": reference, "payload": {}}
    )
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


def fail(env: Any, item_id: int, kind: str, message: str) -> None:
    status = "business_error" if kind == "business" else "failed"
    with env.db.session() as session:
        session.execute(
            update(WorkItem)
            .where(WorkItem.id == item_id)
            .values(status=status, error_kind=kind, error_message=message, finished_at=utcnow())
        )


# Look and feel ----------------------------------------------------------------------------------


def test_errors_are_styled_pages_for_people_and_json_for_the_api(console: Any) -> None:
    env, server, tokens = console
    kari = login(server, "caseworker")
    for path, status, text in (
        ("/drift", 403, "Ingen tilgang"),
        ("/elementer/999999", 404, "Fant ikke"),
        ("/elementer/abc", 422, "Ugyldige verdier"),
        ("/ny/finnes-ikke", 404, "Ukjent oppgave"),
    ):
        response = kari.get(path)
        assert response.status_code == status, (path, response.status_code)
        assert response.headers["content-type"].startswith("text/html"), path
        assert text in response.text and NAV in response.text and "Mine saker" in response.text
    auditor = login(server, "auditor")
    bad_date = auditor.get("/revisjon?fra=igår")
    assert bad_date.status_code == 422 and "ikke en dato" in bad_date.text
    assert "text/html" in bad_date.headers["content-type"]
    not_json = api(server, tokens["caseworker"]).get("/api/items/999999")
    assert not_json.status_code == 404 and not_json.json() == {"detail": "Fant ikke elementet"}
    assert api(server, tokens["auditor"]).get("/api/runs?limit=-1").status_code == 422


def test_pages_are_responsive_and_say_so(console: Any) -> None:
    _, server, _ = console
    page = login(server, "admin").get("/drift").text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert 'href="#innhold"' in page and 'id="innhold"' in page
    assert httpx.get(f"{server.url}/static/uPlot.iife.min.js").status_code == 200
    assert "EventSource" in httpx.get(f"{server.url}/static/konsoll.js").text


def test_numbers_and_durations_are_written_the_norwegian_way() -> None:
    assert number(2032) == "2\u00a0032"
    assert number(12.345, 1) == "12,3"
    assert number(None) == "–"
    assert duration(1.25) == "1,2 s"
    assert duration(185) == "3 min 5 s"
    assert duration(2 * 3600 + 600) == "2 t 10 min"
    assert target_link("item:12") == "/elementer/12"
    assert target_link("run:7") == target_link("report:7") == "/kjoringer/7"
    assert target_link("item:../../x") == "" and target_link("console") == ""


@pytest.mark.parametrize(
    ("trigger", "spec", "working", "text"),
    [
        ("cron", "0 6 * * 1-5", False, "hverdager kl. 06:00"),
        ("cron", "30 7 * * *", True, "hver dag kl. 07:30 (bare arbeidsdager)"),
        ("cron", "0 8 * * 1", False, "mandager kl. 08:00"),
        ("cron", "0 8 * * 0", False, "søndager kl. 08:00"),
        ("cron", "*/15 * * * *", False, "hvert 15. minutt"),
        ("cron", "5 * * * *", False, "hver time, 5 minutter over"),
        ("cron", "0 6 1 * *", False, "cron 0 6 1 * *"),
        ("interval", "3600", False, "hver time"),
        ("interval", "900", False, "hvert 15. minutt"),
        ("interval", "45", False, "hvert 45. sekund"),
        ("date", "2026-12-24T08:00:00+00:00", False, "én gang 2026-12-24 kl. 08:00"),
    ],
)
def test_schedules_in_plain_norwegian(trigger: str, spec: str, working: bool, text: str) -> None:
    assert schedule_text(trigger, spec, working) == text


# Caseworker -------------------------------------------------------------------------------------


def test_the_catalogue_lists_only_what_the_person_may_start_by_plain_name(console: Any) -> None:
    _, server, _ = console
    catalogue = login(server, "caseworker").get("/ny").text
    assert "Arkiver et dokument" in catalogue and 'href="/ny/arkivering"' in catalogue
    assert "Nyansatt: arbeidsavtale, IT-tilgang og sjekkliste" in catalogue
    assert "vedlikehold.retention" not in catalogue and "Slett gamle kjørelogger" not in catalogue
    operators = login(server, "operator").get("/ny")
    assert operators.status_code == 403  # operators start work from schedules and the API


def test_a_technical_error_is_plain_to_caseworkers_and_detailed_to_operators(console: Any) -> None:
    env, server, tokens = console
    item = submit(server, tokens["caseworker"], "sak-feil")
    fail(env, item["id"], "system", "RuntimeError: tilkoblingen til arkivet ble brutt")
    mine = login(server, "caseworker")
    page = mine.get(f"/elementer/{item['id']}").text
    assert "Teknisk feil – driftsavdelingen er varslet" in page and "RuntimeError" not in page
    assert "RuntimeError" not in mine.get("/mine").text
    operator = login(server, "operator").get(f"/elementer/{item['id']}").text
    assert "RuntimeError: tilkoblingen til arkivet ble brutt" in operator
    reason = submit(server, tokens["caseworker"], "sak-forretning")
    fail(env, reason["id"], "business", "Fant ikke ansatt 7 i personalsystemet")
    assert "Begrunnelse: Fant ikke ansatt 7" in mine.get(f"/elementer/{reason['id']}").text


def test_the_item_page_shows_the_result_and_the_attempts(console: Any) -> None:
    env, server, tokens = console
    item = submit(server, tokens["caseworker"], "sak-resultat")
    with env.db.session() as session:
        session.add(
            Run(
                item_id=item["id"],
                attempt=1,
                worker_id="w1",
                host="h",
                pid=1,
                started_at=utcnow() - timedelta(seconds=3),
                ended_at=utcnow(),
                outcome="done",
            )
        )
        session.execute(
            update(WorkItem)
            .where(WorkItem.id == item["id"])
            .values(status="done", result={"journalpost": "2026/12-3"}, finished_at=utcnow())
        )
    page = login(server, "caseworker").get(f"/elementer/{item['id']}").text
    assert "<dt>Journalpost</dt><dd>2026/12-3</dd>" in page
    assert "Forsøk 1" in page and "ferdig" in page
    assert "/kjoringer/" not in page  # the run log is for operators and auditors


def test_submitting_an_existing_reference_says_so(console: Any) -> None:
    _, server, _ = console
    kari = login(server, "caseworker")
    for expected_notice in (False, True):
        token = csrf_of(kari, "/ny/probe")
        response = kari.post(
            "/ny/probe", data={"csrf": token, "reference": "samme-ref"}, follow_redirects=True
        )
        assert response.status_code == 200
        assert ("finnes allerede" in response.text) is expected_notice


# Operator ---------------------------------------------------------------------------------------


def test_bulk_retry_of_a_filtered_set_is_audited_per_item(console: Any) -> None:
    env, server, tokens = console
    ids = [submit(server, tokens["caseworker"], f"masse-{n}")["id"] for n in range(5)]
    for item_id in ids[:3]:
        fail(env, item_id, "system", "tidsavbrudd")
    operator = login(server, "operator")
    listing = operator.get("/drift/elementer?status=failed")
    assert "Prøv alle 3 på nytt" in listing.text
    token = re.search(r'name="csrf" value="([^"]+)"', listing.text).group(1)
    refused = operator.post(
        "/drift/elementer", data={"csrf": token, "handling": "retry", "status": ""}
    )
    assert refused.status_code == 422  # a bulk action needs a status it applies to
    done = operator.post(
        "/drift/elementer",
        data={"csrf": token, "handling": "retry", "status": "failed"},
        follow_redirects=True,
    )
    assert "3 elementer er lagt i kø på nytt" in done.text
    with env.db.session() as session:
        statuses = dict(session.execute(select(WorkItem.id, WorkItem.status)).all())
        retried = session.scalars(select(AuditEvent.target).where(AuditEvent.action == "retry"))
        assert sorted(retried) == sorted(f"item:{i}" for i in ids[:3])
    assert all(statuses[i] == "pending" for i in ids)
    caseworker = login(server, "caseworker")
    token = csrf_of(caseworker, "/mine")
    forbidden = caseworker.post(
        "/drift/elementer", data={"csrf": token, "handling": "cancel", "status": "pending"}
    )
    assert forbidden.status_code == 403


def test_operators_see_figures_per_task_pauses_with_who_and_notices(console: Any) -> None:
    env, server, tokens = console
    item = submit(server, tokens["caseworker"], "tall-1")
    with env.db.session() as session:
        now = utcnow()
        for n, outcome in enumerate(("done", "done", "system_error", "business_error")):
            session.add(
                Run(
                    item_id=item["id"],
                    attempt=n + 1,
                    worker_id="w",
                    host="h",
                    pid=1,
                    started_at=now - timedelta(seconds=10 + n),
                    ended_at=now - timedelta(seconds=n),
                    outcome=outcome,
                )
            )
    (probe,) = task_figures(Views(env.db, env.settings), ["probe"])
    assert probe.waiting == 1 and probe.runs == 4
    assert probe.system_failure_rate == probe.business_failure_rate == 0.25
    assert probe.median_s == pytest.approx(10, abs=0.01) and probe.oldest_waiting_s is not None
    operator = login(server, "operator")
    token = csrf_of(operator, "/drift")
    paused = operator.post(
        "/pause",
        data={"csrf": token, "kind": "task", "name": "probe", "bekreft": "ja"},
        follow_redirects=True,
    )
    assert "Oppgaven probe er satt på pause." in paused.text
    assert "På pause</strong> (av operator," in paused.text  # a name, not "web:operator"
    assert "25,0 %" in paused.text


def test_chart_data_counts_what_the_database_holds(console: Any) -> None:
    env, server, tokens = console
    item = submit(server, tokens["caseworker"], "diagram-1")
    with env.db.session() as session:
        now = utcnow()
        for n in range(3):
            session.add(
                Run(
                    item_id=item["id"],
                    attempt=n + 1,
                    worker_id="w",
                    host="h",
                    pid=1,
                    started_at=now - timedelta(minutes=5 * n),
                    ended_at=now - timedelta(minutes=5 * n) + timedelta(seconds=2),
                    outcome="done",
                )
            )
    data = chart_data(Views(env.db, env.settings))
    assert sum(data["hours"]["series"]["done"]) == 3 == sum(data["days"]["series"]["done"])
    assert len(data["hours"]["x"]) == 24 and len(data["days"]["x"]) == 30
    assert data["depth"]["y"][-1] == 1  # the waiting item
    assert data["median_by_task"]["probe"] == pytest.approx(2, abs=0.01)
    shown = api(server, tokens["operator"]).get("/api/statistikk").json()
    assert shown["hours"]["series"]["done"] == data["hours"]["series"]["done"]
    assert api(server, tokens["caseworker"]).get("/api/statistikk").status_code == 403


def test_schedules_page_shows_plain_words_and_the_last_run(console: Any) -> None:
    env, server, _ = console
    from robots.models import Schedule

    with env.db.session() as session:
        session.add(Schedule(name="morgen", task="probe", trigger="cron", spec="0 6 * * 1-5"))
    operator = login(server, "operator")
    token = csrf_of(operator, "/tidsplaner")
    ran = operator.post("/tidsplaner/morgen/kjor", data={"csrf": token}, follow_redirects=True)
    assert "Tidsplanen morgen er kjørt nå" in ran.text
    assert "hverdager kl. 06:00" in ran.text and "venter" in ran.text


# Auditor ----------------------------------------------------------------------------------------


def test_audit_targets_are_links_and_run_pages_link_their_item(console: Any) -> None:
    env, server, tokens = console
    item = submit(server, tokens["caseworker"], "spor-1")
    trail = login(server, "auditor").get("/revisjonsspor").text
    assert f'<a href="/elementer/{item["id"]}">element {item["id"]}</a>' in trail
    searched = login(server, "auditor").get("/revisjon?reference=SPOR").text
    assert "Ingen kjøringer passer" in searched  # partial, any case: no run yet, but no error


# Admin ------------------------------------------------------------------------------------------


def test_admin_manages_users_roles_and_tokens_all_audited(console: Any) -> None:
    env, server, tokens = console
    admin = login(server, "admin")
    token = csrf_of(admin, "/admin/brukere")
    added = admin.post(
        "/admin/brukere",
        data={"csrf": token, "username": "nina", "password": PASSWORD, "role": "caseworker"},
        follow_redirects=True,
    )
    assert "Brukeren nina er lagt til." in added.text
    with env.db.session() as session:
        nina = session.scalars(select(User).where(User.username == "nina")).one()
    login(server, "nina")  # can log in
    admin.post(f"/admin/brukere/{nina.id}/rolle", data={"csrf": token, "role": "auditor"})
    made = admin.post(
        f"/admin/brukere/{nina.id}/nokkel",
        data={"csrf": token, "name": "rapport"},
        follow_redirects=True,
    )
    key = re.search(r"<code>(rpa_[^<]+)</code>", made.text).group(1)
    assert api(server, key).get("/api/runs").status_code == 200  # the auditor role now
    admin.post(f"/admin/brukere/{nina.id}/deaktiver", data={"csrf": token, "bekreft": "ja"})
    assert api(server, key).get("/api/runs").status_code == 401  # a disabled user's key
    with httpx.Client(base_url=server.url) as client:
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
        refused = client.post(
            "/login", data={"username": "nina", "password": PASSWORD, "csrf": csrf}
        )
        assert refused.status_code == 401
    admin.post(f"/admin/brukere/{nina.id}/aktiver", data={"csrf": token})
    assert api(server, key).get("/api/runs").status_code == 200
    with env.db.session() as session:
        token_id = session.scalars(select(User).where(User.username == "nina")).one().id
        from robots.models import ApiToken

        row = session.scalars(
            select(ApiToken).where(ApiToken.user_id == token_id, ApiToken.name == "rapport")
        ).one()
    admin.post(f"/admin/nokler/{row.id}/trekk-tilbake", data={"csrf": token, "bekreft": "ja"})
    assert api(server, key).get("/api/runs").status_code == 401
    own_id = login(server, "admin") and None
    with env.db.session() as session:
        own_id = session.scalars(select(User.id).where(User.username == "admin")).one()
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.target == "user:nina")
        ).all()
    assert admin.post(f"/admin/brukere/{own_id}/deaktiver", data={"csrf": token}).status_code == 409
    assert {"user_add", "role_change", "token_add", "user_disable", "user_enable"} <= set(actions)
    assert "token_revoke" in actions
    assert login(server, "operator").get("/admin/brukere").status_code == 403


# Live updates -----------------------------------------------------------------------------------


def first_event(lines: Any) -> list[dict[str, str]]:
    data = ""
    for line in lines:
        if line.startswith("data:"):
            data += line[5:].strip()
        elif line == "" and data:
            return list(json.loads(data))
    raise AssertionError("the stream ended without an event")


def test_server_sent_events_send_what_changed(console: Any) -> None:
    env, server, tokens = console
    item = submit(server, tokens["caseworker"], "direkte-1")
    kari = login(server, "caseworker")
    with kari.stream("GET", "/hendelser/mine", timeout=30) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        (part,) = first_event(lines)
        assert part["id"] == "elementer" and "venter" in part["html"]
        fail(env, item["id"], "system", "RuntimeError: brutt")
        (changed,) = first_event(lines)
        assert "feilet" in changed["html"] and "Teknisk feil" in changed["html"]
        assert "RuntimeError" not in changed["html"]
    with kari.stream("GET", f"/hendelser/elementer/{item['id']}", timeout=30) as stream:
        (part,) = first_event(stream.iter_lines())
        assert part["id"] == "status" and "feilet" in part["html"]
    assert kari.get("/hendelser/drift").status_code == 403


def test_chart_data_on_both_databases(env: Any) -> None:
    """The database groups runs per hour (SQLite's strftime, PostgreSQL's date_trunc)."""
    item = env.queue().submit("probe", "d-1", {}, submitted_by="t").item
    now = utcnow()
    with env.db.session() as session:
        for minutes, outcome in (
            (1, "done"),
            (2, "done"),
            (90, "system_error"),
            (3 * 1440, "done"),
        ):
            started = now - timedelta(minutes=minutes)
            session.add(
                Run(
                    item_id=item.id,
                    attempt=1,
                    worker_id="w",
                    host="h",
                    pid=1,
                    started_at=started,
                    ended_at=started + timedelta(seconds=4),
                    outcome=outcome,
                )
            )
    data = chart_data(Views(env.db, env.settings))
    hours = data["hours"]["series"]
    assert sum(hours["done"]) == 2 and sum(hours["system_error"]) == 1
    assert sum(data["days"]["series"]["done"]) == 3
    assert data["median_by_task"]["probe"] == pytest.approx(4, abs=0.01)
