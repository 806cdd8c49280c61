"""Queue semantics on a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from robots import audit
from robots.models import AuditEvent, ItemStatus, Run, RunOutcome, WorkItem, utcnow
from robots.queue import InvalidTransition, WorkerIdentity
from robots.tasks import InvalidPayload, UnknownTask
from robots.worker import WorkerProcess
from tests.conftest import Env

W1 = WorkerIdentity("test:1", "test", 1)
W2 = WorkerIdentity("test:2", "test", 2)


def count_items(env: Env) -> int:
    with env.db.session() as session:
        return session.scalar(select(func.count()).select_from(WorkItem))


def test_duplicate_reference_returns_existing_item(env: Env) -> None:
    queue = env.queue()
    first = queue.submit("probe", "ref-1", {"sleep_s": 0}, submitted_by="t")
    again = queue.submit("probe", "ref-1", {"sleep_s": 5}, submitted_by="t")
    assert first.created and not again.created
    assert again.item.id == first.item.id
    assert again.item.payload == {
        "sleep_s": 0,
        "fail": "none",
        "secret_note": "",
        "note": "",
        "side_effect": "",
        "helper_s": 0.0,
    }
    assert count_items(env) == 1
    # the same reference under another task is another item
    assert queue.submit("selftest", "ref-1", {}, submitted_by="t").created


def test_invalid_payload_and_unknown_task_store_nothing(env: Env) -> None:
    queue = env.queue()
    with pytest.raises(InvalidPayload) as caught:
        queue.submit("probe", "bad", {"sleep_s": "lenge", "extra": 1}, submitted_by="t")
    fields = dict(caught.value.errors)
    assert fields == {"sleep_s": "må være et tall", "extra": "ukjent felt"}
    assert "sleep_s: må være et tall" in str(caught.value)
    with pytest.raises(UnknownTask, match="Kjente oppgaver: .*probe"):
        queue.submit("nope", "x", {}, submitted_by="t")
    assert count_items(env) == 0
    with env.db.session() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_claim_order_priority_then_age_and_not_before(env: Env) -> None:
    queue = env.queue()
    queue.submit("probe", "low", {}, submitted_by="t")
    queue.submit("probe", "high", {}, submitted_by="t", priority=5)
    queue.submit(
        "probe", "later", {}, submitted_by="t", priority=9, not_before=utcnow() + timedelta(hours=1)
    )
    queue.submit("probe", "low2", {}, submitted_by="t")
    order = []
    while (claim := queue.claim(W1)) is not None:
        order.append(claim.reference)
        queue.finish(claim, RunOutcome.DONE)
    assert order == ["high", "low", "low2"]


def test_system_error_retries_with_backoff_then_fails(env: Env) -> None:
    env.settings.backoff_base_seconds = 0
    queue = env.queue()
    queue.submit("probe", "flaky", {}, submitted_by="t")
    for attempt in (1, 2, 3):
        claim = queue.claim(W1)
        assert claim is not None and claim.attempt == attempt
        status = queue.finish(claim, RunOutcome.SYSTEM_ERROR, error="TimeoutError: 30 s")
    assert status == ItemStatus.FAILED
    assert queue.claim(W1) is None


def test_backoff_grows_and_has_jitter(env: Env) -> None:
    env.settings.backoff_base_seconds = 10
    env.settings.backoff_max_seconds = 60
    queue = env.queue()
    delays = [queue.backoff(n) for n in (1, 2, 3, 4, 5) for _ in range(20)]
    first, third, capped = delays[:20], delays[40:60], delays[80:]
    assert all(5 <= d <= 10 for d in first) and len(set(first)) > 1
    assert all(20 <= d <= 40 for d in third)
    assert all(30 <= d <= 60 for d in capped)
    queue.submit("probe", "later", {}, submitted_by="t")
    claim = queue.claim(W1)
    assert queue.finish(claim, RunOutcome.SYSTEM_ERROR, error="x") == ItemStatus.PENDING
    assert queue.claim(W1) is None  # postponed by the backoff
    with env.db.session() as session:
        item = session.scalars(select(WorkItem)).one()
        assert timedelta(seconds=4) < item.not_before - utcnow() <= timedelta(seconds=10)


def test_business_error_is_not_retried(env: Env) -> None:
    queue = env.queue()
    queue.submit("probe", "biz", {"fail": "business"}, submitted_by="t")
    WorkerProcess(env.settings, queue.registry).run(exit_when_idle=True)
    with env.db.session() as session:
        item = session.scalars(select(WorkItem)).one()
        assert item.status == ItemStatus.BUSINESS_ERROR
        assert item.attempts == 1
        assert item.error_message == "Ansatt finnes ikke i HR-systemet"


def test_expired_lease_is_reclaimed_as_abandoned_then_poison(env: Env) -> None:
    env.settings.max_abandons = 2
    queue = env.queue()
    queue.submit("probe", "dies", {}, submitted_by="t")
    first = queue.claim(W1)
    assert first is not None
    assert queue.claim(W2) is None  # leased
    expire(env)
    second = queue.claim(W2)
    assert second is not None and second.item_id == first.item_id and second.attempt == 2
    # the first worker comes back late while W2 holds the item: recorded as lost, with what
    # it said, and not double-counted
    assert queue.finish(first, RunOutcome.DONE, result={"svar": 1}) == ItemStatus.RUNNING
    expire(env)
    assert queue.claim(W1) is None  # second abandon: poison
    with env.db.session() as session:
        item = session.scalars(select(WorkItem)).one()
        outcomes = [r.outcome for r in item.runs]
        lost_message = item.runs[0].error_message
        assert item.status == ItemStatus.FAILED and item.error_kind == "poison"
        assert "giftig" in item.error_message
    assert outcomes == [RunOutcome.LOST, RunOutcome.ABANDONED]
    assert "kom etter" in lost_message and '"svar": 1' in lost_message


def expire(env: Env) -> None:
    with env.db.session() as session:
        session.execute(
            update(WorkItem)
            .where(WorkItem.status == ItemStatus.RUNNING)
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )


def test_renew_extends_lease_and_reports_loss(env: Env) -> None:
    queue = env.queue()
    queue.submit("probe", "beat", {}, submitted_by="t")
    claim = queue.claim(W1)
    assert queue.renew(claim)
    queue.cancel(claim.item_id, "operatør")
    assert not queue.renew(claim)
    assert queue.finish(claim, RunOutcome.DONE) == ItemStatus.CANCELLED
    with env.db.session() as session:
        assert session.get(Run, claim.run_id).outcome == RunOutcome.LOST


def test_cancel_and_retry_are_audited(env: Env) -> None:
    queue = env.queue()
    item = queue.submit("probe", "c", {}, submitted_by="saksbehandler").item
    queue.cancel(item.id, "operatør")
    with pytest.raises(InvalidTransition):
        queue.cancel(item.id, "operatør")
    queue.retry("c", "operatør")
    assert queue.claim(W1) is not None
    with env.db.session() as session:
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
        assert actions == ["submit", "cancel", "retry"]
        assert audit.verify(session).intact


def test_audit_chain_detects_edit_and_delete(env: Env) -> None:
    queue = env.queue()
    for i in range(4):
        queue.submit("probe", f"a{i}", {}, submitted_by="t")
    with env.db.session() as session:
        ids = session.scalars(select(AuditEvent.id).order_by(AuditEvent.id)).all()
        session.execute(update(AuditEvent).where(AuditEvent.id == ids[1]).values(actor="mallory"))
    with env.db.session() as session:
        result = audit.verify(session)
        assert not result.intact and result.first_broken_id == ids[1]
        session.execute(update(AuditEvent).where(AuditEvent.id == ids[1]).values(actor="t"))
        assert audit.verify(session).intact
        session.delete(session.get(AuditEvent, ids[2]))
    with env.db.session() as session:
        result = audit.verify(session)
        assert not result.intact and result.first_broken_id == ids[3]


def test_a_bulk_submit_keeps_one_audit_chain_with_other_writers(env: Env) -> None:
    """A bulk submit reads the chain's head once per transaction; rows appended by another
    session between its transactions, and inside a savepoint, keep the chain intact."""
    queue = env.queue()
    for batch in range(3):
        with env.db.session() as session:
            for i in range(20):
                queue.submit("probe", f"b{batch}-{i}", {}, submitted_by="t", session=session)
            with session.begin_nested():
                audit.record(session, "t", "test", f"savepoint-{batch}")
            queue.submit("probe", f"b{batch}-etter", {}, submitted_by="t", session=session)
        queue.submit("probe", f"enkelt-{batch}", {}, submitted_by="annen")
    with env.db.session() as session:
        result = audit.verify(session)
        assert result.intact, result
        count = session.scalar(select(func.count()).select_from(AuditEvent))
    assert count == 3 * 23


def test_system_limit_enforced_across_concurrent_claims(env: Env) -> None:
    env.settings.system_limits = {"archive": 2}
    queue = env.queue()
    for i in range(10):
        queue.submit("limited", f"l{i}", {}, submitted_by="t")
    claims: list[object] = []
    lock = threading.Lock()

    def grab(n: int) -> None:
        claim = queue.claim(WorkerIdentity(f"w{n}", "t", n))
        while claim is None and queue.contended:  # another claim held the system: again
            claim = queue.claim(WorkerIdentity(f"w{n}", "t", n))
        if claim is not None:
            with lock:
                claims.append(claim)

    threads = [threading.Thread(target=grab, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(claims) == 2
    queue.finish(claims[0], RunOutcome.DONE)
    assert queue.claim(W1) is not None
    assert queue.claim(W2) is None


def test_a_full_system_does_not_hold_back_the_items_behind_it(env: Env) -> None:
    """Items on a full system at the head of the queue must not starve the items behind them
    (the claim looked at the first 8 candidates only: bench/fleet.py found it)."""
    env.settings.system_limits = {"archive": 1}
    queue = env.queue()
    for i in range(12):
        queue.submit("limited", f"l{i}", {}, submitted_by="t")
    queue.submit("probe", "bak", {}, submitted_by="t")
    first = queue.claim(W1)
    assert first is not None and first.task == "limited"
    second = queue.claim(W2)
    assert second is not None and second.reference == "bak"
    assert queue.claim(W2) is None


def test_task_results_are_stored_as_json() -> None:
    from datetime import date
    from pathlib import Path

    from robots.worker import json_safe

    assert json_safe({"dato": date(2026, 1, 2), "fil": Path("/x/y.pdf")}) == {
        "dato": "2026-01-02",
        "fil": "/x/y.pdf",
    }
    assert json_safe(7) == {"value": 7} and json_safe(None) is None


def test_the_claim_index_is_in_claim_order(env: Env) -> None:
    """ix_work_item_claim must keep priority DESC (a batch migration on SQLite once dropped
    it, and every claim sorted all waiting items); on SQLite the claim names the index (a
    claim that could not use it would fail with "no query solution")."""
    from sqlalchemy import text

    with env.db.engine.connect() as conn:
        if env.backend == "sqlite":
            ddl = conn.execute(
                text("SELECT sql FROM sqlite_master WHERE name = 'ix_work_item_claim'")
            ).scalar_one()
        else:
            ddl = conn.execute(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_work_item_claim'")
            ).scalar_one()
    assert "priority DESC" in ddl
    queue = env.queue()
    queue.submit("probe", "lav", {}, submitted_by="t", priority=-5)
    queue.submit("probe", "høy", {}, submitted_by="t", priority=5)
    queue.submit("limited", "middels", {}, submitted_by="t")
    assert [c.reference for c in (queue.claim(W1), queue.claim(W1), queue.claim(W1))] == [
        "høy",
        "middels",
        "lav",
    ]
