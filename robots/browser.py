"""Finding and launching Chromium for the robots.

Order: a configured path (`browser_path`), the Playwright-managed Chromium where installed, then
a system Chromium. If none is found, the error lists what was tried and how to fix it.
"""

from __future__ import annotations

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


def find_browser(playwright: Any, configured: str = "") -> BrowserChoice:
    tried = []
    if configured:
        path = shutil.which(configured) or (configured if Path(configured).exists() else None)
        if path:
            return BrowserChoice(path, "innstillingen browser_path")
        tried.append(f"{configured} (RPA_BROWSER_PATH: finnes ikke)")
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
        "Fant ingen Chromium. Prøvde: " + ", ".join(tried) + ". Installer en med "
        "`python -m playwright install chromium` eller `sudo apt-get install chromium`, "
        "eller pek på en med RPA_BROWSER_PATH."
    )


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
    """One Chromium for a worker's item slots (setting worker_concurrency): started by the
    worker with a DevTools port on 127.0.0.1, and each slot thread's own Playwright connects to
    it over CDP (Playwright objects belong to the thread that made them). Started again when
    it has died."""

    def __init__(self, configured: str = "", headless: bool = True) -> None:
        self.configured, self.headless = configured, headless
        self._proc: Any = None
        self._endpoint = ""
        self._profile: Any = None
        self._lock = threading.Lock()
        self.launches = 0

    def endpoint(self, playwright: Any) -> str:
        """The running Chromium's CDP address (started here when it is not running)."""
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                return self._endpoint
            self._stop()
            choice = find_browser(playwright, self.configured)
            executable = choice.executable or playwright.chromium.executable_path
            self._profile = tempfile.TemporaryDirectory(prefix="rpa-chromium-")
            port_file = Path(self._profile.name) / "DevToolsActivePort"
            self._proc = subprocess.Popen(
                [
                    executable,
                    "--headless=new" if self.headless else "--new-window",
                    "--remote-debugging-address=127.0.0.1",
                    "--remote-debugging-port=0",
                    f"--user-data-dir={self._profile.name}",
                    *CHROMIUM_ARGS,
                    "about:blank",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + 30
            while not port_file.exists() or not port_file.read_text().strip():
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    raise BrowserNotFound(
                        f"Chromium ({executable}) startet ikke med en DevTools-port"
                    )
                time.sleep(0.02)
            self._endpoint = f"http://127.0.0.1:{port_file.read_text().split()[0]}"
            self.launches += 1
            return self._endpoint

    @property
    def pid(self) -> int | None:
        return int(self._proc.pid) if self._proc is not None else None

    def _stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
            self._proc = None
        if self._profile is not None:
            self._profile.cleanup()
            self._profile = None

    def close(self) -> None:
        with self._lock:
            self._stop()
