"""The read layer: every query of items, runs, run events, artifacts and audit events that a
person or a report sees, with its filters, keyset paging, status rules, Norwegian labels and
masking, for the CLI, the console, the reports and the demo alike.

Masking has one owner. What the robots write is masked once, when it is written (run events,
errors, results: `robots.storable` and the run log); what is read goes out only through the view
types below, which mask again at the boundary (references, payloads and error texts were
written by people or by older versions, and a newly registered secret must be hidden in what
was stored before it). Nothing outside this module turns a row into something shown.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, Float, Numeric, Select, and_, cast, func, or_, select

from robots import sealing
from robots.db import Database
from robots.labels import action_name, outcome_name, schedule_text, status_name
from robots.masking import mask, mask_text
from robots.models import (
    CANCELLABLE,
    FINAL_STATUSES,
    RETRYABLE,
    Artifact,
    AuditEvent,
    ItemStatus,
    Question,
    Run,
    RunEvent,
    RunOutcome,
    Schedule,
    Worker,
    WorkItem,
    utcnow,
)
from robots.paging import PAGE_SIZE, At, Page, keyset_page
from robots.settings import Settings

OPEN_STATUSES = sorted(set(ItemStatus) - FINAL_STATUSES)  # an IN list the status index serves

WORKER_STATES = {
    "idle": "ledig",
    "busy": "opptatt",
    "stopping": "stopper",
    "stopped": "stoppet",
    "dead": "borte (hjerteslaget uteble)",
    "leader": "leder (planlegger)",
}


class NotFound(LookupError):
    """What was asked for does not exist (or is not visible to the one asking)."""


class InvalidFilter(ValueError):
    """A filter value that is not what it must be (a date that is not a date)."""


# Filters -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemFilter:
    """Which items: by status, task, a part of the reference (any case), and, for a person who
    may see only their own, the submitters that count as them."""

    status: str = ""
    task: str = ""
    text: str = ""
    submitters: tuple[str, ...] | None = None  # None: everybody's
    audience: Audience | None = None  # None: everybody's; else its teams' and its own items


@dataclass(frozen=True)
class RunFilter:
    """The auditor's run-log search (the console reads the fields from the query string)."""

    task: str = ""
    outcome: str = ""
    reference: str = ""
    actor: str = ""
    fra: str = ""
    til: str = ""
    item: int | None = None


@dataclass(frozen=True)
class AuditFilter:
    """The audit trail: actor and target by a part of them, action exactly, dates inclusive."""

    actor: str = ""
    action: str = ""
    target: str = ""
    fra: str = ""
    til: str = ""


# What goes out -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemView:
    id: int
    task: str
    reference: str
    status: str
    status_text: str
    attempts: int
    failures: int
    abandons: int
    max_attempts: int
    priority: int
    error_kind: str | None
    error: str
    submitted_by: str
    created_at: datetime
    finished_at: datetime | None
    not_before: datetime
    deadline: datetime | None
    payload: Any
    result: Any
    cancellable: bool
    retryable: bool
    overdue: bool
    team: str | None = None
    assigned_to: str | None = None
    handled_manually: bool = False

    def as_json(self, local: Any) -> dict[str, Any]:
        """The API's shape (times as ISO text, and as the installation's local time)."""
        return {
            "id": self.id,
            "task": self.task,
            "reference": self.reference,
            "status": self.status,
            "status_text": self.status_text,
            "attempts": self.attempts,
            "priority": self.priority,
            "error_kind": self.error_kind,
            "error": self.error,
            "submitted_by": self.submitted_by,
            "created_at": self.created_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "created_local": local(self.created_at),
            "finished_local": local(self.finished_at),
            "payload": self.payload,
            "result": self.result,
        }


@dataclass(frozen=True)
class RunView:
    id: int
    item_id: int
    task: str
    reference: str
    attempt: int
    worker_id: str
    host: str
    pid: int
    started_at: datetime
    ended_at: datetime | None
    outcome: str | None
    outcome_text: str
    error: str
    submitted_by: str

    @property
    def duration_s(self) -> float | None:
        return (self.ended_at - self.started_at).total_seconds() if self.ended_at else None

    def as_json(self) -> dict[str, Any]:
        return {
            "run": self.id,
            "item": self.item_id,
            "task": self.task,
            "reference": self.reference,
            "attempt": self.attempt,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "outcome": self.outcome,
            "error": self.error,
            "submitted_by": self.submitted_by,
        }


