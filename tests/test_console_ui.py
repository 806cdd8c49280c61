"""The console as people use it (issue 23): lists page both ways, dangerous switches ask
first, each team sees its own manual queue, no codes or English reach a person's eyes. Real
HTTP against a console in this process on a real SQLite file."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import select

from robots.models import WorkItem, utcnow
from tests.test_console import csrf_of, login


def _shown(client: httpx.Client, path: str) -> tuple[str, list[int], dict[str, str]]:
    """What a list page says (its position), the item ids it shows, and its paging links."""
    html = client.get(path).text
    status = re.search(r'<p role="status">([^<]*)</p>', html).group(1)
    ids = [int(i) for i in re.findall(r'<tr(?: data-id="\d+")?><td><a href="[^"]*">(\d+)<', html)]
    links = {
        name: href.replace("&amp;", "&")
        for href, name in re.findall(r'<a href="(\?[^"]*)"[^>]*>([^<]+ side)</a>', html)
    }
    return status, ids, links


def test_lists_page_to_the_first_previous_next_and_last_rows(console: Any) -> None:
    env, server, tokens = console
    now = utcnow()
    with env.db.session() as session:
        session.add_all(
            WorkItem(
                task="probe",
                reference=f"side-{n:03d}",
                payload={},
                status="done",
                not_before=now,
                submitted_by="web:caseworker",
            )
            for n in range(120)
        )
    with env.db.session() as session:
        every = sorted(session.scalars(select(WorkItem.id)), reverse=True)  # newest first
    client = login(server, "caseworker")

    status, ids, links = _shown(client, "/mine")
    assert status == "Viser 1–50 av 120" and ids == every[:50]
    assert set(links) == {"Neste side", "Siste side"}  # no way back from the first page

    status, ids, links = _shown(client, "/mine" + links["Siste side"])
    assert status == "Viser 101–120 av 120" and ids == every[100:]
    assert set(links) == {"Første side", "Forrige side"}

    status, ids, links = _shown(client, "/mine" + links["Forrige side"])
    assert status == "Viser 51–100 av 120" and ids == every[50:100]
    assert set(links) == {"Første side", "Forrige side", "Neste side", "Siste side"}

    _, ids, _ = _shown(client, "/mine" + links["Neste side"])
    assert ids == every[100:]
    _, ids, _ = _shown(client, "/mine" + links["Første side"])
    assert ids == every[:50]
    status, ids, _ = _shown(client, "/mine" + links["Forrige side"])
    assert status == "Viser 1–50 av 120" and ids == every[:50]

    # the filters survive the paging links, and the totals stay the filtered ones
    status, ids, links = _shown(client, "/mine?q=side-0&siste=1")
    assert status == "Viser 51–100 av 100" and ids == every[70:]
    assert "q=side-0" in links["Forrige side"] and "siste" not in links["Forrige side"]


def _confirm(client: httpx.Client, path: str, data: dict[str, str]) -> Callable[[], httpx.Response]:
    """Post a form as a person does: the first answer must be a page that asks (and changes
    nothing yet: the caller checks); then post that page's own form, as its button does."""
    asked = client.post(path, data=data)
    assert asked.status_code == 200 and "Er du sikker?" in asked.text, asked.text
    form = re.search(r'<form method="post" action="([^"]+)">(.*?)</form>', asked.text, re.S)
    assert form is not None and form.group(1) == path
    fields = dict(
        re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(2))
    )
    assert fields["bekreft"] == "ja"
    return lambda: client.post(form.group(1), data=fields)


def test_pausing_deactivating_revoking_and_turning_off_ask_first(console: Any) -> None:
    from robots.console.auth import new_token
    from robots.models import ApiToken, Pause, Schedule, User

    env, server, tokens = console
    with env.db.session() as session:
        session.add(Schedule(name="morgen", task="probe", trigger="cron", spec="0 6 * * 1-5"))
        kollega = session.scalars(select(User).where(User.username == "kollega")).one()
        new_token(session, kollega, "skript", "test")
        kollega_id = kollega.id
        key = session.scalars(select(ApiToken).where(ApiToken.name == "skript")).one().id

    def state() -> tuple[int, bool, bool, bool]:
        with env.db.session() as session:
            return (
                len(list(session.scalars(select(Pause)))),
                session.scalars(select(User).where(User.username == "kollega")).one().disabled_at
                is None,
                session.get(ApiToken, key).revoked_at is None,
                session.scalars(select(Schedule)).one().enabled,
            )

    operator = login(server, "operator")
    admin = login(server, "admin")
    before = state()
    assert before == (0, True, True, True)
    steps = [
        (operator, "/pause", {"kind": "task", "name": "probe"}, (1, True, True, True)),
        (admin, f"/admin/brukere/{kollega_id}/deaktiver", {}, (1, False, True, True)),
        (admin, f"/admin/nokler/{key}/trekk-tilbake", {}, (1, False, False, True)),
        (operator, "/tidsplaner/morgen/deaktiver", {}, (1, False, False, False)),
    ]
    for client, path, data, after in steps:
        seen = state()
        confirm = _confirm(client, path, {"csrf": csrf_of(client, "/drift"), **data})
        assert state() == seen, f"{path} acted before it was confirmed"
        done = confirm()
        assert done.status_code == 303, (path, done.text)
        assert state() == after, path
    # the way back needs no confirmation
    token = csrf_of(operator, "/drift")
    resumed = operator.post(
        "/pause", data={"csrf": token, "kind": "task", "name": "probe", "resume": "1"}
    )
    assert resumed.status_code == 303 and state()[0] == 0


