"""The console as people use it (issue 23): lists page both ways, dangerous switches ask
first, each team sees its own manual queue, no codes or English reach a person's eyes. Real
HTTP against a console in this process on a real SQLite file."""

from __future__ import annotations

import re
from typing import Any

import httpx
from sqlalchemy import select

from robots.models import WorkItem, utcnow
from tests.test_console import login


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
