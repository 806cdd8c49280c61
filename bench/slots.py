"""Slots benchmark: browser items per minute and memory for worker processes x item slots.

    python bench/slots.py [--items 40] [--configs 2x1,1x1,1x2,1x4,1x8] [--latency-ms 300]

Each configuration `PxC` is `runner.py worker --processes P` with `worker_concurrency = C` (C
items at a time per process, each in its own browser context, all on the process's one
Chromium) working off `--items` browser items (log in once per slot, open the HR portal's
employee list, search, read the hit count; bench/bench_tasks/search.py) against the same
sandbox, on a fresh SQLite database. The per-system limit on the HR portal is lifted for the
measurement (`system_limits = {hr = 64}`), so that the figure is the machine's, not the
limit's. Two series in one run: the sandbox as it is (it answers in a few milliseconds, so
the items are CPU-bound), and with `--latency-ms` added to every answer, as a municipal system
across the network answers (the items then mostly wait). Figures: items per minute (first run
start to last run end) and the peak memory (PSS) of the whole worker tree (supervisor,
workers, Playwright drivers, Chromium), each against today's default of two processes with one
slot (2x1), measured in the same run; and the CPU seconds per item (the worker tree's, and the
sandbox's, which serves from this process) with the share of the machine's CPU ceiling
(cores x 60 / CPU seconds per item) each configuration reaches: where the ceiling is reached,
the machine bounds the figure, not the slots.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from robots.db import Database, upgrade  # noqa: E402
from robots.models import Run, WorkItem  # noqa: E402
from robots.queue import Queue  # noqa: E402
from robots.settings import load_settings, use_settings  # noqa: E402
from robots.tasks import discover  # noqa: E402
from sandbox.run import Sandbox  # noqa: E402

QUERIES = ["Hansen", "Berg", "Lie", "Dahl", "Moen", "Strand", "Olsen", "Lund", "Haugen", "Nilsen"]


def tree_rss(pid: int) -> float:
    """Memory (MB) of a process and all its descendants: the sum of their proportional set
    sizes (PSS), so that pages Chromium's processes share are counted once, not per process."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_full_info().pss
        except psutil.Error:
            continue
    return total / 1e6


