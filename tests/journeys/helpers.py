"""Small page helpers the journeys share."""

from __future__ import annotations

import time
from typing import Any

from tests.journeys.conftest import TIMEOUT_MS


def reload_until(page: Any, text: str, within: str = "main", timeout_ms: float = 120_000) -> None:
    """Reload until `text` shows in the part `within` (a CSS selector): for a page that does
    not (yet) update itself while a robot works. Bounded; each reload waits for the page."""
    deadline = time.monotonic() + timeout_ms / 1000
    main = page.locator(within)
    while True:
        try:
            main.get_by_text(text, exact=False).first.wait_for(timeout=2_000)
            return
        except Exception:  # noqa: BLE001 - Playwright's TimeoutError; try again after a reload
            if time.monotonic() > deadline:
                shown = main.first.inner_text() if main.count() else "(nothing)"
                raise AssertionError(f"«{text}» did not appear on {page.url}: {shown}") from None
            page.reload(wait_until="load", timeout=TIMEOUT_MS)
