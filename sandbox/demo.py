"""`runner.py demo`: the three caseworker flows end to end against the sandbox systems.

Starts the sandbox (HR portal, Noark archive, mail server) and the service (scheduler and worker
processes) on a fresh SQLite file in var/demo/, then: finds the new hires (one onboarding item
each), runs the sykefravær reminders, and lets a one-off schedule scan the archive inbox (two
good documents and one that must be rejected). Follows the items with a progress bar, prints a
summary, and exits 0 only if every item ended as the flows should.
"""

from __future__ import annotations

import json
import secrets
import shutil
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select

from robots import audit
from robots.app import RpaApp
from robots.db import Database, upgrade
from robots.labels import status_name
from robots.models import FINAL_STATUSES, ItemStatus, OutboxMessage, Schedule, utcnow
from robots.serve import Service
from robots.settings import Settings
from robots.views import Views
from sandbox.run import Sandbox

# The sandbox's robot account, given to the robots through the vault's credentials file.
DEMO_CREDENTIALS = """[hr]
username = "robot"
password = "robot-passord"

[archive]
username = "robot"
password = "robot-passord"
"""
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def prepare_inbox(inbox: Path) -> None:
    """Two documents that belong in existing cases, one that says nothing of its case (the
    robot asks a caseworker), one that cannot be filed (not a PDF)."""
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
        "Brev om byggesaken i Storgata 3, skannet uten saksreferanse\n", encoding="utf-8"
    )
    (inbox / "BYGG-2026-001__Tegninger__I__2026-03-02.pdf").write_bytes(b"ikke en PDF")


DEMO_CASEWORKER = "demo-saksbehandler"


class ScriptedCaseworker:
    """The demo's caseworker: answers the robots' questions through the console's JSON API
    with an API key of their own, as a person would through the form."""

    def __init__(self, app: RpaApp, url: str) -> None:
        from robots.console.auth import add_user, new_token

        with app.db.session() as session:
            user = add_user(
                session, DEMO_CASEWORKER, secrets.token_urlsafe(16), "caseworker", "demo"
            )
            token = new_token(session, user, "demo", "demo")
        self.http = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        self.answered: list[str] = []

    ANSWERS: dict[str, dict[str, Any]] = {
        # The archive robot could not place a scanned letter: it is about the building case.
        "CaseChoice": {
            "saksreferanse": "BYGG-2026-001",
            "tittel": "Brev om byggesaken, skannet",
            "journalposttype": "I",
        },
        # HR: the signed contracts have come back.
        "SignedContract": {"mottatt": True},
    }

    def answer_open_questions(self) -> None:
        for question in self.http.get("/api/questions").json():
            answer = dict(self.ANSWERS.get(question["model"], {}))
            if question["model"] == "CaseChoice":
                answer["dokumentets_dato"] = utcnow().date().isoformat()
            done = self.http.post(f"/api/questions/{question['id']}/answer", json=answer)
            if done.status_code == 200:
                self.answered.append(question["text"])


def demo_settings(settings: Settings, demo_dir: Path, box: Sandbox) -> Settings:
    """The installation's settings, pointed at a fresh data directory and at the sandbox. The
    worker processes receive these settings themselves; nothing goes through the environment."""
    credentials = demo_dir / "credentials.toml"
    credentials.touch(mode=0o600)
    credentials.write_text(DEMO_CREDENTIALS, encoding="utf-8")
    return settings.model_copy(
        update={
            "data_dir": demo_dir,
            "database_url": f"sqlite:///{demo_dir / 'rpa.db'}",
            "log_stderr": False,
            "log_file": str(demo_dir / "logs" / "demo.log"),
            "artifacts_dir": "",
            "backoff_base_seconds": 1,
            "scheduler_sync_seconds": 2,
            "system_urls": {"hr": box.hr.url, "archive": box.archive.url},
            "smtp_host": box.smtp.host,
            "smtp_port": box.smtp.port,
            "credentials_file": str(credentials),
            # The robots' questions to caseworkers go to the demo's scripted caseworker.
            "question_teams": {"caseworker": [DEMO_CASEWORKER]},
        }
    )


