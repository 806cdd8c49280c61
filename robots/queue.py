"""The durable work-item queue: submit, claim with a lease, heartbeat, finish, reclaim.

Claiming is atomic: `FOR UPDATE SKIP LOCKED` on PostgreSQL, and on SQLite a transaction that
starts with BEGIN IMMEDIATE (robots.db), so no two workers ever hold the same item. Per-system
concurrency limits are checked inside the claim transaction, serialised per system by an advisory
transaction lock on PostgreSQL (the SQLite write lock already serialises every claim).
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from loguru import logger
from sqlalchemy import Connection, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from robots import audit, sealing
from robots import statements as sql
from robots.artifacts import artifact_rows
from robots.db import Database
from robots.labels import actor_name, status_name
from robots.masking import mask_text
from robots.models import (
    CANCELLABLE,
    RETRYABLE,
    Artifact,
    ItemStatus,
    Pause,
    Question,
    Run,
    RunOutcome,
    SystemState,
    WorkItem,
    utcnow,
)
from robots.runlog import ingest_jsonl, store_events
from robots.settings import Settings
from robots.storable import refused_in, storable, storable_text, unstorable
from robots.tasks import InvalidPayload, Task, get_task


class ItemNotFound(LookupError):
    pass


TEAM_NAME = re.compile(r"[\w-]{1,60}")  # a team's name (question_teams, work_item.team)


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
    payload: dict[str, Any]  # as stored: the worker opens sealed values (robots.sealing)
    attempt: int
    worker_id: str


@dataclass(frozen=True)
class Submitted:
    item: WorkItem
    created: bool  # False: the reference existed, this is the existing item


PRIORITY_MIN, PRIORITY_MAX = -100, 100
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def check_reference(reference: str) -> None:
    """A reference is a printable 1-200 character key (it is shown, searched and typed)."""
    if not reference or len(reference) > 200:
        raise ValueError("Referansen må ha 1 til 200 tegn")
    if _CONTROL.search(reference) or refused_in(reference):
        raise ValueError(
            "Referansen kan ikke inneholde kontrolltegn (for eksempel NUL eller linjeskift)"
        )


def check_priority(priority: int) -> None:
    if not PRIORITY_MIN <= priority <= PRIORITY_MAX:
        raise ValueError(f"Prioriteten må være mellom {PRIORITY_MIN} og {PRIORITY_MAX}")


def _new_run(
    conn: Connection, item_id: int, attempt: int, worker: WorkerIdentity, now: datetime
) -> int:
    """The run row of a claim, in the claim's transaction."""
    return int(
        conn.execute(
            sql.new_run,
            {
                "item_id": item_id,
                "attempt": attempt,
                "worker_id": worker.id,
                "host": worker.host,
                "pid": worker.pid,
                "started_at": now,
            },
        ).scalar_one()
    )


_Settle = Callable[["Queue", datetime, Any, "str | None", int, int], dict[str, Any]]


