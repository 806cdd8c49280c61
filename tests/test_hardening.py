"""Defects found by fault injection and attack (issue 9), each reproduced first, then fixed.

Real SQLite and PostgreSQL, real worker code in this process, real files; no mocks of the parts
under test. Slow parts (subprocesses, Chromium) live in tests/test_cli.py and tests/chaos/.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select, text
from sqlalchemy.exc import DataError

from robots import audit
from robots.anchor import Anchor
from robots.context import RunContext
from robots.db import Database
from robots.models import (
    AuditEvent,
    ItemStatus,
    Run,
    RunEvent,
    RunOutcome,
    Worker,
    WorkItem,
    utcnow,
)
from robots.queue import Claim, WorkerIdentity
from robots.runlog import jsonl_path
from robots.settings import SettingsError, load_settings
from robots.storable import NUL_STAND_IN
from robots.tasks import BusinessError, InvalidPayload
from robots.web import ServerThread
from robots.worker import Supervisor, WorkerProcess
from tests.conftest import Env, wait_for
from tests.test_queue import expire

W1 = WorkerIdentity("w1", "host", 1)
W2 = WorkerIdentity("w2", "host", 2)


def only_item(env: Env) -> WorkItem:
    with env.db.session() as session:
        return session.scalars(select(WorkItem)).one()


# 1. NUL and other characters the database refuses -------------------------------------------


def test_nul_in_a_payload_or_reference_is_refused_at_submit(env: Env) -> None:
    queue = env.queue()
    with pytest.raises(InvalidPayload) as refused:
        queue.submit("probe", "nul-1", {"note": "a\u0000b"}, submitted_by="t")
    assert refused.value.errors == [
        ("note", "inneholder tegn som ikke kan lagres: NUL-tegn (U+0000)")
    ]
    with pytest.raises(InvalidPayload, match="U\\+D800"):
        queue.submit("probe", "sur-1", {"note": "a\ud800b"}, submitted_by="t")
    for reference in ("a\u0000b", "linje\nskift", "\x1b[31m"):
        with pytest.raises(ValueError, match="kontrolltegn"):
            queue.submit("probe", reference, {}, submitted_by="t")
    with env.db.session() as session:
        assert session.scalars(select(WorkItem)).all() == []


def test_a_run_log_line_with_nul_is_stored_and_the_item_finishes(env: Env) -> None:
    """A task that logs text with NUL (read from a target system, say) must not stop the
    worker: the line is stored with a visible stand-in."""
    queue = env.queue()
    queue.submit("probe", "nul-log", {}, submitted_by="t")
    claim = queue.claim(W1)
    assert claim is not None
    worker = WorkerProcess(env.settings, queue.registry)
    from robots.runlog import RunLog

    run_log = RunLog(claim.run_id, env.settings.data_path)
    run_log.emit("INFO", "fra målsystemet: a\u0000b", data={"felt\u0000": "x\ud800"})
    status = worker._finish(claim, run_log, RunOutcome.DONE, {"svar": "c\u0000d"}, None)
    assert status == ItemStatus.DONE
    with env.db.session() as session:
        event = session.scalars(select(RunEvent).where(RunEvent.run_id == claim.run_id)).one()
    assert event.message == f"fra målsystemet: a{NUL_STAND_IN}b"
    assert only_item(env).result == {"svar": f"c{NUL_STAND_IN}d"}


def test_reclaim_copies_a_jsonl_file_with_nul_and_claims_go_on(env: Env) -> None:
    """The reproduction: a dead worker's JSONL holds a NUL; every claim used to fail on it."""
    queue = env.queue()
    queue.submit("probe", "død", {}, submitted_by="t")
    queue.submit("probe", "neste", {}, submitted_by="t")
    first = queue.claim(W1)
    assert first is not None
    path = jsonl_path(env.settings.data_path, first.run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = {
        "run_id": first.run_id,
        "seq": 1,
        "ts": "2026-01-01T10:00:00+00:00",
        "level": "INFO",
        "step": None,
        "message": "a\u0000b",
        "duration_ms": None,
        "data": None,
    }
    path.write_text(json.dumps(line) + "\n{torn", encoding="utf-8")
    expire(env)
    second = queue.claim(W2)
    assert second is not None  # the claim went through the reclaim
    with env.db.session() as session:
        run = session.get(Run, first.run_id)
        assert run is not None and run.outcome == RunOutcome.ABANDONED
        stored = session.scalars(select(RunEvent).where(RunEvent.run_id == first.run_id)).one()
        assert stored.message == f"a{NUL_STAND_IN}b"


def test_an_outcome_the_database_keeps_refusing_makes_the_item_poison(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = env.queue()
    queue.submit("probe", "giftig", {}, submitted_by="t")
    worker = WorkerProcess(env.settings, queue.registry)
    monkeypatch.setattr(WorkerProcess, "FINISH_RETRY_DELAYS", (0, 0))

    def refuse(*_args: Any, **_kwargs: Any) -> str:
        raise DataError("INSERT ...", {}, ValueError("A string literal cannot contain NUL"))

    monkeypatch.setattr(worker.queue, "finish", refuse)
    assert worker.run(exit_when_idle=True) == 1  # the worker lives on
    item = only_item(env)
    assert item.status == ItemStatus.FAILED and item.error_kind == "poison"
    assert "kunne ikke lagres" in item.error_message and "NUL" in item.error_message


# 2. Paths in arkivering are contained to the inbox, checksums checked ----------------------


def _arkivering_ctx(env: Env) -> RunContext:
    claim = Claim(1, 1, "arkivering", "ref", {}, 1, "w")
    return RunContext(claim, env.settings, systems=("archive",))


@pytest.mark.parametrize(
    "name", ["../console-secret", "/etc/passwd", "..", ".", "a/b.pdf", "x\\..\\y", "a" * 256]
)
def test_arkivering_refuses_names_that_leave_the_inbox(sqlite_env: Env, name: str) -> None:
    queue = sqlite_env.queue()
    with pytest.raises(InvalidPayload, match="filnavn"):
        queue.submit("arkivering", "f1", {"filnavn": name, "sha256": "0" * 64}, submitted_by="t")


def test_arkivering_moves_nothing_through_a_symlink_or_on_a_wrong_checksum(
    sqlite_env: Env,
) -> None:
    from tasks.arkivering import FileInput, arkivering, inbox

    env = sqlite_env
    ctx = _arkivering_ctx(env)
    folder = inbox(ctx.settings)
    folder.mkdir(parents=True, exist_ok=True)
    secret = env.data_dir / "console-secret"
    secret.write_text("hemmelig")
    (folder / "lenke.pdf").symlink_to(secret)
    with pytest.raises(BusinessError, match="ut av innboksen"):
        arkivering(ctx, FileInput(filnavn="lenke.pdf", sha256="0" * 64))
    assert secret.read_text() == "hemmelig" and (folder / "lenke.pdf").is_symlink()

    document = folder / "2026-1__Brev__I__2026-01-05.pdf"
    document.write_bytes(b"%PDF-1.4 B sitt dokument")
    with pytest.raises(BusinessError, match="ikke sjekksummen"):
        arkivering(ctx, FileInput(filnavn=document.name, sha256="a" * 64))
    assert document.exists() and not (folder / "rejected").exists()


# 3. Uploads never replace each other ---------------------------------------------------------


def test_uploads_with_the_same_name_are_stored_apart(sqlite_env: Env) -> None:
    from tasks.arkivering import store_upload as _store_upload

    settings = sqlite_env.settings
    a = _store_upload(settings, "Legeerklæring.pdf", b"%PDF A sitt innhold")
    b = _store_upload(settings, "Legeerklæring.pdf", b"%PDF B sitt innhold")
    assert a["filnavn"] != b["filnavn"]
    inbox = settings.data_path / "inbox"
    assert (inbox / a["filnavn"]).read_bytes() == b"%PDF A sitt innhold"
    assert (inbox / b["filnavn"]).read_bytes() == b"%PDF B sitt innhold"
    again = _store_upload(settings, "Legeerklæring.pdf", b"%PDF A sitt innhold")
    assert again == a  # the same file again: the same name, nothing overwritten
    for hostile in ("..", "../../x", "/etc/passwd", "", "."):
        stored = _store_upload(settings, hostile, b"data")
        path = (inbox / stored["filnavn"]).resolve()
        assert path.parent == inbox.resolve() and path.read_bytes() == b"data"


# 4. A late result is recorded, kept where it can be, and storing events is idempotent -------


def test_a_late_success_for_a_waiting_item_is_kept(env: Env) -> None:
    queue = env.queue()
    queue.submit("probe", "sen", {}, submitted_by="t")
    claim = queue.claim(W1)
    assert claim is not None
    expire(env)
    queue.claim(W2, tasks=["selftest"])  # a claim for another task runs the reclaim only
    assert only_item(env).status == ItemStatus.PENDING
    event = {
        "run_id": claim.run_id,
        "seq": 1,
        "ts": "2026-01-01T10:00:00+00:00",
        "level": "INFO",
        "step": None,
        "message": "ferdig",
        "duration_ms": None,
        "data": None,
    }
    status = queue.finish(claim, RunOutcome.DONE, result={"ok": True}, events=[event])
    assert status == ItemStatus.DONE
    # a retried finish (the first answer was lost on the wire) stores nothing twice
    queue.finish(claim, RunOutcome.DONE, result={"ok": True}, events=[event])
    item = only_item(env)
    assert item.status == ItemStatus.DONE and item.result == {"ok": True}
    with env.db.session() as session:
        assert len(session.scalars(select(RunEvent)).all()) == 1
        assert session.get(Run, claim.run_id).outcome == RunOutcome.DONE  # type: ignore[union-attr]


def test_heartbeat_must_be_well_below_the_lease() -> None:
    with pytest.raises(SettingsError, match="heartbeat_seconds"):
        load_settings(lease_seconds=5, heartbeat_seconds=30)
    with pytest.raises(SettingsError, match="at most a third"):
        load_settings(lease_seconds=30, heartbeat_seconds=11)
    assert load_settings(lease_seconds=30, heartbeat_seconds=10).heartbeat_seconds == 10


# 5. The audit chain is anchored outside the database -----------------------------------------


def _audited(env: Env, count: int) -> list[int]:
    for i in range(count):
        with env.db.session() as session:
            audit.record(session, "t", "submit", f"item:{i}", {"n": i})
    with env.db.session() as session:
        return list(session.scalars(select(AuditEvent.id).order_by(AuditEvent.id)))


def _verify(env: Env) -> audit.Verification:
    with env.db.session() as session:
        return audit.verify(session)


def test_incremental_verification_checkpoints_by_cadence_and_distrusts_a_forged_log(
    sqlite_env: Env,
) -> None:
    from robots.anchor import Anchor, VerifiedLog

    env = sqlite_env
    with env.db.session() as session:
        for i in range(5):
            audit.record(session, "t", "view", f"run:{i}")

    def incremental() -> audit.Verification:
        with env.db.session() as session:
            return audit.verify(session, full=False)

    anchor = Anchor.for_settings(env.settings)
    log, path = VerifiedLog(anchor), anchor.store.verified_path  # type: ignore[attr-defined]
    first = incremental()  # no checkpoint yet: a walk from the first event, then one
    assert first.intact and first.since is None and log.last() is not None
    with env.db.session() as session:
        for i in range(audit.CHECKPOINT_EVERY - 1):
            audit.record(session, "t", "view", f"run:{i}")
    lines = path.read_text().count("\n")
    second = incremental()
    assert second.intact and second.since is not None
    assert second.checked == first.checked + audit.CHECKPOINT_EVERY - 1
    assert path.read_text().count("\n") == lines  # not yet due
    with env.db.session() as session:
        audit.record(session, "t", "view", "run:x")
    assert incremental().intact and path.read_text().count("\n") == lines + 1
    # A checkpoint line altered (say, to skip a rewritten stretch) is not trusted, and the
    # verification fails rather than forget what was verified before.
    text = path.read_text().replace('"checked": ', '"checked": 1', 1)
    path.write_text(text)
    assert log.last() is None
    result = incremental()
    assert not result.intact and "kontrollogg er endret" in result.reason


def test_cutting_the_newest_audit_rows_is_detected(env: Env) -> None:
    ids = _audited(env, 8)
    assert _verify(env).intact
    with env.db.session() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.id >= ids[-5]))
    result = _verify(env)
    assert not result.intact and result.first_broken_id == ids[-5]
    assert "5 signerte hendelser mangler" in result.reason


