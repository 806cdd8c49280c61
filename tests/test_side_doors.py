"""Nobody in through the side doors (issue 22) and every person's path walked end to end
(issue 23): who sees a robot's question, answers after a deadline, where answering leads,
items submitted from the command line, the last admin, /readyz, and unknown JSON keys. Each
test acts as the person or the attacker would: real HTTP against the console."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text, update

from robots.console import auth
from robots.console.app import create_app
from robots.models import Question, Role, User, Worker, WorkItem, utcnow
from robots.web import ServerThread
from robots.worker import WorkerProcess
from tests.conftest import PASSWORD, Env, wait_for
from tests.test_console import api, csrf_of, login

PREVIEW = "Sykemelding for Ola"  # what the robot shows of the document it asks about


def run_until_idle(env: Env) -> None:
    WorkerProcess(env.settings, env.queue().registry).run(exit_when_idle=True)


def token_for(env: Env, username: str) -> str:
    with env.db.session() as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        return auth.new_token(session, user, "test", "test")


def ask(env: Env, reference: str, submitted_by: str) -> int:
    """An `asking` item submitted by `submitted_by`, run until it asks; its question's id.
    The question's evidence is made to carry a document preview, as the archive robot's does."""
    env.queue().submit("asking", reference, {}, submitted_by=submitted_by)
    run_until_idle(env)
    with env.db.session() as session:
        item = session.scalars(select(WorkItem).where(WorkItem.reference == reference)).one()
        question = session.scalars(select(Question).where(Question.item_id == item.id)).one()
        question.evidence = {"Begynnelsen av dokumentet": PREVIEW}
        return question.id


def sees(client: httpx.Client, question_id: int) -> bool:
    """Whether the question shows anywhere this client can look (API list, page list)."""
    listed = [q["id"] for q in client.get("/api/questions").json()]
    return question_id in listed


# 4. Who sees a question -------------------------------------------------------------------------


def test_a_question_is_seen_only_by_its_submitter_its_team_and_operators(console: Any) -> None:
    env, server, tokens = console
    ola_token = token_for(env, "kollega")
    question_id = ask(env, "ola-1", "api:kollega")  # ola ("kollega") submitted it
    kari, kari_api = login(server, "caseworker"), api(server, tokens["caseworker"])
    # Kari learns nothing: not listed, no page, no answer, no preview, pages nor API.
    assert not sees(kari_api, question_id)
    listing = kari.get("/sporsmal")
    assert listing.status_code == 200 and f"/sporsmal/{question_id}" not in listing.text
    assert PREVIEW not in listing.text and PREVIEW not in kari_api.get("/api/questions").text
    assert kari.get(f"/sporsmal/{question_id}").status_code == 404
    token = csrf_of(kari, "/sporsmal")
    posted = kari.post(f"/sporsmal/{question_id}", data={"csrf": token, "godkjent": "true"})
    assert posted.status_code == 404 and PREVIEW not in posted.text
    answered = kari_api.post(f"/api/questions/{question_id}/answer", json={"godkjent": True})
    assert answered.status_code == 404 and PREVIEW not in answered.text
    missing = kari_api.post("/api/questions/999999/answer", json={"godkjent": True})
    assert missing.status_code == 404 and missing.json() == answered.json()  # same as none
    # Ola, the operator and the admin see it.
    ola = api(server, ola_token)
    assert sees(ola, question_id) and PREVIEW in ola.get("/api/questions").text
    assert sees(api(server, tokens["operator"]), question_id)
    assert sees(api(server, tokens["admin"]), question_id)
    assert login(server, "operator").get(f"/sporsmal/{question_id}").status_code == 200
    with env.db.session() as session:
        assert session.get(Question, question_id).status == "open"  # nothing Kari did counted


def test_a_question_to_a_team_is_seen_by_its_members(console: Any) -> None:
    """`ctx.ask(to="caseworker")` on an item a schedule submitted: the team "caseworker" is who
    `question_teams` names, not everyone whose role is caseworker."""
    env, _, tokens = console
    question_id = ask(env, "planlagt-1", "schedule:innboks")
    settings = env.settings.model_copy(update={"question_teams": {"caseworker": ["kollega"]}})
    server = ServerThread(create_app(settings, env.db)).start()
    try:
        assert sees(api(server, token_for(env, "kollega")), question_id)
        assert not sees(api(server, tokens["caseworker"]), question_id)
        assert sees(api(server, tokens["operator"]), question_id)
    finally:
        server.stop()


# 12. No answer after the deadline -------------------------------------------------------------


def test_an_answer_after_the_deadline_is_refused_before_the_sweep_runs(console: Any) -> None:
    env, server, tokens = console
    question_id = ask(env, "frist-1", "api:caseworker")
    with env.db.session() as session:
        session.execute(
            update(Question)
            .where(Question.id == question_id)
            .values(deadline=utcnow() - timedelta(minutes=1), on_deadline="business_error")
        )
    late = api(server, tokens["caseworker"]).post(
        f"/api/questions/{question_id}/answer", json={"godkjent": True}
    )
    assert late.status_code == 410 and "Fristen for å svare" in late.json()["detail"]
    kari = login(server, "caseworker")
    token = csrf_of(kari, "/sporsmal")
    page = kari.post(f"/sporsmal/{question_id}", data={"csrf": token, "godkjent": "true"})
    assert page.status_code in (404, 410)  # closed now: gone from the list, or said so
    with env.db.session() as session:
        question = session.get(Question, question_id)
        item = session.get(WorkItem, question.item_id)
    assert question.status == "expired" and question.answer is None
    assert item.status == "business_error" and "innen fristen" in (item.error_message or "")


def test_a_question_that_escalates_can_still_be_answered_after_its_deadline(
    console: Any,
) -> None:
    env, server, tokens = console
    question_id = ask(env, "frist-2", "api:caseworker")
    with env.db.session() as session:
        session.execute(
            update(Question)
            .where(Question.id == question_id)
            .values(deadline=utcnow() - timedelta(minutes=1), on_deadline="escalate")
        )
    done = api(server, tokens["caseworker"]).post(
        f"/api/questions/{question_id}/answer", json={"godkjent": True}
    )
    assert done.status_code == 200 and done.json()["status"] == "answered"


# 23-2. Answering ends on a page the person can see ----------------------------------------------


def walk_and_answer(server: ServerThread, username: str) -> httpx.Response:
    """Log in through the form, open the question from the list, answer it, follow."""
    person = httpx.Client(base_url=server.url, follow_redirects=True)
    form = person.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    home = person.post("/login", data={"username": username, "password": PASSWORD, "csrf": csrf})
    assert home.status_code == 200
    listing = person.get("/sporsmal").text
    link = re.search(r'href="(/sporsmal/\d+)"', listing).group(1)
    page = person.get(link)
    assert page.status_code == 200
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return person.post(link, data={"csrf": csrf, "godkjent": "true", "kommentar": "OK"})


def test_answering_through_the_forms_ends_on_a_page_with_the_confirmation(
    console: Any,
) -> None:
    env, _, _ = console
    ask(env, "team-1", "schedule:innboks")
    settings = env.settings.model_copy(update={"question_teams": {"caseworker": ["caseworker"]}})
    server = ServerThread(create_app(settings, env.db)).start()
    try:
        answered = walk_and_answer(server, "caseworker")  # in the team, cannot see the item
    finally:
        server.stop()
    assert answered.status_code == 200, answered.text
    assert answered.url.path == "/sporsmal"
    assert "Takk. Svaret er lagret" in answered.text and "Fant ikke siden" not in answered.text


def test_the_submitter_answers_through_the_forms_and_sees_the_confirmation(
    console: Any,
) -> None:
    env, server, _ = console
    ask(env, "egen-1", "web:kollega")
    answered = walk_and_answer(server, "kollega")
    assert answered.status_code == 200 and "Takk. Svaret er lagret" in answered.text


# 23-3. Items submitted with `submit --as` are the person's --------------------------------------


def test_an_item_submitted_with_submit_as_shows_on_the_persons_own_pages(
    console: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from robots import cli

    env, server, tokens = console
    monkeypatch.setattr(cli, "_app", None)
    result = CliRunner().invoke(
        cli.app, ["submit", "probe", "--ref", "fra-skallet", "--as", "caseworker"]
    )
    assert result.exit_code == 0, result.output
    with env.db.session() as session:
        item = session.scalars(select(WorkItem).where(WorkItem.reference == "fra-skallet")).one()
    assert item.submitted_by == "cli:caseworker"
    kari = login(server, "caseworker")
    assert "fra-skallet" in kari.get("/mine").text
    assert kari.get(f"/elementer/{item.id}").status_code == 200
    assert [i["id"] for i in api(server, tokens["caseworker"]).get("/api/items").json()] == [
        item.id
    ]
    assert "fra-skallet" not in login(server, "kollega").get("/mine").text


# 7. The last admin ------------------------------------------------------------------------------


def user_id(env: Env, username: str) -> int:
    with env.db.session() as session:
        return session.scalars(select(User.id).where(User.username == username)).one()


def test_the_last_admin_cannot_be_demoted_or_disabled(console: Any) -> None:
    env, server, _ = console
    with env.db.session() as session:
        auth.add_user(session, "admin2", PASSWORD, "admin", "test")
    first, second = login(server, "admin"), login(server, "admin2")
    token = csrf_of(first, "/admin/brukere")
    demoted = first.post(
        f"/admin/brukere/{user_id(env, 'admin2')}/rolle",
        data={"csrf": token, "role": "operator"},
        follow_redirects=True,
    )
    assert demoted.status_code == 200 and "admin2 har nå rollen operator" in demoted.text
    # The role change ended admin2's sessions (robots/console/sessions.py); logged in again,
    # admin2 is no longer an admin.
    assert second.get("/admin/brukere").status_code == 303
    assert login(server, "admin2").get("/admin/brukere").status_code == 403
    # Only one admin is left: nobody (here, the CLI's own account, as the code path every
    # change takes) can demote or disable them.
    with env.db.session() as session, pytest.raises(ValueError, match="siste aktive admin"):
        auth.set_role(session, session.get(User, user_id(env, "admin")), "operator", "t")
    with env.db.session() as session, pytest.raises(ValueError, match="siste aktive admin"):
        auth.set_disabled(session, session.get(User, user_id(env, "admin")), True, "t")
    # An admin's own row offers no "Deaktiver" and no role change (that was a 409 page).
    page = first.get("/admin/brukere").text
    assert "Deaktiver admin<" not in page and "Deaktiver caseworker<" in page
    assert f'action="/admin/brukere/{user_id(env, "admin")}/rolle"' not in page


def _demote_concurrently(env: Env) -> list[str]:
    """Admins a and b demote each other at the same time; what each got."""
    with env.db.session() as session:
        for name in ("a", "b"):
            auth.add_user(session, name, PASSWORD, "admin", "test")
    outcomes: list[str] = []
    first_checked, second_done = threading.Event(), threading.Event()

    def change(target: str, hold: bool) -> None:
        try:
            with env.db.session() as session:
                user = session.scalars(select(User).where(User.username == target)).one()
                auth.set_role(session, user, "operator", f"web:{target}")
                if hold:  # keep the transaction open until the other has tried
                    first_checked.set()
                    wait_for(lambda: second_done.is_set() or blocked(env), 30, 0.05)
            outcomes.append("ok")
        except ValueError as exc:
            outcomes.append(str(exc))
        finally:
            if not hold:
                second_done.set()

    one = threading.Thread(target=change, args=("b", True))
    one.start()
    first_checked.wait(30)
    two = threading.Thread(target=change, args=("a", False))
    two.start()
    one.join(60)
    two.join(60)
    return outcomes


def blocked(env: Env) -> bool:
    """Someone is waiting for a lock on this PostgreSQL database."""
    with env.db.engine.connect() as conn:
        return bool(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            ).scalar()
        )


def test_two_admins_demoting_each_other_at_once_leave_one_admin(pg_env: Env) -> None:
    outcomes = _demote_concurrently(pg_env)
    assert len(outcomes) == 2 and outcomes.count("ok") == 1, outcomes
    assert any("siste aktive admin" in o for o in outcomes), outcomes
    with pg_env.db.session() as session:
        admins = session.scalars(select(User).where(User.role == Role.ADMIN)).all()
    assert len(admins) == 1


# 14. /readyz tells strangers only whether it is ready -------------------------------------------


def test_readyz_shows_details_only_to_operators(console: Any) -> None:
    env, server, tokens = console
    with env.db.session() as session:
        session.add(
            Worker(id="vert:1:a", host="vert", pid=4242, status="idle", heartbeat_at=utcnow())
        )
        session.add(
            Worker(
                id="scheduler:vert:4343",
                host="vert",
                pid=4343,
                status="leader",
                heartbeat_at=utcnow(),
            )
        )
    anonymous = httpx.get(f"{server.url}/readyz")
    assert anonymous.status_code == 200 and anonymous.json() == {"ready": True}
    for client in (login(server, "caseworker"), api(server, tokens["auditor"])):
        answer = client.get("/readyz")
        assert answer.status_code == 200 and answer.json() == {"ready": True}
    bad_token = api(server, "rpa_feil").get("/readyz")
    assert bad_token.status_code == 200 and "4343" not in bad_token.text
    for client in (login(server, "operator"), api(server, tokens["admin"])):
        detail = client.get("/readyz").json()
        assert any("4343" in c["detail"] for c in detail["checks"]), detail


# 15a. Unknown keys in a JSON body are refused ---------------------------------------------------


def test_unknown_keys_in_an_api_body_are_refused_by_name(console: Any) -> None:
    env, server, tokens = console
    client = api(server, tokens["caseworker"])
    wrong = client.post("/api/items", json={"task": "probe", "reference": "r", "data": {}})
    assert wrong.status_code == 422 and "data" in str(wrong.json()["detail"])
    assert "ukjent felt" in str(wrong.json()["detail"]).lower()
    with env.db.session() as session:
        assert session.scalars(select(WorkItem)).first() is None  # nothing stored
    question_id = ask(env, "nøkler-1", "api:caseworker")
    extra = client.post(
        f"/api/questions/{question_id}/answer", json={"godkjent": True, "godkjennt": True}
    )
    assert extra.status_code == 422 and "godkjennt" in str(extra.json())


# An answer only where it still changes something --------------------------------------------


def test_a_question_is_withdrawn_when_its_item_is_cancelled_or_handed_over(console: Any) -> None:
    """Cancelled or handed to manual handling, the item no longer waits for the robot's
    question: the question leaves the open list and a late answer is refused (409), instead
    of being accepted and lost. Retried, the robot asks again and the question reopens."""
    from robots.people import AnswerRefused, answer

    env, server, tokens = console
    first = ask(env, "trekkes-1", "web:caseworker")
    second = ask(env, "trekkes-2", "web:caseworker")
    queue = env.queue()
    queue.cancel("trekkes-1", "web:operator")
    queue.hand_over("trekkes-2", "Tas manuelt", "caseworker", "web:operator")
    operator = api(server, tokens["operator"])
    listed = [q["id"] for q in operator.get("/api/questions").json()]
    assert first not in listed and second not in listed
    refused = operator.post(f"/api/questions/{first}/answer", json={"godkjent": True})
    assert refused.status_code == 409 and "venter ikke lenger" in refused.text
    with pytest.raises(AnswerRefused, match="venter ikke lenger"):
        answer(env.db, second, {"godkjent": True}, "web:operator")
    with env.db.session() as session:
        cancelled = session.scalars(select(WorkItem).where(WorkItem.reference == "trekkes-1")).one()
        assert cancelled.error_message == "Avbrutt av operator"  # a person, not web:operator
    queue.retry("trekkes-1", "web:operator")
    run_until_idle(env)  # the robot asks again: the same question opens once more
    assert first in [q["id"] for q in operator.get("/api/questions").json()]


def test_text_people_write_or_robots_ask_is_masked_before_it_is_stored(console: Any) -> None:
    """A fødselsnummer in a hand-over reason or in a question's text is masked when it is
    written, not only when it is read; a team name must be a name."""
    from robots.queue import InvalidTransition

    env, _, _ = console
    ask(env, "maskert-1", "web:caseworker")
    queue = env.queue()
    with pytest.raises(InvalidTransition, match="Teamet"):
        queue.hand_over("maskert-1", "x", "t" * 61, "web:operator")
    queue.hand_over("maskert-1", "Sjekk 15076500565", "caseworker", "web:operator")
    with env.db.session() as session:
        raw = session.execute(text("SELECT error_message FROM work_item")).scalars().all()
    assert raw and not any("15076500565" in (r or "") for r in raw)


def test_a_system_state_is_changed_only_for_a_system_the_tasks_use(console: Any) -> None:
    env, server, _ = console
    operator = login(server, "operator")
    token = csrf_of(operator, "/drift/systemer")
    for name in ("15076500565", "finnes-ikke", "z" * 300):
        answer = operator.post(f"/drift/systemer/{name}/fornyet", data={"csrf": token})
        assert answer.status_code == 404
    assert "15076500565" not in operator.get("/drift/systemer").text
