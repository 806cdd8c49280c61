"""The audit trail: who did what to what, chained by SHA-256 so an edit or a deletion shows.

Each row's hash covers its content and the previous row's hash. Appends are serialised (an
advisory transaction lock on PostgreSQL, the write lock on SQLite) so the chain never forks.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from robots.masking import mask
from robots.models import AuditEvent, utcnow

GENESIS = "0" * 64
_LOCK_KEY = 0x52504141  # "RPAA"


def _digest(
    prev_hash: str, ts: datetime, actor: str, action: str, target: str, details: Any
) -> str:
    body = json.dumps(
        [prev_hash, ts.strftime("%Y-%m-%dT%H:%M:%S.%f"), actor, action, target, details],
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


_last_hash = select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
_add = insert(AuditEvent).returning(AuditEvent.id)


def record(
    session: Session, actor: str, action: str, target: str, details: dict[str, Any] | None = None
) -> int:
    """Append one audit event in the caller's transaction; returns its id."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    prev = conn.execute(_last_hash).scalar() or GENESIS
    ts = utcnow()
    details = mask(details) if details else None
    return conn.execute(
        _add,
        {
            "ts": ts,
            "actor": actor,
            "action": action,
            "target": target,
            "details": details,
            "prev_hash": prev,
            "hash": _digest(prev, ts, actor, action, target, details),
        },
    ).scalar_one()


@dataclass(frozen=True)
class Verification:
    intact: bool
    checked: int
    first_broken_id: int | None = None
    reason: str = ""


def verify(session: Session) -> Verification:
    """Walk the chain from the start; report the first row whose hash or link does not hold."""
    prev = GENESIS
    checked = 0
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id)).yield_per(1000):
        if event.prev_hash != prev:
            return Verification(False, checked, event.id, "lenken til forrige hendelse er brutt")
        expected = _digest(prev, event.ts, event.actor, event.action, event.target, event.details)
        if expected != event.hash:
            return Verification(False, checked, event.id, "innholdet er endret")
        prev = event.hash
        checked += 1
    return Verification(True, checked)
