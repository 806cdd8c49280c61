"""The audit anchor cannot be removed, cut back or moved without the key (issue 22), and it can
live where a fleet of machines can reach it: a PostgreSQL database in which the service may only
INSERT and SELECT, with an RFC 5424 syslog mirror.

Real SQLite and PostgreSQL, real files, a real restricted role; the attacks are done as an
attacker would (rows deleted and re-chained in the database, anchor lines removed from the file).
"""

from __future__ import annotations

import json

from sqlalchemy import delete, select

from robots import audit
from robots.db import Database
from robots.models import AuditEvent
from tests.conftest import Env


def _events(db: Database, count: int) -> list[int]:
    for i in range(count):
        with db.session() as session:
            audit.record(session, "t", "view", f"run:{i}")
    with db.session() as session:
        return list(session.scalars(select(AuditEvent.id).order_by(AuditEvent.id)))


def _verify(db: Database, *, full: bool = True) -> audit.Verification:
    with db.session() as session:
        return audit.verify(session, full=full)


def _drop_and_rechain(db: Database, event_id: int) -> None:
    """The database administrator's attack: delete a row, recompute every later hash."""
    with db.session() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.id == event_id))
        rows = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        prev = audit.GENESIS
        for row in rows:
            row.prev_hash = prev
            row.hash = audit._digest(prev, row.ts, row.actor, row.action, row.target, row.details)
            prev = row.hash


def _one_new_event(env: Env) -> None:
    """Another process (fresh program state) causes one new event."""
    db = Database(env.url, env.settings)
    try:
        _events(db, 1)
    finally:
        db.dispose()


def _anchor_a(env: Env) -> None:
    """Attack (a): delete the anchor file, delete a middle row and re-chain, one new event."""
    _events(env.db, 6)
    (env.data_dir / "audit-anchor.log").unlink()
    _drop_and_rechain(env.db, 3)
    _one_new_event(env)


def _anchor_b(env: Env) -> list[int]:
    """Attack (b): after a verification, delete the last two rows and their anchor lines."""
    ids = _events(env.db, 7)
    assert _verify(env.db).intact
    verified = (env.data_dir / "audit-anchor-verified.log").read_text()
    assert f'"event_id": {ids[-1]}' in verified
    with env.db.session() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.id.in_(ids[-2:])))
    path = env.data_dir / "audit-anchor.log"
    kept = [ln for ln in path.read_text().splitlines() if json.loads(ln)["id"] not in ids[-2:]]
    path.write_text("".join(line + "\n" for line in kept))
    return ids


def test_a_deleted_anchor_is_not_begun_again(env: Env) -> None:
    _anchor_a(env)
    result = _verify(env.db)
    assert not result.intact and result.first_broken_id == 1
    assert "ikke noe signert kontrollpunkt" in result.reason


def test_a_deleted_anchor_fails_audit_verify_on_the_command_line(sqlite_env: Env) -> None:
    env = sqlite_env
    _anchor_a(env)
    done = env.runner("audit", "verify")
    assert done.returncode == 9, done.stdout + done.stderr
    assert "Revisjonssporet er brutt ved hendelse 1" in done.stdout
    assert "ikke noe signert kontrollpunkt" in done.stdout


def test_the_last_rows_cut_with_their_anchor_lines_are_detected(env: Env) -> None:
    _anchor_b(env)
    for full in (True, False):
        result = _verify(env.db, full=full)
        assert not result.intact
        assert "avkortet, slettet eller skrevet om siden kontrollen" in result.reason


def test_the_last_rows_cut_with_their_anchor_lines_fail_on_the_command_line(
    sqlite_env: Env,
) -> None:
    env = sqlite_env
    _anchor_b(env)
    done = env.runner("audit", "verify")
    assert done.returncode == 9, done.stdout + done.stderr
    assert "avkortet, slettet eller skrevet om" in done.stdout


def test_the_row_verified_last_must_still_be_there(env: Env) -> None:
    """Rows cut, anchor left whole: the verification names the row it verified last as gone,
    after locating the first missing one."""
    ids = _events(env.db, 5)
    assert _verify(env.db, full=False).intact
    with env.db.session() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.id == ids[-1]))
    for full in (True, False):
        result = _verify(env.db, full=full)
        assert not result.intact and result.first_broken_id == ids[-1]
        assert "signerte hendelser mangler" in result.reason


def test_a_deleted_verification_log_is_reported(env: Env) -> None:
    _events(env.db, 3)
    assert _verify(env.db).intact
    (env.data_dir / "audit-anchor-verified.log").unlink()
    result = _verify(env.db)
    assert not result.intact and "kontrollogg mangler" in result.reason