@dataclass(frozen=True)
class EventView:
    seq: int
    ts: datetime
    level: str
    step: str | None
    message: str
    duration_ms: float | None
    data: Any

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "ts": self.ts.isoformat(),
            "level": self.level,
            "step": self.step,
            "message": self.message,
            "duration_ms": self.duration_ms,
        }


@dataclass(frozen=True)
class ArtifactView:
    id: int
    kind: str
    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class RunDetail:
    run: RunView
    item: ItemView
    events: list[EventView]
    artifacts: list[ArtifactView]
    provenance: dict[str, Any]  # code version, task module hash, config files read

    @property
    def rules(self) -> list[str]:
        """The rules the task applied (ctx.rule), in order."""
        return [
            str(e.data["rule"])
            for e in self.events
            if isinstance(e.data, dict) and e.data.get("rule")
        ]


@dataclass(frozen=True)
class AuditView:
    id: int
    ts: datetime
    actor: str
    action: str
    action_text: str
    target: str
    details: Any
    hash: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ts": self.ts.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "details": self.details,
            "hash": self.hash,
        }


@dataclass(frozen=True)
class Listing:
    """One page of views with the true total (see robots.paging)."""

    rows: list[Any]
    page: Page
    extra: dict[str, Any] = field(default_factory=dict)


# Conversions (the only place a row becomes something shown) -----------------------------------


def item_view(item: WorkItem, now: datetime | None = None) -> ItemView:
    now = now or utcnow()
    return ItemView(
        id=item.id,
        task=item.task,
        reference=shown_reference(item.reference),
        status=item.status,
        status_text=status_name(item.status),
        attempts=item.attempts,
        failures=item.failures,
        abandons=item.abandons,
        max_attempts=item.max_attempts,
        priority=item.priority,
        error_kind=item.error_kind,
        error=mask_text(item.error_message or ""),
        submitted_by=item.submitted_by,
        created_at=item.created_at,
        finished_at=item.finished_at,
        not_before=item.not_before,
        deadline=item.deadline,
        payload=mask(sealing.shown_payload(item.payload)),
        result=mask(item.result),
        cancellable=item.status in CANCELLABLE,
        retryable=item.status in RETRYABLE,
        overdue=item.deadline is not None
        and item.deadline < now
        and item.status not in FINAL_STATUSES,
        team=item.team,
        assigned_to=item.assigned_to,
        handled_manually=bool(item.handled_manually),
    )


def shown_reference(reference: str) -> str:
    """A stored reference as people see it (a sealed number's tag shortened, then masked)."""
    return mask_text(sealing.shown_reference(reference))


def run_view(run: Run, item: WorkItem) -> RunView:
    return RunView(
        id=run.id,
        item_id=item.id,
        task=item.task,
        reference=shown_reference(item.reference),
        attempt=run.attempt,
        worker_id=run.worker_id,
        host=run.host,
        pid=run.pid,
        started_at=run.started_at,
        ended_at=run.ended_at,
        outcome=run.outcome,
        outcome_text=outcome_name(run.outcome),
        error=mask_text(run.error_message or ""),
        submitted_by=item.submitted_by,
    )


def event_view(event: RunEvent) -> EventView:
    return EventView(
        seq=event.seq,
        ts=event.ts,
        level=event.level,
        step=event.step,
        message=mask_text(event.message),
        duration_ms=event.duration_ms,
        data=mask(event.data),
    )


def artifact_view(artifact: Artifact) -> ArtifactView:
    return ArtifactView(artifact.id, artifact.kind, artifact.path, artifact.size, artifact.sha256)


def audit_view(event: AuditEvent) -> AuditView:
    return AuditView(
        id=event.id,
        ts=event.ts,
        actor=event.actor,
        action=event.action,
        action_text=action_name(event.action),
        target=event.target,
        details=mask(event.details),
        hash=event.hash,
    )