def test_the_manual_queue_shows_a_person_only_their_teams_and_their_own_items(
    console: Any,
) -> None:
    from robots.console.app import create_app
    from robots.web import ServerThread

    env, _, _ = console
    now = utcnow()
    made = {}
    with env.db.session() as session:
        for name, team, submitter in (
            ("barnevern-sak", "barnevern", "web:operator"),
            ("selvtest", "caseworker", "web:operator"),  # an operator's selftest
            ("egen-sak", "drift", "web:caseworker"),
        ):
            item = WorkItem(
                task="probe",
                reference=name,
                payload={},
                status="manual",
                team=team,
                error_kind="manual",
                error_message=f"Gitt fra seg: {name}",
                not_before=now,
                submitted_by=submitter,
            )
            session.add(item)
            session.flush()
            made[name] = item.id
    settings = env.settings.model_copy(update={"question_teams": {"barnevern": ["kollega"]}})
    server = ServerThread(create_app(settings, env.db)).start()
    try:

        def listed(user: str) -> set[str]:
            html = login(server, user).get("/manuell").text
            return {n for n in made if f">{n}<" in html}

        assert listed("caseworker") == {"egen-sak"}
        assert listed("kollega") == {"barnevern-sak"}
        assert listed("operator") == set(made)

        kollega = login(server, "kollega")
        page = kollega.get(f"/elementer/{made['barnevern-sak']}")
        assert page.status_code == 200 and "Ta saken" in page.text  # the team can open it
        token = csrf_of(kollega, "/manuell")
        taken = kollega.post(f"/manuell/{made['barnevern-sak']}/ta", data={"csrf": token})
        assert taken.status_code == 303
        other = kollega.post(f"/manuell/{made['selvtest']}/ta", data={"csrf": token})
        assert other.status_code == 404  # not their team's: as if it did not exist
        assert kollega.get(f"/elementer/{made['selvtest']}").status_code == 404
        with env.db.session() as session:
            assert session.get(WorkItem, made["selvtest"]).assigned_to is None
    finally:
        server.stop()


def test_handing_over_keeps_the_error_and_adds_the_reason(console: Any) -> None:
    env, server, _ = console
    with env.db.session() as session:
        item = WorkItem(
            task="probe",
            reference="tidsavbrudd",
            payload={},
            status="failed",
            error_kind="system",
            error_message="Tidsavbrudd mot arkivet etter 30 s",
            not_before=utcnow(),
            submitted_by="web:caseworker",
        )
        session.add(item)
        session.flush()
        item_id = item.id
    operator = login(server, "operator")
    token = csrf_of(operator, "/drift")
    sent = operator.post(
        f"/manuell/{item_id}/send", data={"csrf": token, "grunn": "Arkivet er nede i dag"}
    )
    assert sent.status_code == 303
    with env.db.session() as session:
        error = session.get(WorkItem, item_id).error_message
    assert "Arkivet er nede i dag" in error and "Tidsavbrudd mot arkivet etter 30 s" in error
    shown = login(server, "caseworker").get(f"/elementer/{item_id}").text
    assert "Arkivet er nede i dag" in shown and "Tidsavbrudd mot arkivet" in shown


# No codes, no English: what each role's pages show is written for people ---------------------

FORBIDDEN = re.compile(
    r"\b(pending|running|done|business_error|failed|cancelled|waiting_for_person|manual|"
    r"system_error|abandoned|released|lost|handed_over|waiting|system_wait|screenshot|"
    r"null|true|false|reference|sha256|hand_over|bulk_retry|schedule_change|token_add|"
    r"schedule_create|user_disable)\b|\{\"|\b(web|api|cli|item|run|user|schedule):\S"
)


def visible_text(html: str) -> str:
    """The text a person reads: no scripts, styles, tags or attribute values."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S | re.I)
    text = re.sub(r"<[^>]+>", " ", html)
    return " ".join(text.replace("&#34;", '"').replace("&quot;", '"').split())


def test_every_page_of_every_role_speaks_bokmal_without_codes(console: Any) -> None:
    from tests.test_accessibility import pages_for, seed

    env, server, tokens = console
    ids = seed(env, server, tokens)
    found: dict[str, list[str]] = {}
    for role in ("caseworker", "operator", "auditor", "admin", "leder"):
        client = login(server, role)
        for path in pages_for(role, ids):
            text = visible_text(client.get(path).text)
            words = sorted({m.group(0) for m in FORBIDDEN.finditer(text)})
            if words:
                found[f"{role} {path}"] = words
    assert not found, "\n".join(f"{page}: {words}" for page, words in found.items())


def test_long_waits_read_in_days_on_the_dashboard(console: Any) -> None:
    from datetime import timedelta

    env, server, tokens = console
    with env.db.session() as session:
        session.add(
            WorkItem(
                task="probe",
                reference="gammel",
                payload={},
                status="pending",
                not_before=utcnow(),
                created_at=utcnow() - timedelta(days=90, hours=1),
                submitted_by="web:caseworker",
            )
        )
    html = login(server, "operator").get("/drift").text
    assert ">90 d<" in html and "2159 t" not in html
