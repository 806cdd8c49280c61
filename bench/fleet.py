"""Fleet benchmark: many workers claiming from one PostgreSQL, no browser.

    python bench/fleet.py [--workers 10,50,200] [--items 100000] [--item-seconds 1]
                          [--seconds 20] [--processes 4] [--postgres URL]

100,000 waiting items of three tasks (one on a system limited to 30 running items, one on a
system limited to 60, one on none). Each simulated worker is a thread with its own identity in
one of `--processes` processes (each process has the engine a worker process has): it claims
through `Queue.claim`, sleeps the item time, finishes through `Queue.finish` (a run-log line
stored), and waits `poll_seconds` when a claim comes back empty. Figures per fleet size:

- claims per second against the demand (workers / item time): 1.0x means the queue keeps up;
- p50 / p99 claim latency, and the same against the claim latency of a single worker on the
  same database in the same run (the floor);
- empty claims (None while items wait: every candidate's system was full);
- lock waits: backends waiting on a lock, sampled every 100 ms (mean and max);
- the database's CPU share: CPU time of the PostgreSQL server processes over wall time x cores;
- connections the fleet held at most.

Needs PostgreSQL (--postgres or RPA_TEST_POSTGRES_URL); skipped with a reason otherwise.
Target: p99 claim latency under 50 ms at 200 workers.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

from pydantic import BaseModel  # noqa: E402
from sqlalchemy import text  # noqa: E402

from robots.db import Database, upgrade  # noqa: E402
from robots.models import RunOutcome, utcnow  # noqa: E402
from robots.queue import Queue, WorkerIdentity  # noqa: E402
from robots.settings import Settings  # noqa: E402
from robots.tasks import Task  # noqa: E402

LIMITS = {"hr": 30, "arkiv": 60}
TASKS = {"fleet.hr": ("hr",), "fleet.arkiv": ("arkiv",), "fleet.fri": ()}


class Nothing(BaseModel):
    pass


def registry() -> dict[str, Task]:
    return {
        name: Task(name=name, func=lambda ctx, data: None, input_model=Nothing, systems=systems)
        for name, systems in TASKS.items()
    }


def fleet_settings(url: str, data_dir: str) -> Settings:
    return Settings(
        database_url=url, data_dir=Path(data_dir), system_limits=LIMITS, log_stderr=False
    )


# One process of the fleet ---------------------------------------------------------------------


def fleet_process(
    url: str, data_dir: str, threads: int, seconds: float, item_seconds: float, out: Any
) -> None:
    settings = fleet_settings(url, data_dir)
    db = Database(url, settings)
    queue = Queue(db, settings, registry())
    deadline = time.monotonic() + seconds
    latencies: list[float] = []
    counts = {"claims": 0, "empty": 0}
    lock = threading.Lock()

    def worker(n: int) -> None:
        me = WorkerIdentity(f"fleet-{os.getpid()}-{n}", "bench", os.getpid())
        time.sleep(random.uniform(0, item_seconds))  # do not start in lockstep
        first = True  # the first claim opens the thread's connection: not counted
        while time.monotonic() < deadline:
            started = time.perf_counter()
            claim = queue.claim(me)
            took = time.perf_counter() - started
            with lock:
                if not first:
                    latencies.append(took)
                counts["claims" if claim else "empty"] += 1
            first = False
            if claim is None:
                time.sleep(settings.poll_seconds * random.uniform(0.75, 1.25))
                continue
            time.sleep(item_seconds)
            event = {"run_id": claim.run_id, "seq": 1, "ts": utcnow().isoformat(), "level": "INFO"}
            queue.finish(claim, RunOutcome.DONE, events=[{**event, "message": "ferdig"}])

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    db.dispose()
    out.put((latencies, counts))


# Observers ------------------------------------------------------------------------------------


def postgres_cpu_seconds() -> float:
    """CPU seconds used so far by the PostgreSQL server's processes on this machine."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)
            name = fields[0].split("(", 1)[1]
            if name.startswith("postgres"):
                rest = fields[1].split()
                # utime, stime, and cutime, cstime: a backend that has exited is counted in
                # the postmaster's children's time.
                total += sum(int(rest[k]) for k in (11, 12, 13, 14))
        except (OSError, IndexError):
            continue
    return total / ticks


def sample_locks(url: str, stop: threading.Event, samples: list[tuple[int, int]]) -> None:
    """Every 100 ms: (backends waiting on a lock, connections to this database)."""
    db = Database(url)
    name = db.engine.url.database
    query = text(
        "SELECT count(*) FILTER (WHERE wait_event_type = 'Lock'), count(*) "
        "FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()"
    )
    with db.engine.connect() as conn:
        while not stop.wait(0.1):
            waiting, connections = conn.execute(query, {"name": name}).one()
            samples.append((int(waiting), int(connections)))
            conn.rollback()
    db.dispose()


