"""A failing *system* is not a failing item (robots.systems): a rejected login stops every
login and claim of that system until an operator renews it; a system that cannot be reached
opens a circuit breaker that a probe closes; waiting items spend no attempts."""

from __future__ import annotations

import json
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from robots.alerts import Rule, system_state
from robots.faults import CredentialsRejected
from robots.models import Alert, AuditEvent, ItemStatus, SystemState, WorkItem, utcnow
from robots.queue import WorkerIdentity
from robots.systems import AVAILABLE, REJECTED, UNAVAILABLE, Systems
from sandbox.common import Faults
from tests.conftest import Env, wait_for

HR_CREDS = {"RPA_CRED_HR_USERNAME": "robot", "RPA_CRED_HR_PASSWORD": "robot-passord"}
FAST = {
    "RPA_BACKOFF_BASE_SECONDS": "0.2",
    "RPA_PROBE_BASE_SECONDS": "0.5",
    "RPA_PROBE_MAX_SECONDS": "2",
    "RPA_BREAKER_THRESHOLD": "2",
}


def worker(env: Env) -> WorkerIdentity:
    return WorkerIdentity("w-test", "host", 1)


# In-process: the states, the claim filter, the alert ---------------------------------------


def test_breaker_opens_after_the_threshold_and_a_probe_closes_it(env: Env) -> None:
    systems = Systems(env.db, env.settings.model_copy(update={"breaker_threshold": 3}))
    assert systems.unreachable("hr", "hr kan ikke nås", "arbeider:a") is False
    assert systems.unreachable("hr", "hr kan ikke nås", "arbeider:b") is False
    systems.reached(["hr"])  # an item got through: the streak starts again
    assert systems.status("hr").unreachable_streak == 0
    for _ in range(2):
        assert systems.unreachable("hr", "hr kan ikke nås", "arbeider:a") is False
    assert systems.unreachable("hr", "hr kan ikke nås", "arbeider:a") is True
    state = systems.status("hr")
    assert state.state == UNAVAILABLE and state.next_probe_at is not None
    assert systems.blocked() == {"hr": UNAVAILABLE}
    assert systems.take_due_probe() is None  # not due yet
    with env.db.session() as session:
        session.execute(
            update(SystemState).values(next_probe_at=utcnow() - timedelta(seconds=1))
        )
    assert systems.take_due_probe() == "hr"
    assert systems.take_due_probe() is None  # taken: the next one waits the doubled backoff
    assert systems.close("hr", "arbeider:a", "Sjekken lyktes", "system_available") is True
    assert systems.blocked() == {}
    with env.db.session() as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.target == "system:hr")
        ).all()
    assert actions == ["system_unavailable", "system_available"]


def test_rejected_credentials_stop_claims_of_that_system_only(env: Env) -> None:
    """Items of a system whose login was rejected are not claimed (and the login gate refuses
    a login); items of other tasks go on; an operator's renewal (audited) lets them go."""
    queue = env.queue()
    queue.submit("hr_lookup", "hr-1", {"employee_id": 1503}, submitted_by="t", priority=5)
    queue.submit("probe", "plain-1", {}, submitted_by="t")
    systems = Systems(env.db, env.settings)
    assert systems.credentials_rejected("hr", "Feil brukernavn eller passord.", "arbeider:a")
    assert not systems.credentials_rejected("hr", "igjen", "arbeider:b")  # once
    with pytest.raises(CredentialsRejected):
        systems.check_login("hr")
    queue.refresh_pauses()
    claim = queue.claim(worker(env), ["hr_lookup", "probe"])
    assert claim is not None and claim.task == "probe"
    assert queue.claim(worker(env), ["hr_lookup", "probe"]) is None
    assert systems.renewed("hr", "cli:drift") is True
    systems.check_login("hr")  # no longer refused
    queue.refresh_pauses()
    claim = queue.claim(worker(env), ["hr_lookup"])
    assert claim is not None and claim.task == "hr_lookup"
    with env.db.session() as session:
        events = session.execute(
            select(AuditEvent.actor, AuditEvent.action).where(AuditEvent.target == "system:hr")
        ).all()
    assert [tuple(e) for e in events] == [
        ("arbeider:a", "system_credentials_rejected"),
        ("cli:drift", "system_credentials_renewed"),
    ]


