"""Queue benchmark: the framework against its peers and a bare SQL loop, same database, same run.

    python bench/queue.py [--items 1000] [--jobs 10000] [--postgres URL]

1. Peers (PostgreSQL): enqueue rate (one transaction per job, and one batch) and drain rate of
   `--jobs` no-op jobs with 1 and 4 worker processes, for this framework (audit record per
   submitted item, run, run-log events), procrastinate and pgqueuer (each at its defaults, from
   the `bench` extra) and a bare SKIP LOCKED loop. Workers are started and ready before the
   batch is enqueued; the drain is timed from the commit of the batch to the last job done,
   counted by the same SQL poll for every system. Targets: drain at least the better peer's;
   at most 2x the bare loop's time per job.
2. Throughput of no-op items (submit, claim, run, finish, run log on) with 1 and 4 worker
   processes on SQLite and PostgreSQL, next to a bare loop of the same processes doing only
   INSERT / claim / UPDATE in SQL. Figure: framework cost per item / bare cost per item.
3. Claim latency with 100 and with 100,000 items waiting (target: ratio at most 2x), for the
   framework's claim and the bare claim.

PostgreSQL runs when --postgres or RPA_TEST_POSTGRES_URL is given (a scratch database is created
and dropped per system). Prints tables; nothing is asserted: speed is measured, not tested.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# This file is named queue.py: keep its folder off sys.path so `import queue` finds the stdlib.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from robots.db import Database, upgrade  # noqa: E402
from robots.models import Run, WorkItem, utcnow  # noqa: E402
from robots.queue import Queue, WorkerIdentity  # noqa: E402
from robots.settings import load_settings  # noqa: E402
from robots.tasks import discover  # noqa: E402

# Bare baseline ------------------------------------------------------------------------------

BARE_DDL = (
    "CREATE TABLE IF NOT EXISTS bare_item (id {pk}, status VARCHAR(10) NOT NULL, "
    "payload TEXT NOT NULL)"
)


def bare_setup(url: str) -> None:
    engine = Database(url).engine
    pk = "INTEGER PRIMARY KEY" if engine.dialect.name == "sqlite" else "BIGSERIAL PRIMARY KEY"
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS bare_item"))
        conn.execute(text(BARE_DDL.format(pk=pk)))
        conn.execute(text("CREATE INDEX bare_item_status ON bare_item (status, id)"))
    engine.dispose()


def bare_submit(url: str, n: int) -> None:
    engine = Database(url).engine
    for _ in range(n):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO bare_item (status, payload) VALUES ('p', '{}')"))
    engine.dispose()


def bare_claim_one(conn, pg: bool) -> int | None:  # type: ignore[no-untyped-def]
    lock = " FOR UPDATE SKIP LOCKED" if pg else ""
    row = conn.execute(
        text(f"SELECT id FROM bare_item WHERE status = 'p' ORDER BY id LIMIT 1{lock}")
    ).first()
    if row is None:
        return None
    conn.execute(text("UPDATE bare_item SET status = 'r' WHERE id = :id"), {"id": row[0]})
    return row[0]


def bare_worker(url: str, spans) -> None:  # type: ignore[no-untyped-def]
    engine = Database(url).engine
    pg = engine.dialect.name == "postgresql"
    first = None
    while True:
        with engine.begin() as conn:
            claimed = bare_claim_one(conn, pg)
        if claimed is None:
            break
        first = first or time.time()
        with engine.begin() as conn:
            conn.execute(text("UPDATE bare_item SET status = 'd' WHERE id = :id"), {"id": claimed})
    spans.put((first, time.time()))
    engine.dispose()


def run_bare(url: str, n: int, processes: int) -> float:
    """Seconds per item: submitting n items one by one, plus the span from the first claim to
    the last finish of `processes` workers (process start-up is not per-item cost)."""
    bare_setup(url)
    started = time.perf_counter()
    bare_submit(url, n)
    submit = time.perf_counter() - started
    ctx = mp.get_context("spawn")
    spans = ctx.Queue()
    procs = [ctx.Process(target=bare_worker, args=(url, spans)) for _ in range(processes)]
    for p in procs:
        p.start()
    results = [spans.get() for _ in procs]
    for p in procs:
        p.join()
    firsts = [f for f, _ in results if f is not None]
    return (submit + max(e for _, e in results) - min(firsts)) / n


# Framework ----------------------------------------------------------------------------------


def run_framework(url: str, data_dir: Path, n: int, processes: int) -> float:
    env = {
        **os.environ,
        "RPA_DATABASE_URL": url,
        "RPA_DATA_DIR": str(data_dir),
        "RPA_LOG_STDERR": "false",
        "RPA_POLL_SECONDS": "0.05",
    }
    os.environ.update(env)
    settings = load_settings()
    db = Database(url)
    queue = Queue(db, settings, discover(["tasks"]))
    started = time.perf_counter()
    for i in range(n):
        queue.submit("selftest", f"b{processes}-{i}", {}, submitted_by="bench")
    submit = time.perf_counter() - started
    procs = [
        subprocess.Popen(
            [sys.executable, "runner.py", "worker", "--until-idle"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        for _ in range(processes)
    ]
    for p in procs:
        p.wait()
    with db.session() as session:
        first, last = session.execute(
            select(func.min(Run.started_at), func.max(Run.ended_at))
            .join(WorkItem)
            .where(WorkItem.reference.like(f"b{processes}-%"))
        ).one()
    db.dispose()
    return (submit + (last - first).total_seconds()) / n


def worker_start_cost(url: str, data_dir: Path) -> float:
    """Seconds for `worker --until-idle` on an empty queue: process start, not per-item cost."""
    env = {
        **os.environ,
        "RPA_DATABASE_URL": url,
        "RPA_DATA_DIR": str(data_dir),
        "RPA_LOG_STDERR": "false",
    }
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "runner.py", "worker", "--until-idle"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        check=True,
    )
    return time.perf_counter() - started


# Peers ---------------------------------------------------------------------------------------


class Framework:
    """This project, driven like a peer: `runner.py worker --processes N`, `queue.submit`."""

    name = "kommune-rpa"
    remaining_sql = "SELECT count(*) FROM work_item WHERE status IN ('pending', 'running')"

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def environ(self, url: str) -> dict[str, str]:
        return {
            **os.environ,
            "RPA_DATABASE_URL": url,
            "RPA_DATA_DIR": str(self.data_dir),
            "RPA_LOG_STDERR": "false",
        }

    def setup(self, url: str) -> None:
        db = Database(url)
        upgrade(db.engine)
        db.dispose()

    def enqueue(self, url: str, n: int, *, batch: bool) -> float:
        os.environ.update(self.environ(url))
        from robots.settings import use_settings

        use_settings(None)
        db = Database(url)
        queue = Queue(db, load_settings(), discover(["tasks"]))
        tag = secrets.token_hex(3)
        started = time.perf_counter()
        if batch:
            with db.session() as session:
                for i in range(n):
                    queue.submit(
                        "selftest", f"{tag}-{i}", {}, submitted_by="bench", session=session
                    )
        else:
            for i in range(n):
                queue.submit("selftest", f"{tag}-{i}", {}, submitted_by="bench")
        elapsed = time.perf_counter() - started
        db.dispose()
        return elapsed

    def start(self, url: str, processes: int) -> list[subprocess.Popen[bytes]]:
        proc = subprocess.Popen(
            [sys.executable, "runner.py", "worker", "--processes", str(processes)],
            cwd=ROOT,
            env=self.environ(url),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        engine = Database(url).engine
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                idle = conn.execute(
                    text("SELECT count(*) FROM worker WHERE status = 'idle'")
                ).scalar()
            if idle == processes:
                break
            time.sleep(0.1)
        engine.dispose()
        time.sleep(0.5)  # each worker is inside its idle wait (LISTEN) now
        return [proc]


def start_peer(name: str, url: str, processes: int) -> list[subprocess.Popen[bytes]]:
    procs = [
        subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "_peers.py"), "worker", name, url],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(processes)
    ]
    for proc in procs:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != b"ready":
            raise RuntimeError(f"{name}: a worker did not start")
    time.sleep(0.5)
    return procs


def drain(system: object, url: str, n: int, processes: int) -> tuple[float, float]:
    """(seconds to enqueue n jobs in one batch, seconds from that commit to the last done)."""
    if isinstance(system, Framework):
        procs = system.start(url, processes)
    else:
        procs = start_peer(system.name, url, processes)  # type: ignore[attr-defined]
    engine = Database(url).engine
    try:
        enqueue = system.enqueue(url, n, batch=True)  # type: ignore[attr-defined]
        committed = time.perf_counter()
        while True:
            if any(proc.poll() is not None for proc in procs):
                raise RuntimeError(f"{system.name}: a worker stopped during the drain")  # type: ignore[attr-defined]
            with engine.connect() as conn:
                if conn.execute(text(system.remaining_sql)).scalar() == 0:  # type: ignore[attr-defined]
                    return enqueue, time.perf_counter() - committed
            time.sleep(0.02)
    finally:
        engine.dispose()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()


def peers_available() -> str | None:
    """None, or why the peers cannot run (the bench extra is not installed)."""
    try:
        import pgqueuer  # noqa: F401
        import procrastinate  # noqa: F401
    except ImportError as exc:
        return f"{exc.name} mangler: pip install -e '.[bench]' (./run.sh bench gjør det)"
    return None


def bench_peers(base: str, data_dir: Path, jobs: int, single: int) -> list[tuple[str, ...]]:
    """One row per system: enqueue rates and drain rates with 1 and 4 processes."""
    from bench._peers import PEERS

    systems: list[object] = [Framework(data_dir), PEERS["procrastinate"], PEERS["pgqueuer"]]
    systems.append(PEERS["bare"])
    figures: dict[str, dict[str, float]] = {}
    for system in systems:
        name = system.name  # type: ignore[attr-defined]
        url, drop = scratch_pg(base)
        try:
            system.setup(url)  # type: ignore[attr-defined]
            one_by_one = system.enqueue(url, single, batch=False)  # type: ignore[attr-defined]
            figures[name] = {"enqueue_single": single / one_by_one}
            for processes in (1, 4):
                enqueue, drained = drain(system, url, jobs, processes)
                figures[name]["enqueue_batch"] = jobs / enqueue
                figures[name][f"drain_{processes}"] = jobs / drained
        finally:
            drop()  # type: ignore[operator]
    ours = figures[Framework.name]
    best = {
        key: max(figures[p][key] for p in ("procrastinate", "pgqueuer"))
        for key in ("drain_1", "drain_4")
    }
    rows = []
    for name, f in figures.items():
        rows.append(
            (
                name,
                f"{f['enqueue_single']:.0f}/s",
                f"{f['enqueue_batch']:.0f}/s",
                f"{f['drain_1']:.0f}/s",
                f"{f['drain_4']:.0f}/s",
                f"{ours['drain_4'] / f['drain_4']:.2f}x",
            )
        )
    rows.append(
        (
            "kommune-rpa / beste peer",
            "",
            "",
            f"{ours['drain_1'] / best['drain_1']:.2f}x",
            f"{ours['drain_4'] / best['drain_4']:.2f}x",
            "mål ≥ 1x",
        )
    )
    bare = figures["bare"]
    rows.append(
        (
            "tid per jobb: kommune-rpa / ren SQL",
            "",
            "",
            f"{bare['drain_1'] / ours['drain_1']:.2f}x",
            f"{bare['drain_4'] / ours['drain_4']:.2f}x",
            "mål ≤ 2x",
        )
    )
    return rows


# Claim latency ------------------------------------------------------------------------------


def fill(db: Database, n: int, tasks: dict[str, tuple[str, ...]] | None = None) -> None:
    """n waiting items, of `tasks` in turn (name -> systems; default selftest), then ANALYZE."""
    tasks = tasks or {"selftest": ()}
    names = list(tasks)
    now = utcnow()
    rows = [
        dict(
            task=names[i % len(names)],
            reference=f"fill-{n}-{i}",
            payload={},
            priority=0,
            status="pending",
            systems=(
                "," + ",".join(tasks[names[i % len(names)]]) + ","
                if tasks[names[i % len(names)]]
                else ""
            ),
            attempts=0,
            failures=0,
            abandons=0,
            max_attempts=3,
            not_before=now,
            submitted_by="bench",
            created_at=now,
            updated_at=now,
        )
        for i in range(n)
    ]
    with db.session() as session:
        for start in range(0, n, 5000):
            session.execute(insert(WorkItem), rows[start : start + 5000])
    with db.engine.begin() as conn:
        conn.execute(text("ANALYZE"))


def claim_latency(url: str, waiting: int, samples: int = 50) -> tuple[float, float]:
    """Median seconds of one framework claim and of one bare claim with `waiting` items queued."""
    db = Database(url)
    with db.session() as session:
        for table in ("run_event", "artifact", "run", "work_item"):
            session.execute(text(f"DELETE FROM {table}"))
    fill(db, waiting)
    queue = Queue(db, load_settings(), discover(["tasks"]))
    me = WorkerIdentity("bench", "bench", os.getpid())
    framework = []
    for _ in range(samples):
        t = time.perf_counter()
        claim = queue.claim(me)
        framework.append(time.perf_counter() - t)
        assert claim is not None
    bare_setup(url)
    with db.engine.begin() as conn:
        conn.execute(
            text("INSERT INTO bare_item (status, payload) SELECT 'p', '{}' FROM work_item")
        )
        conn.execute(text("ANALYZE"))
    pg = db.engine.dialect.name == "postgresql"
    bare = []
    for _ in range(samples):
        t = time.perf_counter()
        with db.engine.begin() as conn:
            bare_claim_one(conn, pg)
        bare.append(time.perf_counter() - t)
    db.dispose()
    return statistics.median(framework), statistics.median(bare)


# Main ---------------------------------------------------------------------------------------


def scratch_pg(base: str) -> tuple[str, object]:
    admin = create_engine(
        make_url(base).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    name = f"rpa_bench_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    url = make_url(base).set(drivername="postgresql+psycopg", database=name)
    return url.render_as_string(hide_password=False), drop


def bench_backend(label: str, url: str, data_dir: Path, items: int) -> list[tuple[str, ...]]:
    db = Database(url)
    upgrade(db.engine)
    db.dispose()
    rows = []
    start_cost = worker_start_cost(url, data_dir)
    for processes in (1, 4):
        framework = run_framework(url, data_dir, items, processes)
        bare = run_bare(url, items, processes)
        rows.append(
            (
                label,
                f"{processes} prosess(er), {items} no-op-elementer",
                f"{framework * 1000:.2f} ms/element ({1 / framework:.0f}/s)",
                f"{bare * 1000:.2f} ms/element ({1 / bare:.0f}/s)",
                f"{framework / bare:.2f}x",
            )
        )
    rows.append(
        (label, "oppstart av arbeiderprosess (ikke per element)", f"{start_cost:.2f} s", "-", "-")
    )
    small_f, small_b = claim_latency(url, 100)
    large_f, large_b = claim_latency(url, 100_000)
    rows.append(
        (
            label,
            "claim, 100 ventende",
            f"{small_f * 1000:.2f} ms",
            f"{small_b * 1000:.2f} ms",
            f"{small_f / small_b:.2f}x",
        )
    )
    rows.append(
        (
            label,
            "claim, 100 000 ventende",
            f"{large_f * 1000:.2f} ms",
            f"{large_b * 1000:.2f} ms",
            f"{large_f / large_b:.2f}x",
        )
    )
    rows.append(
        (
            label,
            "claim 100 000 / claim 100",
            f"{large_f / small_f:.2f}x",
            f"{large_b / small_b:.2f}x",
            "mål ≤ 2x",
        )
    )
    return rows


def scratch_dir() -> Path:
    """Scratch space under var/: on some machines /tmp is much slower at creating files."""
    path = ROOT / "var" / "bench"
    path.mkdir(parents=True, exist_ok=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=10_000, help="jobs per peer drain")
    parser.add_argument("--single", type=int, default=2000, help="jobs enqueued one by one")
    parser.add_argument("--only-peers", action="store_true")
    parser.add_argument("--postgres", default=os.environ.get("RPA_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    from rich.console import Console
    from rich.table import Table

    console = Console(width=160)
    if not args.postgres:
        print("(PostgreSQL hoppet over: gi --postgres URL eller RPA_TEST_POSTGRES_URL)")
    elif why := peers_available():
        print(f"(Sammenligning med procrastinate og pgqueuer hoppet over: {why})")
    else:
        with tempfile.TemporaryDirectory(dir=scratch_dir()) as tmp:
            peer_rows = bench_peers(args.postgres, Path(tmp), args.jobs, args.single)
        peers = Table(
            "System",
            f"Legg inn én og én ({args.single})",
            f"Legg inn {args.jobs} samlet",
            "Tømming, 1 prosess",
            "Tømming, 4 prosesser",
            "kommune-rpa / system (4 prosesser)",
            title=f"bench/queue.py: {args.jobs} no-op-jobber på PostgreSQL",
        )
        for row in peer_rows:
            peers.add_row(*row)
        console.print(peers)
    if args.only_peers:
        return
    rows: list[tuple[str, ...]] = []
    with tempfile.TemporaryDirectory(dir=scratch_dir()) as tmp:
        rows += bench_backend("SQLite", f"sqlite:///{tmp}/bench.db", Path(tmp), args.items)
    if args.postgres:
        url, drop = scratch_pg(args.postgres)
        try:
            with tempfile.TemporaryDirectory(dir=scratch_dir()) as tmp:
                rows += bench_backend("PostgreSQL", url, Path(tmp), args.items)
        finally:
            drop()  # type: ignore[operator]
    table = Table(
        "Database", "Måling", "Rammeverket", "Ren SQL-løkke", "Forhold", title="bench/queue.py"
    )
    for row in rows:
        table.add_row(*row)
    console.print(table)


if __name__ == "__main__":
    main()
