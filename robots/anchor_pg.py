"""The audit anchor in a separate PostgreSQL database, for a fleet of machines.

Every machine writes its checkpoints to one database where the service's role may only INSERT
and SELECT: no UPDATE, DELETE or TRUNCATE (revoked, and refused by triggers even for the tables'
owner), so neither the service nor the administrators of the main database can cut it back or
rewrite it. Only the anchor database's own administrator (a superuser there) could; keep that
person apart from the holders of the audit key (docs/operations.md). `ddl()` is what that
administrator runs once (`audit anchor-ddl`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from typing import ClassVar

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

_LOCK_KEY = 0x52504158  # "RPAX": one appender at a time, so sequence order is commit order
_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def ddl(role: str) -> str:
    """The tables, the triggers that refuse rewriting, and the grants for `role` (the service's
    own login role, not the tables' owner)."""
    if not _ROLE.match(role):
        raise ValueError(f"{role!r} is not a plain PostgreSQL role name (a-z, 0-9, _)")
    tables = "audit_anchor, audit_anchor_verified"
    return f"""\
CREATE TABLE IF NOT EXISTS audit_anchor (
    seq bigserial PRIMARY KEY,
    line text NOT NULL,
    written_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS audit_anchor_verified (
    seq bigserial PRIMARY KEY,
    line text NOT NULL,
    written_at timestamptz NOT NULL DEFAULT now()
);
CREATE OR REPLACE FUNCTION audit_anchor_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = 'audit anchor is append-only (' || TG_OP || ' refused)';
END $$;
CREATE OR REPLACE TRIGGER audit_anchor_append_only
    BEFORE UPDATE OR DELETE ON audit_anchor
    FOR EACH ROW EXECUTE FUNCTION audit_anchor_append_only();
CREATE OR REPLACE TRIGGER audit_anchor_no_truncate
    BEFORE TRUNCATE ON audit_anchor
    FOR EACH STATEMENT EXECUTE FUNCTION audit_anchor_append_only();
CREATE OR REPLACE TRIGGER audit_anchor_verified_append_only
    BEFORE UPDATE OR DELETE ON audit_anchor_verified
    FOR EACH ROW EXECUTE FUNCTION audit_anchor_append_only();
CREATE OR REPLACE TRIGGER audit_anchor_verified_no_truncate
    BEFORE TRUNCATE ON audit_anchor_verified
    FOR EACH STATEMENT EXECUTE FUNCTION audit_anchor_append_only();
REVOKE ALL ON {tables} FROM PUBLIC;
REVOKE ALL ON {tables} FROM {role};
GRANT SELECT, INSERT ON {tables} TO {role};
GRANT USAGE ON SEQUENCE audit_anchor_seq_seq, audit_anchor_verified_seq_seq TO {role};
"""


def apply_ddl(admin_url: str, role: str) -> None:
    """Run `ddl(role)` as the anchor database's administrator."""
    engine = _engine(admin_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(ddl(role))
    finally:
        engine.dispose()


def _engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() != "postgresql":
        raise ValueError("audit_anchor_url must be a PostgreSQL URL")
    return create_engine(
        parsed, pool_size=2, max_overflow=4, pool_pre_ping=True,
        connect_args={"connect_timeout": 5},
    )  # fmt: skip


class PostgresStore:
    """An AnchorStore in two append-only tables; a position is a row's sequence number."""

    _shared: ClassVar[dict[str, PostgresStore]] = {}

    def __init__(self, url: str) -> None:
        self.engine = _engine(url)

    @classmethod
    def shared(cls, url: str) -> PostgresStore:
        """One store (one connection pool) per URL in a process."""
        if url not in cls._shared:
            cls._shared[url] = cls(url)
        return cls._shared[url]

    def begun(self) -> bool:
        with self.engine.connect() as conn:
            return bool(
                conn.scalar(
                    text(
                        "SELECT EXISTS (SELECT 1 FROM audit_anchor)"
                        " OR EXISTS (SELECT 1 FROM audit_anchor_verified)"
                    )
                )
            )

    def append(self, lines: list[str], *, durable: bool) -> None:
        # A commit here is durable whatever `durable` says (synchronous_commit is the DBA's).
        with self.engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
            conn.execute(
                text("INSERT INTO audit_anchor (line) VALUES (:line)"),
                [{"line": line} for line in lines],
            )

    def lines(self, start: int = 0) -> Iterable[str]:
        with self.engine.connect() as conn:
            query = text("SELECT line FROM audit_anchor WHERE seq > :s ORDER BY seq")
            return list(conn.scalars(query, {"s": start}))

    def size(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(text("SELECT coalesce(max(seq), 0) FROM audit_anchor")) or 0)

    def digest(self, seed: str, start: int, end: int) -> str | None:
        sha = hashlib.sha256(f"{seed}:".encode())
        with self.engine.connect() as conn:
            if self.size() < end:
                return None
            rows = conn.execute(
                text(
                    "SELECT seq, line FROM audit_anchor WHERE seq > :s AND seq <= :e ORDER BY seq"
                ),
                {"s": start, "e": end},
            )
            for seq, line in rows:
                sha.update(f"{seq}:{line}\n".encode())
        return sha.hexdigest()

    def verified(self) -> list[str]:
        with self.engine.connect() as conn:
            query = text("SELECT line FROM audit_anchor_verified ORDER BY seq")
            return list(conn.scalars(query))

    def append_verified(self, make: Callable[[list[str]], str]) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY + 1})
            query = text("SELECT line FROM audit_anchor_verified ORDER BY seq")
            line = make(list(conn.scalars(query)))
            conn.execute(text("INSERT INTO audit_anchor_verified (line) VALUES (:l)"), {"l": line})
