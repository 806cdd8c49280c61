"""Console sessions on the server: the signed cookie carries only a random id, and a session is
valid while its row is not ended, was used within SESSION_AGE and its user is enabled. So a
logout, a deactivation or a role change ends every copy of the cookie at once."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from robots.models import ConsoleSession, User, utcnow

SESSION_AGE = timedelta(hours=8)  # idle time after which a session is over (the cookie's too)
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often


def start(session: Session, user_id: int) -> str:
    """A new session for the user; the id to put in the cookie (only its hash is stored)."""
    sid = secrets.token_urlsafe(32)
    session.add(ConsoleSession(id=_digest(sid), user_id=user_id))
    return sid


def user_of(session: Session, sid: str) -> User | None:
    """The session's user, or None if it has ended, lapsed, or the user is disabled."""
    now = utcnow()
    row = session.get(ConsoleSession, _digest(sid))
    if row is None or row.ended_at is not None or row.last_seen_at + SESSION_AGE < now:
        return None
    user = session.get(User, row.user_id)
    if user is None or user.disabled_at is not None:
        return None
    if row.last_seen_at + TOUCH_EVERY < now:
        row.last_seen_at = now
    return user


def end(session: Session, sid: str) -> None:
    row = session.get(ConsoleSession, _digest(sid))
    if row is not None and row.ended_at is None:
        row.ended_at = utcnow()


def end_all(session: Session, user_id: int) -> None:
    """End every session of the user (deactivated, or their role changed)."""
    session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.user_id == user_id, ConsoleSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()