def test_rewriting_a_row_and_recomputing_every_hash_is_detected(env: Env) -> None:
    ids = _audited(env, 6)
    with env.db.session() as session:  # the attack: edit row 3, then re-chain from there
        rows = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        prev = rows[1].hash
        for row in rows[2:]:
            if row.id == ids[2]:
                row.target = "item:999"
            row.prev_hash = prev
            row.hash = audit._digest(prev, row.ts, row.actor, row.action, row.target, row.details)
            prev = row.hash
    result = _verify(env)
    assert not result.intact and result.first_broken_id == ids[2]
    assert "skrevet om" in result.reason


def test_a_forged_checkpoint_or_an_unsigned_row_is_detected(env: Env) -> None:
    _audited(env, 3)
    anchor = Anchor.for_settings(env.settings)
    with anchor.store.path.open("a") as handle:  # type: ignore[attr-defined]
        forged = {"id": 99, "hash": "f" * 64, "state": "c", "mac": "0" * 64}
        handle.write(json.dumps(forged) + "\n")
    assert "ugyldige linjer" in _verify(env).reason
    anchor.store.path.write_text("")  # type: ignore[attr-defined]  # emptied: all unsigned
    result = _verify(env)
    assert not result.intact and "ikke noe signert kontrollpunkt" in result.reason


