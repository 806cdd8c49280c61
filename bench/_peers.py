"""The queue's peers in bench/queue.py: procrastinate and pgqueuer, each at its defaults, and a
bare SQL loop; each runs as its own worker processes against its own scratch PostgreSQL
database (installed by `pip install -e '.[bench]'`, which `./run.sh bench` does).

    python bench/_peers.py worker <procrastinate|pgqueuer|bare> URL

A worker prints `ready` when it can take jobs; the bench then enqueues and counts what is done
with the same SQL poll for every system, so start-up is no part of the drain figure.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# bench/queue.py would shadow the stdlib queue (psycopg imports it): keep this folder off sys.path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import psycopg  # noqa: E402

NOOP = "noop"


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@dataclass(frozen=True)
class Peer:
    """How the bench drives one system: set up, enqueue n one by one or in one batch, count
    what is still to do."""

    name: str
    remaining_sql: str

    def setup(self, url: str) -> None:
        if self.name == "procrastinate":
            app = procrastinate_app(url)
            with app.open():
                app.schema_manager.apply_schema()
        elif self.name == "pgqueuer":
            asyncio.run(_pgqueuer_install(url))
        else:
            with psycopg.connect(libpq(url), autocommit=True) as conn:
                conn.execute(
                    "CREATE TABLE bare_job (id BIGSERIAL PRIMARY KEY, status TEXT NOT NULL, "
                    "payload TEXT NOT NULL)"
                )
                conn.execute("CREATE INDEX bare_job_status ON bare_job (status, id)")

    def enqueue(self, url: str, n: int, *, batch: bool) -> float:
        """Seconds to enqueue n jobs (one transaction each, or all in one)."""
        if self.name == "procrastinate":
            app = procrastinate_app(url)
            with app.open():
                task = app.tasks[NOOP]
                started = time.perf_counter()
                if batch:
                    task.batch_defer(*({} for _ in range(n)))
                else:
                    for _ in range(n):
                        task.defer()
                return time.perf_counter() - started
        if self.name == "pgqueuer":
            return asyncio.run(_pgqueuer_enqueue(url, n, batch))
        with psycopg.connect(libpq(url), autocommit=True) as conn:
            started = time.perf_counter()
            if batch:
                with conn.transaction(), conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO bare_job (status, payload) VALUES ('p', '{}')",
                        [() for _ in range(n)],
                    )
            else:
                for _ in range(n):
                    conn.execute("INSERT INTO bare_job (status, payload) VALUES ('p', '{}')")
            return time.perf_counter() - started


PEERS = {
    "procrastinate": Peer(
        "procrastinate",
        "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')",
    ),
    "pgqueuer": Peer("pgqueuer", "SELECT count(*) FROM pgqueuer"),
    "bare": Peer("bare", "SELECT count(*) FROM bare_job WHERE status <> 'd'"),
}


# procrastinate -------------------------------------------------------------------------------


def procrastinate_app(url: str) -> Any:
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=libpq(url)))

    @app.task(name=NOOP)
    async def noop() -> None:
        return None

    return app


def procrastinate_worker(url: str) -> None:
    app = procrastinate_app(url)

    async def run() -> None:
        async with app.open_async():
            print("ready", flush=True)
            await app.run_worker_async(concurrency=1, install_signal_handlers=True)

    asyncio.run(run())


# pgqueuer ------------------------------------------------------------------------------------


async def _pgqueuer_driver(url: str) -> Any:
    from pgqueuer.db import PsycopgDriver

    conn = await psycopg.AsyncConnection.connect(libpq(url), autocommit=True)
    return PsycopgDriver(conn)


async def _pgqueuer_install(url: str) -> None:
    from pgqueuer.queries import Queries

    await Queries(await _pgqueuer_driver(url)).install()


async def _pgqueuer_enqueue(url: str, n: int, batch: bool) -> float:
    from pgqueuer.queries import Queries

    queries = Queries(await _pgqueuer_driver(url))
    started = time.perf_counter()
    if batch:
        await queries.enqueue([NOOP] * n, [None] * n, [0] * n)
    else:
        for _ in range(n):
            await queries.enqueue(NOOP, None)
    return time.perf_counter() - started


def pgqueuer_worker(url: str) -> None:
    import signal

    from pgqueuer.qm import QueueManager
    from pgqueuer.queries import Queries

    async def run() -> None:
        qm = QueueManager(Queries(await _pgqueuer_driver(url)))

        @qm.entrypoint(NOOP)
        async def noop(_job: Any) -> None:
            return None

        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, qm.shutdown.set)
        print("ready", flush=True)
        await qm.run()

    asyncio.run(run())


# The bare loop -------------------------------------------------------------------------------


def bare_worker(url: str) -> None:
    """The floor: claim with SKIP LOCKED and mark done, one transaction each, no bookkeeping."""
    with psycopg.connect(libpq(url)) as conn:
        print("ready", flush=True)
        while True:
            with conn.transaction():
                row = conn.execute(
                    "SELECT id FROM bare_job WHERE status = 'p' ORDER BY id LIMIT 1 "
                    "FOR UPDATE SKIP LOCKED"
                ).fetchone()
                if row is not None:
                    conn.execute("UPDATE bare_job SET status = 'r' WHERE id = %s", row)
            if row is None:
                time.sleep(0.005)
                continue
            with conn.transaction():
                conn.execute("UPDATE bare_job SET status = 'd' WHERE id = %s", row)


WORKERS = {"procrastinate": procrastinate_worker, "pgqueuer": pgqueuer_worker, "bare": bare_worker}

if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "worker" or sys.argv[2] not in WORKERS:
        sys.exit(f"usage: {sys.argv[0]} worker <{'|'.join(WORKERS)}> URL")
    WORKERS[sys.argv[2]](sys.argv[3])
