"""The schema (SQLAlchemy 2). Changes go through an Alembic migration in robots/migrations."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC on every backend, returned as aware UTC."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


# BigInteger ids on PostgreSQL, INTEGER PRIMARY KEY (rowid) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}


class ItemStatus(StrEnum):
    """Where an item is. Stored as its value; a member compares equal to that text."""

    PENDING = "pending"  # waiting (new, retry after backoff, or reclaimed)
    RUNNING = "running"  # leased by a worker
    DONE = "done"
    BUSINESS_ERROR = "business_error"  # input or business rule wrong; not retried
    FAILED = "failed"  # system errors exhausted the attempts, or poison item
    CANCELLED = "cancelled"
    WAITING = "waiting_for_person"  # the robot asked a person and waits for the answer
    MANUAL = "manual"  # handed over to people: manuell behandling


# The status rules, in one place (the queue enforces them, the read layer shows them).
FINAL_STATUSES = frozenset(
    {ItemStatus.DONE, ItemStatus.BUSINESS_ERROR, ItemStatus.FAILED, ItemStatus.CANCELLED}
)
CANCELLABLE = frozenset(
    {ItemStatus.PENDING, ItemStatus.RUNNING, ItemStatus.WAITING, ItemStatus.MANUAL}
)
# Where a person has the next move (not final, not the robots' to claim).
WITH_PEOPLE = frozenset({ItemStatus.WAITING, ItemStatus.MANUAL})
RETRYABLE = frozenset({ItemStatus.FAILED, ItemStatus.BUSINESS_ERROR, ItemStatus.CANCELLED})


class RunOutcome(StrEnum):
    """How one attempt ended (None on the run while it is under way)."""

    DONE = "done"
    BUSINESS_ERROR = "business_error"
    SYSTEM_ERROR = "system_error"
    ABANDONED = "abandoned"  # lease expired without an outcome (worker died)
    RELEASED = "released"  # worker shut down and handed the item back
    LOST = "lost"  # lease was taken over before the worker finished
    WAITING = "waiting"  # the task asked a person (ctx.ask); the item waits for the answer
    HANDED_OVER = "handed_over"  # the task handed the item to people (ctx.hand_over)
    SYSTEM_WAIT = "system_wait"  # its system is not available: waits, no attempt spent


class WorkItem(Base):
    __tablename__ = "work_item"
    __table_args__ = (UniqueConstraint("task", "reference", name="uq_work_item_task_reference"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    task: Mapped[str] = mapped_column(String(100))
    reference: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default=ItemStatus.PENDING)
    systems: Mapped[str] = mapped_column(String(300), default="")  # ",hr,archive," for LIKE
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # runs started
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    failures: Mapped[int] = mapped_column(Integer, default=0)  # system errors, for max_attempts
    abandons: Mapped[int] = mapped_column(Integer, default=0)  # lost workers, for max_abandons
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(120), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error_kind: Mapped[str | None] = mapped_column(String(20), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    submitted_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Manual handling (manuell behandling): the team whose queue it is in, who took it, and
    # whether a person completed it (the dashboard counts manual against automated).
    team: Mapped[str | None] = mapped_column(String(60), nullable=True)
    assigned_to: Mapped[str | None] = mapped_column(String(120), nullable=True)
    handled_manually: Mapped[bool] = mapped_column(default=False)

    runs: Mapped[list[Run]] = relationship(back_populates="item", order_by="Run.id")

    @property
    def system_list(self) -> list[str]:
        return [s for s in self.systems.split(",") if s]


# Partial indexes: the claim scans only waiting items in claim order, the reclaim only leased
# ones. Both stay small however many finished items the table holds.
Index(
    "ix_work_item_claim",
    WorkItem.priority.desc(),
    WorkItem.not_before,
    WorkItem.id,
    sqlite_where=WorkItem.status == "pending",
    postgresql_where=WorkItem.status == "pending",
)
Index(
    "ix_work_item_lease",
    WorkItem.lease_expires_at,
    sqlite_where=WorkItem.status == "running",
    postgresql_where=WorkItem.status == "running",
)
Index("ix_work_item_status", WorkItem.status, WorkItem.task)
Index("ix_work_item_task_created", WorkItem.task, WorkItem.created_at)
Index("ix_work_item_reference", WorkItem.reference)
Index("ix_work_item_submitted_by", WorkItem.submitted_by, WorkItem.created_at)
Index("ix_work_item_finished", WorkItem.finished_at)  # the dashboard's and the alerts' "last day"


class Run(Base):
    """One attempt of one item."""

    __tablename__ = "run"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("work_item.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    worker_id: Mapped[str] = mapped_column(String(120))
    host: Mapped[str] = mapped_column(String(120))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    # What the run was made of: code version, task module hash, config files read (hashes).
    provenance: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    item: Mapped[WorkItem] = relationship(back_populates="runs")

    __table_args__ = (Index("ix_run_outcome_started", "outcome", "started_at"),)
    events: Mapped[list[RunEvent]] = relationship(order_by="RunEvent.seq")
    artifacts: Mapped[list[Artifact]] = relationship(order_by="Artifact.id")


class RunEvent(Base):
    """One line of the run log, masked before it was stored."""

    __tablename__ = "run_event"
    __table_args__ = (UniqueConstraint("run_id", "seq", name="uq_run_event_seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    ts: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    level: Mapped[str] = mapped_column(String(10))
    step: Mapped[str | None] = mapped_column(String(200), nullable=True)
    message: Mapped[str] = mapped_column(Text)
    duration_ms: Mapped[float | None] = mapped_column(nullable=True)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class Artifact(Base):
    """A file a run produced: screenshot, trace, page HTML, generated document."""

    __tablename__ = "artifact"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    path: Mapped[str] = mapped_column(String(500))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEvent(Base):
    """Who did what to what; each row's hash covers the previous row's hash (tamper evidence)."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(120), index=True)
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Schedule(Base):
    """A recurring or one-off firing that enqueues work (config/schedules.yaml or console)."""

    __tablename__ = "schedule"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    task: Mapped[str] = mapped_column(String(100))
    trigger: Mapped[str] = mapped_column(String(20))  # cron | interval | date
    spec: Mapped[str] = mapped_column(String(200))  # "0 7 * * *" | seconds | ISO datetime
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    working_days_only: Mapped[bool] = mapped_column(default=False)
    misfire_grace_seconds: Mapped[int] = mapped_column(Integer, default=3600)
    coalesce: Mapped[bool] = mapped_column(default=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    source: Mapped[str] = mapped_column(String(20), default="database")  # config | database
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Worker(Base):
    """The worker registry: one row per worker process, kept fresh by its heartbeat."""

    __tablename__ = "worker"

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    host: Mapped[str] = mapped_column(String(120))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default="idle")  # idle|busy|stopping|stopped
    current_item_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    # The worker's browser, for the metrics: launches and relaunches after a crash.
    browser_launches: Mapped[int] = mapped_column(Integer, default=0)
    browser_crashes: Mapped[int] = mapped_column(Integer, default=0)