def test_anchoring_starts_on_an_existing_chain_from_its_head(env: Env) -> None:
    """An installation upgraded to anchoring: rows from before are covered by the hash links
    up to the first signed head, and the verification says where signing began."""
    ids = _audited(env, 3)
    anchor = Anchor.for_settings(env.settings)
    anchor.store.path.unlink()  # type: ignore[attr-defined]  # as before anchoring: no
    anchor.store.verified_path.unlink()  # type: ignore[attr-defined]  # anchor, no verification
    env.db.dispose()
    env.db = Database(env.url, env.settings)  # the upgraded program, started afresh
    more = _audited(env, 2)[3:]
    result = _verify(env)
    assert result.intact and result.anchored_from == ids[-1] and result.checked == 5
    with env.db.session() as session:  # cutting the new rows is still seen
        session.execute(delete(AuditEvent).where(AuditEvent.id == more[-1]))
    assert not _verify(env).intact


def test_rollbacks_and_a_crash_between_commit_and_confirmation_still_verify(env: Env) -> None:
    _audited(env, 2)
    with pytest.raises(RuntimeError), env.db.session() as session:
        audit.record(session, "t", "submit", "item:x")
        raise RuntimeError("rollback")
    assert _verify(env).intact
    # A crash after the commit, before the confirmation: the row is signed (before commit).
    listener = audit._confirm_after_commit
    from sqlalchemy import event as orm_event
    from sqlalchemy.orm import Session

    orm_event.remove(Session, "after_commit", listener)
    try:
        with env.db.session() as session:
            audit.record(session, "t", "submit", "item:krasj")
    finally:
        orm_event.listen(Session, "after_commit", listener)
    assert _verify(env).intact
    _audited(env, 1)
    assert _verify(env).intact