def like(text: str) -> str:
    """Text for a LIKE pattern, its wildcards taken literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def day_start(value: str, zone: tzinfo) -> datetime:
    """Midnight of a local date (ÅÅÅÅ-MM-DD), in UTC."""
    try:
        return datetime.fromisoformat(value).replace(tzinfo=zone).astimezone(UTC)
    except ValueError:
        raise InvalidFilter(f"{value!r} er ikke en dato (ÅÅÅÅ-MM-DD)") from None


def waiting_by_task(session: Any) -> dict[str, int]:
    """Items waiting, per task (the queue depth)."""
    rows = session.execute(
        select(WorkItem.task, func.count())
        .where(WorkItem.status == ItemStatus.PENDING)
        .group_by(WorkItem.task)
    ).all()
    return {str(task): int(n) for task, n in rows}


# The queries ---------------------------------------------------------------------------------


class Views:
    """Reads for people: the console, the CLI, the reports and the demo ask here."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.zone = settings.zone
        sealing.install(settings)

    @property
    def zone_note(self) -> str:
        """What the times `local` gives are, for a label: "norsk tid", or the zone's name."""
        return "norsk tid" if self.settings.timezone == "Europe/Oslo" else self.settings.timezone

    def local(self, ts: datetime | None) -> str:
        """A time as the installation shows it (Europe/Oslo by default)."""
        return ts.astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"

    # Items -----------------------------------------------------------------------------------

    def items_query(self, f: ItemFilter) -> Select[Any]:
        query = select(WorkItem)
        if f.submitters is not None:
            query = query.where(WorkItem.submitted_by.in_(f.submitters))
        if f.audience is not None:
            query = query.where(
                or_(
                    WorkItem.team.in_(f.audience.teams),
                    WorkItem.submitted_by.in_(f.audience.submitters),
                )
            )
        if f.status:
            query = query.where(WorkItem.status == f.status)
        if f.task:
            query = query.where(WorkItem.task == f.task)
        if f.text:
            text = sealing.seal_reference(f.text)  # a fødselsnummer is searched by its tag
            query = query.where(WorkItem.reference.ilike(f"%{like(text)}%", escape="\\"))
        return query

    def items(self, f: ItemFilter, under: At | int | None = None, size: int = PAGE_SIZE) -> Listing:
        """A page of items, newest first, with the true total."""
        with self.db.session() as session:
            page = keyset_page(session, self.items_query(f), WorkItem.id, under, size)
            now = utcnow()
            return Listing([item_view(i, now) for i in page.rows], page)

    def item_ids(self, f: ItemFilter, limit: int) -> list[int]:
        """The ids of the matching items, oldest first, at most `limit` (bulk actions)."""
        query = self.items_query(f).with_only_columns(WorkItem.id).order_by(WorkItem.id)
        with self.db.session() as session:
            return list(session.scalars(query.limit(limit)))

    def item(self, item_id: int, submitters: tuple[str, ...] | None = None) -> ItemView:
        """One item; NotFound also when it is not among the submitters' (not visible)."""
        with self.db.session() as session:
            item = session.get(WorkItem, item_id)
            if item is None or (submitters is not None and item.submitted_by not in submitters):
                raise NotFound("Fant ikke elementet")
            return item_view(item)

    def item_input(self, item_id: int) -> Any:
        """An item's input with its sealed values opened, for a person whose role may see
        personal data (`personal_data_roles`); the caller audits the look."""
        with self.db.session() as session:
            item = session.get(WorkItem, item_id)
            if item is None:
                raise NotFound("Fant ikke elementet")
            return sealing.open_payload(item.payload)

    def item_by_ident(self, ident: str | int) -> ItemView:
        """By id, or by reference when that is unique across tasks."""
        from robots.queue import find_item

        with self.db.session() as session:
            return item_view(find_item(session, ident))

    def item_runs(self, item_id: int) -> list[RunView]:
        with self.db.session() as session:
            rows = session.execute(
                select(Run, WorkItem)
                .join(WorkItem, WorkItem.id == Run.item_id)
                .where(Run.item_id == item_id)
                .order_by(Run.id)
            ).all()
            return [run_view(run, item) for run, item in rows]

    def status_counts(self) -> dict[str, int]:
        with self.db.session() as session:
            rows = session.execute(
                select(WorkItem.status, func.count()).group_by(WorkItem.status)
            ).all()
        return {str(status): int(n) for status, n in rows}

    def task_status_counts(self) -> Counter[tuple[str, str]]:
        """Items per (task, status): what the demo compares with what it expected."""
        with self.db.session() as session:
            rows = session.execute(
                select(WorkItem.task, WorkItem.status, func.count()).group_by(
                    WorkItem.task, WorkItem.status
                )
            ).all()
        return Counter({(task, str(status)): int(n) for task, status, n in rows})

    def open_count(self) -> int:
        """Items not yet final."""
        with self.db.session() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(WorkItem)
                    .where(WorkItem.status.in_(OPEN_STATUSES))
                )
                or 0
            )

    def items_with_status(self, status: str) -> list[ItemView]:
        with self.db.session() as session:
            now = utcnow()
            rows = session.scalars(
                select(WorkItem).where(WorkItem.status == status).order_by(WorkItem.id)
            )
            return [item_view(i, now) for i in rows]

    # Runs ------------------------------------------------------------------------------------

    def runs_query(self, f: RunFilter) -> Select[Run, WorkItem]:
        """Runs with their items as the filter says (no order, no limit; the newest run has
        the highest id, as runs are numbered when they start)."""
        query = select(Run, WorkItem).join(WorkItem, WorkItem.id == Run.item_id)
        filters: list[Any] = []
        if f.task:
            filters.append(WorkItem.task == f.task)
        if f.outcome:
            filters.append(Run.outcome == f.outcome)
        if f.reference:  # a part of it, any case (an auditor rarely has the whole)
            text = sealing.seal_reference(f.reference)  # a fødselsnummer by its tag
            filters.append(WorkItem.reference.ilike(f"%{like(text)}%", escape="\\"))
        if f.actor:
            filters.append(WorkItem.submitted_by.ilike(f"%{like(f.actor)}%", escape="\\"))
        if f.item is not None:
            if not 1 <= f.item <= 2**62:  # what both databases can hold as an id
                raise InvalidFilter(f"{f.item} er ikke et elementnummer")
            filters.append(Run.item_id == f.item)
        if f.fra:
            filters.append(Run.started_at >= day_start(f.fra, self.zone))
        if f.til:
            filters.append(Run.started_at < day_start(f.til, self.zone) + timedelta(days=1))
        return query.where(and_(*filters)) if filters else query

    def runs(self, f: RunFilter, under: At | int | None = None, size: int = PAGE_SIZE) -> Listing:
        with self.db.session() as session:
            page = keyset_page(session, self.runs_query(f), Run.id, under, size, scalars=False)
            return Listing([run_view(run, item) for run, item in page.rows], page)

    def run_count(self, f: RunFilter) -> int:
        with self.db.session() as session:
            query = self.runs_query(f).subquery()
            return int(session.scalar(select(func.count()).select_from(query)) or 0)

    def each_run(self, f: RunFilter) -> Iterator[RunView]:
        """Every matching run, newest first, streamed (for exports: no cap, constant memory)."""
        with self.db.session() as session:
            query = self.runs_query(f).order_by(Run.id.desc()).execution_options(yield_per=500)
            for run, item in session.execute(query):
                yield run_view(run, item)

    def run(self, run_id: int) -> RunDetail:
        with self.db.session() as session:
            run = session.get(Run, run_id)
            if run is None:
                raise NotFound(f"Fant ikke kjøring {run_id}")
            return RunDetail(
                run=run_view(run, run.item),
                item=item_view(run.item),
                events=[event_view(e) for e in run.events],
                artifacts=[artifact_view(a) for a in run.artifacts],
                provenance=mask(run.provenance) or {},
            )

    def run_events(self, run_id: int) -> list[EventView]:
        with self.db.session() as session:
            events = session.scalars(
                select(RunEvent).where(RunEvent.run_id == run_id).order_by(RunEvent.seq)
            ).all()
            return [event_view(e) for e in events]

    def artifact(self, artifact_id: int) -> ArtifactView:
        with self.db.session() as session:
            row = session.get(Artifact, artifact_id)
            if row is None:
                raise NotFound("Fant ikke filen")
            return artifact_view(row)

    def run_durations(self) -> list[float]:
        """Durations of finished runs in seconds, shortest first."""
        with self.db.session() as session:
            rows = session.execute(
                select(Run.started_at, Run.ended_at).where(Run.ended_at.is_not(None))
            ).all()
        return sorted((ended - started).total_seconds() for started, ended in rows if ended)

    # Audit trail -----------------------------------------------------------------------------

    def audit_query(self, f: AuditFilter) -> Select[Any]:
        query = select(AuditEvent)
        if f.actor:
            query = query.where(AuditEvent.actor.ilike(f"%{like(f.actor)}%", escape="\\"))
        if f.action:
            query = query.where(AuditEvent.action == f.action)
        if f.target:
            query = query.where(AuditEvent.target.ilike(f"%{like(f.target)}%", escape="\\"))
        if f.fra:
            query = query.where(AuditEvent.ts >= day_start(f.fra, self.zone))
        if f.til:
            query = query.where(AuditEvent.ts < day_start(f.til, self.zone) + timedelta(days=1))
        return query

    def audit_events(
        self, f: AuditFilter, under: At | int | None = None, size: int = PAGE_SIZE
    ) -> Listing:
        with self.db.session() as session:
            page = keyset_page(session, self.audit_query(f), AuditEvent.id, under, size)
            actions = sorted(session.scalars(select(AuditEvent.action).distinct()))
            return Listing([audit_view(e) for e in page.rows], page, {"actions": actions})

    # Operations ------------------------------------------------------------------------------

    def dashboard(self, paused: list[dict[str, str]]) -> dict[str, Any]:
        """The operator's figures: queue depth per task, items per status, runs and failure
        rate over 24 hours, workers with heartbeat, per-system limits, pauses."""
        since = utcnow() - timedelta(hours=24)
        with self.db.session() as session:
            depth = waiting_by_task(session)
            outcomes = dict(
                session.execute(
                    select(Run.outcome, func.count())
                    .where(Run.started_at >= since)
                    .group_by(Run.outcome)
                ).all()
            )
            now = utcnow()
            workers = [
                {
                    "id": w.id,
                    "host": w.host,
                    "pid": w.pid,
                    "status": WORKER_STATES.get(w.status, w.status),
                    "heartbeat": self.local(w.heartbeat_at),
                    "item": w.current_item_id,
                    "online": w.status not in ("stopped", "dead")
                    and (now - w.heartbeat_at).total_seconds()
                    < 3 * self.settings.heartbeat_seconds,
                }
                # A stopped or dead worker leaves the list an hour after its last heartbeat.
                for w in session.scalars(
                    select(Worker)
                    .where(
                        Worker.status.not_in(("stopped", "dead"))
                        | (Worker.heartbeat_at >= now - timedelta(hours=1))
                    )
                    .order_by(Worker.started_at.desc())
                    .limit(50)
                )
            ]
        runs = sum(v for k, v in outcomes.items() if k)
        failed = sum(
            v for k, v in outcomes.items() if k in (RunOutcome.SYSTEM_ERROR, RunOutcome.ABANDONED)
        )
        return {
            "queue_depth": depth,
            "items_by_status": self.status_counts(),
            "runs_24h": runs,
            "failure_rate_24h": round(failed / runs, 3) if runs else 0.0,
            "outcomes_24h": {k or "pågår": v for k, v in outcomes.items()},
            "workers": workers,
            "limits": self.settings.system_limits,
            "pauses": paused,
        }

    def _last_firings(self, names: list[str]) -> dict[str, ItemView]:
        """The newest item each schedule made (its reference starts with `<name>@`)."""
        found: dict[str, ItemView] = {}
        with self.db.session() as session:
            for name in names:
                item = session.scalars(
                    select(WorkItem)
                    .where(WorkItem.reference.like(f"{like(name)}@%", escape="\\"))
                    .order_by(WorkItem.id.desc())
                    .limit(1)
                ).first()
                if item is not None:
                    found[name] = item_view(item)
        return found

    def schedules(self) -> list[dict[str, Any]]:
        """Schedules with their next fire times (or why they have none)."""
        from robots.scheduler import ScheduleError, next_fire_times

        with self.db.session() as session:
            rows = list(session.scalars(select(Schedule).order_by(Schedule.name)))
        last = self._last_firings([s.name for s in rows])
        result = []
        for s in rows:
            try:
                upcoming = (
                    [self.local(t) for t in next_fire_times(s, self.settings)] if s.enabled else []
                )
            except ScheduleError as exc:
                upcoming = [str(exc)]
            result.append(
                {
                    "name": s.name,
                    "task": s.task,
                    "trigger": f"{s.trigger} {s.spec}",
                    "when": schedule_text(s.trigger, s.spec, s.working_days_only),
                    "last": last.get(s.name),
                    "enabled": s.enabled,
                    "working_days_only": s.working_days_only,
                    "source": s.source,
                    "next": upcoming,
                }
            )
        return result


