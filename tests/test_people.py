"""People in the loop (issue 14): a robot asks a person and waits without holding a worker,
resumes after the answer without repeating what it kept, refuses a second answer; hands an
item to a team's queue, where a person takes it and completes it by hand."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from robots import people
from robots.console.app import create_app
from robots.models import AcknowledgementLink, AuditEvent, Question, WorkItem
from robots.views import Views, manual_counts, questions
from robots.web import ServerThread
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
    # the team "caseworker" is who question_teams names (a role is not a team by itself)
    teams = {"question_teams": {"caseworker": ["caseworker", "kollega"]}}
    server = ServerThread(create_app(env.settings.model_copy(update=teams), env.db)).start()
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
    server.stop()


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


# A sykefravær reminder's acknowledgement link ---------------------------------------------------

KEY = "sykefravaer:1503:2026-02-02:dialogmote1"
PERSONAL = ("Kari", "Nordmann", "1503", "2026-02-02", "02.02.2026", "leder@kommune", "Per Leder")


def reminder_link(env: Env, due: date | None = None) -> tuple[str, str]:
    """The mail a reminder sends (the task's own text) with a link issued as the task does;
    returns (mail text, token)."""
    from robots.links import issue
    from tasks.sykefravaer import Absence, Milestone, Period, reminder_text

    due = due or datetime.now(env.settings.zone).date() + timedelta(days=10)
    token = issue(env.db, env.settings, KEY, "Dialogmøte 1", due, "leder@kommune.example")
    person = Absence(
        employee_id=1503,
        name="Kari Nordmann",
        unit="Pleie",
        first_day=date(2026, 2, 2),
        end_date=None,
        grade=100,
        kind="sykmelding",
        manager="Per Leder",
        manager_email="leder@kommune.example",
    )
    period = Period(1503, date(2026, 2, 2), None, 100, (person,))
    milestone = Milestone("dialogmote1", "Dialogmøte 1", due, due, "Innkall til dialogmøte")
    link = f"https://rpa.kommune.example/kvittering/{token}"
    return reminder_text(person, period, milestone, None, link), token


def csrf_on(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None, page.text
    return found.group(1)


def decodings(url: str) -> list[str]:
    """The URL and whatever an attacker gets from it: each part base64url-decoded, and that
    inflated (zlib, raw deflate, gzip), as itsdangerous' compressed tokens are."""
    import base64
    import binascii
    import contextlib
    import zlib

    decoded = [url.encode()]
    for part in re.split(r"[./]", url):
        for candidate in (part, part + "=" * (-len(part) % 4)):
            try:
                raw = base64.urlsafe_b64decode(candidate)
            except (binascii.Error, ValueError):
                continue
            decoded.append(raw)
            for wbits in (15, -15, 31):
                with contextlib.suppress(zlib.error):
                    decoded.append(zlib.decompress(raw.lstrip(b"."), wbits))
    return [blob.decode("latin-1") for blob in decoded]


def test_the_link_in_a_reminder_mail_carries_no_personal_data(console: Any) -> None:
    env, server, _ = console
    mail, token = reminder_link(env)
    [url] = re.findall(r"https?://\S+", mail)
    assert url.endswith(f"/kvittering/{token}") and len(token) >= 43  # 256 random bits
    for text in decodings(url):
        assert not [p for p in PERSONAL if p in text], f"personal data in the link: {text!r}"
    with env.db.session() as session:  # the database keeps the token's hash, not the token
        stored = session.scalars(select(AcknowledgementLink.token_hash)).one()
    assert stored != token and token not in stored
    with httpx.Client(base_url=server.url) as manager:  # no login needed: nothing personal
        page = manager.get(f"/kvittering/{token}")
    assert page.status_code == 200 and "Dialogmøte 1" in page.text
    assert not [p for p in PERSONAL if p in page.text]


def test_a_second_answer_through_the_same_link_is_refused(console: Any) -> None:
    from tasks.sykefravaer import reminder_key

    env, server, _ = console
    _, token = reminder_link(env)
    with httpx.Client(base_url=server.url) as manager:
        page = manager.get(f"/kvittering/{token}")
        first = manager.post(
            f"/kvittering/{token}",
            data={"csrf": csrf_on(page), "status": "gjennomfort"},
            follow_redirects=True,
        )
        assert "Registrert: gjennomført" in first.text
        assert 'name="status"' not in first.text  # the form is gone: the link is used
        again = manager.post(
            f"/kvittering/{token}",
            data={"csrf": csrf_on(page), "status": "utsatt", "til": first_day(env).isoformat()},
        )
    assert again.status_code == 422 and "allerede brukt" in again.text
    assert people.acknowledgement(env.db, KEY) == ("gjennomfort", None)
    today = datetime.now(env.settings.zone).date()
    assert reminder_key(KEY, people.acknowledgement(env.db, KEY), today) is None
    with env.db.session() as session:
        by = session.scalars(
            select(AuditEvent.actor).where(AuditEvent.action == "acknowledge")
        ).all()
    assert by == ["leder:leder@kommune.example"]


def first_day(env: Env) -> date:
    return datetime.now(env.settings.zone).date() + timedelta(days=1)


def test_an_expired_link_is_refused(console: Any) -> None:
    env, server, _ = console
    days = env.settings.acknowledgement_link_days
    past = datetime.now(env.settings.zone).date() - timedelta(days=days + 1)
    _, token = reminder_link(env, due=past)
    with httpx.Client(base_url=server.url) as manager:
        page = manager.get(f"/kvittering/{token}")
        assert page.status_code == 410 and "utløpt" in page.text
        assert 'name="status"' not in page.text
        csrf = csrf_on(manager.get("/login"))  # (the expired page has no form)
        answer = manager.post(f"/kvittering/{token}", data={"csrf": csrf, "status": "gjennomfort"})
    assert answer.status_code == 422 and "utløpt" in answer.text
    assert people.acknowledgement(env.db, KEY) is None


@pytest.mark.parametrize("until", ["9999-12-31", "1900-01-01", "yesterday", "after"])
def test_a_postponement_outside_today_to_the_milestones_maximum_is_refused(
    console: Any, until: str
) -> None:
    env, server, _ = console
    today = datetime.now(env.settings.zone).date()
    due = today + timedelta(days=10)
    latest = due + timedelta(days=env.settings.acknowledgement_postpone_max_days)
    given = {
        "yesterday": (today - timedelta(days=1)).isoformat(),
        "after": (latest + timedelta(days=1)).isoformat(),
    }.get(until, until)
    _, token = reminder_link(env, due=due)
    with httpx.Client(base_url=server.url) as manager:
        page = manager.get(f"/kvittering/{token}")
        refused = manager.post(
            f"/kvittering/{token}", data={"csrf": csrf_on(page), "status": "utsatt", "til": given}
        )
        assert refused.status_code == 422
        assert f"til og med {latest:%d.%m.%Y}" in refused.text  # bokmål, with the range
        assert people.acknowledgement(env.db, KEY) is None
        kept = manager.post(  # a refused date does not use up the link
            f"/kvittering/{token}",
            data={"csrf": csrf_on(page), "status": "utsatt", "til": latest.isoformat()},
        )
    assert kept.status_code == 303
    assert people.acknowledgement(env.db, KEY) == ("utsatt", latest)


def test_an_unknown_or_old_style_link_is_a_404_without_detail(console: Any) -> None:
    import secrets

    from itsdangerous import URLSafeTimedSerializer

    from robots.links import secret

    env, server, _ = console
    reminder_link(env)
    old = URLSafeTimedSerializer(secret(env.settings), salt="kvittering").dumps({"key": KEY})
    with httpx.Client(base_url=server.url) as stranger:
        nothing = stranger.get("/finnes-ikke")  # the console's plain 404 page
        for token in (secrets.token_urlsafe(32), old, "x-lenke"):
            page = stranger.get(f"/kvittering/{token}")
            assert (page.status_code, page.text) == (404, nothing.text)
            posted = stranger.post(f"/kvittering/{token}", data={"status": "gjennomfort"})
            assert posted.status_code in (403, 404)  # no CSRF token, and no such link
    assert people.acknowledgement(env.db, KEY) is None


def test_reminders_stop_or_wait_after_an_acknowledgement(console: Any) -> None:
    from tasks.sykefravaer import reminder_key

    env, _, _ = console
    key = KEY
    assert reminder_key(key, None, date(2026, 3, 10)) == key
    assert reminder_key(key, ("utsatt", date(2026, 3, 15)), date(2026, 3, 10)) is None
    assert reminder_key(key, ("utsatt", date(2026, 3, 15)), date(2026, 3, 15)) == (
        f"{key}:utsatt:2026-03-15"
    )
    people.acknowledge(env.db, key, "gjennomfort", None, "leder:leder@kommune.example")
    assert reminder_key(key, people.acknowledgement(env.db, key), date(2026, 3, 16)) is None


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