# 6. Archive reads are retried inside the step; side effects are said ------------------------


def archive_stub(descriptions: Any, on_login: Any = None) -> FastAPI:
    """A Noark 5 API root with Basic login and one arkivstruktur relation,
    dokumentbeskrivelse, answered by `descriptions` (hrefs relative to the server, resolved
    by the client); `on_login` is called on every login."""
    app = FastAPI()
    rel = "https://rel.arkivverket.no/noark5/v5/api/"

    @app.get("/api")
    def root() -> Any:
        return {
            "_links": {
                f"{rel}login/rfc7617/": {"href": "/api/login"},
                f"{rel}arkivstruktur/": {"href": "/api/a"},
            }
        }

    @app.get("/api/login")
    def login() -> Any:
        if on_login is not None:
            on_login()
        return {}

    @app.get("/api/a")
    def structure() -> Any:
        return {
            "_links": {f"{rel}arkivstruktur/dokumentbeskrivelse/": {"href": "/api/d{?$filter}"}}
        }

    app.get("/api/d")(descriptions)
    return app


def test_archive_api_reads_are_retried_on_5xx() -> None:
    from fastapi.responses import JSONResponse

    from tasks.noark import ArchiveApi
    from tasks.noark5 import Noark5Client

    calls: list[int] = []

    def descriptions() -> Any:
        calls.append(1)
        if len(calls) <= 2:
            return JSONResponse({"feil": "intern"}, status_code=500)
        return {"count": 0, "_links": {}}

    server = ServerThread(archive_stub(descriptions)).start()
    try:
        api = object.__new__(ArchiveApi)
        api.client = Noark5Client(f"{server.url}/api", "robot", "passord", retry_delays=(0, 0, 0))
        assert api.record_by_reference("x") is None and len(calls) == 3
        calls.clear()
        api.client.retry_delays = (0,)
        from robots.runtime import SystemFault

        with pytest.raises(SystemFault, match="HTTP 500"):
            api.record_by_reference("x")
    finally:
        server.stop()