# Figures for the operator ------------------------------------------------------------------


@dataclass(frozen=True)
class TaskFigures:
    """One task's last 24 hours: what an operator looks at first."""

    task: str
    waiting: int
    per_hour: float  # items finished per hour
    median_s: float | None  # median duration of its finished runs
    oldest_waiting_s: float | None  # age of the oldest waiting item
    system_failure_rate: float  # of its runs: system errors and abandoned
    business_failure_rate: float  # of its runs: business errors
    runs: int


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def task_figures(views: Views, tasks: list[str], hours: int = 24) -> list[TaskFigures]:
    now = utcnow()
    since = now - timedelta(hours=hours)
    with views.db.session() as session:
        waiting = waiting_by_task(session)
        oldest = dict(
            session.execute(
                select(WorkItem.task, func.min(WorkItem.created_at))
                .where(WorkItem.status == ItemStatus.PENDING)
                .group_by(WorkItem.task)
            ).all()
        )
        # Counted here, not grouped in SQL: grouping by task makes SQLite walk the task index
        # over every item instead of the few the finished_at index finds.
        finished = Counter(
            session.scalars(select(WorkItem.task).where(WorkItem.finished_at >= since)).all()
        )
        runs = session.execute(
            select(WorkItem.task, Run.outcome, Run.started_at, Run.ended_at)
            .join(WorkItem, WorkItem.id == Run.item_id)
            .where(Run.started_at >= since)
        ).all()
    durations: dict[str, list[float]] = {}
    outcomes: dict[str, Counter[str]] = {}
    for task, outcome, started, ended in runs:
        outcomes.setdefault(task, Counter())[outcome or ""] += 1
        if ended is not None and outcome == RunOutcome.DONE:
            durations.setdefault(task, []).append((ended - started).total_seconds())
    figures = []
    for task in tasks:
        counted = outcomes.get(task, Counter())
        total = sum(counted.values())
        system = counted[RunOutcome.SYSTEM_ERROR] + counted[RunOutcome.ABANDONED]
        first = oldest.get(task)
        figures.append(
            TaskFigures(
                task=task,
                waiting=int(waiting.get(task, 0)),
                per_hour=finished.get(task, 0) / hours,
                median_s=_median(durations.get(task, [])),
                oldest_waiting_s=(now - first).total_seconds() if first else None,
                system_failure_rate=system / total if total else 0.0,
                business_failure_rate=counted[RunOutcome.BUSINESS_ERROR] / total if total else 0.0,
                runs=total,
            )
        )
    return figures


