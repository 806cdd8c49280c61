"""How an idle worker waits for the next item: woken by PostgreSQL, or polling.

On PostgreSQL a trigger on `work_item` (migration 0007) sends `NOTIFY rpa_work` whenever an
item becomes pending: submitted, retried, released, resumed by an answer. An idle worker
LISTENs on its own autocommit connection and claims as soon as one arrives, so a submitted item
starts within milliseconds instead of after a poll. Polling stays as the fallback: items that
become due by time alone (a retry's back-off, `not_before`) are found by the next poll
(`wake_poll_seconds` while listening, `poll_seconds` without), and a listener whose connection
breaks falls back to `poll_seconds` until it reconnects.

LISTEN needs a session of its own: behind PgBouncer in transaction mode, point `listen_url` at
the database directly, or set `listen = false` (the claim itself is PgBouncer-safe: its
advisory locks are transaction-scoped).
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
from typing import Any

from loguru import logger
from sqlalchemy.engine import make_url

from robots.settings import Settings

CHANNEL = "rpa_work"
RECONNECT_SECONDS = 5.0


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL as one libpq accepts (no `+driver`)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class Idle:
    """Where a worker waits between claims; `wake()` (safe from a signal handler) ends a wait.

    `wait` returns True when it was woken by a notification (work may be there now)."""

    def __init__(self, settings: Settings, database_url: str, stopping: threading.Event) -> None:
        self.settings = settings
        self.stopping = stopping
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        url = make_url(settings.listen_url or database_url)
        self._listen_url = (
            libpq_url(url.render_as_string(hide_password=False))
            if settings.listen and url.get_backend_name() == "postgresql"
            else None
        )
        self._conn: Any = None
        self._retry_at = 0.0

    @property
    def listening(self) -> bool:
        return self._conn is not None

    def wake(self) -> None:
        with contextlib.suppress(OSError):  # the pipe is full: a wake-up is pending anyway
            os.write(self._write, b"x")

    def wait(self, *, soon: bool = False) -> bool:
        """Wait for a notification, a wake(), or the poll interval; `soon`: the last claim
        skipped work that another claim was busy with, so wait only `poll_seconds`."""
        self._connect()
        listening = self.listening and not soon
        timeout = self.settings.wake_poll_seconds if listening else self.settings.poll_seconds
        timeout *= random_factor()
        if self.stopping.is_set():
            return False
        listener = None
        if self._conn is not None:
            try:
                listener = self._conn.fileno()
            except Exception as exc:  # noqa: BLE001 - closed under us: poll instead
                self._lost(exc)
        fds = [self._read] + ([listener] if listener is not None else [])
        readable, _, _ = select.select(fds, [], [], timeout)
        if self._read in readable:
            os.read(self._read, 4096)
        if listener is not None and listener in readable:
            return self._drain()
        return False

    def _drain(self) -> bool:
        """Consume every notification that has arrived; True if there was one."""
        try:
            got = False
            for _ in self._conn.notifies(timeout=0):
                got = True
            return got
        except Exception as exc:  # noqa: BLE001 - a broken listener falls back to polling
            self._lost(exc)
            return False

    def _connect(self) -> None:
        if self._listen_url is None or self._conn is not None:
            return
        if time.monotonic() < self._retry_at:
            return
        try:
            import psycopg

            conn = psycopg.connect(self._listen_url, autocommit=True, connect_timeout=5)
            conn.execute(f"LISTEN {CHANNEL}")
            self._conn = conn
        except Exception as exc:  # noqa: BLE001
            self._lost(exc)

    def _lost(self, exc: BaseException) -> None:
        from robots.worker import one_line

        logger.warning(
            f"Venter på nye elementer ved å spørre databasen jevnlig; LISTEN-forbindelsen "
            f"virker ikke ({one_line(exc)})"
        )
        self.close_listener()
        self._retry_at = time.monotonic() + RECONNECT_SECONDS

    def close_listener(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):  # closing a broken connection
                self._conn.close()
            self._conn = None

    def close(self) -> None:
        """Close the listener; the object stays usable (a later wait reconnects)."""
        self.close_listener()
        self._retry_at = 0.0

    def __del__(self) -> None:
        for fd in (self._read, self._write):
            with contextlib.suppress(OSError):
                os.close(fd)


def random_factor() -> float:
    """Spread idle polls so workers do not wake in lockstep."""
    import random

    return random.uniform(0.75, 1.25)
