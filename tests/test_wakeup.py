"""Idle workers on PostgreSQL are woken by NOTIFY, not by their next poll (robots.wakeup)."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from robots.models import ItemStatus, Run, WorkItem
from robots.settings import Settings
from robots.wakeup import Idle
from robots.worker import WorkerProcess
from tests.conftest import Env, wait_for

LONG_POLL = 30.0  # no poll can come before 22.5 s (jitter 0.75-1.25): a start earlier is a NOTIFY


def slow_polling(env: Env, **extra: object) -> Settings:
    return env.settings.model_copy(
        update={"poll_seconds": LONG_POLL, "wake_poll_seconds": LONG_POLL, **extra}
    )


def started_after_submit(env: Env, settings: Settings, reference: str) -> float:
    """Seconds from submit to the run's start, with an idle worker waiting in a thread."""
    worker = WorkerProcess(settings, env.queue().registry)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        # Listening is enough: a NOTIFY that comes before the wait is read when it starts.
        wait_for(lambda: worker.idle.listening, timeout=20, message="the worker listening")
        env.queue().submit("selftest", reference, {}, submitted_by="t")
        with env.db.session() as session:
            created = session.scalars(select(WorkItem.created_at)).one()
        wait_for(lambda: worker.processed == 1, timeout=15, message="the item run")
        with env.db.session() as session:
            run = session.scalars(select(Run)).one()
        return (run.started_at - created).total_seconds()
    finally:
        worker.stop()
        thread.join(timeout=10)
        assert not thread.is_alive(), "stop() must end an idle wait at once"


def test_a_submitted_item_wakes_an_idle_worker_at_once(pg_env: Env) -> None:
    delay = started_after_submit(pg_env, slow_polling(pg_env), "vekk")
    assert delay < 10, f"started {delay:.2f} s after submit: that was a poll, not a NOTIFY"


def test_a_retried_item_wakes_an_idle_worker(pg_env: Env) -> None:
    queue = pg_env.queue()
    queue.submit("selftest", "igjen", {"fail": "business"}, submitted_by="t")
    WorkerProcess(pg_env.settings, queue.registry).run(exit_when_idle=True)
    worker = WorkerProcess(slow_polling(pg_env), queue.registry)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: worker.idle.listening, timeout=20, message="the worker listening")
        queue.retry("igjen", "t")
        wait_for(lambda: worker.processed == 1, timeout=15, message="the retried item run")
    finally:
        worker.stop()
        thread.join(timeout=10)
    with pg_env.db.session() as session:
        assert session.scalars(select(WorkItem.status)).one() == ItemStatus.BUSINESS_ERROR
        assert len(session.scalars(select(Run)).all()) == 2


def test_without_listen_the_worker_polls(pg_env: Env) -> None:
    """`listen = false` (PgBouncer in transaction mode): no listener; the poll finds the item."""
    settings = pg_env.settings.model_copy(update={"listen": False, "poll_seconds": 0.05})
    idle = Idle(settings, pg_env.url, threading.Event())
    assert idle.wait() is False
    assert not idle.listening


def test_a_broken_listen_address_falls_back_to_polling(pg_env: Env) -> None:
    settings = pg_env.settings.model_copy(
        update={"listen_url": "postgresql://nobody@127.0.0.1:1/none", "poll_seconds": 0.05}
    )
    idle = Idle(settings, pg_env.url, threading.Event())
    started = time.monotonic()
    assert idle.wait() is False  # logged, then a poll-length wait
    assert not idle.listening
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("listen", [True, False])
def test_wake_ends_an_idle_wait(pg_env: Env, listen: bool) -> None:
    settings = slow_polling(pg_env, listen=listen)
    idle = Idle(settings, pg_env.url, threading.Event())
    threading.Timer(0.2, idle.wake).start()
    started = time.monotonic()
    idle.wait()
    assert time.monotonic() - started < 10
    idle.close()


def test_sqlite_workers_poll(sqlite_env: Env) -> None:
    idle = Idle(sqlite_env.settings, sqlite_env.url, threading.Event())
    idle.wait()
    assert not idle.listening
