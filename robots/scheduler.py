"""The scheduler: APScheduler fires schedules; a firing only enqueues a work item.

The item's reference is derived from (schedule, fire time), so a restart, a misfire catch-up or a
second scheduler can never create the same run twice: the queue returns the existing item. Jobs
live in APScheduler's SQLAlchemy job store, so fire times missed while no scheduler ran are caught
up on start (within the schedule's misfire grace, coalesced if asked). Only the leader runs
APScheduler: on PostgreSQL the holder of an advisory lock, on SQLite the holder of a file lock.
"""

from __future__ import annotations

import fcntl
import re
import threading
import time
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from apscheduler.executors.base import BaseExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from loguru import logger
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import Connection, select, text
from sqlalchemy.engine import make_url

from robots.db import Database
from robots.models import Schedule, utcnow
from robots.queue import Queue
from robots.settings import Settings
from robots.tasks import InvalidPayload, Task, UnknownTask, get_task
from robots.workdays import WorkingDays

JOB_PREFIX = "schedule:"


class ScheduleError(ValueError):
    """A schedule definition is wrong; the message names the schedule and the field."""


# Schedule definitions -----------------------------------------------------------------------


class ScheduleSpec(BaseModel):
    """One entry of config/schedules.yaml."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,99}$")
    task: str
    cron: str | None = None
    interval_seconds: int | None = Field(default=None, ge=1)
    at: datetime | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    priority: int = 0
    working_days_only: bool = False
    misfire_grace_seconds: int = Field(default=3600, ge=1)
    coalesce: bool = True
    enabled: bool = True

    @model_validator(mode="after")
    def _one_trigger(self) -> ScheduleSpec:
        given = [k for k in ("cron", "interval_seconds", "at") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of cron, interval_seconds, at")
        return self

    @property
    def trigger_kind(self) -> Literal["cron", "interval", "date"]:
        if self.cron is not None:
            return "cron"
        return "interval" if self.interval_seconds is not None else "date"

    @property
    def spec(self) -> str:
        if self.cron is not None:
            return self.cron
        if self.interval_seconds is not None:
            return str(self.interval_seconds)
        assert self.at is not None
        return self.at.isoformat()


def load_schedule_file(path: Path) -> list[ScheduleSpec]:
    if not path.exists():
        return []
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ScheduleError(f"{path}: ikke gyldig YAML: {exc}") from None
    entries = raw.get("schedules", []) if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise ScheduleError(f"{path}: forventet en liste under 'schedules'")
    specs = []
    for i, entry in enumerate(entries):
        try:
            specs.append(ScheduleSpec.model_validate(entry))
        except ValidationError as exc:
            name = entry.get("name", f"#{i + 1}") if isinstance(entry, dict) else f"#{i + 1}"
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '-'}: {e['msg']}" for e in exc.errors()
            )
            raise ScheduleError(f"{path}: tidsplan {name}: {problems}") from None
    return specs


def build_trigger(schedule: Schedule, settings: Settings) -> BaseTrigger:
    zone = settings.zone
    try:
        if schedule.trigger == "cron":
            inner: BaseTrigger = CronTrigger.from_crontab(crontab(schedule.spec), timezone=zone)
        elif schedule.trigger == "interval":
            inner = IntervalTrigger(seconds=int(schedule.spec), timezone=zone)
        elif schedule.trigger == "date":
            inner = DateTrigger(run_date=datetime.fromisoformat(schedule.spec), timezone=zone)
        else:
            raise ValueError(f"ukjent utløsertype {schedule.trigger!r}")
    except ValueError as exc:
        raise ScheduleError(f"Tidsplan {schedule.name}: {schedule.spec!r}: {exc}") from None
    if schedule.working_days_only:
        return WorkingDayTrigger(inner, WorkingDays(settings.closed_days))
    return inner


_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def crontab(expression: str) -> str:
    """A standard crontab line with numeric weekdays as names.

    APScheduler 3 counts weekdays from Monday=0, crontab from Sunday=0 (and 7): "0 7 * * 1"
    must mean Monday, as every operator expects.
    """
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"forventet 5 felt (min time dag måned ukedag), fikk {len(fields)}")
    fields[4] = re.sub(r"\d+", lambda m: _weekday_name(m.group(0)), fields[4])
    return " ".join(fields)


def _weekday_name(number: str) -> str:
    value = int(number)
    if value > 7:
        raise ValueError(f"ukedag {value} finnes ikke (0-7, der 0 og 7 er søndag)")
    return _CRON_DAYS[value]


class WorkingDayTrigger(BaseTrigger):
    """Wraps a trigger and skips fire times that fall on a Norwegian non-working day."""

    def __init__(self, inner: BaseTrigger, calendar: WorkingDays) -> None:
        self.inner = inner
        self.calendar = calendar

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        fire: datetime | None = self.inner.get_next_fire_time(previous_fire_time, now)
        for _ in range(3660):  # ten years of days is far more than any run of holidays
            if fire is None or self.calendar.is_working_day(fire.date()):
                return fire
            fire = self.inner.get_next_fire_time(fire, fire + timedelta(seconds=1))
        return None

    def __str__(self) -> str:
        return f"working days: {self.inner}"


def next_fire_times(schedule: Schedule, settings: Settings, count: int = 3) -> list[datetime]:
    trigger = build_trigger(schedule, settings)
    now = datetime.now(settings.zone)
    times: list[datetime] = []
    previous = None
    while len(times) < count:
        fire = trigger.get_next_fire_time(previous, now)
        if fire is None:
            break
        times.append(fire)
        previous, now = fire, fire + timedelta(seconds=1)
    return times


def fingerprint(schedule: Schedule) -> str:
    return "|".join(
        str(v)
        for v in (
            schedule.trigger,
            schedule.spec,
            schedule.working_days_only,
            schedule.misfire_grace_seconds,
            schedule.coalesce,
        )
    )


def sync_config_schedules(db: Database, settings: Settings, registry: dict[str, Task]) -> int:
    """Mirror config/schedules.yaml into the schedule table (source=config)."""
    path = settings.schedules_path
    specs = load_schedule_file(path)
    for spec in specs:
        where = f"{path}: tidsplan {spec.name}"
        try:
            get_task(spec.task, registry).validate(spec.payload)
            build_trigger(
                Schedule(name=spec.name, task=spec.task, trigger=spec.trigger_kind, spec=spec.spec),
                settings,
            )
        except (UnknownTask, InvalidPayload, ScheduleError) as exc:
            reason = " ".join(str(exc).split()).removeprefix(f"Tidsplan {spec.name}: ")
            raise ScheduleError(f"{where}: {reason}") from None
    names = {s.name for s in specs}
    with db.session() as session:
        existing = {s.name: s for s in session.scalars(select(Schedule))}
        for spec in specs:
            row = existing.get(spec.name)
            if row is None:
                row = Schedule(name=spec.name, source="config")
                session.add(row)
            elif row.source != "config":
                raise ScheduleError(
                    f"Tidsplanen {spec.name} finnes allerede i databasen (laget i konsollen)"
                )
            values = dict(
                task=spec.task,
                trigger=spec.trigger_kind,
                spec=spec.spec,
                payload=spec.payload,
                priority=spec.priority,
                working_days_only=spec.working_days_only,
                misfire_grace_seconds=spec.misfire_grace_seconds,
                coalesce=spec.coalesce,
            )
            changed = any(getattr(row, k, None) != v for k, v in values.items())
            for key, value in values.items():
                setattr(row, key, value)
            if row.id is None:
                row.enabled = spec.enabled
            if changed:
                row.updated_at = utcnow()
        for name, row in existing.items():
            if row.source == "config" and name not in names:
                session.delete(row)
    return len(specs)


# Firing -------------------------------------------------------------------------------------


def fire_reference(schedule_name: str, fire_time: datetime) -> str:
    """The idempotency key of one firing: the same schedule and fire time give the same item."""
    return f"{schedule_name}@{fire_time.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"


def scheduled_job(schedule_name: str, fingerprint: str = "") -> None:
    """Placeholder target stored in the job store; EnqueueExecutor enqueues instead of calling."""


class EnqueueExecutor(BaseExecutor):
    """An APScheduler executor whose 'run' is to enqueue one item per scheduled fire time."""

    def __init__(self, fire: Any) -> None:
        super().__init__()
        self._fire = fire

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        try:
            for run_time in run_times:
                self._fire(job.args[0], run_time)
        except Exception as exc:  # noqa: BLE001
            self._run_job_error(job.id, exc, exc.__traceback__)
            logger.error(f"Tidsplan {job.args[0]} kunne ikke legge i kø: {exc}")
        else:
            self._run_job_success(job.id, [])


class Scheduler:
    """Runs as leader or waits as standby until stopped."""

    def __init__(self, db: Database, settings: Settings, registry: dict[str, Task]) -> None:
        self.db = db
        self.settings = settings
        self.registry = registry
        self.queue = Queue(db, settings, registry)
        self.stopping = threading.Event()
        self.is_leader = threading.Event()
        self.lost_lead = threading.Event()
        self._lock: LeaderLock | None = None
        self.fired = 0

    def fire(self, schedule_name: str, fire_time: datetime) -> None:
        lock = self._lock
        if lock is not None and not lock.alive():
            # The lock went with the connection: another scheduler may lead now. Step down
            # at once rather than fire beside it.
            logger.error(f"Mistet lederlåsen; utløser ikke {schedule_name} og går av som leder")
            self.lost_lead.set()
            return
        with self.db.session() as session:
            schedule = session.scalars(
                select(Schedule).where(Schedule.name == schedule_name)
            ).first()
            if schedule is None or not schedule.enabled:
                return
            submitted = self.queue.submit(
                schedule.task,
                fire_reference(schedule_name, fire_time),
                schedule.payload,
                submitted_by=f"scheduler:{schedule_name}",
                priority=schedule.priority,
                session=session,
            )
        self.fired += 1
        state = "lagt i kø" if submitted.created else "fantes fra før"
        logger.info(
            f"Tidsplan {schedule_name} utløst for {fire_time.isoformat()}: "
            f"element {submitted.item.id} {state}"
        )

    def sync_jobs(self, aps: BackgroundScheduler) -> None:
        with self.db.session() as session:
            schedules = list(session.scalars(select(Schedule)))
        wanted = {}
        for schedule in schedules:
            if schedule.enabled:
                wanted[JOB_PREFIX + schedule.name] = schedule
        for job in aps.get_jobs():
            if job.id not in wanted:
                aps.remove_job(job.id)
                logger.info(f"Tidsplan {job.id[len(JOB_PREFIX) :]} fjernet eller slått av")
        for job_id, schedule in wanted.items():
            job = aps.get_job(job_id)
            fp = fingerprint(schedule)
            if job is not None and job.kwargs.get("fingerprint") == fp:
                continue
            try:
                trigger = build_trigger(schedule, self.settings)
            except ScheduleError as exc:
                logger.error(str(exc))
                continue
            aps.add_job(
                scheduled_job,
                trigger,
                args=[schedule.name],
                kwargs={"fingerprint": fp},
                id=job_id,
                name=schedule.name,
                replace_existing=True,
                misfire_grace_time=schedule.misfire_grace_seconds,
                coalesce=schedule.coalesce,
                max_instances=1,
            )
            logger.info(f"Tidsplan {schedule.name} aktiv: {trigger}")

    def run(self) -> None:
        """Lead while holding the lock; otherwise wait and try again."""
        lock = leader_lock(self.db)
        announced_standby = False
        while not self.stopping.is_set():
            if not lock.acquire():
                if not announced_standby:
                    logger.info("En annen planlegger leder; venter i beredskap")
                    announced_standby = True
                self.stopping.wait(self.settings.scheduler_lock_retry_seconds)
                continue
            announced_standby = False
            try:
                self._lead(lock)
            finally:
                lock.release()
                self.is_leader.clear()

    def _lead(self, lock: LeaderLock) -> None:
        logger.info("Planleggeren leder")
        sync_config_schedules(self.db, self.settings, self.registry)
        aps = BackgroundScheduler(
            timezone=self.settings.zone,
            jobstores={"default": SQLAlchemyJobStore(engine=self.db.engine)},
            executors={"default": EnqueueExecutor(self.fire)},
        )
        self._lock = lock
        self.lost_lead.clear()
        aps.start(paused=True)
        self.sync_jobs(aps)
        aps.resume()  # due and missed fire times (within grace) are enqueued now
        self.is_leader.set()
        self._announce("leader")
        # The lock is checked every second (and before every firing), so a leader whose
        # database connection dropped steps down at once, not at the next schedule sync.
        check = min(1.0, self.settings.scheduler_sync_seconds)
        next_sync = time.monotonic() + self.settings.scheduler_sync_seconds
        try:
            while not self.stopping.wait(check):
                if self.lost_lead.is_set() or not lock.alive():
                    logger.error("Mistet lederlåsen; stopper planleggingen")
                    return
                if time.monotonic() < next_sync:
                    continue
                next_sync = time.monotonic() + self.settings.scheduler_sync_seconds
                try:
                    self.sync_jobs(aps)
                    self._announce("leader")
                    self.after_sync()
                except Exception as exc:  # noqa: BLE001
                    logger.warning(f"Synkronisering av tidsplaner feilet: {exc}")
        finally:
            self.is_leader.clear()
            self._lock = None
            aps.shutdown(wait=False)
            self._announce("stopped")

    def after_sync(self) -> None:
        """What the leader does once per sync besides the schedules: the alert rules (a broken
        rule file is said once per sync, and never stops the schedules)."""
        from robots.alerts import AlertConfigError, evaluate
        from robots.people import expire_overdue

        try:
            expire_overdue(self.db)
            evaluate(self.db, self.settings)
        except AlertConfigError as exc:
            logger.error(f"Varselreglene kan ikke brukes: {exc}")
        except Exception as exc:  # noqa: BLE001 - alerts must never stop the schedules
            logger.warning(f"Varselreglene feilet: {exc}")

    def _announce(self, status: str) -> None:
        """Keep the leader's row in the worker table fresh (health checks read it)."""
        import os
        import socket

        from robots.models import SCHEDULER_PREFIX, Worker

        ident = f"{SCHEDULER_PREFIX}{socket.gethostname()}:{os.getpid()}"
        try:
            with self.db.session() as session:
                row = session.get(Worker, ident)
                if row is None:
                    row = Worker(id=ident, host=socket.gethostname(), pid=os.getpid())
                    session.add(row)
                row.status = status
                row.heartbeat_at = utcnow()
        except Exception as exc:  # noqa: BLE001 - a health row must never stop the leader
            logger.warning(f"Kunne ikke melde planleggerens status: {exc}")

    def stop(self) -> None:
        self.stopping.set()


