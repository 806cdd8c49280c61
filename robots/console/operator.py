"""The operator's pages: the dashboard (queue depth, statuses, failure rate, workers, limits,
pauses) and the schedules with their next fire times."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from robots.console import actions
from robots.console.auth import Principal
from robots.console.deps import Console, console, csrf_form, permission, principal
from robots.views import ItemFilter

router = APIRouter(include_in_schema=False)


@router.get("/drift", response_class=HTMLResponse)
def operations(
    request: Request,
    c: Console = Depends(console),
    who: Principal = Depends(permission("dashboard")),
) -> HTMLResponse:
    registry = c.rpa.registry
    return c.page(
        request,
        "drift.html",
        who,
        d=c.rpa.views.dashboard(actions.paused(c)),
        tasks=sorted(registry),
        systems=sorted({s for t in registry.values() for s in t.systems}),
        items=c.rpa.views.items(ItemFilter(), size=30).rows,
    )


@router.post("/pause")
async def pause(
    request: Request, c: Console = Depends(console), who: Principal = Depends(principal)
) -> Response:
    form = await csrf_form(request)
    kind, name = str(form.get("kind")), str(form.get("name"))
    actions.pause(c, who, kind, name, resume=bool(form.get("resume")))
    return RedirectResponse("/drift", status_code=303)


@router.get("/tidsplaner", response_class=HTMLResponse)
def schedules(
    request: Request,
    c: Console = Depends(console),
    who: Principal = Depends(permission("schedules")),
) -> HTMLResponse:
    return c.page(request, "schedules.html", who, schedules=c.rpa.views.schedules())


@router.post("/tidsplaner/{name}/{action}")
async def schedule_action(
    request: Request,
    name: str,
    action: str,
    c: Console = Depends(console),
    who: Principal = Depends(permission("schedules")),
) -> Response:
    await csrf_form(request)
    actions.schedule_action(c, who, name, action)
    return RedirectResponse("/tidsplaner", status_code=303)
