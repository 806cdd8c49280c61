"""Engine, sessions and the schema-version check.

SQLite runs in WAL mode with a busy timeout, and every transaction starts with BEGIN IMMEDIATE so
that a read-then-write (a claim) holds the write lock from its first statement: two local worker
processes can never read the same free item and both take it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from robots.masking import mask_text

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

    from robots.settings import Settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class DatabaseUnavailable(Exception):
    """The database cannot be reached; the message names it (password hidden) and the cause."""


class SchemaOutdated(Exception):
    """The database schema is behind the code; the message says what to run."""


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": 5})


def describe_url(url: str) -> str:
    return mask_text(make_url(url).render_as_string(hide_password=True))


def check_reachable(engine: Engine) -> None:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        cause = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise DatabaseUnavailable(
            f"Får ikke kontakt med databasen {describe_url(str(engine.url))}: {mask_text(cause)}. "
            "Sjekk RPA_DATABASE_URL og at databasetjeneren kjører."
        ) from None


def alembic_config(url: str) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


_REVISION = re.compile(r'^(down_revision|revision)\b[^=]*=\s*(?:"([^"]*)"|None)', re.M)


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    """The newest migration, read from the migration files themselves (every command checks
    the schema; Alembic's own script loader would add a third of a second to each).
    `tests/test_queue.py` checks that it agrees with Alembic."""
    revisions: dict[str, str | None] = {}
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found = dict((key, value or None) for key, value in _REVISION.findall(path.read_text()))
        if "revision" in found and found["revision"]:
            revisions[found["revision"]] = found.get("down_revision")
    parents = set(revisions.values())
    heads = [r for r in revisions if r not in parents]
    return heads[0] if len(heads) == 1 else None


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine) -> tuple[str | None, str | None]:
    """Run migrations to head; returns (before, after)."""
    from alembic import command

    before = current_revision(engine)
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return before, current_revision(engine)


def check_schema(engine: Engine) -> None:
    check_reachable(engine)
    current, head = current_revision(engine), head_revision()
    if current != head:
        state = "er tom" if current is None else f"har skjemaversjon {current}"
        raise SchemaOutdated(
            f"Databasen {describe_url(str(engine.url))} {state}, men programmet trenger {head}. "
            "Kjør: python runner.py db upgrade"
        )


class Database:
    """An engine plus its session factory; one per process.

    Given the settings, its sessions also know where the audit trail's signed checkpoints go
    (otherwise the audit module finds them from the process's settings)."""

    def __init__(self, url: str, settings: Settings | None = None) -> None:
        self.url = url
        self.engine = make_engine(url)
        info = {}
        if settings is not None:
            from robots.anchor import Anchor
            from robots.audit import ANCHOR_KEY

            info[ANCHOR_KEY] = Anchor.for_settings(settings)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False, info=info)

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        with self.sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


@lru_cache(maxsize=4)
def database(url: str) -> Database:
    return Database(url)
