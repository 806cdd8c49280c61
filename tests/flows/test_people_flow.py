"""The archive robot meets a document it cannot place, asks a caseworker, and files it once
after the answer given in the console in real Chromium (issue 14's flow test)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from robots.console.app import create_app
from robots.models import AuditEvent, Question, RunEvent, WorkItem
from robots.views import Views
from robots.web import ServerThread
from tests.conftest import PASSWORD
from tests.flows.test_flows import records, run_worker
from tests.test_console import api

TITLE = "Skannet brev om Storgata"


def test_arkivering_asks_a_caseworker_and_files_once_after_the_answer(
    console: Any, sandbox: Any, page: Any
) -> None:
    env, _, tokens = console
    box = sandbox
    # The scan was submitted by a schedule: its questions go to the team "caseworker".
    teams = {"question_teams": {"caseworker": ["caseworker"]}}
    server = ServerThread(create_app(env.settings.model_copy(update=teams), env.db)).start()
    try:
        walk(env, box, server, tokens, page)
    finally:
        server.stop()


def walk(env: Any, box: Any, server: Any, tokens: dict[str, str], page: Any) -> None:
    inbox = env.data_dir / "inbox"
    inbox.mkdir()
    (inbox / "skannet.txt").write_text("Brev om tilbygg i Storgata 3\n", encoding="utf-8")
    env.queue().submit("arkivering.scan_inbox", "skann-spm", {}, submitted_by="t")
    run_worker(env, box)  # the workers stop: the item waits holding no worker and no lease
    with env.db.session() as session:
        waiting = session.scalars(select(WorkItem).where(WorkItem.task == "arkivering")).one()
    assert waiting.status == "waiting_for_person" and waiting.lease_owner is None
    assert not [r for r in records(box) if r["tittel"] == TITLE]
    assert (inbox / "skannet.txt").exists()  # nothing moved while it waits

    page.goto(f"{server.url}/login")
    page.get_by_label("Brukernavn").fill("caseworker")
    page.get_by_label("Passord").fill(PASSWORD)
    page.get_by_role("button", name="Logg inn").click()
    page.get_by_role("link", name="Spørsmål").click()
    page.get_by_role(
        "link", name="Hvilken sak hører dokumentet skannet.txt til?", exact=False
    ).click()
    assert "Brev om tilbygg i Storgata 3" in page.locator("main").inner_text()  # the evidence
    page.get_by_label("Saksreferanse").fill("BYGG-2026-001")
    page.get_by_label("Tittel på journalposten").fill(TITLE)
    page.get_by_label("Dokumentets dato").fill("2026-03-01")
    page.get_by_role("button", name="Send svar").click()
    page.get_by_text("Svaret er lagret").wait_for()
    assert page.url.endswith("/sporsmal")  # a page the answerer may see, not a 404
    assert "Fant ikke siden" not in page.locator("main").inner_text()

    run_worker(env, box)
    with env.db.session() as session:
        done = session.get(WorkItem, waiting.id)
        question = session.scalars(select(Question)).one()
        answered = session.scalars(select(AuditEvent).where(AuditEvent.action == "answer")).one()
    assert done.status == "done", done.error_message
    filed = [r for r in records(box) if r["tittel"] == TITLE]
    assert len(filed) == 1  # filed once
    assert question.answered_by == "web:caseworker" == answered.actor
    runs = Views(env.db, env.settings).item_runs(waiting.id)
    assert [r.outcome for r in runs] == ["waiting", "done"]
    with env.db.session() as session:
        log = session.scalars(
            select(RunEvent.message).where(RunEvent.run_id.in_([r.id for r in runs]))
        ).all()
    assert any("Venter på svar fra en person" in m for m in log)
    assert any("BYGG-2026-001 er valgt av en saksbehandler" in m for m in log)
    assert any(m.startswith("Svar fra web:caseworker på «Hvilken sak") for m in log)
    again = api(server, tokens["caseworker"]).post(
        f"/api/questions/{question.id}/answer",
        json={"saksreferanse": "X", "tittel": "Y", "dokumentets_dato": "2026-03-01"},
    )
    assert again.status_code == 409  # answering twice is refused