class Queue:
    def __init__(self, db: Database, settings: Settings, registry: dict[str, Task]) -> None:
        self.db = db
        self.settings = settings
        self.registry = registry
        self.data_dir: Path = settings.data_path
        self._pg = db.engine.dialect.name == "postgresql"
        self._next_reclaim = 0.0  # monotonic time of the next expired-lease scan
        self._paused: set[tuple[str, str]] = set()
        self._pauses_until = 0.0  # monotonic time the cached pauses expire
        self.blocked_systems: set[str] = set()  # not available (robots.systems), as last read
        self._local = threading.local()
        sealing.install(settings)

    @property
    def contended(self) -> bool:
        """This thread's last claim skipped an item because another claim was counting its
        system's running items: work may be there, so ask again soon."""
        return bool(getattr(self._local, "contended", False))

    @contended.setter
    def contended(self, value: bool) -> None:
        self._local.contended = value

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
        unique_on: str | None = None,
    ) -> Submitted:
        """Validate and store one item. The same (task, reference) again returns the existing item.
        `unique_on`: a payload field that identifies the work whatever the reference (a file's
        checksum); an item of the task with the same value there is returned, nothing stored.

        Raises UnknownTask or InvalidPayload before anything is written.
        """
        task = get_task(task_name, self.registry)
        check_reference(reference)
        check_priority(priority)
        model = task.validate(payload)
        problems = unstorable(model.model_dump(mode="json"))
        if problems:
            raise InvalidPayload(task.name, problems)
        reference = sealing.seal_reference(reference)
        if len(reference) > 200:
            raise ValueError("Referansen blir for lang når fødselsnumre i den skjules")
        args = (task, reference, model, submitted_by, priority, not_before, deadline)
        if session is None:
            with self.db.session() as own:
                return self._same(own, task, model, unique_on) or self._insert(own, *args)
        return self._same(session, task, model, unique_on) or self._insert(session, *args)

    def _same(
        self, session: Session, task: Task, model: Any, unique_on: str | None
    ) -> Submitted | None:
        """The task's first item with the same value in the payload field `unique_on`."""
        if unique_on is None:
            return None
        stored = self._stored_payload(task, model)[unique_on]
        if sealing.is_sealed(stored):  # compared by its keyed tag
            field, value = WorkItem.payload[(unique_on, "tag")].as_string(), stored["tag"]
        else:
            field, value = WorkItem.payload[unique_on].as_string(), stored
        same = session.scalars(
            select(WorkItem)
            .where(WorkItem.task == task.name, field == value)
            .order_by(WorkItem.id)
            .limit(1)
        ).first()
        return None if same is None else Submitted(same, False)

    def _stored_payload(self, task: Task, model: Any) -> dict[str, Any]:
        """The input as stored: personal data sealed (robots.sealing)."""
        sensitive = sealing.sensitive_fields(type(model))
        return sealing.seal_payload(model.model_dump(mode="json"), sensitive)

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
            payload=self._stored_payload(task, model),
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
        inserted = session.execute(stmt).scalar()
        if inserted is None:  # the reference exists: hand back the stored item
            item = session.scalars(
                select(WorkItem).where(WorkItem.task == task.name, WorkItem.reference == reference)
            ).one()
            return Submitted(item, False)
        audit.record(
            session,
            submitted_by,
            "submit",
            f"item:{inserted}",
            {"task": task.name, "reference": reference, "priority": priority},
        )
        return Submitted(WorkItem(id=inserted, **values), True)

    # Claiming -------------------------------------------------------------------------------

    def claim(self, worker: WorkerIdentity, tasks: Iterable[str] | None = None) -> Claim | None:
        """Lease the next eligible item to `worker`, or None if there is none right now.

        One short transaction on a Core connection: reclaim expired leases (at most every
        `reclaim_interval_seconds`), take the next item, insert its run.
        """
        self.contended = False
        names = self._unpaused(list(tasks if tasks is not None else self.registry))
        if not names:
            return None
        now = utcnow()
        lease_until = now + timedelta(seconds=self.settings.lease_seconds)
        params = {"now": now, "names": names, "worker_id": worker.id, "lease_until": lease_until}
        with self.db.engine.begin() as conn:
            if time.monotonic() >= self._next_reclaim:
                self._next_reclaim = time.monotonic() + self.settings.reclaim_interval_seconds
                try:
                    with conn.begin_nested():
                        self._reclaim_expired(conn, now)
                except SQLAlchemyError as exc:  # one bad item must not stop every claim
                    logger.warning(f"Gjenvinning av utløpte elementer feilet: {exc!s:.300}")
            limited = any(self._has_limit(name) for name in names)
            picked = self._pick_within_limits(conn, params) if limited else None
            if limited and picked is None:
                return None
            if self._pg:  # the take and its run row in one statement
                run_params = {**params, "host": worker.host, "pid": worker.pid}
                if picked is not None:
                    taken = conn.execute(
                        sql.take_by_id_with_run, {**run_params, "item_id": picked}
                    ).first()
                else:
                    taken = conn.execute(sql.take_next_with_run, run_params).first()
                if taken is None:
                    return None
                item_id, task, reference, payload, attempt, run_id = taken
            else:
                if picked is not None:
                    row = conn.execute(sql.take_by_id, {**params, "item_id": picked}).first()
                else:
                    row = conn.execute(sql.take_next, params).first()
                if row is None:
                    return None
                item_id, task, reference, payload, attempt = row
                run_id = _new_run(conn, item_id, attempt, worker, now)
        return Claim(item_id, run_id, task, reference, dict(payload), attempt, worker.id)

    def claim_item(self, worker: WorkerIdentity, item_id: int) -> Claim | None:
        """Lease one given item (if it is waiting) to `worker`: `runner.py run` uses it to run
        the item it just submitted in its own process, through the same run as a worker's."""
        now = utcnow()
        params = {
            "now": now,
            "worker_id": worker.id,
            "lease_until": now + timedelta(seconds=self.settings.lease_seconds),
            "item_id": item_id,
        }
        with self.db.engine.begin() as conn:
            waiting = conn.execute(
                select(WorkItem.id)
                .where(WorkItem.id == item_id, WorkItem.status == ItemStatus.PENDING)
                .with_for_update()  # no worker takes it meanwhile (SQLite: BEGIN IMMEDIATE)
            ).first()
            if waiting is None:
                return None
            task, reference, payload, attempt = conn.execute(sql.take, params).one()
            run_id = _new_run(conn, item_id, attempt, worker, now)
        return Claim(item_id, run_id, task, reference, dict(payload), attempt, worker.id)

    def _unpaused(self, names: list[str]) -> list[str]:
        """Drop paused tasks and tasks on paused systems, or on systems that are not available
        (credentials rejected, breaker open: robots.systems); both re-read every 2 s."""
        if time.monotonic() >= self._pauses_until:
            with self.db.engine.connect() as conn:
                rows = conn.execute(select(Pause.kind, Pause.name)).all()
                blocked = conn.execute(
                    select(SystemState.system).where(SystemState.state != "available")
                ).scalars()
                self._paused = {(kind, name) for kind, name in rows}
                self.blocked_systems = set(blocked)
                self._paused.update(("system", system) for system in self.blocked_systems)
            self._pauses_until = time.monotonic() + 2
        if not self._paused:
            return names
        return [
            n
            for n in names
            if ("task", n) not in self._paused
            and not any(
                ("system", s) in self._paused
                for s in (self.registry[n].systems if n in self.registry else ())
            )
        ]

    def refresh_pauses(self) -> None:
        """Read pauses and system states again at the next claim (after this process changed
        one)."""
        self._pauses_until = 0.0

    def pause(self, kind: str, name: str, actor: str) -> None:
        if kind not in ("task", "system"):
            raise ValueError("kind må være task eller system")
        with self.db.session() as session:
            if session.scalars(select(Pause).where(Pause.kind == kind, Pause.name == name)).first():
                return
            session.add(Pause(kind=kind, name=name, paused_by=actor))
            audit.record(session, actor, "pause", f"{kind}:{name}")
        self._pauses_until = 0.0

    def resume(self, kind: str, name: str, actor: str) -> None:
        with self.db.session() as session:
            pause = session.scalars(
                select(Pause).where(Pause.kind == kind, Pause.name == name)
            ).first()
            if pause is None:
                return
            session.delete(pause)
            audit.record(session, actor, "resume", f"{kind}:{name}")
        self._pauses_until = 0.0

    def paused(self) -> list[Pause]:
        with self.db.session() as session:
            return list(session.scalars(select(Pause).order_by(Pause.kind, Pause.name)))

    def _has_limit(self, task_name: str) -> bool:
        task = self.registry.get(task_name)
        return task is not None and any(s in self.settings.system_limits for s in task.systems)

    def _pick_within_limits(self, conn: Connection, params: dict[str, Any]) -> int | None:
        """The first eligible item whose systems have a free slot (rows locked on PostgreSQL);
        the items of systems that are full are left out (a full system at the head of the
        queue starves nothing behind it)."""
        running: dict[str, int] = {}
        for systems, count in conn.execute(sql.running_by_systems):
            for system in systems.strip(",").split(","):
                running[system] = running.get(system, 0) + count
        limits = self.settings.system_limits
        full = tuple(sorted(s for s, n in running.items() if s in limits and n >= limits[s]))
        rows = conn.execute(sql.candidates_avoiding(full, self._pg), {**params, "batch": 8}).all()
        for item_id, systems in rows:
            if not systems or self._within_limits(conn, systems):
                return int(item_id)
        return None

    def _within_limits(self, conn: Connection, systems: str) -> bool:
        limits = self.settings.system_limits
        for system in systems.strip(",").split(","):
            limit = limits.get(system)
            if limit is None:
                continue
            if self._pg:
                # A try-lock: a claim never waits for another claim's count (200 workers
                # queued behind one lock, and two claims taking two systems' locks in opposite
                # order deadlocked: bench/fleet.py). A busy system is skipped this time.
                key = zlib.crc32(f"rpa-system:{system}".encode())
                if not conn.execute(sql.try_system_lock, {"k": key}).scalar():
                    self.contended = True
                    return False
            running = conn.execute(sql.running_on_system, {"pattern": f"%,{system},%"}).scalar()
            if (running or 0) >= limit:
                return False
        return True

    def _reclaim_expired(self, conn: Connection, now: datetime) -> None:
        conn.execute(
            sql.mark_dead_workers,
            {"stale_before": now - timedelta(seconds=self.settings.lease_seconds)},
        )
        expired = (
            conn.execute(sql.expired_locked if self._pg else sql.expired, {"now": now})
            .scalars()
            .all()
        )
        if expired:
            # The session only flushes into the claim's transaction; the claim commits it.
            with Session(bind=conn, join_transaction_mode="rollback_only") as session:
                for item in session.scalars(select(WorkItem).where(WorkItem.id.in_(expired))):
                    self._abandon(session, item, now)
                session.flush()

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
        with self.db.engine.begin() as conn:
            renewed = conn.execute(
                sql.renew,
                {
                    "item_id": claim.item_id,
                    "worker_id": claim.worker_id,
                    "lease_until": now + timedelta(seconds=self.settings.lease_seconds),
                },
            ).rowcount
            store_events(conn, events or [])
            return renewed == 1

    def finish(
        self,
        claim: Claim,
        outcome: str,
        *,
        result: dict[str, Any] | None = None,
        error: str | None = None,
        events: list[dict[str, Any]] | None = None,
        artifacts: list[tuple[str, Path]] | None = None,
        provenance: dict[str, Any] | None = None,
    ) -> str:
        """Record the run's outcome and move the item on; returns the item's new status.

        Ownership is checked first, under the item's row lock: a result that arrives after the
        item was reclaimed or cancelled is recorded as `lost` (with what it said), or, if it is
        a success and nobody else has taken the item meanwhile, accepted. Storing the run's log
        lines is idempotent, so a retried finish never fails on lines stored before. What the
        run was made of (`provenance`, robots.provenance) is stored in the same transaction.
        """
        if outcome not in _SETTLE:
            raise ValueError(f"unknown outcome {outcome!r}")
        now = utcnow()
        error = storable_text(mask_text(error)) if error else None
        result = storable(result) if result is not None else None
        rows = artifact_rows(claim.run_id, artifacts or [])
        with self.db.engine.begin() as conn:
            status, owner, failures, max_attempts, settled = conn.execute(
                sql.item_state_locked if self._pg else sql.item_state,
                {"item_id": claim.item_id, "run_id": claim.run_id},
            ).one()
            store_events(conn, events or [])
            if rows:
                conn.execute(insert(Artifact), rows)
            made_of = {"run_id": claim.run_id, "data": storable(provenance)}
            owned = status == ItemStatus.RUNNING and owner == claim.worker_id
            if provenance is not None and (settled is not None or not owned or not self._pg):
                conn.execute(sql.run_provenance, made_of)
            if settled is not None and settled != RunOutcome.ABANDONED:
                return str(status)  # this run was settled already (a retried finish)
            if settled is not None or not owned:
                return self._late_result(conn, claim, outcome, result, error, status, now)
            values = _SETTLE[outcome](self, now, result, error, failures, max_attempts)
            values.update(lease_owner=None, lease_expires_at=None, updated_at=now)
            run = {"run_id": claim.run_id, "run_outcome": outcome, "now": now, "error": error}
            if self._pg:  # run, provenance and item in one statement (two round trips less)
                conn.execute(
                    sql.settle_run_and_item(tuple(sorted(values)), provenance is not None),
                    {
                        "settled_item": claim.item_id,
                        **run,
                        **made_of,
                        **{f"v_{k}": v for k, v in values.items()},
                    },
                )
            else:
                conn.execute(sql.settle_run, run)
                conn.execute(
                    sql.settle_item(tuple(sorted(values))),
                    {"item_id": claim.item_id, **{f"v_{k}": v for k, v in values.items()}},
                )
            return str(values["status"])

    def _late_result(
        self,
        conn: Connection,
        claim: Claim,
        outcome: str,
        result: dict[str, Any] | None,
        error: str | None,
        status: str,
        now: datetime,
    ) -> str:
        """The worker no longer holds the item. A success for an item that waits (reclaimed,
        not yet taken again) is kept; anything else is recorded as `lost`, with what it said."""
        if outcome == RunOutcome.DONE and status == ItemStatus.PENDING:
            self._settle_run(
                conn,
                claim.run_id,
                RunOutcome.DONE,
                now,
                "Resultatet kom etter at leieavtalen var utløpt; godtatt fordi ingen annen "
                "arbeider hadde tatt elementet",
            )
            values = self._done(now, result, None, 0, 0)
            values.update(lease_owner=None, lease_expires_at=None, updated_at=now)
            conn.execute(
                sql.settle_item(tuple(sorted(values))),
                {"item_id": claim.item_id, **{f"v_{k}": v for k, v in values.items()}},
            )
            return ItemStatus.DONE
        said = f"; feil: {error}" if error else ""
        if result is not None:
            said += f"; resultat: {json.dumps(result, ensure_ascii=False, default=str)[:2000]}"
        self._settle_run(
            conn,
            claim.run_id,
            RunOutcome.LOST,
            now,
            f"Resultatet ({outcome}) kom etter at elementet ikke lenger var tildelt denne "
            f"arbeideren (status {status_name(status)}){said}",
        )
        return status

    # What each outcome does to the item: a small table instead of an if/elif chain.
    def _done(
        self, now: datetime, result: Any, error: str | None, failures: int, max_attempts: int
    ) -> dict[str, Any]:
        return dict(
            status=ItemStatus.DONE,
            result=result,
            error_kind=None,
            error_message=None,
            finished_at=now,
        )

    def _business_error(
        self, now: datetime, result: Any, error: str | None, failures: int, max_attempts: int
    ) -> dict[str, Any]:
        return dict(
            status=ItemStatus.BUSINESS_ERROR,
            result=result,
            error_kind="business",
            error_message=error,
            finished_at=now,
        )

    def _system_error(
        self, now: datetime, result: Any, error: str | None, failures: int, max_attempts: int
    ) -> dict[str, Any]:
        failures += 1
        values: dict[str, Any] = dict(failures=failures, error_kind="system", error_message=error)
        if result is not None:
            values["result"] = result  # side effects done before the failure (see RunContext)
        if failures >= max_attempts:
            values.update(status=ItemStatus.FAILED, finished_at=now)
        else:
            values.update(
                status=ItemStatus.PENDING,
                not_before=now + timedelta(seconds=self.backoff(failures)),
            )
        return values

    def _released(
        self, now: datetime, result: Any, error: str | None, failures: int, max_attempts: int
    ) -> dict[str, Any]:
        return dict(status=ItemStatus.PENDING, not_before=now)

    def _system_wait(
        self, now: datetime, result: Any, error: str | None, failures: int, max_attempts: int
    ) -> dict[str, Any]:
        """Its system is not available (credentials rejected, cannot be reached): the item
        waits, spending no attempt; claims skip it while the system is not available
        (robots.systems), and it is tried again a little later otherwise."""
        return dict(
            status=ItemStatus.PENDING,
            not_before=now + timedelta(seconds=self.settings.backoff_base_seconds),
            error_kind="system_wait",
            error_message=error,
        )

    def _waiting(
        self, now: datetime, result: Any, error: str | None, failures: int, max_attempts: int
    ) -> dict[str, Any]:
        """The task asked a person: the item waits, holding no lease; an answer resumes it."""
        return dict(status=ItemStatus.WAITING, error_kind=None, error_message=None)

    def _handed_over(
        self, now: datetime, result: Any, error: str | None, failures: int, max_attempts: int
    ) -> dict[str, Any]:
        """To a team's queue for manual handling (the team travels in the result's place)."""
        team = (result or {}).get("team") or "caseworker"
        return dict(status=ItemStatus.MANUAL, error_kind="manual", error_message=error, team=team)

    def poison(self, claim: Claim, reason: str) -> bool:
        """Stop an item whose outcome cannot be stored (after the worker's retries), so it does
        not hold the queue: failed, error kind `poison`, with the reason. No log lines are
        written here; they stay in the run's JSONL file. False if the item is not ours."""
        now = utcnow()
        reason = storable_text(mask_text(reason))[:2000]
        with self.db.engine.begin() as conn:
            owned = conn.execute(
                update(WorkItem)
                .where(
                    WorkItem.id == claim.item_id,
                    WorkItem.lease_owner == claim.worker_id,
                    WorkItem.status == ItemStatus.RUNNING,
                )
                .values(
                    status=ItemStatus.FAILED,
                    error_kind="poison",
                    error_message=reason,
                    lease_owner=None,
                    lease_expires_at=None,
                    finished_at=now,
                    updated_at=now,
                )
            ).rowcount
            if owned:
                self._settle_run(conn, claim.run_id, RunOutcome.SYSTEM_ERROR, now, reason)
        return bool(owned)

    @staticmethod
    def _settle_run(
        conn: Connection, run_id: int, outcome: str, now: datetime, error: str | None
    ) -> None:
        conn.execute(
            sql.settle_run, {"run_id": run_id, "run_outcome": outcome, "now": now, "error": error}
        )

    def backoff(self, failures: int) -> float:
        """Exponential backoff with jitter: half fixed, half random, capped."""
        base = self.settings.backoff_base_seconds * 2 ** max(0, failures - 1)
        capped = min(self.settings.backoff_max_seconds, base)
        return float(capped / 2 + random.uniform(0, capped / 2))

    # Human actions --------------------------------------------------------------------------

    def get(self, session: Session, ident: str | int) -> WorkItem:
        return find_item(session, ident)

    def cancel(self, ident: str | int, actor: str) -> WorkItem:
        with self.db.session() as session:
            item = self.get(session, ident)
            if item.status not in CANCELLABLE:
                raise InvalidTransition(
                    f"Element {item.id} er {status_name(item.status)} og kan ikke avbrytes"
                )
            _cancel(session, item, actor)
            return item

    def retry(self, ident: str | int, actor: str) -> WorkItem:
        with self.db.session() as session:
            item = self.get(session, ident)
            if item.status not in RETRYABLE:
                raise InvalidTransition(
                    f"Element {item.id} er {status_name(item.status)}; bare feilede, "
                    "forretningsfeilede eller avbrutte elementer kan prøves på nytt"
                )
            _retry(session, item, actor)
            return item

    # Manual handling (manuell behandling) -------------------------------------------------

    def hand_over(self, ident: str | int, reason: str, team: str, actor: str) -> WorkItem:
        """A person sends an item to a team's queue (a waiting, failed or business-error item,
        or one the robots have not started)."""
        with self.db.session() as session:
            item = self.get(session, ident)
            allowed = {
                ItemStatus.PENDING,
                ItemStatus.WAITING,
                ItemStatus.FAILED,
                ItemStatus.BUSINESS_ERROR,
            }
            if item.status not in allowed:
                raise InvalidTransition(
                    f"Element {item.id} er {status_name(item.status)} og kan ikke sendes til "
                    "manuell behandling"
                )
            previous, before = item.status, item.error_message
            reason = storable_text(mask_text(reason)).strip()[:1000]
            if not TEAM_NAME.fullmatch(team):
                raise InvalidTransition(
                    "Teamet må være et navn på 1–60 tegn (bokstaver, tall, bindestrek, _)"
                )
            item.status, item.team, item.assigned_to = ItemStatus.MANUAL, team, None
            _withdraw_questions(session, item.id)
            # the reason is added to what went wrong before, which stays readable
            said = f"{reason.rstrip('.')}. Feilen før: {before}" if before else reason
            item.error_kind, item.error_message = "manual", said[:2000]
            item.finished_at, item.updated_at = None, utcnow()
            audit.record(
                session, actor, "hand_over", f"item:{item.id}", {"was": previous, "team": team}
            )
            return item

    def take(self, ident: str | int, actor: str) -> WorkItem:
        """ "Ta saken": the person takes an item in manual handling (one person at a time)."""
        with self.db.session() as session:
            item = self.get(session, ident)
            if item.status != ItemStatus.MANUAL:
                raise InvalidTransition(f"Element {item.id} er ikke til manuell behandling")
            if item.assigned_to not in (None, actor):
                raise InvalidTransition(f"Element {item.id} er tatt av {item.assigned_to}")
            item.assigned_to, item.updated_at = actor, utcnow()
            audit.record(session, actor, "take", f"item:{item.id}")
            return item

    def complete_manually(self, ident: str | int, outcome: str, actor: str) -> WorkItem:
        """The person who took it records what they did; the item is done, by hand."""
        with self.db.session() as session:
            item = self.get(session, ident)
            if item.status != ItemStatus.MANUAL or item.assigned_to != actor:
                raise InvalidTransition(
                    f"Element {item.id} må være tatt av deg i manuell behandling først"
                )
            now = utcnow()
            item.status, item.handled_manually = ItemStatus.DONE, True
            item.result = {"manuelt": storable_text(mask_text(outcome))[:4000], "av": actor}
            item.error_kind = item.error_message = None
            item.finished_at = item.updated_at = now
            audit.record(session, actor, "complete_manual", f"item:{item.id}")
            return item

    def bulk(self, action: str, ids: list[int], actor: str) -> int:
        """Retry or cancel many items in one transaction, each audited as its own action;
        an item no longer in a status the action applies to is left as it is. Returns how
        many were changed."""
        apply, allowed = (_retry, RETRYABLE) if action == "retry" else (_cancel, CANCELLABLE)
        done = 0
        with self.db.session() as session:
            for item_id in ids:
                item = session.get(WorkItem, item_id, with_for_update=self._pg)
                if item is not None and item.status in allowed:
                    apply(session, item, actor)
                    done += 1
        return done