def run_seconds(db: Database) -> ColumnElement[float]:
    """A run's duration in seconds, in the database's own arithmetic."""
    if db.is_sqlite:
        return (func.julianday(Run.ended_at) - func.julianday(Run.started_at)) * 86400.0
    return cast(func.extract("epoch", Run.ended_at - Run.started_at), Float)


def _hour_of(db: Database) -> ColumnElement[str]:
    """The UTC hour a run started in, as text "YYYY-MM-DD HH" (grouped by the database)."""
    if db.is_sqlite:  # stored as text "YYYY-MM-DD HH:MM:SS.ffffff" (cheaper than strftime)
        return func.substr(Run.started_at, 1, 13)
    return func.to_char(func.date_trunc("hour", Run.started_at), "YYYY-MM-DD HH24")


def _medians(session: Any, db: Database, since: datetime) -> dict[str, float | None]:
    """The median duration of each task's finished runs since `since`, to a tenth of a second:
    the database counts runs per task and tenth of a second, and the median is read off those
    counts (no run is fetched one by one)."""
    tenths = func.round(cast(run_seconds(db), Numeric), 1)
    rows = session.execute(
        select(WorkItem.task, tenths, func.count())
        .select_from(Run)
        .join(WorkItem, WorkItem.id == Run.item_id)
        .where(Run.started_at >= since, Run.outcome == RunOutcome.DONE)
        .group_by(WorkItem.task, tenths)
    ).all()
    counted: dict[str, list[tuple[float, int]]] = {}
    for task, value, n in rows:
        if value is not None:
            counted.setdefault(task, []).append((float(value), int(n)))
    medians: dict[str, float | None] = {}
    for task, values in sorted(counted.items()):
        values.sort()
        total = sum(n for _, n in values)
        wanted = [(total - 1) // 2, total // 2]  # the middle one, or the middle two
        found, seen = [], 0
        for value, n in values:
            while wanted and wanted[0] < seen + n:
                found.append(value)
                wanted.pop(0)
            seen += n
        medians[task] = sum(found) / len(found)
    return medians


def chart_data(views: Views) -> dict[str, Any]:
    """The dashboard's charts: runs per hour stacked by outcome (24 hours) and per local day
    (30 days), items waiting or running over the last 24 hours, and the median duration per
    task over 7 days. The database counts runs per hour; times are Unix seconds (uPlot)."""
    now = utcnow()
    zone = views.zone
    day_ago, month_ago = now - timedelta(hours=24), now - timedelta(days=30)
    hour_of = _hour_of(views.db)
    with views.db.session() as session:
        per_hour = session.execute(
            select(hour_of, Run.outcome, func.count())
            .where(Run.started_at >= month_ago, Run.outcome.is_not(None))
            .group_by(hour_of, Run.outcome)
        ).all()
        medians = _medians(session, views.db, now - timedelta(days=7))
        # Open now, or finished within the day (two index searches, not one scan).
        open_or_recent = [
            *session.execute(
                select(WorkItem.created_at, WorkItem.finished_at).where(
                    WorkItem.status.in_(OPEN_STATUSES)
                )
            ),
            *session.execute(
                select(WorkItem.created_at, WorkItem.finished_at).where(
                    WorkItem.finished_at >= day_ago
                )
            ),
        ]
    shown = [o.value for o in RunOutcome]
    hour = now.replace(minute=0, second=0, microsecond=0)
    hours = [hour - timedelta(hours=23 - i) for i in range(24)]
    today = now.astimezone(zone).date()
    days = [today - timedelta(days=29 - i) for i in range(30)]
    by_hour = {o: [0] * 24 for o in shown}
    by_day = {o: [0] * 30 for o in shown}
    hour_index = {h: i for i, h in enumerate(hours)}
    day_index = {d: i for i, d in enumerate(days)}
    for text, outcome, n in per_hour:
        started = datetime.strptime(str(text), "%Y-%m-%d %H").replace(tzinfo=UTC)
        if outcome not in by_hour:
            continue
        if started in hour_index:
            by_hour[outcome][hour_index[started]] += n
        day = started.astimezone(zone).date()  # Oslo's offsets are whole hours
        if day in day_index:
            by_day[outcome][day_index[day]] += n
    depth_x = [now - timedelta(hours=23 - i) for i in range(24)]  # the last point is now
    depth = [
        sum(1 for created, ended in open_or_recent if created <= t and (ended is None or ended > t))
        for t in depth_x
    ]
    midnight = [datetime.combine(d, datetime.min.time(), zone) for d in days]
    return {
        "hours": {"x": [int(h.timestamp()) for h in hours], "series": by_hour},
        "days": {"x": [int(m.timestamp()) for m in midnight], "series": by_day},
        "depth": {"x": [int(t.timestamp()) for t in depth_x], "y": depth},
        "median_by_task": medians,
        "outcomes": shown,
    }


# People in the loop ------------------------------------------------------------------------


@dataclass(frozen=True)
class Audience:
    """Whose questions a person may see (anyone else gets "not found", as if none existed):
    those on items they submitted, and those addressed to a team they are a member of."""

    submitters: tuple[str, ...]
    teams: tuple[str, ...]


def audience_for(
    settings: Settings, username: str, sees_all: bool, submitters: tuple[str, ...]
) -> Audience | None:
    """The audience of a person (None: every question, for those who run the fleet): the
    questions on items they submitted (`submitters`) and those addressed to a team that
    `question_teams` lists them in (a role's name is a team only when listed there)."""
    if sees_all:
        return None
    teams = tuple(team for team, members in settings.question_teams.items() if username in members)
    return Audience(submitters, teams)


@dataclass(frozen=True)
class QuestionView:
    id: int
    item_id: int
    submitted_by: str
    task: str
    reference: str
    text: str
    to_role: str
    model: str
    evidence: Any
    status: str
    answer: Any
    answered_by: str | None
    answered_at: datetime | None
    deadline: datetime | None
    created_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "item": self.item_id,
            "task": self.task,
            "reference": self.reference,
            "text": self.text,
            "model": self.model.rpartition(":")[2],  # what kind of answer it wants
            "to": self.to_role,
            "evidence": self.evidence,
            "status": self.status,
            "answer": self.answer,
            "answered_by": self.answered_by,
            "deadline": self.deadline.isoformat() if self.deadline else None,
        }


