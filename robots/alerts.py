"""Alerts: rules from config/alerts.yaml, evaluated by the scheduler's leader once per sync (and
by `runner.py alerts check`), told through e-mail (the outbox: at most once per key) and
webhooks (generic JSON, Microsoft Teams or Slack payloads, signed with HMAC-SHA256, retried
with backoff, every attempt recorded).

An alert has a key (its rule and what it is about, e.g. `element_feilet:item:42`). The first
finding opens it and notifies; later findings of the same key only count, and notify again
after the rule's quiet period while it is still open; an acknowledged alert (by an operator in
the console, audited) is not notified again; an alert whose condition is gone is closed, and
opens afresh if it comes back.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx
from loguru import logger
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, select

from robots.config import resolve
from robots.db import Database
from robots.masking import mask_text
from robots.models import (
    FINAL_STATUSES,
    Alert,
    AlertDelivery,
    ItemStatus,
    Run,
    RunEvent,
    RunOutcome,
    Schedule,
    WorkItem,
    utcnow,
)
from robots.settings import Settings

SIGNATURE_HEADER = "X-RPA-Signature"  # sha256=<hex HMAC of the raw body>
TIMESTAMP_HEADER = "X-RPA-Timestamp"


class AlertConfigError(ValueError):
    """config/alerts.yaml cannot be used; the message names the file and the field."""


class Channel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["email", "webhook"]
    to: str = ""  # email
    url: str = ""  # webhook
    format: Literal["generic", "teams", "slack"] = "generic"


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9_æøå-]+$")
    kind: Literal[
        "item_failed",
        "system_errors",
        "sla",
        "deadline",
        "schedule_missed",
        "no_worker",
        "selector_fallback",
        "question_overdue",
        "system_state",
        "worker_crash_loop",
    ]
    task: str = ""  # empty: every task
    count: int = Field(default=5, ge=1)  # system_errors: this many ...
    minutes: int = Field(default=15, ge=1)  # ... within these minutes (and no_worker's wait)
    working_days: int = Field(default=2, ge=1)  # sla: final within this many working days
    grace_minutes: int = Field(default=10, ge=0)  # schedule_missed
    severity: Literal["info", "warning", "critical"] = "warning"
    quiet_minutes: int | None = None  # None: the file's quiet_minutes
    channels: list[str] = Field(default_factory=list)


class AlertsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quiet_minutes: int = Field(default=60, ge=1)
    retry_delays: list[float] = Field(default_factory=lambda: [0.5, 2.0])
    channels: dict[str, Channel] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)


def load(settings: Settings) -> AlertsFile:
    import yaml

    path = resolve(settings.alerts_file)
    if not path.exists():
        return AlertsFile()
    try:
        parsed = AlertsFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except (ValidationError, yaml.YAMLError) as exc:
        raise AlertConfigError(f"{path}: {exc}") from None
    unknown = {c for r in parsed.rules for c in r.channels} - set(parsed.channels)
    if unknown:
        raise AlertConfigError(f"{path}: ukjente kanaler {sorted(unknown)}")
    return parsed


@dataclass(frozen=True)
class Finding:
    key: str
    message: str


# The rules -------------------------------------------------------------------------------------


def _task_filter(rule: Rule) -> list[Any]:
    return [WorkItem.task == rule.task] if rule.task else []


def item_failed(db: Database, settings: Settings, rule: Rule, now: datetime) -> list[Finding]:
    """Items stopped as failed (attempts used up, or poison) in the last day."""
    with db.session() as session:
        rows = session.execute(
            select(WorkItem.id, WorkItem.task, WorkItem.reference, WorkItem.error_kind)
            .where(
                WorkItem.status == ItemStatus.FAILED,
                WorkItem.finished_at >= now - timedelta(days=1),
                *_task_filter(rule),
            )
            .order_by(WorkItem.id)
        ).all()
    return [
        Finding(
            f"{rule.name}:item:{ident}",
            f"Element {ident} ({task} {mask_text(ref)!r}) feilet"
            + (" som giftig (poison)" if kind == "poison" else ""),
        )
        for ident, task, ref, kind in rows
    ]


def system_errors(db: Database, settings: Settings, rule: Rule, now: datetime) -> list[Finding]:
    with db.session() as session:
        found = int(
            session.scalar(
                select(func.count())
                .select_from(Run)
                .join(WorkItem, WorkItem.id == Run.item_id)
                .where(
                    Run.outcome == RunOutcome.SYSTEM_ERROR,
                    Run.ended_at >= now - timedelta(minutes=rule.minutes),
                    *_task_filter(rule),
                )
            )
            or 0
        )
    if found < rule.count:
        return []
    what = rule.task or "alle oppgaver"
    return [
        Finding(
            f"{rule.name}:{rule.task or '*'}",
            f"{found} tekniske feil på {rule.minutes} minutter ({what}); grensen er {rule.count}",
        )
    ]


def sla(db: Database, settings: Settings, rule: Rule, now: datetime) -> list[Finding]:
    """Items not final within the rule's working days of their submission."""
    from robots.workdays import WorkingDays

    calendar = WorkingDays(settings.closed_days)
    zone = settings.zone
    with db.session() as session:
        rows = session.execute(
            select(WorkItem.id, WorkItem.task, WorkItem.reference, WorkItem.created_at).where(
                WorkItem.status.not_in(sorted(FINAL_STATUSES)), *_task_filter(rule)
            )
        ).all()
    found = []
    for ident, task, ref, created in rows:
        local = created.astimezone(zone)
        due_day = calendar.add(local.date(), rule.working_days)
        due = datetime.combine(due_day, local.timetz())
        if now.astimezone(zone) > due:
            found.append(
                Finding(
                    f"{rule.name}:item:{ident}",
                    f"Element {ident} ({task} {mask_text(ref)!r}) er ikke ferdig innen "
                    f"{rule.working_days} arbeidsdager (frist {due:%Y-%m-%d %H:%M})",
                )
            )
    return found


