"""The open questions and the operator's items list update themselves (server-sent events, as
"Mine saker" does): a new question or a changed status shows without reloading the page. Real
Chromium against a console in this process."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from robots.models import Question, Run, WorkItem, utcnow
from tests.conftest import PASSWORD
from tests.test_console import api


def _login(page: Any, url: str, user: str) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("Brukernavn").fill(user)
    page.get_by_label("Passord").fill(PASSWORD)
    page.get_by_role("button", name="Logg inn").click()
    page.wait_for_load_state()


def _submit(server: Any, token: str, reference: str) -> int:
    body = {"task": "probe", "reference": reference, "payload": {}}
    return int(api(server, token).post("/api/items", json=body).json()["id"])


def test_a_new_question_appears_in_the_open_list_without_a_reload(
    console: Any, page: Any
) -> None:
    env, server, tokens = console
    item_id = _submit(server, tokens["caseworker"], "spor-1")
    _login(page, server.url, "caseworker")
    page.goto(f"{server.url}/sporsmal")
    assert "Ingen spørsmål venter på svar." in page.locator("#sporsmal").inner_text()
    page.evaluate("window.__same_page = true")  # gone if the page reloads
    with env.db.session() as session:
        session.execute(update(WorkItem).values(status="waiting_for_person"))
        run = Run(item_id=item_id, attempt=1, worker_id="w", host="h", pid=1, outcome="waiting")
        session.add(run)
        session.flush()
        session.add(
            Question(
                item_id=item_id,
                run_id=run.id,
                key="k",
                model="tests.probe_tasks.probe:Approval",
                text="Skal refusjonen utbetales?",
                to_role="caseworker",
                evidence={},
                status="open",
                on_deadline="escalate",
            )
        )
    page.locator("#sporsmal").get_by_text("Skal refusjonen utbetales?").wait_for(timeout=15_000)
    assert page.evaluate("window.__same_page") is True


def test_a_status_change_appears_in_the_items_list_without_a_reload(
    console: Any, page: Any
) -> None:
    env, server, tokens = console
    _submit(server, tokens["caseworker"], "drift-1")
    _login(page, server.url, "operator")
    page.goto(f"{server.url}/drift/elementer")
    status = page.locator("#elementer tr td:nth-child(4)")
    assert status.inner_text() == "venter"
    page.evaluate("window.__same_page = true")
    with env.db.session() as session:
        session.execute(update(WorkItem).values(status="done", finished_at=utcnow()))
    page.wait_for_function(
        "() => document.querySelector('#elementer tr td:nth-child(4)').textContent === 'ferdig'",
        timeout=15_000,
    )
    assert page.evaluate("window.__same_page") is True
