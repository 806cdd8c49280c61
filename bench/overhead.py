"""Browser overhead: the same 100-item flow by a bare Playwright loop and through the framework.

    python bench/overhead.py [--items 100]

Flow per item, both ways: a fresh browser context, open the HR sandbox's employee list (which
sends the robot to log in), log in, fill the search field, click Søk, read the hit count. The
framework adds the queue, a worker process, logged steps, the run log at INFO, a trace recorded
per item (kept only on failure) and evidence only on failure, and by default reuses the worker's
login (the bare loop logs in per item); it is measured with and without that reuse. Figures:
per-item time of each and the ratio framework / bare (target: at most 1.10). Also: browser
launch vs context creation, and the worker's peak memory with Chromium. Nothing is asserted.
"""

from __future__ import annotations

import json
import os
import statistics
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
from playwright.sync_api import sync_playwright  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from robots.browser import launch  # noqa: E402
from robots.db import Database, upgrade  # noqa: E402
from robots.models import Run, WorkItem  # noqa: E402
from robots.queue import Queue  # noqa: E402
from robots.settings import load_settings  # noqa: E402
from robots.tasks import discover  # noqa: E402
from sandbox.run import Sandbox  # noqa: E402

QUERIES = ["Hansen", "Berg", "Lie", "Dahl", "Moen", "Strand", "Olsen", "Lund", "Haugen", "Nilsen"]


def bare(url: str, items: int) -> tuple[float, float, float]:
    """Seconds per item for the bare loop, plus browser launch and context creation times."""
    with sync_playwright() as playwright:
        started = time.perf_counter()
        browser = launch(playwright)
        launch_s = time.perf_counter() - started
        contexts = []
        started = time.perf_counter()
        for i in range(items):
            t = time.perf_counter()
            context = browser.new_context(locale="nb-NO", timezone_id="Europe/Oslo")
            contexts.append(time.perf_counter() - t)
            page = context.new_page()
            page.goto(f"{url}/ansatte")
            page.locator("#username").fill("robot")
            page.locator("#password").fill("robot-passord")
            page.locator("#login-button").click()
            page.locator("header a[href='/logout']").wait_for(state="attached")
            page.locator("#sok").fill(QUERIES[i % len(QUERIES)])
            page.get_by_role("button", name="Søk", exact=True).click()
            page.locator("#antall").inner_text()
            context.close()
        per_item = (time.perf_counter() - started) / items
        browser.close()
    return per_item, launch_s, statistics.median(contexts)


def framework(url: str, items: int, data_dir: Path, reuse: bool = True) -> tuple[float, float]:
    """Seconds per item through queue and worker (first run start to last run end), and the
    worker's peak memory (RSS of the worker process and its Chromium) in MB."""
    env = {
        **os.environ,
        "RPA_DATABASE_URL": f"sqlite:///{data_dir}/bench.db",
        "RPA_DATA_DIR": str(data_dir),
        "RPA_LOG_STDERR": "false",
        "RPA_TASK_PACKAGES": '["tasks", "bench.bench_tasks"]',
        "RPA_SYSTEM_URLS": json.dumps({"hr": url}),
        "RPA_CRED_HR_USERNAME": "robot",
        "RPA_CRED_HR_PASSWORD": "robot-passord",
        "RPA_REUSE_LOGINS": "true" if reuse else "false",
    }
    os.environ.update(env)
    settings = load_settings()
    db = Database(settings.effective_database_url)
    upgrade(db.engine)
    queue = Queue(db, settings, discover(settings.task_packages))
    for i in range(items):
        queue.submit(
            "bench_search", f"s{i}", {"query": QUERIES[i % len(QUERIES)]}, submitted_by="bench"
        )
    proc = subprocess.Popen(
        [sys.executable, "runner.py", "worker", "--until-idle"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    peak = 0.0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        parent = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                rss = parent.memory_info().rss + sum(
                    c.memory_info().rss for c in parent.children(recursive=True)
                )
                peak = max(peak, rss / 1e6)
            except psutil.Error:
                pass
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    proc.wait()
    done.set()
    with db.session() as session:
        first, last = session.execute(
            select(func.min(Run.started_at), func.max(Run.ended_at))
        ).one()
        ok = session.scalar(
            select(func.count()).select_from(WorkItem).where(WorkItem.status == "done")
        )
    if ok != items:
        print(f"ADVARSEL: bare {ok} av {items} elementer ble ferdige")
    return (last - first).total_seconds() / items, peak


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    scratch = ROOT / "var" / "bench"
    scratch.mkdir(parents=True, exist_ok=True)
    # Alternate the two, in rounds, so drift on a busy machine hits both alike.
    bare_times, fw_times, fresh_times, peaks = [], [], [], []
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        box = Sandbox(Path(tmp) / "sandbox").start()
        try:
            bare(box.hr.url, 5)  # warm-up: first launch, page caches
            per_round = max(1, args.items // args.rounds)
            for round_no in range(args.rounds):
                bare_item, launch_s, context_s = bare(box.hr.url, per_round)
                fw_item, peak_mb = framework(box.hr.url, per_round, Path(tmp) / f"r{round_no}")
                fresh_item, _ = framework(
                    box.hr.url, per_round, Path(tmp) / f"f{round_no}", reuse=False
                )
                bare_times.append(bare_item)
                fw_times.append(fw_item)
                fresh_times.append(fresh_item)
                peaks.append(peak_mb)
        finally:
            box.stop()
    bare_item, fw_item, peak_mb = statistics.mean(bare_times), statistics.mean(fw_times), max(peaks)
    fresh_item = statistics.mean(fresh_times)
    from rich.console import Console
    from rich.table import Table

    table = Table("Måling", "Verdi", title="bench/overhead.py")
    table.add_row(
        f"Ren Playwright-løkke, {args.items} elementer", f"{bare_item * 1000:.1f} ms/element"
    )
    table.add_row(
        "Gjennom rammeverket (kø, arbeider, steg, kjørelogg, spor)",
        f"{fw_item * 1000:.1f} ms/element",
    )
    table.add_row("Forhold rammeverk / ren løkke (mål ≤ 1,10)", f"{fw_item / bare_item:.2f}")
    table.add_row(
        "Rammeverket uten gjenbruk av innlogging (innlogging per element)",
        f"{fresh_item * 1000:.1f} ms/element",
    )
    table.add_row("Forhold med / uten gjenbruk av innlogging", f"{fw_item / fresh_item:.2f}")
    table.add_row("Oppstart av nettleser", f"{launch_s * 1000:.0f} ms")
    table.add_row("Ny nettleserkontekst (median)", f"{context_s * 1000:.1f} ms")
    table.add_row("Arbeiderens toppminne med Chromium", f"{peak_mb:.0f} MB")
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