def test_the_archive_client_is_kept_per_thread_and_dropped_after_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Like the browser's logins, the API client (its connection, login and discovered
    relations) serves a thread's next item; after an archive error the next item starts over,
    and with reuse_logins off every item makes its own."""
    import threading
    from types import SimpleNamespace

    from fastapi.responses import JSONResponse

    from robots.runtime import SystemFault
    from tasks.noark import ArchiveApi

    logins: list[int] = []
    failing: list[bool] = []

    def descriptions() -> Any:
        if failing:
            return JSONResponse({"feil": "intern"}, status_code=400)
        return {"count": 0, "_links": {}}

    monkeypatch.setenv("RPA_CRED_ARCHIVE_USERNAME", "robot")
    monkeypatch.setenv("RPA_CRED_ARCHIVE_PASSWORD", "arkiv-hemmelig-7731")
    server = ServerThread(archive_stub(descriptions, lambda: logins.append(1))).start()
    session = SimpleNamespace(base_url=server.url)
    kept = SimpleNamespace(settings=load_settings().model_copy(update={"reuse_logins": True}))

    def item(ctx: Any = kept) -> Any:
        api = ArchiveApi(ctx, session)  # type: ignore[arg-type]
        try:
            assert api.record_by_reference("x") is None
            return api.client
        finally:
            api.close()

    try:
        first = item()
        assert item() is first and len(logins) == 1  # one login for both items
        elsewhere: list[Any] = []
        thread = threading.Thread(target=lambda: elsewhere.append(item()))
        thread.start()
        thread.join()
        assert elsewhere[0] is not first and len(logins) == 2  # a slot thread has its own

        failing.append(True)
        with pytest.raises(SystemFault, match="HTTP 400"):
            item()
        failing.clear()
        again = item()
        assert again is not first and len(logins) == 3  # started over after the error

        fresh = SimpleNamespace(settings=kept.settings.model_copy(update={"reuse_logins": False}))
        assert item(fresh) is not again and item(fresh) is not again and len(logins) == 5
        assert item() is again
    finally:
        server.stop()


def test_a_failed_item_says_what_it_had_already_done(env: Env) -> None:
    env.settings.default_max_attempts = 1
    queue = env.queue()
    queue.submit(
        "probe",
        "halvveis",
        {"side_effect": "arkivert som journalpost 2026/7-1", "fail": "system"},
        submitted_by="t",
    )
    WorkerProcess(env.settings, queue.registry).run(exit_when_idle=True)
    item = only_item(env)
    assert item.status == ItemStatus.FAILED
    assert "allerede utført: arkivert som journalpost 2026/7-1" in item.error_message
    # the failure came after the step "Sov": the error says it was outside a named step
    assert item.error_message.startswith("Systemfeil utenfor et navngitt steg: TimeoutError")
    assert item.result == {"utført": ["arkivert som journalpost 2026/7-1"]}


# 7. Database errors do not kill a worker; crash loops are stopped ----------------------------


def test_a_worker_survives_database_errors_while_claiming(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    queue = env.queue()
    queue.submit("probe", "etter-feil", {}, submitted_by="t")
    worker = WorkerProcess(env.settings, queue.registry)
    real_claim = worker.queue.claim
    failures = iter(range(3))

    def flaky(*args: Any, **kwargs: Any) -> Any:
        if next(failures, None) is not None:
            raise OperationalError("SELECT", {}, ConnectionError("server closed the connection"))
        return real_claim(*args, **kwargs)

    monkeypatch.setattr(worker.queue, "claim", flaky)
    monkeypatch.setattr("robots.worker.DatabaseBackoff.next", lambda self: 0.01)
    assert worker.run(max_items=1) == 1
    assert only_item(env).status == ItemStatus.DONE


class _CrashingSupervisor(Supervisor):
    """Real processes that exit at once, as a worker does whose start-up always fails."""

    spawned = 0

    def _spawn(self) -> mp.process.BaseProcess:
        self.spawned += 1
        proc = self._ctx.Process(target=sys.exit, args=(3,))
        proc.start()
        return proc


def test_supervisor_pauses_a_crash_loop_alerts_and_resumes_when_acknowledged(env: Env) -> None:
    import threading

    from robots.models import Alert

    settings = env.settings.model_copy(
        update={
            "worker_restart_limit": 2,
            "worker_restart_window_seconds": 120,
            "worker_crash_pause_seconds": 600,  # only the acknowledgement can end it here
        }
    )
    supervisor = _CrashingSupervisor(1, settings)
    supervisor.start()
    watcher = threading.Thread(target=supervisor.watch, daemon=True)
    watcher.start()
    try:
        wait_for(lambda: supervisor.paused_until is not None, timeout=60, message="a pause")
        reason = supervisor.crash_loop
        assert reason is not None
        assert "krasjet 3 ganger" in reason and "kode 3" in reason
        with env.db.session() as session:
            alert = session.scalars(select(Alert)).one()
            assert (alert.rule, alert.status, alert.severity) == (
                "arbeidere_krasjer",
                "open",
                "critical",
            )
            assert alert.message == reason
            alert.status = "acknowledged"  # what the console's button does
        spawned = supervisor.spawned
        wait_for(lambda: supervisor.spawned > spawned, timeout=30, message="workers resumed")
    finally:
        supervisor.stop()
        watcher.join(timeout=10)
    assert not watcher.is_alive()


# 8. A scheduler leader checks its lock before firing ------------------------------------------


def test_leader_that_lost_its_connection_does_not_fire(pg_env: Env) -> None:
    from robots.models import Schedule
    from robots.scheduler import PostgresLeaderLock, Scheduler, fire_reference

    env = pg_env
    registry = env.queue().registry
    scheduler = Scheduler(env.db, env.settings, registry)
    with env.db.session() as session:
        session.add(Schedule(name="natt", task="probe", trigger="interval", spec="60", payload={}))
    lock = PostgresLeaderLock(env.db)
    assert lock.acquire()
    scheduler._lock = lock
    scheduler.fire("natt", utcnow())
    with env.db.session() as session:
        assert len(session.scalars(select(WorkItem)).all()) == 1
    assert lock.conn is not None
    pid = lock.conn.execute(text("SELECT pg_backend_pid()")).scalar()
    lock.conn.commit()
    with env.db.engine.connect() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
    later = utcnow() + timedelta(minutes=1)
    scheduler.fire("natt", later)
    assert scheduler.lost_lead.is_set()
    with env.db.session() as session:
        references = session.scalars(select(WorkItem.reference)).all()
    assert fire_reference("natt", later) not in references and len(references) == 1


# 10. Bad input that slipped through -----------------------------------------------------------


def test_priority_is_bounded(env: Env) -> None:
    queue = env.queue()
    for priority in (99999999999, 101, -101):
        with pytest.raises(ValueError, match="Prioriteten"):
            queue.submit("probe", f"p{priority}", {}, submitted_by="t", priority=priority)


def test_settings_refuse_wrong_urls_and_days(monkeypatch: pytest.MonkeyPatch) -> None:
    from robots.settings import unknown_environment

    with pytest.raises(SettingsError, match="not a database URL"):
        load_settings(database_url="notaurl")
    with pytest.raises(SettingsError, match="'mysql' is not supported"):
        load_settings(database_url="mysql://root:hemmelig@127.0.0.1/x")
    with pytest.raises(SettingsError) as refused:
        load_settings(database_url="mysql://root:hemmelig@127.0.0.1/x")
    assert "hemmelig" not in str(refused.value)
    with pytest.raises(SettingsError, match="not a day of the year"):
        load_settings(closed_days=["13-45"])
    monkeypatch.setenv("RPA_LEASE_SECOND", "30")
    assert unknown_environment() == [
        "RPA_LEASE_SECOND: ukjent innstilling; mente du RPA_LEASE_SECONDS? "
        "(se `python runner.py config show`)"
    ]


def test_invalid_css_in_a_selector_file_is_refused(tmp_path: Path) -> None:
    from robots.locators import SelectorFileError, check_css

    for bad in ("#id[", "div((", "a >> ", "..x"):
        with pytest.raises(ValueError):
            check_css(bad)
    for good in ('button:has-text("Lagre")', "text=Lagre", "#liste tr >> nth=0", "a[href='/x']"):
        check_css(good)
    from robots.locators import parse_system

    broken = (
        "system: x\nbase_url: http://127.0.0.1\npages:\n  side:\n    felt:\n      - {css: '#id['}\n"
    )
    names_it = r"(?s)x.yaml.*pages.side.felt.*invalid CSS selector '#id\['"
    with pytest.raises(SelectorFileError, match=names_it):
        parse_system(broken, "x.yaml")


def test_employee_id_and_file_names_are_bounded(sqlite_env: Env) -> None:
    queue = sqlite_env.queue()
    with pytest.raises(InvalidPayload, match="employee_id"):
        queue.submit("onboarding", "e1", {"employee_id": 10**23}, submitted_by="t")
    with pytest.raises(InvalidPayload, match="filnavn"):
        queue.submit(
            "arkivering", "f", {"filnavn": "a" * 10_000_000, "sha256": "0" * 64}, submitted_by="t"
        )


# 11. Dead workers are marked dead ---------------------------------------------------------------


def test_a_worker_without_heartbeat_is_marked_dead(env: Env) -> None:
    with env.db.session() as session:
        session.add(
            Worker(
                id="borte",
                host="h",
                pid=1,
                status="busy",
                heartbeat_at=utcnow() - timedelta(minutes=5),
            )
        )
        session.add(Worker(id="levende", host="h", pid=2, status="idle", heartbeat_at=utcnow()))
    env.queue().claim(W1)
    with env.db.session() as session:
        states = dict(session.execute(select(Worker.id, Worker.status)).all())
    assert states == {"borte": "dead", "levende": "idle"}


# Console: bad input gives a clear 4xx, never a bare 500 ------------------------------------------


def test_console_answers_bad_input_with_4xx(sqlite_env: Env) -> None:
    from robots.console.app import create_app
    from robots.console.auth import add_user, new_token

    env = sqlite_env
    with env.db.session() as session:
        token = new_token(
            session, add_user(session, "ops", "riktig-passord-1", "admin", "t"), "t", "t"
        )
    server = ServerThread(create_app(env.settings, env.db)).start()
    try:
        client = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"})
        assert client.get("/api/items", params={"limit": -1}).status_code == 422
        assert client.get("/kjoringer/999999/rapport").status_code == 404
        nul = client.post(
            "/api/items", json={"task": "probe", "reference": "a\u0000b", "payload": {}}
        )
        assert nul.status_code == 422 and "reference: inneholder tegn" in nul.text
        big = client.post(
            "/api/items", json={"task": "probe", "reference": "x", "priority": 10**12}
        )
        assert big.status_code == 422
        with env.db.session() as session:
            assert session.scalars(select(WorkItem)).all() == []
    finally:
        server.stop()


def test_until_idle_waits_for_a_retry_and_uses_every_process(sqlite_env: Env) -> None:
    """`worker --until-idle` used to exit while an item waited for its backoff, and ignored
    --processes (issue 10)."""
    env = sqlite_env
    queue = env.queue()
    for i in range(6):
        queue.submit("probe", f"idle-{i}", {"sleep_s": 0.2}, submitted_by="t")
    queue.submit("probe", "feiler", {"fail": "system"}, submitted_by="t")
    result = env.runner(
        "worker",
        "--until-idle",
        "--processes",
        "2",
        extra_env={"RPA_BACKOFF_BASE_SECONDS": "1"},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    with env.db.session() as session:
        items = session.scalars(select(WorkItem)).all()
        pids = {r.pid for r in session.scalars(select(Run))}
    assert {i.status for i in items if i.reference != "feiler"} == {ItemStatus.DONE}
    failed = next(i for i in items if i.reference == "feiler")
    # the probe task allows 3 attempts: the worker waited for both retries (backoff 1 s, 2 s)
    assert failed.status == ItemStatus.FAILED and failed.attempts == 3
    assert len(pids) == 2


def test_a_step_that_fails_differently_on_retry_keeps_both_causes(sqlite_env: Env) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    from robots.runtime import SystemFault, run_step

    env = sqlite_env
    queue = env.queue()
    queue.submit("probe", "to-feil", {}, submitted_by="t")
    claim = queue.claim(W1)
    assert claim is not None
    ctx = RunContext(claim, env.settings)
    failures = iter([SystemFault("hr: HTTP 500 fra /ansatte/7"), PlaywrightTimeout("venter")])

    def action() -> None:
        raise next(failures)

    with pytest.raises(PlaywrightTimeout) as caught:
        run_step(ctx, "Les ansatt", action, retries=1, delay_seconds=0)
    assert caught.value._rpa_first_cause == "SystemFault: hr: HTTP 500 fra /ansatte/7"  # type: ignore[attr-defined]
    assert caught.value._rpa_step == "Les ansatt (forsøk 2)"  # type: ignore[attr-defined]


def test_the_robot_api_reference_is_up_to_date() -> None:
    """docs/robot-api.md is generated from the docstrings (python -m robots.apidoc)."""
    from robots.apidoc import main

    assert main(["--check"]) == 0