def question_view(question: Question, item: WorkItem) -> QuestionView:
    return QuestionView(
        id=question.id,
        item_id=item.id,
        submitted_by=item.submitted_by,
        task=item.task,
        reference=mask_text(item.reference),
        text=mask_text(question.text),
        to_role=question.to_role,
        model=question.model,
        evidence=mask(question.evidence),
        status=question.status,
        answer=mask(question.answer),
        answered_by=question.answered_by,
        answered_at=question.answered_at,
        deadline=question.deadline,
        created_at=question.created_at,
    )


def _seen_by(audience: Audience) -> ColumnElement[bool]:
    return or_(WorkItem.submitted_by.in_(audience.submitters), Question.to_role.in_(audience.teams))


def questions(
    views: Views,
    *,
    audience: Audience | None,
    status: str = "open",
    item: int | None = None,
) -> list[QuestionView]:
    """Questions this audience may see (None: every question), newest first; or every
    question of one item."""
    query = select(Question, WorkItem).join(WorkItem, WorkItem.id == Question.item_id)
    if item is not None:
        query = query.where(Question.item_id == item)
    else:
        query = query.where(Question.status == status)
    if audience is not None:
        query = query.where(_seen_by(audience))
    with views.db.session() as session:
        rows = session.execute(query.order_by(Question.id.desc()).limit(500)).all()
        return [question_view(q, i) for q, i in rows]


