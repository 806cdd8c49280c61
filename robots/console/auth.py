"""Console users: argon2 password hashes, roles, back-off after failed logins, API tokens,
CSRF tokens for every form."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import zlib
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from robots import audit
from robots.console import sessions
from robots.models import ApiToken, Role, User, utcnow
from robots.storable import refused_in, storable_text

_hasher = PasswordHasher()
FREE_ATTEMPTS = 3  # failed logins before the back-off starts
FIRST_LOCK = timedelta(seconds=30)  # doubled for each further failure
MAX_LOCK = timedelta(minutes=15)

# What each role may do. Admin may do everything.
PERMISSIONS: dict[str, set[str]] = {
    Role.CASEWORKER: {"submit", "own_items", "retry_own", "answer", "manual"},
    Role.OPERATOR: {
        "dashboard",
        "all_items",
        "retry",
        "cancel",
        "schedules",
        "pause",
        "prioritise",
        "runs",  # a failed item's attempts, run log and screenshots: diagnosis is their job
        "answer",
        "manual",
    },
    Role.AUDITOR: {"runs", "audit", "export", "all_items_read"},
    # HR and leaders: the sick-leave statistics (groups of five or more), no item, run or name
    Role.LEADER: {"sick_leave_stats"},
}


def can(role: str, permission: str) -> bool:
    return role == Role.ADMIN or permission in PERMISSIONS.get(role, set())


@dataclass(frozen=True)
class Principal:
    """Who is asking: a logged-in user or a token's user."""

    id: int
    username: str
    role: str
    via_token: bool = False

    @property
    def actor(self) -> str:
        return f"{'api' if self.via_token else 'web'}:{self.username}"


class LoginRefused(Exception):
    """Wrong username or password, or locked for a while (message for the login page)."""


def add_user(
    session: Session, username: str, password: str, role: str, actor: str, display_name: str = ""
) -> User:
    if role not in set(Role):
        raise ValueError(f"Ukjent rolle {role!r}; bruk en av {', '.join(Role)}")
    if len(password) < 10:
        raise ValueError("Passordet må ha minst 10 tegn")
    if session.scalars(select(User).where(User.username == username)).first():
        raise ValueError(f"Brukeren {username!r} finnes allerede")
    user = User(
        username=username,
        display_name=display_name or username,
        role=role,
        password_hash=_hasher.hash(password),
        failed_logins=0,
    )
    session.add(user)
    session.flush()
    audit.record(session, actor, "user_add", f"user:{username}", {"role": role})
    return user


# One refusal for every reason (unknown user, wrong password, locked account): which usernames
# exist must not show in the message, nor in the time the answer takes.
REFUSED = (
    "Innloggingen mislyktes. Kontroller brukernavn og passord. Etter flere mislykkede forsøk "
    "må du vente noen minutter før du prøver igjen."
)
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def authenticate(session: Session, username: str, password: str) -> User:
    """The user, or LoginRefused. After FREE_ATTEMPTS failures each further failure locks the
    account for twice as long (capped), whether the password was right or not meanwhile.

    Every path does exactly one argon2 verification, so an unknown user, a locked account and a
    wrong password take the same time and get the same message. Every refusal is audited; a
    name the database cannot hold (NUL) is no user's, and is audited with a stand-in."""
    now = utcnow()
    user = None
    if refused_in(username) is None:
        user = session.scalars(select(User).where(User.username == username)).first()
    actor = f"web:{storable_text(username[:100])}"
    try:
        _hasher.verify(user.password_hash if user is not None else _DUMMY_HASH, password)
        password_ok = user is not None
    except VerificationError:
        password_ok = False
    if user is None:
        audit.record(session, actor, "login_failed", "console", {"reason": "ukjent bruker"})
        raise LoginRefused(REFUSED)
    if user.disabled_at is not None:
        audit.record(session, actor, "login_failed", "console", {"reason": "deaktivert"})
        raise LoginRefused(REFUSED)
    if user.locked_until and user.locked_until > now:
        audit.record(
            session,
            actor,
            "login_locked",
            "console",
            {"until": user.locked_until.isoformat(timespec="seconds")},
        )
        raise LoginRefused(REFUSED)
    if not password_ok:
        user.failed_logins += 1
        if user.failed_logins >= FREE_ATTEMPTS:
            lock = min(MAX_LOCK, FIRST_LOCK * 2 ** (user.failed_logins - FREE_ATTEMPTS))
            user.locked_until = now + lock
        audit.record(session, actor, "login_failed", "console", {"failed": user.failed_logins})
        raise LoginRefused(REFUSED)
    user.failed_logins = 0
    user.locked_until = None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    audit.record(session, actor, "login", "console")
    return user