def run_demo(settings: Settings, *, processes: int, timeout: float, console: Console) -> bool:
    demo_dir = settings.data_path / "demo"
    shutil.rmtree(demo_dir, ignore_errors=True)
    demo_dir.mkdir(parents=True)
    box = Sandbox(demo_dir / "sandbox").start()
    settings = demo_settings(settings, demo_dir, box)
    upgrade(Database(settings.effective_database_url).engine)
    prepare_inbox(demo_dir / "inbox")
    console.print("Demo: RPA-roboter mot testsystemene", style="bold")
    for name, url, login in box.describe():
        console.print(f"  {name}: {url}  ({login})")

    app = RpaApp.build(settings)
    service = Service(app, processes=processes, web_port=0)
    queue = app.queue
    queue.submit("onboarding.find_new_hires", "demo-nyansatte", {}, submitted_by="demo")
    queue.submit("sykefravaer.reminders", "demo-sykefravaer", {}, submitted_by="demo")
    with app.db.session() as session:
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
        ("onboarding.signert", ItemStatus.DONE): expected_hires,
        ("sykefravaer.reminders", ItemStatus.DONE): 1,
        ("arkivering.scan_inbox", ItemStatus.DONE): 1,
        ("arkivering", ItemStatus.DONE): 3,
        ("arkivering", ItemStatus.BUSINESS_ERROR): 1,
    }
    service.start()
    assert service.url is not None
    caseworker = ScriptedCaseworker(app, service.url)
    clock = time.monotonic()
    try:
        counts = _follow(app.views, expected, timeout, console, caseworker)
        leader_page = _leader_page(app, service.url, console)
    finally:
        service.stop()
    ok = counts == Counter(expected) and leader_page
    _summary(app, box, counts, expected, time.monotonic() - clock, demo_dir, console)
    console.print(
        f"Spørsmål robotene stilte, besvart av demo-saksbehandler: {len(caseworker.answered)} "
        f"(f.eks. «{caseworker.answered[0] if caseworker.answered else '-'}»)"
    )
    box.stop()
    if not ok:
        console.print("Demoen endte ikke som forventet (se tabellen).", style="red")
    return ok


def _leader_page(app: RpaApp, url: str, console: Console) -> bool:
    """The console's sick-leave page as a leader (role leder) sees it: the robot's twelve
    months for the whole municipality and each tjenesteområde against its target."""
    from robots.console.auth import add_user, new_token
    from robots.console.deps import number
    from robots.sickleave import read_overview

    with app.db.session() as session:
        user = add_user(session, "demo-leder", secrets.token_urlsafe(16), "leder", "demo")
        token = new_token(session, user, "demo", "demo")
        view = read_overview(session)
    page = httpx.get(f"{url}/sykefravaer", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    whole = next((r for r in view.rows if r.area == ""), None)
    if page.status_code != 200 or whole is None or "Hele kommunen" not in page.text:
        console.print("Sykefraværssiden i konsollen har ingen tall.", style="red")
        return False
    year = whole.year.percent() or 0.0
    console.print(
        f"Sykefravær (konsollen {url}/sykefravaer, rolle leder): hele kommunen "
        f"{number(year, 1)} % siste {len(view.months)} måneder, mål {number(whole.target, 1)} %; "
        f"{sum(1 for r in view.rows if r.area and not r.unit)} tjenesteområder, "
        f"{sum(1 for r in view.rows if r.unit)} enheter"
    )
    return True


def _follow(
    views: Views,
    expected: dict[tuple[str, str], int],
    timeout: float,
    console: Console,
    caseworker: ScriptedCaseworker,
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
            counts = views.task_status_counts()
            settled = sum(n for (_, status), n in counts.items() if status in FINAL_STATUSES)
            busy = sum(n for (_, status), n in counts.items() if status not in FINAL_STATUSES)
            progress.update(
                bar,
                completed=min(settled, total),
                description=f"Elementer avsluttet ({busy} i arbeid)",
            )
            if settled >= total and busy == 0:
                break
            caseworker.answer_open_questions()
            time.sleep(0.5)
    return views.task_status_counts()


def _summary(
    app: RpaApp,
    box: Sandbox,
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
    views = app.views
    durations = views.run_durations()
    rejected = views.items_with_status(ItemStatus.BUSINESS_ERROR)
    with app.db.session() as session:
        mails = Counter(session.scalars(select(OutboxMessage.status)).all())
        chain = audit.verify(session)
    archive = _noark_count(box.archive.url, "sakarkiv", "sakarkiv/journalpost")
    delivered = httpx.get(f"{box.mail_web.url}/api/messages").json()
    if durations:
        console.print(
            f"Kjøringer: {len(durations)}; varighet median "
            f"{durations[len(durations) // 2]:.1f} s, maks {durations[-1]:.1f} s. "
            f"Hele demoen: {elapsed:.0f} s."
        )
    console.print(
        f"Arkivet: {archive} journalposter. E-post levert: {len(delivered)} "
        f"(utboksen: {dict(mails)})."
    )
    for item in rejected:
        console.print(f"Avvist med grunn: {item.error}")
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
