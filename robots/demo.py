"""`runner.py demo`: start the service on the configured database, submit demo work, follow it
with a Rich progress bar and print a summary. Exits non-zero if any item ends other than expected.

Each demo item says what it should end as: normal work ends done, a simulated business error ends
as a business error without retry, a transient system error is retried and ends done, a permanent
one exhausts its attempts. A one-off schedule shows the scheduler enqueuing work.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import timedelta

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import func, select

from robots import audit
from robots.models import ItemStatus, Run, Schedule, WorkItem, utcnow
from robots.queue import Queue, status_name
from robots.scheduler import fire_reference
from robots.settings import Settings, load_settings
from robots.tasks import InvalidPayload


@dataclass(frozen=True)
class DemoItem:
    task: str
    reference: str
    payload: dict[str, object]
    expected: str


def demo_items(stamp: str) -> list[DemoItem]:
    items = [
        DemoItem(
            "selftest",
            f"demo-{stamp}-{i:02d}",
            {"sleep_ms": 150 + 40 * i, "note": f"Demoelement {i}"},
            ItemStatus.DONE,
        )
        for i in range(1, 17)
    ]
    items += [
        DemoItem(
            "selftest",
            f"demo-{stamp}-forretning-{i}",
            {"fail": "business"},
            ItemStatus.BUSINESS_ERROR,
        )
        for i in (1, 2)
    ]
    items += [
        DemoItem("selftest", f"demo-{stamp}-ustabil-{i}", {"fail": "system_once"}, ItemStatus.DONE)
        for i in (1, 2)
    ]
    items.append(DemoItem("selftest", f"demo-{stamp}-nede", {"fail": "system"}, ItemStatus.FAILED))
    return items


def run_demo(settings: Settings, *, processes: int, timeout: float, console: Console) -> bool:
    from robots.serve import Service

    # Worker processes read their settings from the environment: quiet logs into a file and a
    # short backoff, so the retried items settle within the demo.
    os.environ.setdefault("RPA_LOG_STDERR", "false")
    os.environ.setdefault("RPA_LOG_FILE", str(settings.data_path / "logs" / "demo.log"))
    os.environ.setdefault("RPA_BACKOFF_BASE_SECONDS", "1")
    os.environ.setdefault("RPA_SCHEDULER_SYNC_SECONDS", "2")
    settings = load_settings()
    service = Service(settings, processes=processes)
    queue = Queue(service.db, settings, service.registry)
    stamp = utcnow().astimezone(settings.zone).strftime("%Y%m%d-%H%M%S")
    console.print(f"Demo {stamp} på {service.db.engine.url.render_as_string()}", style="bold")

    items = demo_items(stamp)
    expected: dict[int, str] = {}
    for demo in items:
        submitted = queue.submit(demo.task, demo.reference, demo.payload, submitted_by="demo")
        expected[submitted.item.id] = demo.expected
    again = queue.submit(items[0].task, items[0].reference, items[0].payload, submitted_by="demo")
    console.print(
        f"Sendte inn {len(items)} elementer. Samme referanse på nytt ga element "
        f"{again.item.id} (nytt: {'ja' if again.created else 'nei'})."
    )
    try:
        queue.submit(
            "selftest", f"demo-{stamp}-ugyldig", {"sleep_ms": "lenge"}, submitted_by="demo"
        )
        console.print("Ugyldige inndata ble godtatt", style="red")
        return False
    except InvalidPayload as exc:
        console.print(f"Ugyldige inndata avvist som ventet: {exc.errors[0][0]}: {exc.errors[0][1]}")

    fire_at = utcnow() + timedelta(seconds=3)
    schedule_name = f"demo-{stamp}"
    with service.db.session() as session:
        session.add(
            Schedule(
                name=schedule_name,
                task="selftest",
                trigger="date",
                spec=fire_at.isoformat(),
                payload={"note": "fra tidsplan"},
                source="database",
            )
        )
        audit.record(session, "demo", "schedule_create", f"schedule:{schedule_name}")
    scheduled_ref = fire_reference(schedule_name, fire_at)

    service.start()
    started = time.monotonic()
    try:
        ok = _follow(service, queue, expected, scheduled_ref, timeout, console)
    finally:
        service.stop()
    _summary(service, expected, scheduled_ref, time.monotonic() - started, settings, console)
    return ok


def _follow(
    service: object,
    queue: Queue,
    expected: dict[int, str],
    scheduled_ref: str,
    timeout: float,
    console: Console,
) -> bool:
    db = queue.db
    total = len(expected) + 1
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    deadline = time.monotonic() + timeout
    with Progress(*columns, console=console, transient=False) as progress:
        bar = progress.add_task("Elementer avsluttet", total=total)
        while time.monotonic() < deadline:
            with db.session() as session:
                settled = session.scalar(
                    select(func.count())
                    .select_from(WorkItem)
                    .where(WorkItem.id.in_(expected), WorkItem.status.in_(ItemStatus.FINAL))
                )
                scheduled = session.scalars(
                    select(WorkItem.status).where(WorkItem.reference == scheduled_ref)
                ).first()
            done = settled + (1 if scheduled in ItemStatus.FINAL else 0)
            progress.update(bar, completed=done)
            if done == total:
                break
            time.sleep(0.5)
    with db.session() as session:
        actual = dict(
            session.execute(
                select(WorkItem.id, WorkItem.status).where(WorkItem.id.in_(expected))
            ).all()
        )
        scheduled = session.scalars(
            select(WorkItem.status).where(WorkItem.reference == scheduled_ref)
        ).first()
    wrong = {i: (want, actual.get(i)) for i, want in expected.items() if actual.get(i) != want}
    for item_id, (want, got) in wrong.items():
        console.print(
            f"Element {item_id}: ventet {status_name(want)}, ble {status_name(got or '-')}",
            style="red",
        )
    if scheduled != ItemStatus.DONE:
        console.print(f"Elementet fra tidsplanen ble {scheduled or 'aldri lagt i kø'}", style="red")
    return not wrong and scheduled == ItemStatus.DONE


def _summary(
    service: object,
    expected: dict[int, str],
    scheduled_ref: str,
    elapsed: float,
    settings: Settings,
    console: Console,
) -> None:
    db = service.db  # type: ignore[attr-defined]
    with db.session() as session:
        ids = list(expected) + list(
            session.scalars(select(WorkItem.id).where(WorkItem.reference == scheduled_ref))
        )
        rows = session.execute(
            select(WorkItem.task, WorkItem.status, func.count(), func.sum(WorkItem.attempts))
            .where(WorkItem.id.in_(ids))
            .group_by(WorkItem.task, WorkItem.status)
        ).all()
        runs = session.scalars(select(Run).where(Run.item_id.in_(ids))).all()
        chain = audit.verify(session)
    table = Table("Oppgave", "Status", "Elementer", "Forsøk")
    for task, status, count, attempts in rows:
        table.add_row(task, status_name(status), str(count), str(attempts))
    console.print(table)
    durations = sorted((r.ended_at - r.started_at).total_seconds() for r in runs if r.ended_at)
    if durations:
        console.print(
            f"Kjøringer: {len(runs)}, varighet median "
            f"{durations[len(durations) // 2]:.2f} s, maks {durations[-1]:.2f} s. "
            f"Hele demoen: {elapsed:.1f} s."
        )
    console.print(
        f"Revisjonsspor: {'intakt' if chain.intact else 'BRUTT'} ({chain.checked} hendelser)."
    )
    console.print(
        f"Kjørelogger (JSONL): {settings.data_path / 'runs'}  –  se også "
        "`python runner.py runs list` og `python runner.py runs show <id>`."
    )