def deadline(db: Database, settings: Settings, rule: Rule, now: datetime) -> list[Finding]:
    with db.session() as session:
        rows = session.execute(
            select(WorkItem.id, WorkItem.task, WorkItem.deadline).where(
                WorkItem.deadline < now,
                WorkItem.status.not_in(sorted(FINAL_STATUSES)),
                *_task_filter(rule),
            )
        ).all()
    return [
        Finding(
            f"{rule.name}:item:{ident}",
            f"Element {ident} ({task}) har passert fristen "
            f"{due.astimezone(settings.zone):%Y-%m-%d %H:%M}",
        )
        for ident, task, due in rows
        if due is not None
    ]


def schedule_missed(db: Database, settings: Settings, rule: Rule, now: datetime) -> list[Finding]:
    """An enabled schedule whose last due firing (older than the grace) made no item. Cron and
    one-off schedules; an interval schedule counts from when the scheduler started it, so it
    has no fire time to miss."""
    from robots.scheduler import ScheduleError, build_trigger, fire_reference

    with db.session() as session:
        schedules = list(session.scalars(select(Schedule).where(Schedule.enabled.is_(True))))
    found = []
    cutoff = now - timedelta(minutes=rule.grace_minutes)
    for schedule in schedules:
        if rule.task and schedule.task != rule.task:
            continue
        try:
            trigger = build_trigger(schedule, settings)
        except ScheduleError:
            continue
        due = _last_fire_before(trigger, max(schedule.updated_at, now - timedelta(days=2)), cutoff)
        if due is None:
            continue
        with db.session() as session:
            made = session.scalar(
                select(func.count())
                .select_from(WorkItem)
                .where(WorkItem.reference == fire_reference(schedule.name, due))
            )
        if not made:
            when = due.astimezone(settings.zone)
            found.append(
                Finding(
                    f"{rule.name}:{schedule.name}:{due.isoformat()}",
                    f"Tidsplanen {schedule.name} skulle ha startet {when:%Y-%m-%d %H:%M}, men "
                    "ingen element ble lagt i kø (planleggeren har ikke kjørt?)",
                )
            )
    return found


