"""Worker processes against a real database: exactly-once under load, kill -9, SIGTERM."""

from __future__ import annotations

import os
import signal
from collections import Counter

from sqlalchemy import func, select

from robots.models import ItemStatus, Run, RunEvent, RunOutcome, Worker, WorkItem
from tests.conftest import Env, wait_for


def statuses(env: Env) -> Counter[str]:
    with env.db.session() as session:
        return Counter(
            dict(
                session.execute(
                    select(WorkItem.status, func.count()).group_by(WorkItem.status)
                ).all()
            )
        )


def executions(env: Env) -> list[str]:
    path = env.data_dir / "executions.log"
    return path.read_text().split("\n")[:-1] if path.exists() else []


def test_four_processes_do_500_items_exactly_once(env: Env) -> None:
    queue = env.queue()
    with env.db.session() as session:
        for i in range(500):
            queue.submit("probe", f"n{i:03d}", {}, submitted_by="t", session=session)
    proc = env.start("worker", "--processes", "4", name="worker")
    wait_for(lambda: statuses(env)[ItemStatus.DONE] == 500, timeout=180, message="500 items done")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    refs = Counter(line.split()[0] for line in executions(env))
    assert len(refs) == 500 and set(refs.values()) == {1}, "an item ran twice or never"
    pids = {line.split()[2] for line in executions(env)}
    assert len(pids) == 4, "all four processes took work"
    with env.db.session() as session:
        outcomes = Counter(session.scalars(select(Run.outcome)).all())
        assert outcomes == {RunOutcome.DONE: 500}
        # each run logged its start, its step and its end
        per_run = session.execute(
            select(RunEvent.run_id, func.count()).group_by(RunEvent.run_id)
        ).all()
        assert len(per_run) == 500 and all(n >= 4 for _, n in per_run)
        assert set(session.scalars(select(Worker.status))) == {"stopped"}


def busy_worker_pid(env: Env, item_id: int) -> int | None:
    with env.db.session() as session:
        worker = session.scalars(
            select(Worker).where(Worker.current_item_id == item_id, Worker.status == "busy")
        ).first()
        return worker.pid if worker else None


def test_kill_9_mid_item_is_reclaimed_and_done(env: Env) -> None:
    item = env.queue().submit("probe", "killed", {"sleep_s": 2}, submitted_by="t").item
    env.start("worker", "--processes", "1", name="worker")
    pid = wait_for(lambda: busy_worker_pid(env, item.id), timeout=60, message="item running")
    os.kill(pid, signal.SIGKILL)
    # the supervisor starts a new process, which reclaims the item after the lease expires
    wait_for(lambda: statuses(env)[ItemStatus.DONE] == 1, timeout=60, message="item done")
    with env.db.session() as session:
        runs = session.scalars(select(Run).where(Run.item_id == item.id).order_by(Run.id)).all()
        assert [r.outcome for r in runs] == [RunOutcome.ABANDONED, RunOutcome.DONE]
        assert runs[0].pid == pid
        abandoned_events = session.scalars(
            select(RunEvent.message).where(RunEvent.run_id == runs[0].id)
        ).all()
        # the lines the killed worker wrote before dying were recovered from its JSONL file
        assert any("Start: Sov" in m for m in abandoned_events)
        assert session.get(WorkItem, item.id).abandons == 1


def test_sigterm_lets_the_current_item_finish(env: Env) -> None:
    item = env.queue().submit("probe", "graceful", {"sleep_s": 1.5}, submitted_by="t").item
    proc = env.start("worker", "--processes", "1", name="worker")
    wait_for(lambda: busy_worker_pid(env, item.id), timeout=60, message="item running")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert statuses(env) == {ItemStatus.DONE: 1}


def test_sigterm_past_grace_releases_the_item(env: Env) -> None:
    item = env.queue().submit("probe", "slow", {"sleep_s": 60}, submitted_by="t").item
    proc = env.start(
        "worker", "--processes", "1", name="worker", extra_env={"RPA_SHUTDOWN_GRACE_SECONDS": "0.5"}
    )
    wait_for(lambda: busy_worker_pid(env, item.id), timeout=60, message="item running")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    with env.db.session() as session:
        stored = session.get(WorkItem, item.id)
        assert stored.status == ItemStatus.PENDING and stored.lease_owner is None
        assert [r.outcome for r in stored.runs] == [RunOutcome.RELEASED]
    # released work is picked up again and not counted against the attempts
    env.queue().db.dispose()
    with env.db.session() as session:
        session.get(WorkItem, item.id).payload = {"sleep_s": 0}
    proc = env.start("worker", "--until-idle", name="worker2")
    assert proc.wait(timeout=60) == 0
    with env.db.session() as session:
        stored = session.get(WorkItem, item.id)
        assert stored.status == ItemStatus.DONE and stored.failures == 0


def running_runs(env: Env) -> int:
    with env.db.session() as session:
        return len(session.scalars(select(Run).where(Run.ended_at.is_(None))).all())


def test_slots_run_items_side_by_side_in_one_process(env: Env) -> None:
    """worker_concurrency: one process runs several items at once, each exactly once."""
    for i in range(6):
        env.queue().submit("probe", f"plass-{i}", {"sleep_s": 1.0}, submitted_by="t")
    proc = env.start(
        "worker", "--processes", "1", name="worker", extra_env={"RPA_WORKER_CONCURRENCY": "3"}
    )
    wait_for(lambda: statuses(env)[ItemStatus.DONE] == 6, timeout=90, message="6 items done")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    refs = Counter(line.split()[0] for line in executions(env))
    assert refs == {f"plass-{i}": 1 for i in range(6)}
    with env.db.session() as session:
        runs = session.scalars(select(Run)).all()
    assert len({r.worker_id for r in runs}) == 1  # one process
    overlapping = max(
        sum(1 for o in runs if o.started_at < r.ended_at and r.started_at < o.ended_at)
        for r in runs
    )
    assert overlapping >= 2, "the slots ran one item at a time"


def test_sigterm_past_grace_releases_the_item_of_every_slot(env: Env) -> None:
    for i in range(3):
        env.queue().submit("probe", f"lang-{i}", {"sleep_s": 4}, submitted_by="t")
    proc = env.start(
        "worker",
        "--processes",
        "1",
        name="worker",
        extra_env={"RPA_WORKER_CONCURRENCY": "3", "RPA_SHUTDOWN_GRACE_SECONDS": "0.5"},
    )
    wait_for(lambda: running_runs(env) == 3, timeout=60, message="3 items running")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    with env.db.session() as session:
        items = session.scalars(select(WorkItem)).all()
        assert {i.status for i in items} == {ItemStatus.PENDING}
        assert all(i.lease_owner is None and i.failures == 0 for i in items)
        assert [r.outcome for i in items for r in i.runs] == [RunOutcome.RELEASED] * 3
