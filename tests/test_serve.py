"""`runner.py serve`: the one-command service answers, logs a user in, and stops whole."""

from __future__ import annotations

import re
import signal
import socket
from pathlib import Path

import httpx
import psutil

from robots.console.auth import add_user
from tests.conftest import Env, wait_for


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

    def answers() -> bool:
        try:
            return httpx.get(f"{url}/login", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(answers, timeout=90, interval=0.3, message="the console to answer")
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