def _last_fire_before(trigger: Any, start: datetime, end: datetime) -> datetime | None:
    last, previous, cursor = None, None, start
    for _ in range(10_000):
        fire = trigger.get_next_fire_time(previous, cursor)
        if fire is None or fire > end:
            return last
        last, previous, cursor = fire, fire, fire + timedelta(seconds=1)
    return last


def no_worker(db: Database, settings: Settings, rule: Rule, now: datetime) -> list[Finding]:
    """Items have waited longer than the rule's minutes and no worker is alive."""
    from robots.health import live_workers

    with db.session() as session:
        waiting = int(
            session.scalar(
                select(func.count())
                .select_from(WorkItem)
                .where(
                    WorkItem.status == ItemStatus.PENDING,
                    WorkItem.not_before <= now - timedelta(minutes=rule.minutes),
                    *_task_filter(rule),
                )
            )
            or 0
        )
    if not waiting or live_workers(db, settings):
        return []
    return [
        Finding(
            f"{rule.name}:{rule.task or '*'}",
            f"{waiting} elementer har ventet over {rule.minutes} minutter, og ingen arbeider "
            "er i live",
        )
    ]


def selector_fallback(db: Database, settings: Settings, rule: Rule, now: datetime) -> list[Finding]:
    """A robot used a fallback selector: the target system's page has changed."""
    with db.session() as session:
        messages = session.scalars(
            select(RunEvent.message)
            .where(
                RunEvent.ts >= now - timedelta(minutes=rule.minutes),
                RunEvent.message.like("%brukte reserve%"),
            )
            .distinct()
            .limit(50)
        ).all()
    return [
        Finding(
            f"{rule.name}:{hashlib.sha256(m.encode()).hexdigest()[:16]}",
            f"Reserveselektor i bruk (målsystemet er endret; rett selectors-filen): {m[:300]}",
        )
        for m in messages
    ]


def question_overdue(db: Database, settings: Settings, rule: Rule, now: datetime) -> list[Finding]:
    """A robot's question to a person is still open after its deadline."""
    from robots.models import Question

    with db.session() as session:
        rows = session.execute(
            select(Question.id, Question.item_id, Question.to_role, Question.deadline)
            .join(WorkItem, WorkItem.id == Question.item_id)
            .where(Question.status == "open", Question.deadline < now, *_task_filter(rule))
        ).all()
    return [
        Finding(
            f"{rule.name}:question:{ident}",
            f"Spørsmålet til {role} om element {item_id} er ikke besvart innen fristen "
            f"{due.astimezone(settings.zone):%Y-%m-%d %H:%M}",
        )
        for ident, item_id, role, due in rows
        if due is not None
    ]


def system_state(db: Database, settings: Settings, rule: Rule, now: datetime) -> list[Finding]:
    """A system that needs operators (robots.systems): rejected credentials at once; an open
    circuit breaker once it has been open `minutes`."""
    from robots.models import SystemState

    with db.session() as session:
        rows = session.execute(
            select(SystemState.system, SystemState.state, SystemState.since, SystemState.detail)
            .where(SystemState.state != "available")
        ).all()
    findings = []
    for system, state, since, detail in rows:
        local = since.astimezone(settings.zone)
        if state == "credentials_rejected":
            findings.append(
                Finding(
                    f"{rule.name}:{system}:innlogging",
                    f"{system}: innloggingen ble avvist {local:%Y-%m-%d %H:%M} ({detail}). "
                    "Systemets elementer venter; forny innloggingen og si fra i konsollen "
                    f"(Drift > Systemer) eller med `runner.py systems renewed {system}`",
                )
            )
        elif now - since >= timedelta(minutes=rule.minutes):
            findings.append(
                Finding(
                    f"{rule.name}:{system}:utilgjengelig",
                    f"{system} har ikke kunnet nås siden {local:%Y-%m-%d %H:%M} ({detail}); "
                    "sikringen er åpen og elementene venter",
                )
            )
    return findings


