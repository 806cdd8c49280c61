"""Finding and launching Chromium for the robots.

Order: a configured path (`browser_path`), the Playwright-managed Chromium where installed, then
a system Chromium. If none is found, the error lists what was tried and how to fix it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Flags this kind of machine needs (no sandbox as root, no GPU, no calls home).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SYSTEM_CANDIDATES = (
    "/usr/bin/chromium",
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
)


class BrowserNotFound(RuntimeError):
    pass


@dataclass(frozen=True)
class BrowserChoice:
    executable: str | None  # None: Playwright's own managed browser
    source: str


def _playwright_managed(playwright: Any) -> str | None:
    try:
        path = playwright.chromium.executable_path
    except Exception:  # noqa: BLE001 - not installed
        return None
    return path if path and Path(path).exists() else None


FIX = (
    "Installer en med `.venv/bin/python -m playwright install chromium` eller "
    "`sudo apt-get install chromium`"
)


def find_browser(playwright: Any, configured: str = "") -> BrowserChoice:
    """The browser to launch. A configured path (browser_path) that does not exist is an error
    of its own: the operator chose that browser, so another one is not used in its place."""
    tried = []
    if configured:
        path = shutil.which(configured) or (configured if Path(configured).exists() else None)
        if path:
            return BrowserChoice(path, "innstillingen browser_path")
        raise BrowserNotFound(
            f"Nettleseren i browser_path (RPA_BROWSER_PATH) finnes ikke: {configured}. "
            f"{FIX}, eller rett innstillingen."
        )
    managed = _playwright_managed(playwright)
    if managed:
        return BrowserChoice(None, "Playwrights egen Chromium")
    tried.append("Playwrights egen Chromium (ikke installert)")
    for candidate in SYSTEM_CANDIDATES:
        path = (
            shutil.which(candidate)
            if "/" not in candidate
            else (candidate if Path(candidate).exists() else None)
        )
        if path:
            return BrowserChoice(path, f"systemets {path}")
        tried.append(candidate)
    raise BrowserNotFound(
        "Fant ingen Chromium. Prøvde: " + ", ".join(tried) + f". {FIX}, "
        "eller pek på en med RPA_BROWSER_PATH."
    )


def require_browser(configured: str = "") -> None:
    """Raise BrowserNotFound now when there is no browser to launch: a run that needs one
    (the demo, workers for browser tasks) stops at start with the command that fixes it,
    rather than failing every item until a timeout."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        find_browser(playwright, configured)


def launch(
    playwright: Any, *, configured: str = "", headless: bool = True, slow_mo_ms: int = 0
) -> Any:
    choice = find_browser(playwright, configured)
    return playwright.chromium.launch(
        executable_path=choice.executable,
        headless=headless,
        slow_mo=slow_mo_ms,
        args=CHROMIUM_ARGS,
    )


class SharedChromium:
    """One Chromium for a worker's item slots (setting worker_concurrency), behind a
    Playwright browser server (`playwright launch-server`, Playwright's own driver) on
    127.0.0.1: each slot thread's own Playwright connects to it (Playwright objects belong to
    the thread that made them) and sees only the contexts it made. Not over CDP: a CDP client
    is attached to every target of the browser, so every slot's driver handled every slot's
    page events, and the CPU per item doubled at four slots (bench/slots.py). Started again
    when it has died."""

    def __init__(self, configured: str = "", headless: bool = True) -> None:
        self.configured, self.headless = configured, headless
        self._proc: Any = None
        self._endpoint = ""
        self._config: Any = None
        self._lock = threading.Lock()
        self.launches = 0

    def endpoint(self, playwright: Any) -> str:
        """The running browser server's WebSocket address (started here when it is not)."""
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                return self._endpoint
            self._stop()
            from playwright._impl._driver import compute_driver_executable

            choice = find_browser(playwright, self.configured)
            executable = choice.executable or playwright.chromium.executable_path
            options = {
                "executablePath": executable,
                "headless": self.headless,
                "args": CHROMIUM_ARGS,
                "host": "127.0.0.1",
                "port": 0,
            }
            self._config = tempfile.NamedTemporaryFile(  # noqa: SIM115 - kept while it runs
                "w", prefix="rpa-browser-server-", suffix=".json"
            )
            json.dump(options, self._config)
            self._config.flush()
            node, cli = compute_driver_executable()
            command = [node, cli, "launch-server", "--browser", "chromium"]
            self._proc = subprocess.Popen(
                [*command, "--config", self._config.name],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            line = self._first_line(time.monotonic() + 30)
            if not line.startswith("ws://"):
                self._stop()
                raise BrowserNotFound(
                    f"Chromium ({executable}) startet ikke bak Playwrights nettleserserver"
                    + (f": {line[:200]}" if line else "")
                )
            self._endpoint = line
            self.launches += 1
            return self._endpoint

    def _first_line(self, deadline: float) -> str:
        """The server's first line of output (its address), or '' if none came in time; what
        it prints after that is read and dropped, so that a full pipe never blocks it."""
        found: list[str] = []
        first = threading.Event()
        stdout = self._proc.stdout

        def read() -> None:
            found.append(stdout.readline().strip())
            first.set()
            for _ in stdout:
                pass

        threading.Thread(target=read, name="nettleserserver", daemon=True).start()
        first.wait(max(0.0, deadline - time.monotonic()))
        return found[0] if found else ""

    @property
    def pid(self) -> int | None:
        return int(self._proc.pid) if self._proc is not None else None

    def _stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()  # the server closes its browser on SIGTERM
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
            self._proc = None
        if self._config is not None:
            self._config.close()
            self._config = None

    def close(self) -> None:
        with self._lock:
            self._stop()