def test_alert_rule_tells_rejected_at_once_and_open_breaker_after_minutes(env: Env) -> None:
    systems = Systems(env.db, env.settings.model_copy(update={"breaker_threshold": 1}))
    systems.credentials_rejected("hr", "Feil brukernavn eller passord.", "arbeider:a")
    systems.unreachable("archive", "archive kan ikke nås (net::ERR_CONNECTION_REFUSED)", "a")
    rule = Rule(name="system_trenger_drift", kind="system_state", minutes=10)
    now = utcnow()
    keys = [f.key for f in system_state(env.db, env.settings, rule, now)]
    assert keys == ["system_trenger_drift:hr:innlogging"]
    later = now + timedelta(minutes=11)
    found = system_state(env.db, env.settings, rule, later)
    assert sorted(f.key for f in found) == [
        "system_trenger_drift:archive:utilgjengelig",
        "system_trenger_drift:hr:innlogging",
    ]
    assert all("robot-passord" not in f.message for f in found)


def test_concurrent_failures_make_one_row_and_one_opening(pg_env: Env) -> None:
    """Two workers reporting the same system at the same moment (PostgreSQL): one row, the
    breaker opens once, one audit event."""
    systems = Systems(pg_env.db, pg_env.settings.model_copy(update={"breaker_threshold": 4}))
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def report() -> None:
        try:
            barrier.wait()
            systems.unreachable("hr", "hr kan ikke nås", "arbeider:x")
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=report) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    state = systems.status("hr")
    assert state.state == UNAVAILABLE and state.unreachable_streak == 8
    with pg_env.db.session() as session:
        opened = session.scalars(
            select(AuditEvent.id).where(AuditEvent.action == "system_unavailable")
        ).all()
    assert len(opened) == 1


# Through real workers, Chromium and the sandbox ------------------------------------------------


def _items(env: Env) -> list[WorkItem]:
    with env.db.session() as session:
        items = list(session.scalars(select(WorkItem).order_by(WorkItem.id)))
        session.expunge_all()
        return items


def _state(env: Env, system: str) -> str:
    with env.db.session() as session:
        row = session.get(SystemState, system)
        return row.state if row is not None else AVAILABLE


def test_wrong_password_one_login_per_worker_then_the_system_waits(
    sqlite_env: Env, sandbox: Any
) -> None:
    """With the robot's password wrong, each of two workers tries one login (no retries, no
    storm), the system's credentials are marked rejected, an alert opens at once, and the items
    wait without spending attempts. After `systems renewed` (and the right password) they are
    all done."""
    env = sqlite_env
    hires = sandbox.hr_app.state.data.new_hire_ids[:4]
    queue = env.queue()
    for hire in hires:
        queue.submit("hr_lookup", f"feil-passord-{hire}", {"employee_id": hire}, submitted_by="t")
    urls = {"RPA_SYSTEM_URLS": json.dumps({"hr": sandbox.hr.url})}
    wrong = {**FAST, **urls, **HR_CREDS, "RPA_CRED_HR_PASSWORD": "utløpt-passord"}
    proc = env.start("worker", "--processes", "2", name="feil", extra_env=wrong)
    try:
        wait_for(lambda: _state(env, "hr") == REJECTED, timeout=120, message="rejected")
        wait_for(
            lambda: all(i.status == ItemStatus.PENDING for i in _items(env)) or None,
            timeout=60,
            message="every item waiting for the system (none running)",
        )
        posts = sandbox.hr_app.state.faults.login_posts
        assert 1 <= posts <= 2  # one login per worker process at most
        # The workers stay up and idle: no further login however long they run.
        with suppress(AssertionError):
            wait_for(lambda: sandbox.hr_app.state.faults.login_posts > posts, timeout=3)
        assert sandbox.hr_app.state.faults.login_posts == posts
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    tried = [i for i in _items(env) if i.error_kind == "system_wait"]
    assert 1 <= len(tried) <= 2  # the items that met the refusal; the rest were not claimed
    for item in _items(env):
        assert item.status == ItemStatus.PENDING and item.failures == 0
        assert "utløpt-passord" not in (item.error_message or "")
    assert all("ble avvist" in (i.error_message or "") for i in tried)
    with env.db.session() as session:
        alerts = session.scalars(select(Alert.key).where(Alert.status == "open")).all()
    assert "system_trenger_drift:hr:innlogging" in alerts
    listed = env.runner("systems", "list", extra_env=FAST)
    assert listed.returncode == 0 and "innlogging avvist" in listed.stdout
    assert "utløpt-passord" not in listed.stdout
    renewed = env.runner("systems", "renewed", "hr", extra_env=FAST)
    assert renewed.returncode == 0, renewed.stderr
    assert "fornyet" in renewed.stdout
    assert env.runner("systems", "renewed", "ukjent", extra_env=FAST).returncode != 0
    right = {**FAST, **urls, **HR_CREDS}
    proc = env.start("worker", "--processes", "1", name="riktig", extra_env=right)
    try:
        wait_for(
            lambda: all(i.status == ItemStatus.DONE for i in _items(env)) or None,
            timeout=180,
            message="items done after renewal",
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert all(i.failures == 0 for i in _items(env))
    with env.db.session() as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.target == "system:hr")
        ).all()
    assert actions == ["system_credentials_rejected", "system_credentials_renewed"]


