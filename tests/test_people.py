"""People in the loop (issue 14): a robot asks a person and waits without holding a worker,
resumes after the answer without repeating what it kept, refuses a second answer; hands an
item to a team's queue, where a person takes it and completes it by hand."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from robots import people
from robots.models import AuditEvent, Question, WorkItem
from robots.views import Views, manual_counts, questions
from robots.worker import WorkerProcess
from tests.conftest import Env
from tests.test_console import api, csrf_of, login


def run_until_idle(env: Env) -> None:
    WorkerProcess(env.settings, env.queue().registry).run(exit_when_idle=True)


def effects(env: Env) -> list[str]:
    path = env.data_dir / "asking-effects.log"
    return path.read_text().splitlines() if path.exists() else []


def item(env: Env) -> WorkItem:
    with env.db.session() as session:
        return session.scalars(select(WorkItem)).one()


def test_ask_waits_without_a_lease_and_resumes_after_the_answer(env: Env) -> None:
    queue = env.queue()
    queue.submit("asking", "sak-1", {}, submitted_by="web:caseworker")
    run_until_idle(env)
    waiting = item(env)
    assert waiting.status == "waiting_for_person" and waiting.lease_owner is None
    assert effects(env) == ["sak-1"]
    (open_question,) = questions(Views(env.db, env.settings), audience=None)
    assert open_question.text == "Skal søknaden godkjennes?"
    assert "15076500565" not in str(open_question.evidence)  # masked as everything shown
    # A wrong answer is refused and changes nothing.
    with pytest.raises(people.AnswerRefused) as refused:
        people.answer(env.db, open_question.id, {"godkjent": "kanskje"}, "web:caseworker")
    assert refused.value.errors and item(env).status == "waiting_for_person"
    people.answer(env.db, open_question.id, {"godkjent": True, "kommentar": "OK"}, "web:kari")
    with pytest.raises(people.AnswerRefused, match="allerede besvart"):
        people.answer(env.db, open_question.id, {"godkjent": False}, "web:ola")
    assert item(env).status == "pending"
    run_until_idle(env)  # a new worker: nothing of the first one is needed
    finished = item(env)
    assert finished.status == "done"
    assert finished.result == {
        "registrering": "registrert 2026/1-1",
        "godkjent": True,
        "kommentar": "OK",
    }
    assert effects(env) == ["sak-1"]  # kept by ctx.remember: not done again on resume
    with env.db.session() as session:
        answered = session.scalars(select(AuditEvent).where(AuditEvent.action == "answer")).one()
        (stored,) = session.scalars(select(Question)).all()
    assert answered.actor == "web:kari" and answered.details["answer"]["godkjent"] is True
    assert stored.answered_by == "web:kari"
    runs = Views(env.db, env.settings).item_runs(finished.id)
    assert [r.outcome for r in runs] == ["waiting", "done"]
    # (the run log's "Svar fra web:kari ..." line is checked in the Chromium flow test)


def test_a_task_hands_an_item_to_people_who_complete_it(console: Any) -> None:
    env, server, tokens = console
    made = (
        api(server, tokens["caseworker"])
        .post(
            "/api/items",
            json={"task": "asking", "reference": "manuell-1", "payload": {"hand_over": True}},
        )
        .json()
    )
    run_until_idle(env)
    handed = item(env)
    assert handed.status == "manual" and handed.team == "caseworker"
    kari = login(server, "caseworker")
    assert f"/elementer/{made['id']}" in kari.get("/manuell").text
    token = csrf_of(kari, f"/elementer/{made['id']}")
    kari.post(f"/manuell/{made['id']}/ta", data={"csrf": token})
    other = login(server, "kollega")
    other_token = csrf_of(other, "/manuell")
    taken = other.post(f"/manuell/{made['id']}/ta", data={"csrf": other_token})
    assert taken.status_code == 409  # one person at a time
    done = kari.post(
        f"/manuell/{made['id']}/fullfor",
        data={"csrf": token, "utfall": "Godkjent etter telefon med søker"},
        follow_redirects=True,
    )
    assert "fullført manuelt" in done.text
    finished = item(env)
    assert finished.status == "done" and finished.handled_manually
    assert finished.result["manuelt"] == "Godkjent etter telefon med søker"
    counts = manual_counts(Views(env.db, env.settings))
    assert counts and counts[0]["task"] == "asking" and counts[0]["manual"] == 1
    assert "For hånd" in login(server, "operator").get("/drift").text


def test_questions_in_the_console_form_and_api(console: Any) -> None:
    env, server, tokens = console
    made = (
        api(server, tokens["caseworker"])
        .post("/api/items", json={"task": "asking", "reference": "spm-1", "payload": {}})
        .json()
    )
    run_until_idle(env)
    kari = login(server, "caseworker")
    listing = kari.get("/sporsmal").text
    question_id = int(re.search(r'href="/sporsmal/(\d+)"', listing).group(1))
    page = kari.get(f"/sporsmal/{question_id}").text
    assert "Skal søknaden godkjennes?" in page and "Godkjent?" in page
    assert "15076500565" not in page and "12 000 kr" in page
    token = csrf_of(kari, f"/sporsmal/{question_id}")
    answered = kari.post(
        f"/sporsmal/{question_id}", data={"csrf": token, "godkjent": "true"}, follow_redirects=True
    )
    assert f"element {made['id']} fortsetter" in answered.text
    again = api(server, tokens["caseworker"]).post(
        f"/api/questions/{question_id}/answer", json={"godkjent": False}
    )
    assert again.status_code == 409  # answering twice is refused
    assert api(server, tokens["auditor"]).get("/api/questions").status_code == 403
    # An operator sends a waiting item to manual handling from its page.
    api(server, tokens["caseworker"]).post(
        "/api/items", json={"task": "asking", "reference": "spm-2", "payload": {}}
    )
    run_until_idle(env)
    with env.db.session() as session:
        waiting = session.scalars(select(WorkItem).where(WorkItem.reference == "spm-2")).one()
    operator = login(server, "operator")
    token = csrf_of(operator, f"/elementer/{waiting.id}")
    sent = operator.post(
        f"/manuell/{waiting.id}/send",
        data={"csrf": token, "grunn": "Uklart"},
        follow_redirects=True,
    )
    assert "sendt til manuell behandling" in sent.text
    with env.db.session() as session:
        assert session.get(WorkItem, waiting.id).status == "manual"
    assert httpx.get(f"{server.url}/sporsmal").status_code in (200, 303)


def test_a_question_past_its_deadline_ends_the_item_or_alerts_as_the_task_declares(
    env: Env,
) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from robots.alerts import Rule, question_overdue
    from robots.models import utcnow

    queue = env.queue()
    queue.submit("asking", "frist-1", {}, submitted_by="t")
    queue.submit("asking", "frist-2", {}, submitted_by="t")
    run_until_idle(env)
    past = utcnow() - timedelta(hours=1)
    with env.db.session() as session:
        first, second = session.scalars(select(Question).order_by(Question.id)).all()
        session.execute(update(Question).values(deadline=past))
        session.execute(
            update(Question).where(Question.id == first.id).values(on_deadline="business_error")
        )
    rule = Rule(name="forfalt", kind="question_overdue")
    assert [f.key for f in question_overdue(env.db, env.settings, rule, utcnow())] == [
        f"forfalt:question:{first.id}",
        f"forfalt:question:{second.id}",
    ]
    assert people.expire_overdue(env.db) == [first.item_id]
    with env.db.session() as session:
        ended = session.get(WorkItem, first.item_id)
        still = session.get(WorkItem, second.item_id)
    assert ended.status == "business_error" and "innen fristen" in ended.error_message
    assert still.status == "waiting_for_person"  # escalates: the alert tells the operators
    assert [f.key for f in question_overdue(env.db, env.settings, rule, utcnow())] == [
        f"forfalt:question:{second.id}"
    ]


def test_a_manager_acknowledges_a_reminder_from_the_link_and_reminders_stop(console: Any) -> None:
    from datetime import date

    from robots.links import sign
    from tasks.sykefravaer import reminder_key

    env, server, _ = console
    key = "sykefravaer:1503:2026-02-02:dialogmote1"
    data = {
        "key": key,
        "name": "Kari Nordmann",
        "milestone": "Dialogmøte 1",
        "due": "2026-03-22",
        "to": "leder@kommune.example",
    }
    token = sign(env.settings, "kvittering", data)
    with httpx.Client(base_url=server.url) as manager:  # no login: the signed link is enough
        page = manager.get(f"/kvittering/{token}")
        assert page.status_code == 200 and "Dialogmøte 1" in page.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        done = manager.post(
            f"/kvittering/{token}",
            data={"csrf": csrf, "status": "utsatt", "til": "2026-03-15"},
            follow_redirects=True,
        )
        assert "utsatt til 2026-03-15" in done.text
        assert manager.get(f"/kvittering/{token[:-2]}xx").status_code == 404  # changed
    assert people.acknowledgement(env.db, key) == ("utsatt", date(2026, 3, 15))
    assert reminder_key(key, None, date(2026, 3, 10)) == key
    assert reminder_key(key, ("utsatt", date(2026, 3, 15)), date(2026, 3, 10)) is None
    assert reminder_key(key, ("utsatt", date(2026, 3, 15)), date(2026, 3, 15)) == (
        f"{key}:utsatt:2026-03-15"
    )
    people.acknowledge(env.db, key, "gjennomfort", None, "leder:leder@kommune.example")
    assert reminder_key(key, people.acknowledgement(env.db, key), date(2026, 3, 16)) is None
    with env.db.session() as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.action == "acknowledge")
        ).all()
    assert len(actions) == 2


def test_manual_and_automated_completions_are_counted_by_the_database(env: Env) -> None:
    from sqlalchemy import update

    from robots.models import utcnow

    queue = env.queue()
    for n in range(3):
        queue.submit("asking", f"telt-{n}", {}, submitted_by="t")
    with env.db.session() as session:
        session.execute(update(WorkItem).values(status="done", finished_at=utcnow()))
        session.execute(
            update(WorkItem).where(WorkItem.reference == "telt-0").values(handled_manually=True)
        )
    (row,) = manual_counts(Views(env.db, env.settings))
    assert (row["task"], row["automated"], row["manual"]) == ("asking", 2, 1)
