"""Run-log search at scale: the auditor's usual queries through the console's JSON API, next to
the same query as plain SQL on the same database, in the same run.

    python bench/runlog_search.py [--events 1000000] [--postgres URL]

Fills a scratch database with `--events` run events (10 per run, one run per item, spread over
90 days and six tasks), then times each query 40 times and prints p50 and p95. Target: p95 under
200 ms. PostgreSQL runs when --postgres or RPA_TEST_POSTGRES_URL is given. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from bench.queue import scratch_pg  # noqa: E402
from robots.console.app import create_app  # noqa: E402
from robots.console.auth import add_user, new_token  # noqa: E402
from robots.db import Database, upgrade  # noqa: E402
from robots.models import Run, RunEvent, WorkItem  # noqa: E402
from robots.settings import load_settings  # noqa: E402
from sandbox.common import ServerThread  # noqa: E402

TASKS = [
    "onboarding",
    "sykefravaer.reminders",
    "arkivering",
    "onboarding.find_new_hires",
    "arkivering.scan_inbox",
    "selftest",
]
OUTCOMES = ["done"] * 17 + ["business_error", "system_error", "abandoned"]
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def fill(db: Database, events: int) -> None:
    rng = random.Random(1)
    runs = events // 10
    batch = 5000
    with db.engine.begin() as conn:
        for start in range(0, runs, batch):
            items, run_rows, event_rows = [], [], []
            for n in range(start, min(runs, start + batch)):
                ident = n + 1
                ts = NOW - timedelta(seconds=rng.randint(0, 90 * 86400))
                task = TASKS[n % len(TASKS)]
                outcome = rng.choice(OUTCOMES)
                items.append(
                    dict(
                        id=ident,
                        task=task,
                        reference=f"ref-{ident}",
                        payload={},
                        priority=0,
                        status="done",
                        systems="",
                        attempts=1,
                        max_attempts=3,
                        failures=0,
                        abandons=0,
                        not_before=ts,
                        submitted_by=f"web:bruker{n % 40}",
                        created_at=ts,
                        updated_at=ts,
                        finished_at=ts,
                    )
                )
                run_rows.append(
                    dict(
                        id=ident,
                        item_id=ident,
                        attempt=1,
                        worker_id="w",
                        host="h",
                        pid=1,
                        started_at=ts,
                        ended_at=ts + timedelta(seconds=5),
                        outcome=outcome,
                    )
                )
                for seq in range(1, 11):
                    event_rows.append(
                        dict(
                            run_id=ident,
                            seq=seq,
                            ts=ts + timedelta(seconds=seq),
                            level="INFO",
                            step="Steg",
                            message=f"Melding {seq}",
                            duration_ms=12.5,
                            data=None,
                        )
                    )
            conn.execute(insert(WorkItem), items)
            conn.execute(insert(Run), run_rows)
            conn.execute(insert(RunEvent), event_rows)
        conn.execute(text("ANALYZE"))


QUERIES = {
    "oppgave + siste 7 dager": (
        {"task": "onboarding", "fra": "2026-11-16", "til": "2026-11-23"},
        "SELECT r.id FROM run r JOIN work_item w ON w.id = r.item_id WHERE w.task = :task "
        "AND r.started_at >= :fra AND r.started_at < :til ORDER BY r.started_at DESC LIMIT 200",
        {
            "task": "onboarding",
            "fra": datetime(2026, 11, 15, 23),
            "til": datetime(2026, 11, 23, 23),
        },
    ),
    "systemfeil siste 30 dager": (
        {"outcome": "system_error", "fra": "2026-10-24", "til": "2026-11-23"},
        "SELECT r.id FROM run r JOIN work_item w ON w.id = r.item_id WHERE r.outcome = :o "
        "AND r.started_at >= :fra AND r.started_at < :til ORDER BY r.started_at DESC LIMIT 200",
        {"o": "system_error", "fra": datetime(2026, 10, 23, 22), "til": datetime(2026, 11, 23, 23)},
    ),
    "referanse": (
        {"reference": "ref-4242"},
        "SELECT r.id FROM run r JOIN work_item w ON w.id = r.item_id WHERE w.reference = :r "
        "ORDER BY r.started_at DESC LIMIT 200",
        {"r": "ref-4242"},
    ),
    "innsender (aktør)": (
        {"actor": "web:bruker7"},
        "SELECT r.id FROM run r JOIN work_item w ON w.id = r.item_id WHERE w.submitted_by = :a "
        "ORDER BY r.started_at DESC LIMIT 200",
        {"a": "web:bruker7"},
    ),
}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p * (len(ordered) - 1))))]


def bench(label: str, url: str, data_dir: Path, events: int) -> list[tuple[str, ...]]:
    os.environ.update(
        {"RPA_DATABASE_URL": url, "RPA_DATA_DIR": str(data_dir), "RPA_LOG_STDERR": "false"}
    )
    settings = load_settings()
    db = Database(url)
    upgrade(db.engine)
    started = time.perf_counter()
    fill(db, events)
    print(f"{label}: {events} hendelser fylt inn på {time.perf_counter() - started:.0f} s")
    with db.session() as session:
        user = add_user(session, "revisor", "revisor-passord-1", "auditor", "bench")
        token = new_token(session, user, "bench", "bench")
    server = ServerThread(create_app(settings, db)).start()
    client = httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    rows = []
    try:
        for name, (params, sql, sql_params) in QUERIES.items():
            api, plain = [], []
            for _ in range(40):
                t = time.perf_counter()
                response = client.get("/api/runs", params=params)
                api.append(time.perf_counter() - t)
                assert response.status_code == 200, response.text
                t = time.perf_counter()
                with db.engine.connect() as conn:
                    conn.execute(text(sql), sql_params).all()
                plain.append(time.perf_counter() - t)
            events_t = []
            for run_id in random.Random(2).sample(range(1, events // 10), 40):
                t = time.perf_counter()
                client.get(f"/api/runs/{run_id}/events").raise_for_status()
                events_t.append(time.perf_counter() - t)
            rows.append(
                (
                    label,
                    name,
                    f"{percentile(api, 0.5) * 1000:.1f}",
                    f"{percentile(api, 0.95) * 1000:.1f}",
                    f"{percentile(plain, 0.5) * 1000:.1f}",
                    f"{percentile(plain, 0.95) * 1000:.1f}",
                )
            )
        rows.append(
            (
                label,
                "tidslinje for én kjøring",
                f"{percentile(events_t, 0.5) * 1000:.1f}",
                f"{percentile(events_t, 0.95) * 1000:.1f}",
                "-",
                "-",
            )
        )
    finally:
        server.stop()
        db.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--postgres", default=os.environ.get("RPA_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    scratch = ROOT / "var" / "bench"
    scratch.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, ...]] = []
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        rows += bench("SQLite", f"sqlite:///{tmp}/search.db", Path(tmp), args.events)
        if args.postgres:
            url, drop = scratch_pg(args.postgres)
            try:
                rows += bench("PostgreSQL", url, Path(tmp), args.events)
            finally:
                drop()  # type: ignore[operator]
    from rich.console import Console
    from rich.table import Table

    table = Table(
        "Database",
        "Spørring",
        "API p50 ms",
        "API p95 ms (mål < 200)",
        "Ren SQL p50 ms",
        "Ren SQL p95 ms",
        title=f"bench/runlog_search.py, {args.events} hendelser",
    )
    for row in rows:
        table.add_row(*row)
    Console(width=150).print(table)


if __name__ == "__main__":
    main()
