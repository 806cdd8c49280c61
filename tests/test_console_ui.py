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