class SwitchableProxy:
    """A TCP proxy on a fixed loopback port in front of a sandbox system. `down()` closes the
    listening socket (connections are refused, as when a server is stopped) and `up()` opens
    it again on the same port."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._listener: socket.socket | None = None
        self._stop = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        if self._listener is not None:
            with suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
            except OSError:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


@contextmanager
def proxy_for(url: str) -> Iterator[SwitchableProxy]:
    proxy = SwitchableProxy(int(url.rsplit(":", 1)[1].strip("/")))
    proxy.up()
    try:
        yield proxy
    finally:
        proxy.down()


@pytest.mark.parametrize("outage", ["refused", "503"])
def test_target_down_then_up_items_wait_and_finish_with_attempts_unspent(
    sqlite_env: Env, sandbox: Any, outage: str
) -> None:
    """The HR portal goes away (its port refuses connections, or it answers 503 for
    maintenance): after `breaker_threshold` items the breaker opens, the items wait without
    spending attempts while an item of a task without that system is done; when the portal is
    back a probe closes the breaker by itself and every item finishes."""
    env = sqlite_env
    hires = sandbox.hr_app.state.data.new_hire_ids[:4]
    with proxy_for(sandbox.hr.url) as proxy:
        settings_env = {
            **FAST,
            **HR_CREDS,
            "RPA_SYSTEM_URLS": json.dumps({"hr": proxy.url}),
        }
        if outage == "refused":
            proxy.down()
        else:
            sandbox.hr_app.state.faults.set(Faults(down=True))
        queue = env.queue()
        for hire in hires:
            queue.submit("hr_lookup", f"nede-{hire}", {"employee_id": hire}, submitted_by="t")
        proc = env.start("worker", "--processes", "1", name="nede", extra_env=settings_env)
        try:
            wait_for(lambda: _state(env, "hr") == UNAVAILABLE, timeout=120, message="breaker")
            queue.submit("probe", "annet-system", {"note": "går likevel"}, submitted_by="t")
            wait_for(
                lambda: any(
                    i.reference == "annet-system" and i.status == ItemStatus.DONE
                    for i in _items(env)
                )
                or None,
                timeout=60,
                message="an item of another system done while the breaker is open",
            )
            assert all(i.failures == 0 for i in _items(env))
            assert all(
                i.status == ItemStatus.PENDING for i in _items(env) if i.task == "hr_lookup"
            )
            if outage == "refused":
                proxy.up()
            else:
                sandbox.hr_app.state.faults.set(Faults())
            wait_for(lambda: _state(env, "hr") == AVAILABLE, timeout=60, message="closed")
            wait_for(
                lambda: all(i.status == ItemStatus.DONE for i in _items(env)) or None,
                timeout=180,
                message="every item done after the outage",
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    items = _items(env)
    assert all(i.failures == 0 for i in items), [(i.reference, i.failures) for i in items]
    waits = [i for i in items if i.task == "hr_lookup"]
    assert all(i.error_message is None or "kan ikke nås" not in i.error_message for i in waits)
    with env.db.session() as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.target == "system:hr")
        ).all()
        runs = session.execute(
            select(AuditEvent.details).where(AuditEvent.action == "system_unavailable")
        ).scalars().all()
    assert actions == ["system_unavailable", "system_available"]
    reason = str(runs[0])
    assert ("ERR_CONNECTION_REFUSED" in reason) if outage == "refused" else ("503" in reason)
    assert "innlogging" not in reason  # the login is not blamed for an outage


def test_operator_sees_the_state_and_renews_the_login_in_the_console(console: Any) -> None:
    """Drift > Systemer: the rejected login with its reason, a button to say it is renewed
    (CSRF, audited as the operator), the history; a caseworker cannot see the page."""
    from tests.test_console import csrf_of, login

    env, server, _ = console
    Systems(env.db, env.settings).credentials_rejected(
        "hr", "hr: innloggingen som 'robot' ble avvist (Feil brukernavn eller passord.)", "a"
    )
    operator = login(server, "operator")
    page = operator.get("/drift/systemer")
    assert page.status_code == 200
    assert "innlogging avvist" in page.text and "Feil brukernavn eller passord." in page.text
    assert "Innloggingen til hr er fornyet" in page.text
    csrf = csrf_of(operator, "/drift/systemer")
    assert operator.post("/drift/systemer/hr/fornyet", data={}).status_code in (400, 403)
    done = operator.post("/drift/systemer/hr/fornyet", data={"csrf": csrf})
    assert done.status_code == 303
    page = operator.get("/drift/systemer")
    assert "innloggingen er fornyet" in page.text.lower()
    assert "innlogging fornyet" in page.text  # the history, in words
    assert Systems(env.db, env.settings).blocked() == {}
    with env.db.session() as session:
        actor = session.scalars(
            select(AuditEvent.actor).where(AuditEvent.action == "system_credentials_renewed")
        ).one()
    assert actor.endswith("operator")
    caseworker = login(server, "caseworker")
    assert caseworker.get("/drift/systemer").status_code in (403, 404)
    assert caseworker.post(
        "/drift/systemer/hr/fornyet", data={"csrf": csrf_of(caseworker, "/mine")}
    ).status_code in (403, 404)


def test_a_look_up_on_a_page_it_cannot_trust_fails_instead_of_creating_a_duplicate(
    sqlite_env: Env, sandbox: Any, tmp_path: Any
) -> None:
    """`exists()` before an act: with the results table there, no rows means "not found" and
    the robot registers the person; after the vendor renamed the results table (its id and
    label: every locator of the table and its rows misses), the look-up cannot tell "not
    there" from "cannot see", so it is a system error and nothing is registered twice."""
    from robots.config import ROOT
    from tests.conftest import settle

    env = sqlite_env
    person = sandbox.hr_app.state.data.employee(sandbox.hr_app.state.data.new_hire_ids[0])
    robot = {**HR_CREDS, "RPA_SYSTEM_URLS": json.dumps({"hr": sandbox.hr.url})}
    queue = env.queue()
    queue.submit("hr_register_once", "finnes", {"name": person["name"]}, submitted_by="t")
    queue.submit("hr_register_once", "ny", {"name": "Ingen Slik Person"}, submitted_by="t")
    settle(env, robot, processes=1, timeout=180)
    results = {i.reference: (i.status, i.result) for i in _items(env)}
    assert results["finnes"] == (ItemStatus.DONE, {"registered": False})
    assert results["ny"] == (ItemStatus.DONE, {"registered": True})  # trusted empty result

    renamed = tmp_path / "selectors"
    renamed.mkdir()
    for source in (ROOT / "selectors").glob("*.yaml"):
        text = source.read_text(encoding="utf-8")
        if source.name == "hr.yaml":  # the vendor's new markup: no #resultater, no aria-label
            text = text.replace("#resultater", "#treffliste").replace(
                "table[aria-label]", "table[data-rolle=treff]"
            )
        (renamed / source.name).write_text(text, encoding="utf-8")
    queue.submit("hr_register_once", "etter-endring", {"name": person["name"]}, submitted_by="t")
    settle(env, {**robot, "RPA_SELECTORS_DIR": str(renamed)}, processes=1, timeout=180)
    item = next(i for i in _items(env) if i.reference == "etter-endring")
    assert item.status == ItemStatus.FAILED and item.error_kind == "system"
    assert "kan ikke si om list.rows finnes" in (item.error_message or "")
    registered = [i.reference for i in _items(env) if i.reference.startswith("registrert:")]
    assert registered == ["registrert:Ingen Slik Person"]  # no duplicate of the person