def single_claim_latency(url: str, data_dir: str, samples: int = 200) -> float:
    """The floor: median claim of one worker alone on the same database (claimed items are
    finished at once, so the queue is the same)."""
    settings = fleet_settings(url, data_dir)
    db = Database(url, settings)
    queue = Queue(db, settings, registry())
    me = WorkerIdentity("alone", "bench", os.getpid())
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        claim = queue.claim(me)
        times.append(time.perf_counter() - started)
        assert claim is not None
        queue.finish(claim, RunOutcome.DONE)
    db.dispose()
    return statistics.median(times)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def run_fleet(
    url: str, data_dir: str, workers: int, processes: int, seconds: float, item_seconds: float
) -> dict[str, float]:
    context = mp.get_context("spawn")
    out = context.Queue()
    per = [workers // processes + (1 if i < workers % processes else 0) for i in range(processes)]
    procs = [
        context.Process(target=fleet_process, args=(url, data_dir, n, seconds, item_seconds, out))
        for n in per
        if n
    ]
    stop = threading.Event()
    samples: list[tuple[int, int]] = []
    sampler = threading.Thread(target=sample_locks, args=(url, stop, samples))
    sampler.start()
    cpu_before, wall_before = postgres_cpu_seconds(), time.monotonic()
    for proc in procs:
        proc.start()
    results = [out.get() for _ in procs]
    for proc in procs:
        proc.join()
    cpu = postgres_cpu_seconds() - cpu_before
    wall = time.monotonic() - wall_before
    stop.set()
    sampler.join()
    latencies = [t for lat, _ in results for t in lat]
    claims = sum(c["claims"] for _, c in results)
    empty = sum(c["empty"] for _, c in results)
    return {
        "claims_per_second": claims / seconds,
        "demand": workers / item_seconds,
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
        "empty": empty,
        "claims": claims,
        "lock_wait_mean": statistics.mean(w for w, _ in samples) if samples else 0.0,
        "lock_wait_max": max((w for w, _ in samples), default=0),
        "connections": max((c for _, c in samples), default=0),
        "db_cpu_share": cpu / (wall * (os.cpu_count() or 1)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", default="10,50,200")
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--item-seconds", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--postgres", default=os.environ.get("RPA_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    if not args.postgres:
        print(
            "(bench/fleet.py hoppet over: trenger PostgreSQL, gi --postgres URL eller "
            "RPA_TEST_POSTGRES_URL)"
        )
        return
    from bench.queue import fill, scratch_dir, scratch_pg

    url, drop = scratch_pg(args.postgres)
    rows = []
    try:
        db = Database(url)
        upgrade(db.engine)
        fill(db, args.items, TASKS)
        db.dispose()
        with tempfile.TemporaryDirectory(dir=scratch_dir()) as tmp:
            floor = single_claim_latency(url, tmp)
            for workers in (int(w) for w in args.workers.split(",")):
                f = run_fleet(url, tmp, workers, args.processes, args.seconds, args.item_seconds)
                rate = f["claims_per_second"]
                rows.append(
                    (
                        str(workers),
                        f"{rate:.0f}/s ({rate / f['demand']:.2f}x)",
                        f"{f['p50'] * 1000:.1f} ms ({f['p50'] / floor:.1f}x)",
                        f"{f['p99'] * 1000:.1f} ms ({f['p99'] / floor:.1f}x)",
                        f"{f['empty']:.0f} av {f['claims'] + f['empty']:.0f}",
                        f"{f['lock_wait_mean']:.2f} / {f['lock_wait_max']:.0f}",
                        f"{f['db_cpu_share'] * 100:.0f} %",
                        f"{f['connections']:.0f}",
                    )
                )
    finally:
        drop()  # type: ignore[operator]
    from rich.console import Console
    from rich.table import Table

    table = Table(
        "Arbeidere",
        "Claims/s (mot behov)",
        "p50 claim (mot én alene)",
        "p99 claim (mot én alene)",
        "Tomme claims",
        "Låsventer snitt / maks",
        "Database-CPU",
        "Forbindelser",
        title=f"bench/fleet.py: {args.items} ventende, elementtid {args.item_seconds:g} s, "
        f"{args.processes} prosesser; én arbeider alene: {floor * 1000:.1f} ms per claim",
    )
    for row in rows:
        table.add_row(*row)
    Console(width=170).print(table)


if __name__ == "__main__":
    main()
