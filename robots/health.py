"""Health: is the process up (`/healthz`), and is the installation ready to work (`/readyz`,
`runner.py status`): the database answers, its schema is current, at least one worker is alive
and a scheduler leads. Each check says in one line what it found; nothing secret is in it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select

from robots.db import Database, check_reachable, check_schema
from robots.models import SCHEDULER_PREFIX, Worker, utcnow
from robots.settings import Settings


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def live_workers(db: Database, settings: Settings) -> int:
    """Worker processes whose heartbeat is fresh (within three heartbeat intervals)."""
    fresh = utcnow() - timedelta(seconds=3 * settings.heartbeat_seconds)
    with db.session() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Worker)
                .where(
                    ~Worker.id.startswith(SCHEDULER_PREFIX),
                    Worker.status.not_in(("stopped", "dead")),
                    Worker.heartbeat_at >= fresh,
                )
            )
            or 0
        )


def leader(db: Database, settings: Settings) -> Worker | None:
    """The scheduler that leads, if its row is fresh (three sync intervals)."""
    fresh = utcnow() - timedelta(seconds=3 * settings.scheduler_sync_seconds + 5)
    with db.session() as session:
        return session.scalars(
            select(Worker)
            .where(
                Worker.id.startswith(SCHEDULER_PREFIX),
                Worker.status == "leader",
                Worker.heartbeat_at >= fresh,
            )
            .order_by(Worker.heartbeat_at.desc())
        ).first()


def readiness(db: Database, settings: Settings) -> list[Check]:
    try:
        check_reachable(db.engine)
    except Exception as exc:  # noqa: BLE001 - the message is the check's finding
        return [Check("database", False, str(exc))]
    checks = [Check("database", True, "svarer")]
    try:
        check_schema(db.engine)
        checks.append(Check("schema", True, "oppdatert"))
    except Exception as exc:  # noqa: BLE001
        checks.append(Check("schema", False, str(exc)))
        return checks
    workers = live_workers(db, settings)
    checks.append(
        Check(
            "workers",
            workers > 0,
            f"{workers} arbeidere i live" if workers else "ingen arbeider i live",
        )
    )
    lead = leader(db, settings)
    checks.append(
        Check(
            "scheduler",
            lead is not None,
            f"leder: {lead.host} (pid {lead.pid})" if lead else "ingen planlegger leder",
        )
    )
    return checks


def ready(checks: list[Check]) -> bool:
    return all(c.ok for c in checks)