def test_the_archive_api_says_unreachable_and_rejected_as_system_states() -> None:
    """The Noark 5 API client (tasks/noark5.py) through ArchiveApi: 503 after the retries and a
    refused connection are Unreachable("archive"); HTTP 401 at login is CredentialsRejected;
    any other error stays an ordinary system fault."""
    from fastapi.responses import JSONResponse

    from robots.faults import SystemFault, SystemStateFault, Unreachable
    from robots.web import ServerThread
    from tasks.noark import ArchiveApi
    from tasks.noark5 import Noark5Client
    from tests.test_hardening import archive_stub

    answer: list[int] = [503]

    def descriptions() -> Any:
        return JSONResponse({"feil": "x"}, status_code=answer[0])

    def refuse() -> None:
        if answer[0] == 401:
            from fastapi import HTTPException

            raise HTTPException(401, "Feil passord")

    server = ServerThread(archive_stub(descriptions, refuse)).start()
    api = object.__new__(ArchiveApi)
    try:
        api.client = Noark5Client(f"{server.url}/api", "robot", "passord", retry_delays=(0,))
        with pytest.raises(Unreachable) as unreachable:
            api.record_by_reference("x")
        assert unreachable.value.system == "archive" and "503" in str(unreachable.value)
        answer[0] = 400
        with pytest.raises(SystemFault) as other:
            api.record_by_reference("x")
        assert not isinstance(other.value, SystemStateFault)
        answer[0] = 401
        api.client = Noark5Client(f"{server.url}/api", "robot", "passord", retry_delays=(0,))
        with pytest.raises(CredentialsRejected) as rejected:
            api.record_by_reference("x")
        assert rejected.value.system == "archive"
    finally:
        server.stop()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: connection refused
    api.client = Noark5Client(f"http://127.0.0.1:{port}/api", "robot", "passord", retry_delays=())
    with pytest.raises(Unreachable):
        api.record_by_reference("x")


def test_a_login_page_that_already_shows_an_alert_is_no_refusal(
    sqlite_env: Env, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The portal sends an expired session to its login page with "Økten er utløpt" in the same
    role=alert element it uses for a refused login. Only the answer to the robot's own submit
    may count as a refusal: the right password there logs in; a wrong one is refused with the
    portal's own words."""
    from loguru import logger

    from robots.runtime import open_system
    from robots.vault import Credentials
    from tests.test_runtime import robot_host

    with robot_host(sandbox, monkeypatch) as (settings, host):
        session = open_system(host, "hr", settings, logger)
        session.page.goto(session.url("/login?utlopt=1"))
        assert "utløpt" in session.page.content()
        session.login()
        assert session.logged_in
        session.close()
        other = open_system(host, "hr", settings.model_copy(update={"reuse_logins": False}), logger)
        other.page.goto(other.url("/login?utlopt=1"))
        with pytest.raises(CredentialsRejected, match="Feil brukernavn eller passord"):
            other.login(Credentials("robot", "feil-passord", "test"))
        other.close()
