"""`runner.py demo`: the three caseworker flows end to end against the sandbox systems.

Starts the sandbox (HR portal, Noark archive, mail server) and the service (scheduler and worker
processes) on a fresh SQLite file in var/demo/, then: finds the new hires (one onboarding item
each), runs the sykefravær reminders, and lets a one-off schedule scan the archive inbox (two
good documents and one that must be rejected). Follows the items with a progress bar, prints a
summary, and exits 0 only if every item ended as the flows should.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import func, select

from robots import audit
from robots.db import Database, upgrade
from robots.labels import status_name
from robots.models import ItemStatus, OutboxMessage, Run, Schedule, WorkItem, utcnow
from robots.queue import Queue
from robots.settings import Settings, load_settings

DEMO_CREDENTIALS = {
    "RPA_CRED_HR_USERNAME": "robot",
    "RPA_CRED_HR_PASSWORD": "robot-passord",
    "RPA_CRED_ARCHIVE_USERNAME": "robot",
    "RPA_CRED_ARCHIVE_PASSWORD": "robot-passord",
}
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def prepare_inbox(inbox: Path) -> None:
    """Two documents that belong in existing cases, one that cannot be filed."""
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / "BYGG-2026-001__Nabovarsel fra Storgata 3__I__2026-03-01.txt").write_text(
        "Nabovarsel om tilbygg i Storgata 1.\nMerknader sendes innen to uker.\n", encoding="utf-8"
    )
    (inbox / "innkjop-faktura.pdf").write_bytes(PDF)
    (inbox / "innkjop-faktura.pdf.json").write_text(
        json.dumps(
            {
                "saksreferanse": "INNKJOP-2026-17",
                "tittel": "Faktura skoleutstyr",
                "journalposttype": "I",
                "dokumentets_dato": "2026-02-10",
            }
        ),
        encoding="utf-8",
    )
    (inbox / "skannet-uten-navn.txt").write_text(
        "Ukjent brev uten saksreferanse\n", encoding="utf-8"
    )


def run_demo(settings: Settings, *, processes: int, timeout: float, console: Console) -> bool:
    from robots.serve import Service
    from sandbox.run import Sandbox

    demo_dir = settings.data_path / "demo"
    shutil.rmtree(demo_dir, ignore_errors=True)
    demo_dir.mkdir(parents=True)
    box = Sandbox(demo_dir / "sandbox").start()
    # Worker processes read their settings from the environment.
    os.environ.update(
        {
            "RPA_DATA_DIR": str(demo_dir),
            "RPA_DATABASE_URL": f"sqlite:///{demo_dir / 'rpa.db'}",
            "RPA_LOG_STDERR": "false",
            "RPA_LOG_FILE": str(demo_dir / "logs" / "demo.log"),
            "RPA_BACKOFF_BASE_SECONDS": "1",
            "RPA_SCHEDULER_SYNC_SECONDS": "2",
            "RPA_SYSTEM_URLS": json.dumps({"hr": box.hr.url, "archive": box.archive.url}),
            "RPA_SMTP_HOST": box.smtp.host,
            "RPA_SMTP_PORT": str(box.smtp.port),
        }
    )
    for key, value in DEMO_CREDENTIALS.items():
        os.environ.setdefault(key, value)
    settings = load_settings()
    upgrade(Database(settings.effective_database_url).engine)
    prepare_inbox(demo_dir / "inbox")
    console.print("Demo: RPA-roboter mot testsystemene", style="bold")
    for name, url, login in box.describe():
        console.print(f"  {name}: {url}  ({login})")

    service = Service(settings, processes=processes)
    queue = Queue(service.db, settings, service.registry)
    queue.submit("onboarding.find_new_hires", "demo-nyansatte", {}, submitted_by="demo")
    queue.submit("sykefravaer.reminders", "demo-sykefravaer", {}, submitted_by="demo")
    with service.db.session() as session:
        fire_at = utcnow() + timedelta(seconds=3)
        session.add(
            Schedule(
                name="demo-innboks",
                task="arkivering.scan_inbox",
                trigger="date",
                spec=fire_at.isoformat(),
                payload={},
                source="database",
            )
        )
        audit.record(session, "demo", "schedule_create", "schedule:demo-innboks")
    expected_hires = len(box.hr_app.state.data.new_hire_ids)
    expected = {
        ("onboarding.find_new_hires", ItemStatus.DONE): 1,
        ("onboarding", ItemStatus.DONE): expected_hires,
        ("sykefravaer.reminders", ItemStatus.DONE): 1,
        ("arkivering.scan_inbox", ItemStatus.DONE): 1,
        ("arkivering", ItemStatus.DONE): 2,
        ("arkivering", ItemStatus.BUSINESS_ERROR): 1,
    }
    service.start()
    clock = time.monotonic()
    try:
        counts = _follow(service.db, expected, timeout, console)
    finally:
        service.stop()
    ok = counts == Counter(expected)
    _summary(service.db, box, counts, expected, time.monotonic() - clock, demo_dir, console)
    box.stop()
    if not ok:
        console.print("Demoen endte ikke som forventet (se tabellen).", style="red")
    return ok


def _counts(db: Database) -> Counter[tuple[str, str]]:
    with db.session() as session:
        rows = session.execute(
            select(WorkItem.task, WorkItem.status, func.count()).group_by(
                WorkItem.task, WorkItem.status
            )
        ).all()
    return Counter({(task, status): n for task, status, n in rows})


def _follow(
    db: Database, expected: dict[tuple[str, str], int], timeout: float, console: Console
) -> Counter[tuple[str, str]]:
    total = sum(expected.values())
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    deadline = time.monotonic() + timeout
    counts: Counter[tuple[str, str]] = Counter()
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task("Elementer avsluttet", total=total)
        while time.monotonic() < deadline:
            counts = _counts(db)
            settled = sum(n for (_, status), n in counts.items() if status in ItemStatus.FINAL)
            busy = sum(n for (_, status), n in counts.items() if status not in ItemStatus.FINAL)
            progress.update(
                bar,
                completed=min(settled, total),
                description=f"Elementer avsluttet ({busy} i arbeid)",
            )
            if settled >= total and busy == 0:
                break
            time.sleep(0.5)
    return _counts(db)


def _summary(
    db: Database,
    box: object,
    counts: Counter[tuple[str, str]],
    expected: dict[tuple[str, str], int],
    elapsed: float,
    demo_dir: Path,
    console: Console,
) -> None:
    table = Table("Oppgave", "Status", "Elementer", "Forventet")
    for key in sorted(set(counts) | set(expected)):
        table.add_row(
            key[0], status_name(key[1]), str(counts.get(key, 0)), str(expected.get(key, 0))
        )
    console.print(table)
    with db.session() as session:
        runs = session.scalars(select(Run)).all()
        mails = Counter(session.scalars(select(OutboxMessage.status)).all())
        rejected = session.scalars(
            select(WorkItem).where(WorkItem.status == ItemStatus.BUSINESS_ERROR)
        ).all()
        chain = audit.verify(session)
    durations = sorted((r.ended_at - r.started_at).total_seconds() for r in runs if r.ended_at)
    archive = _noark_count(box.archive.url, "sakarkiv", "sakarkiv/journalpost")  # type: ignore[attr-defined]
    delivered = httpx.get(f"{box.mail_web.url}/api/messages").json()  # type: ignore[attr-defined]
    if durations:
        console.print(
            f"Kjøringer: {len(runs)}; varighet median "
            f"{durations[len(durations) // 2]:.1f} s, maks {durations[-1]:.1f} s. "
            f"Hele demoen: {elapsed:.0f} s."
        )
    console.print(
        f"Arkivet: {archive} journalposter. E-post levert: {len(delivered)} "
        f"(utboksen: {dict(mails)})."
    )
    for item in rejected:
        console.print(f"Avvist med grunn: {item.error_message}")
    console.print(
        f"Revisjonssporet: {'intakt' if chain.intact else 'BRUTT'} ({chain.checked} hendelser)."
    )
    console.print(
        f"Alt fra demoen ligger i {demo_dir}: database, kjørelogger (runs/), "
        "vedlegg (artifacts/), Excel-oversikt (exports/), innboks (inbox/)."
    )
    console.print(
        f"Se mer: RPA_DATA_DIR={demo_dir} python runner.py runs list  |  "
        "... runs report <id>  |  ... items list"
    )


def _noark_count(base_url: str, *rels: str) -> int:
    """The count of a list in the archive, found as a Noark 5 client finds it: from the API
    root through relation links."""
    rel = "https://rel.arkivverket.no/noark5/v5/api/{}/"
    with httpx.Client(auth=("robot", "robot-passord"), timeout=30) as http:
        entity = http.get(f"{base_url}/api").json()
        for name in rels:
            entity = http.get(entity["_links"][rel.format(name)]["href"].split("{")[0]).json()
    return int(entity["count"])
