"""Live updates by server-sent events: "Mine saker", the open questions, an item, the
operator's dashboard and items list, and a run's timeline redraw the parts that changed,
without reloading the page (which would steal the keyboard focus and the scroll position).

Each stream looks at the database once a second in a worker thread and sends only when what
the person would see has changed; the parts are the same template fragments the pages are
drawn with, so a live page and a reloaded one look the same. A stream ends after a few minutes
(the browser's EventSource reconnects by itself), so idle tabs do not hold connections forever.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from robots.console import actions, auth
from robots.console.auth import Principal
from robots.console.deps import (
    Console,
    NotLoggedIn,
    RowId,
    console,
    page_at,
    permission,
    principal,
)
from robots.paging import At
from robots.views import ItemFilter, NotFound

router = APIRouter(prefix="/hendelser", include_in_schema=False)
STREAM_SECONDS = 300.0
INTERVAL_SECONDS = 1.0

Parts = list[dict[str, str]]  # [{"id": element id, "html": its new content}]


def stream(request: Request, render: Callable[[], Parts]) -> EventSourceResponse:
    async def events() -> AsyncIterator[ServerSentEvent]:
        last = ""
        ends = time.monotonic() + STREAM_SECONDS
        while time.monotonic() < ends and not await request.is_disconnected():
            try:
                parts = await anyio.to_thread.run_sync(render)
            except NotFound:
                return
            # after the render: nothing drawn once the session had ended is sent
            if not await anyio.to_thread.run_sync(signed_in, request):
                return  # logged out (or deactivated) since the stream began
            data = json.dumps(parts, ensure_ascii=False)
            if data != last:
                last = data
                yield ServerSentEvent(data=data, event="update")
            await asyncio.sleep(INTERVAL_SECONDS)

    return EventSourceResponse(events(), ping=15, headers={"Cache-Control": "no-store"})


def signed_in(request: Request) -> bool:
    """Whether the stream's session (or token) still lets its person in."""
    try:
        principal(request, console(request))
    except (NotLoggedIn, HTTPException):
        return False
    return True


def fragment(c: Console, name: str, **context: Any) -> str:
    return c.templates.get_template(name).render(**context)


@router.get("/mine")
def my_items(
    request: Request,
    c: Console = Depends(console),
    who: Principal = Depends(permission("own_items")),
    q: str = Query("", max_length=200),
    status: str = Query("", max_length=20),
    under: At = Depends(page_at),
) -> EventSourceResponse:
    from robots.console.caseworker import own_filter

    f = own_filter(who, q, status)

    def render() -> Parts:
        found = c.rpa.views.items(f, under)
        reason = lambda item: actions.reason(who, item)  # noqa: E731
        html = fragment(c, "_mine_rows.html", items=found.rows, reason=reason)
        return [{"id": "elementer", "html": html}]

    return stream(request, render)


@router.get("/sporsmal")
def open_questions(
    request: Request,
    c: Console = Depends(console),
    who: Principal = Depends(permission("answer")),
) -> EventSourceResponse:
    from robots.console.people import audience, item_link
    from robots.views import questions

    seen, link = audience(c, who), item_link(c, who)

    def render() -> Parts:
        found = questions(c.rpa.views, audience=seen)
        html = fragment(c, "_question_rows.html", questions=found, item_link=link)
        return [{"id": "sporsmal", "html": html}]

    return stream(request, render)


@router.get("/drift/elementer")
def all_items(
    request: Request,
    c: Console = Depends(console),
    who: Principal = Depends(permission("all_items")),
    status: str = Query("", max_length=20),
    task: str = Query("", max_length=100),
    q: str = Query("", max_length=200),
    under: At = Depends(page_at),
) -> EventSourceResponse:
    f = ItemFilter(status=status, task=task, text=q)

    def render() -> Parts:
        found = c.rpa.views.items(f, under)
        return [{"id": "elementer", "html": fragment(c, "_item_rows.html", items=found.rows)}]

    return stream(request, render)


@router.get("/elementer/{item_id}")
def item(
    request: Request,
    item_id: RowId,
    c: Console = Depends(console),
    who: Principal = Depends(principal),
) -> EventSourceResponse:
    def render() -> Parts:
        try:
            shown = actions.visible_item(c, who, item_id)
        except Exception as exc:  # noqa: BLE001 - gone or no longer visible: stop the stream
            raise NotFound(str(exc)) from None
        context = actions.item_context(c, who, shown)
        return [{"id": "status", "html": fragment(c, "_item_status.html", **context)}]

    return stream(request, render)


@router.get("/drift")
def dashboard(
    request: Request,
    c: Console = Depends(console),
    who: Principal = Depends(permission("dashboard")),
) -> EventSourceResponse:
    from robots.console.operator import dashboard_context

    csrf = auth.csrf_token(request.session)

    def render() -> Parts:
        context = {**dashboard_context(c), "csrf": csrf}
        return [
            {"id": "nokkeltall", "html": fragment(c, "_drift_cards.html", **context)},
            {"id": "oppgaver", "html": fragment(c, "_drift_tasks.html", **context)},
            {"id": "arbeidere", "html": fragment(c, "_drift_workers.html", **context)},
        ]

    return stream(request, render)


@router.get("/kjoringer/{run_id}")
def run_timeline(
    request: Request,
    run_id: RowId,
    c: Console = Depends(console),
    who: Principal = Depends(permission("runs")),
) -> EventSourceResponse:
    def render() -> Parts:
        detail = c.rpa.views.run(run_id)
        return [
            {"id": "utfall", "html": fragment(c, "_run_outcome.html", run=detail.run)},
            {"id": "tidslinje", "html": fragment(c, "_timeline_rows.html", events=detail.events)},
        ]

    return stream(request, render)