def _cancel(session: Session, item: WorkItem, actor: str) -> None:
    previous = item.status
    now = utcnow()
    item.status = ItemStatus.CANCELLED
    item.lease_owner = None
    item.lease_expires_at = None
    item.finished_at = item.updated_at = now
    item.error_kind = "cancelled"
    item.error_message = f"Avbrutt av {actor_name(actor)}"
    _withdraw_questions(session, item.id)
    audit.record(session, actor, "cancel", f"item:{item.id}", {"was": previous})


def _withdraw_questions(session: Session, item_id: int) -> None:
    """The item's open questions are withdrawn when people take it out of the robots' hands
    (cancelled, handed over): nobody is asked for an answer that would change nothing."""
    session.execute(
        update(Question)
        .where(Question.item_id == item_id, Question.status == "open")
        .values(status="withdrawn")
    )


def _retry(session: Session, item: WorkItem, actor: str) -> None:
    previous = item.status
    now = utcnow()
    item.status = ItemStatus.PENDING
    item.failures = item.abandons = 0
    item.not_before = item.updated_at = now
    item.finished_at = None
    item.error_kind = item.error_message = None
    audit.record(session, actor, "retry", f"item:{item.id}", {"was": previous})


def find_item(session: Session, ident: str | int) -> WorkItem:
    """An item by id, or by reference when that is unique across tasks."""
    item = None
    if isinstance(ident, int) or str(ident).isdigit():
        item = session.get(WorkItem, int(ident))
    if item is None:
        stored = sealing.seal_reference(str(ident))
        matches = session.scalars(select(WorkItem).where(WorkItem.reference == stored)).all()
        if len(matches) > 1:
            raise ItemNotFound(
                f"Referansen {mask_text(str(ident))!r} finnes for flere oppgaver; bruk element-id"
            )
        item = matches[0] if matches else None
    if item is None:
        raise ItemNotFound(f"Fant ikke element {mask_text(str(ident))!r}")
    return item


_SETTLE: dict[str, _Settle] = {
    RunOutcome.WAITING: Queue._waiting,
    RunOutcome.HANDED_OVER: Queue._handed_over,
    RunOutcome.DONE: Queue._done,
    RunOutcome.BUSINESS_ERROR: Queue._business_error,
    RunOutcome.SYSTEM_ERROR: Queue._system_error,
    RunOutcome.RELEASED: Queue._released,
    RunOutcome.SYSTEM_WAIT: Queue._system_wait,
}
