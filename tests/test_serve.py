"""`runner.py serve`: the one-command service answers, logs a user in, and stops whole."""

from __future__ import annotations

import re
import signal
import socket
from pathlib import Path

import httpx
import psutil

from robots.console.auth import add_user
from tests.conftest import Env, wait_for, wait_for_console


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_serves_the_console_and_stops_without_leftovers(sqlite_env: Env) -> None:
    env = sqlite_env
    with env.db.session() as session:
        add_user(session, "drift", "riktig-passord-1", "operator", "test")
    port = free_port()
    proc = env.start("serve", "--port", str(port), "--processes", "2", name="serve")
    url = f"http://127.0.0.1:{port}"
    wait_for_console(url)
    client = httpx.Client(base_url=url)
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert csrf is not None
    login = client.post(
        "/login",
        data={"username": "drift", "password": "riktig-passord-1", "csrf": csrf.group(1)},
    )
    assert login.status_code == 303 and login.headers["location"] == "/drift"
    assert client.get("/drift").status_code == 200
    tree = psutil.Process(proc.pid).children(recursive=True)
    assert len(tree) >= 2  # the worker processes
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    _, alive = psutil.wait_procs(tree, timeout=10)
    assert alive == [], f"processes left after serve stopped: {alive}"
    log = Path(proc.log_path).read_text()  # type: ignore[attr-defined]
    assert "Traceback" not in log and "cannot join thread" not in log


EVERY_SECOND = """
schedules:
  - name: hvert-sekund
    task: probe
    interval_seconds: 1
"""


def worker_children(pid: int) -> list[psutil.Process]:
    """The supervisor's worker processes (multiprocessing's spawned children; not its
    resource tracker)."""
    found = []
    for child in psutil.Process(pid).children():
        try:
            if any("spawn_main" in part for part in child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def test_a_crash_loop_of_workers_pauses_them_alerts_and_keeps_the_service_up(
    sqlite_env: Env,
) -> None:
    from sqlalchemy import func, select

    from robots.models import Alert, WorkItem

    env = sqlite_env
    (env.data_dir / "schedules.yaml").write_text(EVERY_SECOND)
    port = free_port()
    proc = env.start(
        "serve",
        "--port",
        str(port),
        "--processes",
        "1",
        name="serve",
        extra_env={"RPA_WORKER_RESTART_LIMIT": "2", "RPA_WORKER_CRASH_PAUSE_SECONDS": "4"},
    )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def scheduled() -> int:
        with env.db.session() as session:
            return int(session.scalar(select(func.count()).select_from(WorkItem)) or 0)

    def alerts() -> list[tuple[str, str, str]]:
        with env.db.session() as session:
            return [(a.rule, a.status, a.message) for a in session.scalars(select(Alert))]

    wait_for(answers, timeout=90, interval=0.3, message="the console to answer")
    killed: set[int] = set()
    for _ in range(3):  # a restart limit of 2: the third death within the window is a loop
        fresh = wait_for(
            lambda: [p for p in worker_children(proc.pid) if p.pid not in killed],
            timeout=60,
            interval=0.2,
            message="a (new) worker process",
        )
        victim = fresh[0]  # type: ignore[index]
        killed.add(victim.pid)
        victim.kill()  # SIGKILL from outside, as an OOM killer or an operator would
        victim.wait(10)
    wait_for(alerts, timeout=30, interval=0.2, message="a crash-loop alert")
    assert proc.poll() is None, "serve exited on a crash loop"
    [(rule, status, message)] = alerts()
    assert (rule, status) == ("arbeidere_krasjer", "open") and "krasjet 3 ganger" in message
    assert worker_children(proc.pid) == []  # paused: nothing claims
    assert answers()  # the console is up
    seen = scheduled()
    wait_for(lambda: scheduled() > seen, timeout=30, message="the scheduler to fire on")
    resumed = wait_for(
        lambda: [p for p in worker_children(proc.pid) if p.pid not in killed],
        timeout=60,
        interval=0.2,
        message="workers back after the pause",
    )
    assert resumed

    def done_after_pause() -> bool:
        with env.db.session() as session:
            return bool(
                session.scalar(
                    select(func.count()).select_from(WorkItem).where(WorkItem.status == "done")
                )
            )

    wait_for(done_after_pause, timeout=60, interval=0.3, message="a resumed worker to work")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    log = Path(proc.log_path).read_text()  # type: ignore[attr-defined]
    assert "Traceback" not in log