def tree_cpu(pid: int, seen: dict[int, float], kinds: dict[int, str]) -> None:
    """Record the CPU seconds (user + system) so far of a process and its descendants, per
    pid, so that a process that has exited still counts with its last reading; `kinds` says
    which each pid is (python: the workers; node: Playwright's drivers; chromium)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return
    for proc in procs:
        try:
            times = proc.cpu_times()
            seen[proc.pid] = max(seen.get(proc.pid, 0.0), times.user + times.system)
            if proc.pid not in kinds:
                name = proc.name().lower()
                kinds[proc.pid] = next(
                    (k for k in ("python", "node", "chrom") if k in name), "annet"
                )
        except psutil.Error:
            continue


def measure(
    box: Sandbox, data_dir: Path, processes: int, slots: int, items: int
) -> dict[str, float]:
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "RPA_DATABASE_URL": f"sqlite:///{data_dir}/rpa.db",
        "RPA_DATA_DIR": str(data_dir),
        "RPA_LOG_STDERR": "false",
        "RPA_TASK_PACKAGES": '["tasks", "bench.bench_tasks"]',
        "RPA_SYSTEM_URLS": json.dumps({"hr": box.hr.url}),
        "RPA_SYSTEM_LIMITS": json.dumps({"hr": 64}),
        "RPA_CRED_HR_USERNAME": "robot",
        "RPA_CRED_HR_PASSWORD": "robot-passord",
        "RPA_WORKER_CONCURRENCY": str(slots),
    }
    os.environ.update(env)
    use_settings(None)
    settings = load_settings()
    db = Database(settings.effective_database_url)
    upgrade(db.engine)
    queue = Queue(db, settings, discover(settings.task_packages))
    with db.session() as session:
        for i in range(items):
            query = {"query": QUERIES[i % len(QUERIES)]}
            queue.submit("bench_search", f"s{i}", query, submitted_by="bench", session=session)
    proc = subprocess.Popen(
        [sys.executable, "runner.py", "worker", "--processes", str(processes)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    peak = 0.0
    done = threading.Event()
    cpu: dict[int, float] = {}
    kinds: dict[int, str] = {}
    sandbox_cpu = time.process_time()  # the sandbox serves from this process

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss(proc.pid))
            tree_cpu(proc.pid, cpu, kinds)
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    finished = select(func.count()).select_from(WorkItem).where(WorkItem.finished_at.is_not(None))
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        with db.session() as session:
            if session.scalar(finished) == items:
                break
        time.sleep(0.2)
    done.set()
    sampler.join()
    sandbox_cpu = time.process_time() - sandbox_cpu
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)
    with db.session() as session:
        first, last = session.execute(
            select(func.min(Run.started_at), func.max(Run.ended_at))
        ).one()
        ok = session.scalar(
            select(func.count()).select_from(WorkItem).where(WorkItem.status == "done")
        )
    db.dispose()
    if ok != items:
        print(f"ADVARSEL {processes}x{slots}: {ok} av {items} elementer ferdige")
    return {
        "per_minute": items / (last - first).total_seconds() * 60,
        "worker_cpu": sum(cpu.values()) / items,  # CPU seconds per item: workers, Chromium
        "sandbox_cpu": sandbox_cpu / items,  # and the systems' side (the sandbox)
        **{
            f"cpu_{kind}": sum(v for p, v in cpu.items() if kinds.get(p) == kind) / items
            for kind in ("python", "node", "chrom")
        },
        "peak_mb": peak,
        "per_slot_mb": peak / (processes * slots),
    }


def ceiling(r: dict[str, float]) -> float:
    """Items per minute the machine's cores allow when the item's CPU (robot and sandbox) is
    all there is: what no number of slots or processes can pass on this machine."""
    return (psutil.cpu_count() or 1) * 60 / (r["worker_cpu"] + r["sandbox_cpu"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=40)
    parser.add_argument("--configs", default="2x1,1x1,1x2,1x4,1x8")
    parser.add_argument("--latency-ms", type=int, default=300)
    args = parser.parse_args()
    configs = [tuple(int(n) for n in c.split("x")) for c in args.configs.split(",")]
    scratch = ROOT / "var" / "bench"
    scratch.mkdir(parents=True, exist_ok=True)
    from rich.console import Console
    from rich.table import Table

    from sandbox.common import Faults

    for latency in (0, args.latency_ms):
        results = {}
        with tempfile.TemporaryDirectory(dir=scratch) as tmp:
            box = Sandbox(Path(tmp) / "sandbox", faults=Faults(latency_ms=latency)).start()
            try:
                for processes, slots in configs:
                    results[(processes, slots)] = measure(
                        box, Path(tmp) / f"{processes}x{slots}", processes, slots, args.items
                    )
            finally:
                box.stop()
        base = results.get((2, 1)) or next(iter(results.values()))
        table = Table(
            "Prosesser x plasser",
            "Elementer per minutt",
            "mot 2x1",
            "Toppminne, PSS (hele treet)",
            "mot 2x1",
            "Minne per plass",
            "CPU-s per element (robot + system)",
            "Andel av CPU-taket",
            "Robotens CPU: Python / Node / Chromium",
            title=f"bench/slots.py: {args.items} nettleserelementer per oppsett, "
            f"svartid fra systemet + {latency} ms",
        )
        for (processes, slots), r in results.items():
            table.add_row(
                f"{processes}x{slots}",
                f"{r['per_minute']:.0f}",
                f"{r['per_minute'] / base['per_minute']:.2f}x",
                f"{r['peak_mb']:.0f} MB",
                f"{r['peak_mb'] / base['peak_mb']:.2f}x",
                f"{r['per_slot_mb']:.0f} MB",
                f"{r['worker_cpu']:.2f} + {r['sandbox_cpu']:.2f}",
                f"{r['per_minute'] / ceiling(r):.0%}",
                f"{r['cpu_python']:.2f} / {r['cpu_node']:.2f} / {r['cpu_chrom']:.2f}",
            )
        Console(width=170).print(table)


if __name__ == "__main__":
    main()
