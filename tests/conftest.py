"""Shared fixtures: a real SQLite file or a real, fresh PostgreSQL database per test.

PostgreSQL tests read the server URL from RPA_TEST_POSTGRES_URL (for example
postgresql://postgres@127.0.0.1:5432/test) and are skipped with that reason where it is unset.
"""

from __future__ import annotations

import atexit
import inspect
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Engine, make_url

from robots.db import Database, upgrade
from robots.queue import Queue
from robots.settings import Settings, load_settings, use_settings
from robots.tasks import discover

ROOT = Path(__file__).resolve().parent.parent
PG_ENV = "RPA_TEST_POSTGRES_URL"
TASK_PACKAGES = '["tasks", "tests.probe_tasks"]'

# Two tiers. The fast tier (`./run.sh test --fast`: `-m "not slow"`, RPA_TEST_TIER=fast) is the
# unit and in-process tests: no browser, no subprocess. A test is slow when it asks for a
# browser or the sandbox's robots, or its own code starts runner.py or a browser; a slow call
# hidden in a helper is caught at run time (the fast tier refuses to start a subprocess, and
# says which marker the test needs).
SLOW_FIXTURES = {"browser", "page", "sandbox"}
SLOW_CALLS = re.compile(r"\.runner\(|\.start\(|\bsettle\(|\brun_worker\(|subprocess\.|\blaunch\(")
FAST_TIER = os.environ.get("RPA_TEST_TIER") == "fast"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: a browser or a subprocess; not in the fast tier")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        function = getattr(item, "function", None)
        source = inspect.getsource(function) if function is not None else ""
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & SLOW_FIXTURES or SLOW_CALLS.search(source):
            item.add_marker(pytest.mark.slow)


def _not_in_fast_tier(what: str) -> None:
    if FAST_TIER:
        pytest.fail(f"{what} in the fast tier: mark the test @pytest.mark.slow")