# Leadership ---------------------------------------------------------------------------------


class LeaderLock:
    def acquire(self) -> bool:
        raise NotImplementedError

    def alive(self) -> bool:
        return True

    def release(self) -> None:
        pass


class PostgresLeaderLock(LeaderLock):
    """A session-level advisory lock on a dedicated connection: dies with the process."""

    KEY = zlib.crc32(b"rpa-scheduler-leader")

    def __init__(self, db: Database) -> None:
        self.db = db
        self.conn: Connection | None = None
        self._guard = threading.Lock()

    def acquire(self) -> bool:
        try:
            conn = self.db.engine.connect()
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.KEY}).scalar()
            conn.commit()
        except Exception as exc:  # noqa: BLE001
            logger.warning(f"Kunne ikke spørre etter lederlåsen: {exc}")
            return False
        if got:
            self.conn = conn
            return True
        conn.close()
        return False

    def alive(self) -> bool:
        with self._guard:  # asked from the lead loop and from APScheduler's firing thread
            return self._alive()

    def _alive(self) -> bool:
        if self.conn is None:
            return False
        try:
            held = self.conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND pid = pg_backend_pid() AND objid = :k AND granted"
                ),
                {"k": self.KEY & 0xFFFFFFFF},
            ).scalar()
            self.conn.commit()
            return bool(held)
        except Exception:  # noqa: BLE001
            return False

    def release(self) -> None:
        if self.conn is not None:
            try:
                self.conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.KEY})
                self.conn.commit()
                self.conn.close()
            except Exception:  # noqa: BLE001 - closing the connection frees it anyway
                self.conn.invalidate()
            self.conn = None


class FileLeaderLock(LeaderLock):
    """An exclusive flock next to the SQLite file: one leader per machine, freed on death."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle: Any = None

    def acquire(self) -> bool:
        handle = self.path.open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self.handle = handle
        return True

    def release(self) -> None:
        if self.handle is not None:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None


def leader_lock(db: Database) -> LeaderLock:
    if db.engine.dialect.name == "postgresql":
        return PostgresLeaderLock(db)
    database = make_url(db.url).database or "rpa.db"
    return FileLeaderLock(Path(database + ".scheduler.lock"))
