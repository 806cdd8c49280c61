"""Finding and launching Chromium for the robots.

Order: a configured path (`browser_path`), the Playwright-managed Chromium where installed, then
a system Chromium. If none is found, the error lists what was tried and how to fix it.
"""

from __future__ import annotations

import shutil
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
