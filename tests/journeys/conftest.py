"""What every journey stands on: `runner.py serve` as a subprocess (scheduler, real workers,
the console) against the sandbox's systems, users made with `runner.py users add`, and a real
Chromium that logs in through the login form. Nothing else is put in the database: every state
a journey needs, it makes through the pages, as the person would.

Screenshots at 1280 and 375 px go to docs/guide/img/ when RPA_GUIDE_SCREENSHOTS=1 (the user
guides in docs/guide/ show them), else to the test's temporary folder.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, Env, wait_for_console
from tests.test_serve import free_port

PASSWORD = "journey-passord-2026"
GUIDE_IMAGES = ROOT / "docs" / "guide" / "img"
WIDTHS = {"1280": (1280, 800), "375": (375, 740)}
TIMEOUT_MS = 20_000  # one page condition; the robots run in the background at their own pace

SCHEDULES = """
schedules:
  - name: arkivinnboks
    task: arkivering.scan_inbox
    cron: "0 6 * * 1-5"
"""


@dataclass
class Console:
    """A running `serve`: its address, and the installation behind it."""

    url: str
    env: Env
    shots: Path

    def add_user(self, username: str, role: str) -> None:
        """`runner.py users add`, the one thing a journey may set up outside the pages."""
        added = self.env.runner(
            "users", "add", username, "--role", role, "--password-stdin", stdin=PASSWORD + "\n"
        )
        assert added.returncode == 0, added.stderr


def robot_settings(sandbox: Any) -> dict[str, str]:
    """The sandbox's systems and the robots' logins there, passed as settings."""
    return {
        "RPA_SYSTEM_URLS": json.dumps({"hr": sandbox.hr.url, "archive": sandbox.archive.url}),
        "RPA_CRED_HR_USERNAME": "robot",
        "RPA_CRED_HR_PASSWORD": "robot-passord",
        "RPA_CRED_ARCHIVE_USERNAME": "robot",
        "RPA_CRED_ARCHIVE_PASSWORD": "robot-passord",
        "RPA_SMTP_HOST": sandbox.smtp.host,
        "RPA_SMTP_PORT": str(sandbox.smtp.port),
        "RPA_TASK_PACKAGES": '["tasks"]',  # the municipality's robots only, as in production
        "RPA_LEASE_SECONDS": "30",
        "RPA_HEARTBEAT_SECONDS": "5",
    }


@pytest.fixture
def served(sqlite_env: Env, sandbox: Any, tmp_path: Path) -> Iterator[Console]:
    env = sqlite_env
    (env.data_dir / "schedules.yaml").write_text(SCHEDULES)
    port = free_port()
    env.start(
        "serve", "--port", str(port), "--processes", "1", name="serve",
        extra_env=robot_settings(sandbox),
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_for_console(url)
    shots = GUIDE_IMAGES if os.environ.get("RPA_GUIDE_SCREENSHOTS") == "1" else tmp_path / "img"
    shots.mkdir(parents=True, exist_ok=True)
    yield Console(url, env, shots)
    env.stop_all()


@pytest.fixture
def browser_context(browser: Any) -> Iterator[Any]:
    """A fresh browser (cookies of its own) per journey; more people open their own."""
    contexts: list[Any] = []

    def new(viewport: tuple[int, int] = WIDTHS["1280"]) -> Any:
        context = browser.new_context(
            locale="nb-NO", viewport={"width": viewport[0], "height": viewport[1]}
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield new
    for context in contexts:
        context.close()


def log_in(page: Any, console: Console, username: str) -> None:
    """Through the login form, as a person does."""
    page.goto(f"{console.url}/login")
    page.get_by_label("Brukernavn").fill(username)
    page.get_by_label("Passord").fill(PASSWORD)
    page.get_by_role("button", name="Logg inn").click()
    page.wait_for_url(lambda url: not url.endswith("/login"))


def shot(page: Any, console: Console, name: str) -> None:
    """The page as it is now, at 1280 and at 375 px wide (JPEG, to keep the guide small)."""
    for width, size in WIDTHS.items():
        page.set_viewport_size({"width": size[0], "height": size[1]})
        page.screenshot(path=console.shots / f"{name}-{width}.jpg", type="jpeg", quality=55)
    page.set_viewport_size({"width": WIDTHS["1280"][0], "height": WIDTHS["1280"][1]})