def unusable_password() -> str:
    """A hash no password matches (for users who log in only through single sign-on)."""
    return _hasher.hash(secrets.token_urlsafe(32)) + "!sso"


def new_token(session: Session, user: User, name: str, actor: str) -> str:
    token = "rpa_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, name=name, token_hash=_digest(token)))
    audit.record(session, actor, "token_add", f"user:{user.username}", {"name": name})
    return token


def token_user(session: Session, token: str) -> User | None:
    """The token's user; None for an unknown or revoked token, or a disabled user."""
    row = session.scalars(
        select(ApiToken).where(ApiToken.token_hash == _digest(token), ApiToken.revoked_at.is_(None))
    ).first()
    user = session.get(User, row.user_id) if row else None
    return user if user is not None and user.disabled_at is None else None


_ADMINS_LOCK = zlib.crc32(b"rpa-admins")


class LastAdmin(ValueError):
    """The change would leave the installation without an active admin."""

    def __init__(self, username: str) -> None:
        super().__init__(
            f"{username} er den siste aktive admin og kan ikke miste rollen eller deaktiveres. "
            "Gi en annen bruker rollen admin først."
        )


def _keep_an_admin(session: Session, user: User) -> None:
    """Refuse to take away the last active admin. Every role change and deactivation takes
    the same lock first (an advisory transaction lock on PostgreSQL; on SQLite every
    transaction holds the write lock already), so two admins demoting each other at once
    are serialised and the second sees that only one is left."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADMINS_LOCK})
    session.refresh(user)  # as committed by whoever held the lock before
    if user.role != Role.ADMIN or user.disabled_at is not None:
        return
    admins = session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.role == Role.ADMIN, User.disabled_at.is_(None))
    )
    if (admins or 0) <= 1:
        raise LastAdmin(user.username)


def set_role(session: Session, user: User, role: str, actor: str) -> None:
    if role not in set(Role):
        raise ValueError(f"Ukjent rolle {role!r}; bruk en av {', '.join(Role)}")
    if role != Role.ADMIN:
        _keep_an_admin(session, user)
    if role != user.role:
        audit.record(
            session, actor, "role_change", f"user:{user.username}", {"from": user.role, "to": role}
        )
        user.role = role
        sessions.end_all(session, user.id)  # what they were let into was chosen for the old role


def set_disabled(session: Session, user: User, disabled: bool, actor: str) -> None:
    """A disabled user cannot log in, their sessions end and their tokens stop working;
    nothing is deleted, so the audit trail keeps its names."""
    if disabled:
        _keep_an_admin(session, user)
    if disabled == (user.disabled_at is not None):
        return
    user.disabled_at = utcnow() if disabled else None
    if disabled:
        sessions.end_all(session, user.id)  # enabling again does not revive them
    action = "user_disable" if disabled else "user_enable"
    audit.record(session, actor, action, f"user:{user.username}")


def revoke_token(session: Session, token: ApiToken, actor: str) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        user = session.get(User, token.user_id)
        target = f"user:{user.username if user else token.user_id}"
        audit.record(session, actor, "token_revoke", target, {"name": token.name})


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(session_data: dict[str, str]) -> str:
    if "csrf" not in session_data:
        session_data["csrf"] = secrets.token_urlsafe(24)
    return session_data["csrf"]


def csrf_ok(session_data: dict[str, str], given: str | None) -> bool:
    expected = session_data.get("csrf")
    return bool(expected and given and hmac.compare_digest(expected, given))
