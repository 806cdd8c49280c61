"""The durable work-item queue: submit, claim with a lease, heartbeat, finish, reclaim.

Claiming is atomic: `FOR UPDATE SKIP LOCKED` on PostgreSQL, and on SQLite a transaction that
starts with BEGIN IMMEDIATE (robots.db), so no two workers ever hold the same item. Per-system
concurrency limits are checked inside the claim transaction, serialised per system by an advisory
transaction lock on PostgreSQL (the SQLite write lock already serialises every claim).
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from robots import audit
from robots.db import Database
from robots.masking import mask_text
from robots.models import ItemStatus, Run, RunOutcome, WorkItem, utcnow
from robots.runlog import ingest_jsonl, store_events
from robots.settings import Settings
from robots.tasks import Task, get_task


class ItemNotFound(LookupError):
    pass


class InvalidTransition(ValueError):
    """The item is in a status where the asked action is not allowed."""


@dataclass(frozen=True)
class WorkerIdentity:
    id: str
    host: str
    pid: int


@dataclass(frozen=True)
class Claim:
    """What a worker holds while it runs an item."""

    item_id: int
    run_id: int
    task: str
    reference: str
    payload: dict[str, Any]
    attempt: int
    worker_id: str


@dataclass(frozen=True)
class Submitted:
    item: WorkItem
    created: bool  # False: the reference existed, this is the existing item


_STATUS_NAMES = {
    ItemStatus.PENDING: "venter",
    ItemStatus.RUNNING: "kjører",
    ItemStatus.DONE: "ferdig",
    ItemStatus.BUSINESS_ERROR: "forretningsfeil",
    ItemStatus.FAILED: "feilet",
    ItemStatus.CANCELLED: "avbrutt",
}


def status_name(status: str) -> str:
    return _STATUS_NAMES.get(status, status)


class Queue:
    def __init__(self, db: Database, settings: Settings, registry: dict[str, Task]) -> None:
        self.db = db
        self.settings = settings
        self.registry = registry
        self.data_dir: Path = settings.data_path
        self._pg = db.engine.dialect.name == "postgresql"

    # Submitting -----------------------------------------------------------------------------

    def submit(
        self,
        task_name: str,
        reference: str,
        payload: Any,
        *,
        submitted_by: str,
        priority: int = 0,
        not_before: datetime | None = None,
        deadline: datetime | None = None,
        session: Session | None = None,
    ) -> Submitted:
        """Validate and store one item. The same (task, reference) again returns the existing item.

        Raises UnknownTask or InvalidPayload before anything is written.
        """
        task = get_task(task_name, self.registry)
        if not reference or len(reference) > 200:
            raise ValueError("Referansen må ha 1 til 200 tegn")
        model = task.validate(payload)
        if session is None:
            with self.db.session() as own:
                return self._insert(
                    own, task, reference, model, submitted_by, priority, not_before, deadline
                )
        return self._insert(
            session, task, reference, model, submitted_by, priority, not_before, deadline
        )

    def _insert(
        self,
        session: Session,
        task: Task,
        reference: str,
        model: Any,
        submitted_by: str,
        priority: int,
        not_before: datetime | None,
        deadline: datetime | None,
    ) -> Submitted:
        now = utcnow()
        values = dict(
            task=task.name,
            reference=reference,
            payload=model.model_dump(mode="json"),
            priority=priority,
            status=ItemStatus.PENDING,
            systems="," + ",".join(task.systems) + "," if task.systems else "",
            attempts=0,
            failures=0,
            abandons=0,
            max_attempts=task.max_attempts or self.settings.default_max_attempts,
            not_before=not_before or now,
            deadline=deadline,
            submitted_by=submitted_by,
            created_at=now,
            updated_at=now,
        )
        # Store through the column type so datetimes become naive UTC like everywhere else.
        insert = (postgresql.insert if self._pg else sqlite.insert)(WorkItem)
        stmt = (
            insert.values(**values)
            .on_conflict_do_nothing(index_elements=["task", "reference"])
            .returning(WorkItem.id)
        )
        created = session.execute(stmt).first() is not None
        item = session.scalars(
            select(WorkItem).where(WorkItem.task == task.name, WorkItem.reference == reference)
        ).one()
        if created:
            audit.record(
                session,
                submitted_by,
                "submit",
                f"item:{item.id}",
                {"task": task.name, "reference": reference, "priority": priority},
            )
        return Submitted(item, created)

    # Claiming -------------------------------------------------------------------------------

    def claim(self, worker: WorkerIdentity, tasks: Iterable[str] | None = None) -> Claim | None:
        """Lease the next eligible item to `worker`, or None if there is none right now."""
        names = list(tasks if tasks is not None else self.registry)
        now = utcnow()
        with self.db.session() as session:
            self._reclaim_expired(session, now)
            query = (
                select(WorkItem)
                .where(
                    WorkItem.status == ItemStatus.PENDING,
                    WorkItem.not_before <= now,
                    WorkItem.task.in_(names),
                )
                .order_by(WorkItem.priority.desc(), WorkItem.not_before, WorkItem.id)
                .limit(8)
            )
            if self._pg:
                query = query.with_for_update(skip_locked=True)
            for item in session.scalars(query):
                if not self._within_limits(session, item):
                    continue
                return self._take(session, item, worker, now)
        return None

    def _within_limits(self, session: Session, item: WorkItem) -> bool:
        limits = self.settings.system_limits
        for system in item.system_list:
            limit = limits.get(system)
            if limit is None:
                continue
            if self._pg:
                key = zlib.crc32(f"rpa-system:{system}".encode())
                session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
            running = session.scalar(
                select(func.count())
                .select_from(WorkItem)
                .where(
                    WorkItem.status == ItemStatus.RUNNING,
                    WorkItem.systems.like(f"%,{system},%"),
                )
            )
            if running >= limit:
                return False
        return True

    def _take(
        self, session: Session, item: WorkItem, worker: WorkerIdentity, now: datetime
    ) -> Claim:
        item.status = ItemStatus.RUNNING
        item.attempts += 1
        item.lease_owner = worker.id
        item.lease_expires_at = now + timedelta(seconds=self.settings.lease_seconds)
        item.updated_at = now
        run = Run(
            item_id=item.id,
            attempt=item.attempts,
            worker_id=worker.id,
            host=worker.host,
            pid=worker.pid,
            started_at=now,
        )
        session.add(run)
        session.flush()
        return Claim(
            item.id, run.id, item.task, item.reference, dict(item.payload), item.attempts, worker.id
        )

    def _reclaim_expired(self, session: Session, now: datetime) -> None:
        query = select(WorkItem).where(
            WorkItem.status == ItemStatus.RUNNING, WorkItem.lease_expires_at < now
        )
        if self._pg:
            query = query.with_for_update(skip_locked=True)
        for item in session.scalars(query).all():
            self._abandon(session, item, now)

    def _abandon(self, session: Session, item: WorkItem, now: datetime) -> None:
        run = session.scalars(
            select(Run)
            .where(Run.item_id == item.id, Run.ended_at.is_(None))
            .order_by(Run.id.desc())
            .limit(1)
        ).first()
        if run is not None:
            ingest_jsonl(session, self.data_dir, run.id)
            run.outcome = RunOutcome.ABANDONED
            run.ended_at = now
            run.error_message = (
                f"Leieavtalen til {item.lease_owner} utløp uten resultat (arbeideren stoppet)"
            )
        item.abandons += 1
        item.lease_owner = None
        item.lease_expires_at = None
        item.updated_at = now
        if item.abandons >= self.settings.max_abandons:
            item.status = ItemStatus.FAILED
            item.error_kind = "poison"
            item.error_message = (
                f"Stoppet: arbeideren forsvant under dette elementet {item.abandons} ganger "
                "(giftig element). Undersøk inndata og kjøreloggen før nytt forsøk."
            )
            item.finished_at = now
        else:
            item.status = ItemStatus.PENDING
            item.not_before = now

    # Heartbeat and finishing ----------------------------------------------------------------

    def renew(self, claim: Claim, events: list[dict[str, Any]] | None = None) -> bool:
        """Extend the lease; False if the item is no longer ours (reclaimed or cancelled)."""
        now = utcnow()
        with self.db.session() as session:
            result = session.execute(
                update(WorkItem)
                .where(
                    WorkItem.id == claim.item_id,
                    WorkItem.lease_owner == claim.worker_id,
                    WorkItem.status == ItemStatus.RUNNING,
                )
                .values(lease_expires_at=now + timedelta(seconds=self.settings.lease_seconds))
            )
            store_events(session, events or [])
            return result.rowcount == 1

    def finish(
        self,
        claim: Claim,
        outcome: str,
        *,
        result: dict[str, Any] | None = None,
        error: str | None = None,
        events: list[dict[str, Any]] | None = None,
    ) -> str:
        """Record the run's outcome and move the item on; returns the item's new status."""
        now = utcnow()
        error = mask_text(error) if error else None
        with self.db.session() as session:
            item = session.get(WorkItem, claim.item_id, with_for_update=self._pg)
            run = session.get(Run, claim.run_id)
            assert item is not None and run is not None
            store_events(session, events or [])
            if run.outcome is not None:  # already settled by a reclaim
                return item.status
            run.ended_at = now
            if item.status != ItemStatus.RUNNING or item.lease_owner != claim.worker_id:
                run.outcome = RunOutcome.LOST
                run.error_message = (
                    f"Resultatet ({outcome}) ble forkastet: elementet var ikke lenger tildelt "
                    f"denne arbeideren (status {status_name(item.status)})"
                )
                return item.status
            run.outcome = outcome
            run.error_message = error
            item.lease_owner = None
            item.lease_expires_at = None
            item.updated_at = now
            if outcome == RunOutcome.DONE:
                item.status = ItemStatus.DONE
                item.result = result
                item.error_kind = item.error_message = None
                item.finished_at = now
            elif outcome == RunOutcome.BUSINESS_ERROR:
                item.status = ItemStatus.BUSINESS_ERROR
                item.error_kind = "business"
                item.error_message = error
                item.finished_at = now
            elif outcome == RunOutcome.SYSTEM_ERROR:
                item.failures += 1
                item.error_kind = "system"
                item.error_message = error
                if item.failures >= item.max_attempts:
                    item.status = ItemStatus.FAILED
                    item.finished_at = now
                else:
                    item.status = ItemStatus.PENDING
                    item.not_before = now + timedelta(seconds=self.backoff(item.failures))
            elif outcome == RunOutcome.RELEASED:
                item.status = ItemStatus.PENDING
                item.not_before = now
            else:
                raise ValueError(f"unknown outcome {outcome!r}")
            return item.status

    def backoff(self, failures: int) -> float:
        """Exponential backoff with jitter: half fixed, half random, capped."""
        base = self.settings.backoff_base_seconds * 2 ** max(0, failures - 1)
        capped = min(self.settings.backoff_max_seconds, base)
        return capped / 2 + random.uniform(0, capped / 2)

    # Human actions --------------------------------------------------------------------------

    def get(self, session: Session, ident: str | int) -> WorkItem:
        """An item by id, or by reference when that is unique across tasks."""
        item = None
        if isinstance(ident, int) or str(ident).isdigit():
            item = session.get(WorkItem, int(ident))
        if item is None:
            matches = session.scalars(
                select(WorkItem).where(WorkItem.reference == str(ident))
            ).all()
            if len(matches) > 1:
                raise ItemNotFound(
                    f"Referansen {ident!r} finnes for flere oppgaver; bruk element-id"
                )
            item = matches[0] if matches else None
        if item is None:
            raise ItemNotFound(f"Fant ikke element {ident!r}")
        return item

    def cancel(self, ident: str | int, actor: str) -> WorkItem:
        with self.db.session() as session:
            item = self.get(session, ident)
            if item.status not in (ItemStatus.PENDING, ItemStatus.RUNNING):
                raise InvalidTransition(
                    f"Element {item.id} er {status_name(item.status)} og kan ikke avbrytes"
                )
            previous = item.status
            now = utcnow()
            item.status = ItemStatus.CANCELLED
            item.lease_owner = None
            item.lease_expires_at = None
            item.finished_at = item.updated_at = now
            item.error_kind = "cancelled"
            item.error_message = f"Avbrutt av {actor}"
            audit.record(session, actor, "cancel", f"item:{item.id}", {"was": previous})
            return item

    def retry(self, ident: str | int, actor: str) -> WorkItem:
        with self.db.session() as session:
            item = self.get(session, ident)
            if item.status not in (
                ItemStatus.FAILED,
                ItemStatus.BUSINESS_ERROR,
                ItemStatus.CANCELLED,
            ):
                raise InvalidTransition(
                    f"Element {item.id} er {status_name(item.status)}; bare feilede, "
                    "forretningsfeilede eller avbrutte elementer kan prøves på nytt"
                )
            previous = item.status
            now = utcnow()
            item.status = ItemStatus.PENDING
            item.failures = item.abandons = 0
            item.not_before = item.updated_at = now
            item.finished_at = None
            item.error_kind = item.error_message = None
            audit.record(session, actor, "retry", f"item:{item.id}", {"was": previous})
            return item