RULES: dict[str, Callable[[Database, Settings, Rule, datetime], list[Finding]]] = {
    "item_failed": item_failed,
    "system_errors": system_errors,
    "sla": sla,
    "deadline": deadline,
    "schedule_missed": schedule_missed,
    "no_worker": no_worker,
    "selector_fallback": selector_fallback,
    "question_overdue": question_overdue,
    "system_state": system_state,
}


# Evaluation and delivery -------------------------------------------------------------------


@dataclass
class Outcome:
    opened: list[str] = field(default_factory=list)
    notified: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)


def evaluate(
    db: Database,
    settings: Settings,
    now: datetime | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    kinds: set[str] | None = None,
) -> Outcome:
    """Run every rule once (or those of `kinds`); open, count, notify and close alerts as
    described above."""
    config = load(settings)
    now = now or utcnow()
    outcome = Outcome()
    for rule in config.rules:
        if kinds is not None and rule.kind not in kinds:
            continue
        if rule.kind not in RULES:
            continue  # raised where it happens (raise_alert), not found by a query
        try:
            findings = RULES[rule.kind](db, settings, rule, now)
        except Exception as exc:  # noqa: BLE001 - one broken rule must not stop the others
            logger.warning(f"Varselregelen {rule.name} feilet: {exc}")
            continue
        quiet = timedelta(minutes=rule.quiet_minutes or config.quiet_minutes)
        due: list[Alert] = []
        with db.session() as session:
            current = {f.key: Finding(f.key, mask_text(f.message)) for f in findings}
            known = {
                a.key: a for a in session.scalars(select(Alert).where(Alert.rule == rule.name))
            }
            for key, finding in current.items():
                alert = known.get(key)
                if alert is None:
                    alert = Alert(
                        key=key,
                        rule=rule.name,
                        severity=rule.severity,
                        message=finding.message,
                        status="open",
                        first_at=now,
                        last_at=now,
                        fired=1,
                    )
                    session.add(alert)
                    outcome.opened.append(key)
                elif alert.status == "closed":
                    alert.status, alert.message, alert.last_at = "open", finding.message, now
                    alert.fired += 1
                    alert.notified_at = alert.acknowledged_at = alert.acknowledged_by = None
                    outcome.opened.append(key)
                else:
                    alert.message, alert.last_at = finding.message, now
                    alert.fired += 1
                if alert.status == "open" and (
                    alert.notified_at is None or now - alert.notified_at >= quiet
                ):
                    alert.notified_at = now
                    due.append(alert)
            for key, alert in known.items():
                if key not in current and alert.status != "closed":
                    alert.status = "closed"
                    outcome.closed.append(key)
            session.flush()
            notices = [(a.id, a.key, a.message, a.severity, a.fired) for a in due]
        for alert_id, key, message, severity, fired in notices:
            for name in rule.channels:
                deliver(db, settings, config, name, alert_id, key, message, severity, fired, sleep)
            outcome.notified.append(key)
    return outcome


CRASH_LOOP_RULE = "arbeidere_krasjer"  # the alert's rule when alerts.yaml names none