def postgres_url() -> str | None:
    return os.environ.get(PG_ENV) or None


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql" and not postgres_url():
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (e.g. postgresql://postgres@127.0.0.1/test)")
    return request.param


_PG_TEMPLATE: list[str] = []


def _pg_template(admin: Engine, base: URL) -> str:
    """A database at the newest schema, made once per test session: each test's database is
    a copy of it (CREATE DATABASE ... TEMPLATE), as migrating per test cost most of the time."""
    if not _PG_TEMPLATE:
        name = f"rpa_tmpl_{secrets.token_hex(4)}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine = create_engine(base.set(database=name))
        try:
            upgrade(engine)
        finally:
            engine.dispose()  # a template may have no open connection while it is copied
        _PG_TEMPLATE.append(name)

        def drop_template() -> None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

        atexit.register(drop_template)
    return _PG_TEMPLATE[0]


def _create_pg_database() -> tuple[str, Callable[[], None]]:
    """A fresh PostgreSQL database at the newest schema, and the function that drops it."""
    base = make_url(postgres_url()).set(drivername="postgresql+psycopg")
    name = f"rpa_test_{secrets.token_hex(4)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    template = _pg_template(create_engine(base, isolation_level="AUTOCOMMIT"), base)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


@dataclass
class Env:
    """One test's installation: settings, an upgraded database, and helpers for subprocesses."""

    url: str
    data_dir: Path
    settings: Settings
    db: Database
    environ: dict[str, str]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def backend(self) -> str:
        return self.db.engine.dialect.name

    def queue(self) -> Queue:
        return Queue(self.db, self.settings, discover(self.settings.task_packages))

    def runner(
        self,
        *args: str,
        extra_env: dict[str, str] | None = None,
        timeout: float = 60,
        stdin: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        _not_in_fast_tier("runner.py as a subprocess")
        return subprocess.run(
            [sys.executable, "runner.py", *args],
            cwd=ROOT,
            env={**self.environ, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            input=stdin,
        )

    def start(
        self, *args: str, name: str = "proc", extra_env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        _not_in_fast_tier("runner.py as a subprocess")
        log = (self.data_dir / f"{name}-{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "runner.py", *args],
            cwd=ROOT,
            env={**self.environ, **(extra_env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        proc.log_path = log.name  # type: ignore[attr-defined]
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def settle(
    env: Env, extra_env: dict[str, str] | None = None, processes: int = 2, timeout: float = 400
) -> None:
    """Run `processes` worker processes until no item is waiting for a robot or running (items
    that wait for a person, or are in manual handling, count as settled), then stop them."""
    from sqlalchemy import func, select

    from robots.models import FINAL_STATUSES, WITH_PEOPLE, WorkItem

    proc = env.start("worker", "--processes", str(processes), name="settle", extra_env=extra_env)

    def settled() -> bool:
        with env.db.session() as session:
            return (
                session.scalar(
                    select(func.count())
                    .select_from(WorkItem)
                    .where(WorkItem.status.not_in(sorted(FINAL_STATUSES | WITH_PEOPLE)))
                )
                == 0
            )

    try:
        wait_for(settled, timeout=timeout, interval=0.3, message="all items final")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def wait_for(
    condition: Callable[[], object],
    timeout: float = 60,
    interval: float = 0.1,
    message: str = "condition",
) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {message}")


def wait_for_console(url: str, timeout: float = 90) -> None:
    """Wait until a started console answers its login page."""
    import httpx

    def answers() -> bool:
        try:
            return httpx.get(f"{url}/login", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(answers, timeout=timeout, interval=0.3, message="the console to answer")


_SQLITE_TEMPLATE: list[Path] = []


def _sqlite_at_head(target: Path) -> None:
    """A fresh SQLite file at the newest schema: the migrations run once per test session into
    a template, which each test copies (running them per test cost most of the fast tier)."""
    import shutil
    import tempfile

    if not _SQLITE_TEMPLATE:
        template = Path(tempfile.mkdtemp(prefix="rpa-mal-")) / "rpa.db"
        db = Database(f"sqlite:///{template}")
        upgrade(db.engine)
        db.dispose()
        import sqlite3

        with sqlite3.connect(template) as conn:  # everything into the main file, no WAL left
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        _SQLITE_TEMPLATE.append(template)
    shutil.copyfile(_SQLITE_TEMPLATE[0], target)


def _make_env(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **overrides: str
) -> Iterator[Env]:
    drop = None
    if backend == "postgresql":
        url, drop = _create_pg_database()
    else:
        url = f"sqlite:///{tmp_path / 'rpa.db'}"
        _sqlite_at_head(tmp_path / "rpa.db")
    environ = {
        "RPA_DATABASE_URL": url,
        "RPA_DATA_DIR": str(tmp_path),
        "RPA_TASK_PACKAGES": TASK_PACKAGES,
        "RPA_LEASE_SECONDS": "3",
        "RPA_HEARTBEAT_SECONDS": "0.5",
        "RPA_POLL_SECONDS": "0.05",
        "RPA_WAKE_POLL_SECONDS": "0.5",
        "RPA_RECLAIM_INTERVAL_SECONDS": "0",
        "RPA_BACKOFF_BASE_SECONDS": "0",
        "RPA_SHUTDOWN_GRACE_SECONDS": "10",
        "RPA_SCHEDULES_FILE": str(tmp_path / "schedules.yaml"),
        "RPA_SCHEDULER_LOCK_RETRY_SECONDS": "0.5",
        "RPA_SCHEDULER_SYNC_SECONDS": "1",
        "RPA_LOG_STDERR": "true",
        **overrides,
    }
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    use_settings(None)
    settings = load_settings()
    db = Database(url, settings)
    env = Env(url, tmp_path, settings, db, {**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        yield env
    finally:
        env.stop_all()
        db.dispose()
        use_settings(None)
        if drop is not None:
            drop()


@pytest.fixture
def env(backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """A fresh installation on SQLite and (when configured) on PostgreSQL."""
    yield from _make_env(backend, tmp_path, monkeypatch)


@pytest.fixture
def sqlite_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    yield from _make_env("sqlite", tmp_path, monkeypatch)


@pytest.fixture
def pg_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    if not postgres_url():
        pytest.skip(f"PostgreSQL tests need {PG_ENV}")
    yield from _make_env("postgresql", tmp_path, monkeypatch)


# Sandbox and browser -------------------------------------------------------------------------


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[object]:
    """The three sandbox systems, started in-process on free ports."""
    from sandbox.run import Sandbox

    box = Sandbox(tmp_path / "sandbox").start()
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One real Chromium per test module (Playwright's own, else the system's)."""
    from playwright.sync_api import sync_playwright

    from robots.browser import BrowserNotFound, launch

    with sync_playwright() as playwright:
        try:
            chromium = launch(playwright)
        except BrowserNotFound as exc:
            pytest.skip(str(exc))
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(locale="nb-NO")  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


# The console -----------------------------------------------------------------------------------

PASSWORD = "riktig-passord-123"
ROLES = ("caseworker", "operator", "auditor", "admin")


@pytest.fixture
def console(
    sqlite_env: Env, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Env, Any, dict[str, str]]]:
    """A console in this process on a fresh SQLite file: one user per role (password
    PASSWORD, an API token each) and a second caseworker, "kollega". Passwords are hashed with
    argon2 at its lowest cost here (the production cost made hashing most of the fast tier's
    time); what is tested, one argon2 verification per login attempt, is the same."""
    from argon2 import PasswordHasher

    from robots.console import auth
    from robots.console.app import create_app
    from robots.console.auth import add_user, new_token
    from robots.web import ServerThread

    monkeypatch.setattr(
        auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )

    env = sqlite_env
    tokens = {}
    with env.db.session() as session:
        for role in ROLES:
            user = add_user(session, role, PASSWORD, role, "test")
            tokens[role] = new_token(session, user, "test", "test")
        add_user(session, "kollega", PASSWORD, "caseworker", "test")
        leader = add_user(session, "leder", PASSWORD, "leder", "test")  # statistics only
        tokens["leder"] = new_token(session, leader, "test", "test")
    server = ServerThread(create_app(env.settings, env.db)).start()
    yield env, server, tokens
    server.stop()
