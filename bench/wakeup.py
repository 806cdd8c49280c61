"""Wake-up benchmark: from submit to the start of the run, with one idle worker waiting.

    python bench/wakeup.py [--items 30] [--postgres URL]

A `runner.py worker` process at the default settings waits idle; items are submitted one at a
time at random moments (0.2-0.7 s apart, each after the previous one has started), and the
delay is the run's `started_at` minus the item's `created_at` (both written by the database
clients on this machine's clock). Three set-ups in one run: SQLite (polling every
`poll_seconds`), PostgreSQL with LISTEN/NOTIFY (the default) and PostgreSQL with `listen = false`
(polling, the baseline). Target: p95 under 100 ms with LISTEN.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select, text  # noqa: E402

from robots.db import Database, upgrade  # noqa: E402
from robots.models import Run, WorkItem  # noqa: E402
from robots.queue import Queue  # noqa: E402
from robots.settings import load_settings, use_settings  # noqa: E402
from robots.tasks import discover  # noqa: E402


def delays(url: str, data_dir: Path, items: int, extra: dict[str, str]) -> list[float]:
    environ = {
        **os.environ,
        "RPA_DATABASE_URL": url,
        "RPA_DATA_DIR": str(data_dir),
        "RPA_LOG_STDERR": "false",
        **extra,
    }
    os.environ.update(environ)
    use_settings(None)
    db = Database(url)
    upgrade(db.engine)
    queue = Queue(db, load_settings(), discover(["tasks"]))
    worker = subprocess.Popen(
        [sys.executable, "runner.py", "worker", "--processes", "1"],
        cwd=ROOT,
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    measured: list[float] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with db.engine.connect() as conn:
                if conn.execute(text("SELECT count(*) FROM worker WHERE status = 'idle'")).scalar():
                    break
            time.sleep(0.1)
        tag = secrets.token_hex(3)
        for i in range(items):
            time.sleep(random.uniform(0.2, 0.7))
            item_id = queue.submit("selftest", f"{tag}-{i}", {}, submitted_by="bench").item.id
            while True:
                with db.session() as session:
                    started = session.scalar(select(Run.started_at).where(Run.item_id == item_id))
                    if started is not None:
                        created = session.scalar(
                            select(WorkItem.created_at).where(WorkItem.id == item_id)
                        )
                        break
                time.sleep(0.01)
            measured.append((started - created).total_seconds())
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        db.dispose()
    return measured


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=30)
    parser.add_argument("--postgres", default=os.environ.get("RPA_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    from bench.queue import scratch_dir, scratch_pg

    results: list[tuple[str, list[float]]] = []
    with tempfile.TemporaryDirectory(dir=scratch_dir()) as tmp:
        url = f"sqlite:///{tmp}/wakeup.db"
        results.append(("SQLite (poll_seconds 0.5)", delays(url, Path(tmp), args.items, {})))
    if args.postgres:
        for label, extra in (
            ("PostgreSQL, LISTEN/NOTIFY", {}),
            ("PostgreSQL, listen = false (poll_seconds 0.5)", {"RPA_LISTEN": "false"}),
        ):
            url, drop = scratch_pg(args.postgres)
            try:
                with tempfile.TemporaryDirectory(dir=scratch_dir()) as tmp:
                    results.append((label, delays(url, Path(tmp), args.items, extra)))
            finally:
                drop()  # type: ignore[operator]
    else:
        print("(PostgreSQL hoppet over: gi --postgres URL eller RPA_TEST_POSTGRES_URL)")
    from rich.console import Console
    from rich.table import Table

    baseline = dict(results).get("PostgreSQL, listen = false (poll_seconds 0.5)")
    table = Table(
        "Oppsett",
        "p50",
        "p95",
        "maks",
        "p95 mot polling (PostgreSQL)",
        title=f"bench/wakeup.py: fra innsending til start, {args.items} elementer "
        "(mål p95 < 100 ms)",
    )
    for label, values in results:
        ratio = f"{percentile(values, 95) / percentile(baseline, 95):.2f}x" if baseline else "-"
        table.add_row(
            label,
            f"{statistics.median(values) * 1000:.0f} ms",
            f"{percentile(values, 95) * 1000:.0f} ms",
            f"{max(values) * 1000:.0f} ms",
            ratio,
        )
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
