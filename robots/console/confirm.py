"""Asking before a switch that stops work or shuts someone out (pausing a task or a system,
deactivating a user, revoking an API key, turning a schedule off).

Without JavaScript: the first post of such a form answers with a page that says what will
happen and posts the same fields again with `bekreft=ja`; only that second post acts. A
client that already knows (a test, a script with a session) sends `bekreft=ja` at once."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from robots.console.auth import Principal
from robots.console.deps import Console

CONFIRMED = "ja"


def ask_first(
    c: Console,
    request: Request,
    who: Principal,
    form: dict[str, Any],
    *,
    question: str,
    yes: str,
    back: str,
) -> HTMLResponse | None:
    """None when the form carries the confirmation; else the page that asks for it."""
    if form.get("bekreft") == CONFIRMED:
        return None
    fields = {k: v for k, v in form.items() if isinstance(v, str) and k not in ("csrf", "bekreft")}
    return c.page(
        request,
        "bekreft.html",
        who,
        question=question,
        action=request.url.path,
        fields=fields,
        yes=yes,
        back=back,
    )