def raise_alert(db: Database, settings: Settings, kind: str, key: str, message: str) -> int:
    """Open (or reopen) an alert for an event found where it happens rather than by a rule's
    query: a worker supervisor in a crash loop. The alerts.yaml rule of that kind, if any,
    gives its name, severity and channels; without one the alert is critical and shown in the
    console only. Returns the alert's id (an operator acknowledging it can be watched for)."""
    config = load(settings)
    rule = next((r for r in config.rules if r.kind == kind), None)
    name = rule.name if rule is not None else CRASH_LOOP_RULE
    severity = rule.severity if rule is not None else "critical"
    message, key, now = mask_text(message), f"{name}:{key}", utcnow()
    with db.session() as session:
        alert = session.scalars(select(Alert).where(Alert.key == key)).first()
        if alert is None:
            alert = Alert(key=key, rule=name, severity=severity, first_at=now, fired=0)
            session.add(alert)
        alert.status, alert.message, alert.last_at, alert.notified_at = "open", message, now, now
        alert.acknowledged_at = alert.acknowledged_by = None
        alert.fired = (alert.fired or 0) + 1
        session.flush()
        alert_id, fired = alert.id, alert.fired
    for channel in rule.channels if rule is not None else []:
        deliver(db, settings, config, channel, alert_id, key, message, severity, fired, time.sleep)
    return alert_id


def alert_status(db: Database, alert_id: int) -> str | None:
    with db.session() as session:
        alert = session.get(Alert, alert_id)
        return alert.status if alert is not None else None


def deliver(
    db: Database,
    settings: Settings,
    config: AlertsFile,
    name: str,
    alert_id: int,
    key: str,
    message: str,
    severity: str,
    fired: int,
    sleep: Callable[[float], None],
) -> None:
    channel = config.channels[name]
    subject = f"[RPA {severity}] {message[:120]}"
    if channel.type == "email":
        from robots.outbox import Outbox

        try:
            delivery = Outbox(db, settings).send(
                f"alert:{alert_id}:{fired}", channel.to, subject, f"{message}\n\nNøkkel: {key}\n"
            )
            _record(db, alert_id, name, 1, "sent", delivery.status)
        except Exception as exc:  # noqa: BLE001 - recorded, and tried again next quiet period
            _record(db, alert_id, name, 1, "failed", mask_text(str(exc))[:500])
        return
    body = json.dumps(payload(channel.format, key, message, severity), ensure_ascii=False)
    delays = [*config.retry_delays, None]
    for attempt, delay in enumerate(delays, start=1):
        try:
            response = httpx.post(
                channel.url,
                content=body.encode(),
                headers=signed_headers(settings, body),
                timeout=10,
            )
            if response.is_success:
                _record(db, alert_id, name, attempt, "sent", f"HTTP {response.status_code}")
                return
            detail = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            detail = mask_text(str(exc))[:500]
        _record(db, alert_id, name, attempt, "failed", detail)
        if delay is not None:
            sleep(delay)


def signed_headers(settings: Settings, body: str) -> dict[str, str]:
    """Content type, a timestamp and the HMAC-SHA256 of timestamp + "." + body (hex); the
    receiver recomputes it with the shared secret (setting alert_webhook_secret)."""
    stamp = str(int(time.time()))
    secret = settings.alert_webhook_secret.get_secret_value().encode()
    mac = hmac.new(secret, f"{stamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: f"sha256={mac}",
    }


def verify_signature(secret: str, stamp: str, body: bytes, header: str) -> bool:
    expected = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"sha256={expected}", header)


COLOURS = {"info": "0B4F8A", "warning": "A86B00", "critical": "8F0000"}


def payload(kind: str, key: str, message: str, severity: str) -> dict[str, Any]:
    """The body a receiver expects: ours (generic), a Teams MessageCard, or Slack's text."""
    if kind == "teams":
        return {
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": message[:200],
            "themeColor": COLOURS.get(severity, "333333"),
            "title": f"RPA-varsel ({severity})",
            "text": message,
            "sections": [{"facts": [{"name": "Nøkkel", "value": key}]}],
        }
    if kind == "slack":
        return {"text": f"*RPA-varsel ({severity})*: {message}\n`{key}`"}
    return {"alert": {"key": key, "message": message, "severity": severity}}


def _record(
    db: Database, alert_id: int, channel: str, attempt: int, outcome: str, detail: str
) -> None:
    with db.session() as session:
        session.add(
            AlertDelivery(
                alert_id=alert_id, channel=channel, attempt=attempt, outcome=outcome, detail=detail
            )
        )
