"""Console pages at scale: every page a caseworker, an operator, an auditor and an admin use,
with 100,000 items, 1,000,000 run events and 100,000 audit events, on SQLite and PostgreSQL.

    python bench/console_pages.py [--items 100000] [--audit 100000] [--repeat 30] [--postgres URL]

Each page is fetched `--repeat` times over HTTP with a logged-in session (the console in this
process, as `serve` runs it); p50 and p95 are printed, and beside them the same figures for the
console's static stylesheet, the floor of an HTTP round trip through the same server in the same
run. Target: p95 under 300 ms per page. The audit trail is verified once in full before timing
(as the nightly task does), so the page measures its incremental check. PostgreSQL runs when
--postgres or RPA_TEST_POSTGRES_URL is given. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from bench.queue import scratch_pg  # noqa: E402
from bench.runlog_search import percentile  # noqa: E402
from robots import audit  # noqa: E402
from robots.console.app import create_app  # noqa: E402
from robots.console.auth import add_user  # noqa: E402
from robots.db import Database, upgrade  # noqa: E402
from robots.models import Run, RunEvent, Schedule, WorkItem, utcnow  # noqa: E402
from robots.settings import load_settings, use_settings  # noqa: E402
from robots.web import ServerThread  # noqa: E402

TASKS = ["onboarding", "sykefravaer.reminders", "arkivering", "selftest"]
STATUSES = ["done"] * 16 + ["business_error", "failed", "pending", "cancelled"]
OUTCOME = {"done": "done", "business_error": "business_error", "failed": "system_error"}
PASSWORD = "benk-passord-123"
EVENTS_PER_RUN = 10


def fill(db: Database, items: int, audit_events: int) -> None:
    """Items over 90 days (a fortieth of them the caseworker's own), one run each with ten
    events (a million events for 100,000 items), and an audit trail of `audit_events`."""
    rng = random.Random(7)
    now = utcnow()
    batch = 5000
    with db.engine.begin() as conn:
        for start in range(0, items, batch):
            item_rows, run_rows, event_rows = [], [], []
            for n in range(start, min(items, start + batch)):
                ident = n + 1
                ts = now - timedelta(seconds=rng.randint(60, 90 * 86400))
                status = rng.choice(STATUSES)
                final = status != "pending"
                item_rows.append(
                    dict(
                        id=ident,
                        task=TASKS[n % len(TASKS)],
                        reference=f"sak-{ident}",
                        payload={"note": f"element {ident}"},
                        priority=0,
                        status=status,
                        systems="",
                        attempts=1 if final else 0,
                        max_attempts=3,
                        failures=0,
                        abandons=0,
                        not_before=ts,
                        submitted_by=f"web:{'kari' if n % 40 == 0 else f'bruker{n % 40}'}",
                        created_at=ts,
                        updated_at=ts,
                        finished_at=ts + timedelta(seconds=5) if final else None,
                        error_kind="business" if status == "business_error" else None,
                        error_message="Fant ikke ansatt" if status == "business_error" else None,
                    )
                )
                if not final:
                    continue
                run_rows.append(
                    dict(
                        id=ident,
                        item_id=ident,
                        attempt=1,
                        worker_id="w",
                        host="h",
                        pid=1,
                        started_at=ts,
                        ended_at=ts + timedelta(seconds=rng.uniform(1, 9)),
                        outcome=OUTCOME.get(status, "done"),
                    )
                )
                event_rows.extend(
                    dict(
                        run_id=ident,
                        seq=seq,
                        ts=ts + timedelta(seconds=seq),
                        level="INFO",
                        step=f"Steg {seq}",
                        message=f"Melding {seq}",
                        duration_ms=12.5,
                        data=None,
                    )
                    for seq in range(1, EVENTS_PER_RUN + 1)
                )
            conn.execute(insert(WorkItem), item_rows)
            if run_rows:
                conn.execute(insert(Run), run_rows)
                conn.execute(insert(RunEvent), event_rows)
        conn.execute(
            insert(Schedule),
            [
                dict(
                    name="morgen",
                    task="selftest",
                    trigger="cron",
                    spec="0 6 * * 1-5",
                    payload={},
                    priority=0,
                    working_days_only=True,
                    misfire_grace_seconds=3600,
                    coalesce=True,
                    enabled=True,
                    source="config",
                    updated_at=now,
                )
            ],
        )
    for start in range(0, audit_events, batch):
        with db.session() as session:  # one signed anchor entry per batch
            for n in range(start, min(audit_events, start + batch)):
                audit.record(session, f"web:bruker{n % 40}", "view", f"item:{n % items + 1}")
    with db.engine.begin() as conn:
        conn.execute(text("ANALYZE"))


def login(base: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=60)
    page = client.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    answer = client.post("/login", data={"username": username, "password": PASSWORD, "csrf": csrf})
    assert answer.status_code == 303, answer.text
    return client


PAGES = {
    "caseworker": ["/mine", "/mine?q=sak-12", "/mine?under=50000", "/ny", "/ny/arkivering"],
    "operator": [
        "/drift",
        "/drift/elementer?status=failed",
        "/drift/elementer?under=50000",
        "/tidsplaner",
        "/api/statistikk",
        "/elementer/4242",
    ],
    "auditor": [
        "/revisjon",
        "/revisjon?task=onboarding",
        "/revisjon?outcome=system_error",
        "/revisjon?reference=sak-4242",
        "/revisjon?under=50000",
        "/kjoringer/4241",
        "/revisjonsspor",
        "/revisjonsspor?actor=bruker7",
        "/revisjonsspor?under=50000",
    ],
    "admin": ["/admin/brukere"],
}


def bench(
    label: str, url: str, data_dir: Path, items: int, audit_events: int, repeat: int
) -> list[tuple[str, ...]]:
    settings = load_settings(database_url=url, data_dir=data_dir, log_stderr=False)
    use_settings(settings)
    db = Database(url, settings)
    upgrade(db.engine)
    started = time.perf_counter()
    fill(db, items, audit_events)
    with db.session() as session:
        for role in PAGES:
            add_user(session, "kari" if role == "caseworker" else role, PASSWORD, role, "benk")
    with db.session() as session:
        check = audit.verify(session, full=True)  # as the nightly task: a checkpoint to go on from
    print(
        f"{label}: {items} elementer, {items * EVENTS_PER_RUN} hendelser, {audit_events} "
        f"revisjonshendelser på {time.perf_counter() - started:.0f} s "
        f"(kjeden: {'intakt' if check.intact else check.reason})"
    )
    server = ServerThread(create_app(settings, db)).start()
    rows = []
    try:
        floor = login(server.url, "admin")
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            floor.get("/static/konsoll.css").raise_for_status()
            times.append((time.perf_counter() - t0) * 1000)
        base_p50, base_p95 = percentile(times, 0.5), percentile(times, 0.95)
        rows.append(
            (label, "(gulv) /static/konsoll.css", f"{base_p50:.1f}", f"{base_p95:.1f}", "-")
        )
        for role, pages in PAGES.items():
            client = login(server.url, "kari" if role == "caseworker" else role)
            for path in pages:
                client.get(path).raise_for_status()  # warm: templates compiled, caches filled
                times = []
                for _ in range(repeat):
                    t0 = time.perf_counter()
                    client.get(path).raise_for_status()
                    times.append((time.perf_counter() - t0) * 1000)
                p50, p95 = percentile(times, 0.5), percentile(times, 0.95)
                verdict = "ja" if p95 < 300 else "NEI"
                rows.append((label, f"{role} {path}", f"{p50:.1f}", f"{p95:.1f}", verdict))
    finally:
        server.stop()
        db.dispose()
        use_settings(None)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--audit", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--postgres", default=os.environ.get("RPA_TEST_POSTGRES_URL", ""))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_dir = Path(tmp) / "sqlite"
        sqlite_dir.mkdir()
        url = f"sqlite:///{sqlite_dir / 'rpa.db'}"
        rows += bench("SQLite", url, sqlite_dir, args.items, args.audit, args.repeat)
        if args.postgres:
            pg_dir = Path(tmp) / "pg"
            pg_dir.mkdir()
            pg_url, drop = scratch_pg(args.postgres)
            try:
                rows += bench("PostgreSQL", pg_url, pg_dir, args.items, args.audit, args.repeat)
            finally:
                drop()  # type: ignore[operator]
        else:
            print("PostgreSQL hoppet over: oppgi --postgres URL eller RPA_TEST_POSTGRES_URL")
    from rich.console import Console
    from rich.table import Table

    table = Table(
        "Database", "Side", "p50 ms", "p95 ms", "p95 < 300 ms", title="bench/console_pages.py"
    )
    for row in rows:
        table.add_row(*row)
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
