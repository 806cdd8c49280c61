"""The operator's pages: the dashboard (figures per task, queue depth, failure rates split into
system and business errors, workers, pauses with who and when, charts), the items list with a
status filter and bulk retry or cancel of the filtered set, and the schedules in plain
Norwegian with their last run."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from robots.console import actions
from robots.console.auth import Principal
from robots.console.confirm import ask_first
from robots.console.deps import (
    Console,
    console,
    csrf_form,
    flash,
    page_at,
    permission,
    principal,
    require,
)
from robots.models import CANCELLABLE, RETRYABLE, ItemStatus
from robots.paging import At
from robots.systems import Systems
from robots.views import AuditFilter, ItemFilter, manual_counts, task_figures

router = APIRouter(include_in_schema=False)
BULK_LIMIT = 10_000  # items one bulk action may touch (a larger set: filter it first)


def dashboard_context(c: Console) -> dict[str, Any]:
    registry = c.rpa.registry
    pauses = {(p.kind, p.name): p for p in c.rpa.queue.paused()}
    return {
        "d": c.rpa.views.dashboard(actions.paused(c)),
        "figures": task_figures(c.rpa.views, sorted(registry)),
        "systems": sorted({s for t in registry.values() for s in t.systems}),
        "pauses": pauses,
        "manual_counts": manual_counts(c.rpa.views),
    }


@router.get("/drift", response_class=HTMLResponse)
def operations(
    request: Request,
    c: Console = Depends(console),
    who: Principal = Depends(permission("dashboard")),
) -> HTMLResponse:
    return c.page(request, "drift.html", who, **dashboard_context(c))


@router.get("/drift/elementer", response_class=HTMLResponse)
def items(
    request: Request,
    c: Console = Depends(console),
    who: Principal = Depends(permission("all_items")),
    status: str = Query("", max_length=20),
    task: str = Query("", max_length=100),
    q: str = Query("", max_length=200),
    under: At = Depends(page_at),
) -> HTMLResponse:
    f = ItemFilter(status=status, task=task, text=q)
    found = c.rpa.views.items(f, under)
    return c.page(
        request,
        "drift_items.html",
        who,
        items=found.rows,
        found=found.page,
        params={"status": status, "task": task, "q": q},
        statuses=list(ItemStatus),
        tasks=sorted(c.rpa.registry),
        retryable=status in RETRYABLE,
        cancellable=status in CANCELLABLE,
        live=f"/hendelser/drift/elementer?{request.url.query}",
    )


@router.post("/drift/elementer")
async def bulk(
    request: Request,
    c: Console = Depends(console),
    who: Principal = Depends(principal),
) -> Response:
    """Retry or cancel every item of the filtered set (the filter must name a status the
    action applies to); each item is audited as its own retry or cancel."""
    form = await csrf_form(request)
    action = str(form.get("handling", ""))
    f = ItemFilter(
        status=str(form.get("status", "")),
        task=str(form.get("task", "")),
        text=str(form.get("q", "")),
    )
    if action == "retry":
        require(who, "retry")
        allowed = RETRYABLE
    elif action == "cancel":
        require(who, "cancel")
        allowed = CANCELLABLE
    else:
        raise HTTPException(404, "Ukjent handling")
    if f.status not in allowed:
        raise HTTPException(422, "Filtrer på en status handlingen gjelder for først")
    done = c.rpa.queue.bulk(action, c.rpa.views.item_ids(f, BULK_LIMIT), who.actor)
    word = "lagt i kø på nytt" if action == "retry" else "avbrutt"
    flash(request, f"{done} elementer er {word}.")
    return RedirectResponse(
        f"/drift/elementer?status={f.status}&task={f.task}&q={f.text}", status_code=303
    )


@router.post("/pause")
async def pause(
    request: Request, c: Console = Depends(console), who: Principal = Depends(principal)
) -> Response:
    form = await csrf_form(request)
    kind, name = str(form.get("kind")), str(form.get("name"))
    resume = bool(form.get("resume"))
    what = "Oppgaven" if kind == "task" else "Systemet"
    if not resume:
        require(who, "pause")
        asked = ask_first(
            c,
            request,
            who,
            form,
            question=f"{what} {name} settes på pause: robotene tar ingen nye elementer "
            f"{'i den' if kind == 'task' else 'som bruker det'} før noen starter den igjen.",
            yes=f"Ja, sett {name} på pause",
            back="/drift",
        )
        if asked is not None:
            return asked
    actions.pause(c, who, kind, name, resume=resume)
    flash(request, f"{what} {name} er {'startet igjen' if resume else 'satt på pause'}.")
    return RedirectResponse("/drift", status_code=303)


def known_systems(c: Console) -> set[str]:
    """The systems the installed tasks declare: the only names a state may be changed for."""
    return {s for t in c.rpa.registry.values() for s in t.systems}


@router.get("/drift/systemer", response_class=HTMLResponse)
def systems(
    request: Request,
    c: Console = Depends(console),
    who: Principal = Depends(permission("dashboard")),
) -> HTMLResponse:
    """Each target system's state (robots.systems) and its history from the audit trail."""
    states = Systems(c.rpa.db, c.rpa.settings).all(sorted(known_systems(c)))
    history = c.rpa.views.audit_events(AuditFilter(target="system:"), size=50).rows
    return c.page(request, "systems.html", who, states=states, history=history)


@router.post("/drift/systemer/{system}/{action}")
async def system_action(
    request: Request,
    system: str,
    action: str,
    c: Console = Depends(console),
    who: Principal = Depends(principal),
) -> Response:
    """`fornyet`: the robot's credentials are renewed; `sjekk`: probe an open breaker now."""
    await csrf_form(request)
    require(who, "pause")
    if system not in known_systems(c):
        raise HTTPException(404, "Ukjent system")
    systems = Systems(c.rpa.db, c.rpa.settings)
    if action == "fornyet":
        changed = systems.renewed(system, who.actor)
        said = (
            "Innloggingen er fornyet; robotene tar elementene igjen."
            if changed
            else ("Systemet var allerede tilgjengelig; ingenting endret.")
        )
    elif action == "sjekk":
        changed = systems.probe_now(system, who.actor)
        said = (
            "En ny sjekk er bestilt; en ledig robot sjekker systemet straks."
            if changed
            else ("Systemet har ingen åpen sikring; ingenting endret.")
        )
    else:
        raise HTTPException(404, "Ukjent handling")
    flash(request, f"{system}: {said}")
    return RedirectResponse("/drift/systemer", status_code=303)


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
    form = await csrf_form(request)
    if action == "deaktiver":
        asked = ask_first(
            c,
            request,
            who,
            form,
            question=f"Tidsplanen {name} slås av: den starter ingen elementer før den slås på "
            "igjen.",
            yes=f"Ja, slå av {name}",
            back="/tidsplaner",
        )
        if asked is not None:
            return asked
    done = actions.schedule_action(c, who, name, action)
    if "item" in done:
        flash(request, f"Tidsplanen {name} er kjørt nå: element {done['item']}.")
    else:
        flash(request, f"Tidsplanen {name} er slått {'på' if done['enabled'] else 'av'}.")
    return RedirectResponse("/tidsplaner", status_code=303)