# The scheduler leader keeps a row in the worker table too (status "leader", fresh heartbeat),
# so health checks on any machine know that one leads.
SCHEDULER_PREFIX = "scheduler:"


class Question(Base):
    """A robot's question to a person (ctx.ask): the item waits until it is answered; the
    answer is validated against the task's model, audited, and replayed when the item
    resumes (the question's key is its place in the task: asking again gets the answer)."""

    __tablename__ = "question"
    __table_args__ = (UniqueConstraint("item_id", "key", name="uq_question_item_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("work_item.id"), index=True)
    run_id: Mapped[int] = mapped_column(BigId)
    key: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(300))  # "module:Class" of the answer's model
    text: Mapped[str] = mapped_column(Text)
    to_role: Mapped[str] = mapped_column(String(20))
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open|answered|expired
    answer: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    answered_by: Mapped[str | None] = mapped_column(String(120), nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    on_deadline: Mapped[str] = mapped_column(String(20), default="escalate")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


Index("ix_question_status", Question.status, Question.to_role)


class Acknowledgement(Base):
    """A person's answer to a reminder (a manager from the link in the e-mail): done, or
    postponed to a date; the reminders for that milestone stop, or wait for the date."""

    __tablename__ = "acknowledgement"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)  # the reminder's outbox key
    status: Mapped[str] = mapped_column(String(20))  # gjennomfort | utsatt
    until: Mapped[date | None] = mapped_column(Date, nullable=True)
    by: Mapped[str] = mapped_column(String(300))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AcknowledgementLink(Base):
    """One reminder's acknowledgement link: the URL carries only a random token (its SHA-256
    here), so nothing about the employee travels in it; used once, until `expires_at`."""

    __tablename__ = "acknowledgement_link"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key: Mapped[str] = mapped_column(String(300))  # the reminder's outbox key
    milestone: Mapped[str] = mapped_column(String(200))
    due: Mapped[date] = mapped_column(Date)
    recipient: Mapped[str] = mapped_column(String(300))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class StepResult(Base):
    """A step's result kept across runs of one item (ctx.remember): a resumed item gets it
    back instead of doing the step again."""

    __tablename__ = "step_result"
    __table_args__ = (UniqueConstraint("item_id", "key", name="uq_step_result_item_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("work_item.id"), index=True)
    key: Mapped[str] = mapped_column(String(200))
    value: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    run_id: Mapped[int] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Alert(Base):
    """An alert an operator should see: one row per key (rule + what it is about), opened
    when the rule first fires, notified at most once per quiet period, acknowledged by a
    person (audited) or closed when the condition is gone."""

    __tablename__ = "alert"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    rule: Mapped[str] = mapped_column(String(100))
    severity: Mapped[str] = mapped_column(String(20), default="warning")
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open|acknowledged|closed
    first_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    fired: Mapped[int] = mapped_column(Integer, default=1)  # times the rule found it
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(120), nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


Index("ix_alert_status", Alert.status, Alert.last_at)


class AlertDelivery(Base):
    """One attempt to tell someone about an alert (e-mail through the outbox, or a webhook)."""

    __tablename__ = "alert_delivery"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(
        ForeignKey("alert.id"), index=True
    )  # ix_alert_delivery_alert_id
    channel: Mapped[str] = mapped_column(String(200))
    attempt: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(20))  # sent | failed
    detail: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxMessage(Base):
    """An e-mail recorded before it is sent: the key makes a second send impossible.

    pending -> sending (committed before SMTP) -> sent. A message found in `sending` after a
    crash may or may not have gone out; it is never sent again (at most once) and is shown as
    uncertain so a person can check.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    recipient: Mapped[str] = mapped_column(String(300))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    item_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    run_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Role(StrEnum):
    CASEWORKER = "caseworker"  # saksbehandler
    OPERATOR = "operator"  # drift
    AUDITOR = "auditor"  # revisor
    LEADER = "leder"  # HR and leaders: sick-leave statistics, nothing about a person
    ADMIN = "admin"


class User(Base):
    """A console user: argon2 password hash, one role, back-off after failed logins."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # A user made by single sign-on: the provider's issuer and subject ("iss sub").
    sso_subject: Mapped[str | None] = mapped_column(String(300), nullable=True, unique=True)


class ConsoleSession(Base):
    """A logged-in browser. The signed cookie carries a random id, only its SHA-256 is stored;
    logout, deactivation or a role change ends the row, and with it every copy of the cookie."""

    __tablename__ = "console_session"
    __table_args__ = (Index("ix_console_session_user", "user_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the cookie's id
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ApiToken(Base):
    """A machine client's bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Pause(Base):
    """A paused task or system: workers do not claim its items until it is resumed."""

    __tablename__ = "pause"
    __table_args__ = (UniqueConstraint("kind", "name", name="uq_pause"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(10))  # task | system
    name: Mapped[str] = mapped_column(String(100))
    paused_by: Mapped[str] = mapped_column(String(120))
    paused_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SystemState(Base):
    """The state of one target system, shared by every machine (robots.systems): available,
    credentials rejected (waits for an operator) or unavailable (circuit breaker open, a
    probe with backoff closes it). A system without a row is available."""

    __tablename__ = "system_state"

    system: Mapped[str] = mapped_column(String(100), primary_key=True)
    state: Mapped[str] = mapped_column(String(30), default="available")
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    changed_by: Mapped[str] = mapped_column(String(120), default="")
    unreachable_streak: Mapped[int] = mapped_column(Integer, default=0)  # failures in a row
    probes: Mapped[int] = mapped_column(Integer, default=0)  # failed probes since it opened
    next_probe_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class SickLeaveFigure(Base):
    """One month's sick-leave figure (SSB's and NAV's definition) for the whole municipality
    (area ""), a tjenesteområde (unit "") or a unit, written by the sykefravær robot. Only
    groups with enough employees are stored: a row never describes a person."""

    __tablename__ = "sick_leave_figure"
    __table_args__ = (UniqueConstraint("month", "area", "unit", name="uq_sick_leave_figure"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    month: Mapped[date] = mapped_column(Date)  # its first day
    area: Mapped[str] = mapped_column(String(200), default="")
    unit: Mapped[str] = mapped_column(String(200), default="")
    agreed: Mapped[float] = mapped_column(Float)  # avtalte dagsverk
    lost_certified: Mapped[float] = mapped_column(Float)  # tapte dagsverk, legemeldt
    lost_self: Mapped[float] = mapped_column(Float)  # tapte dagsverk, egenmeldt
    employees: Mapped[int] = mapped_column(Integer)
    target: Mapped[float | None] = mapped_column(Float, nullable=True)  # percent
    target_source: Mapped[str] = mapped_column(Text, default="")
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