def question(views: Views, question_id: int, audience: Audience | None = None) -> QuestionView:
    """One question; NotFound also when this audience may not see it (the same answer)."""
    query = (
        select(Question, WorkItem)
        .join(WorkItem, WorkItem.id == Question.item_id)
        .where(Question.id == question_id)
    )
    if audience is not None:
        query = query.where(_seen_by(audience))
    with views.db.session() as session:
        row = session.execute(query).first()
        if row is None:
            raise NotFound("Fant ikke spørsmålet")
        return question_view(row[0], row[1])


def manual_counts(views: Views, months: int = 12) -> list[dict[str, Any]]:
    """Completions per task and month, by hand and by robot (municipalities report the share
    as benefit realisation). The database counts them per UTC day; a day belongs to the month
    it has at noon in the installation's time zone (so a completion in the last hour or two of
    a month's last day may count in that month rather than the next)."""
    since = utcnow() - timedelta(days=31 * months)
    if views.db.is_sqlite:
        day: ColumnElement[str] = func.substr(WorkItem.finished_at, 1, 10)
    else:
        day = func.to_char(WorkItem.finished_at, "YYYY-MM-DD")
    with views.db.session() as session:
        rows = session.execute(
            select(WorkItem.task, day, WorkItem.handled_manually, func.count())
            .where(WorkItem.status == ItemStatus.DONE, WorkItem.finished_at >= since)
            .group_by(WorkItem.task, day, WorkItem.handled_manually)
        ).all()
    counted: dict[tuple[str, str], list[int]] = {}
    for task, text, manual, n in rows:
        noon = datetime.strptime(f"{text} 12", "%Y-%m-%d %H").replace(tzinfo=UTC)
        month = noon.astimezone(views.zone).strftime("%Y-%m")
        entry = counted.setdefault((month, task), [0, 0])
        entry[1 if manual else 0] += int(n)
    return [
        {"month": month, "task": task, "automated": auto, "manual": manual}
        for (month, task), (auto, manual) in sorted(counted.items(), reverse=True)
    ]
