"""The JSON API under /api: the console's functions for machine clients (bearer tokens, or the
session cookie with X-CSRF-Token for unsafe calls), documented by OpenAPI at /api/docs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from robots import audit
from robots.console import actions
from robots.console.auth import Principal, can
from robots.console.deps import (
    Console,
    Cursor,
    Forbidden,
    RowId,
    console,
    permission,
    principal,
    visible_submitters,
)
from robots.queue import PRIORITY_MAX, PRIORITY_MIN
from robots.tasks import InvalidPayload, UnknownTask
from robots.views import AuditFilter, ItemFilter, RunFilter, chart_data

router = APIRouter(prefix="/api")


class SubmitBody(BaseModel):
    """An item to submit through the API (an unknown key is refused by name, so "data" for
    "payload" is not an item with an empty payload)."""

    model_config = ConfigDict(extra="forbid")

    task: str = Field(max_length=100)
    reference: str = Field(min_length=1, max_length=200)
    payload: dict[str, Any] = {}
    priority: int = Field(0, ge=PRIORITY_MIN, le=PRIORITY_MAX)


@router.get("/items", tags=["elementer"])
def api_items(
    response: Response,
    status: str = "",
    task: str = "",
    q: str = Query("", max_length=200),
    limit: int = Query(100, ge=1, le=1000),
    under: Cursor = None,
    c: Console = Depends(console),
    who: Principal = Depends(principal),
) -> list[dict[str, Any]]:
    """Items newest first, `limit` at a time; the true total is in X-Total-Count and the
    next page in a Link header (rel="next", keyset cursor `under`)."""
    f = ItemFilter(status=status, task=task, text=q, submitters=visible_submitters(who))
    found = c.rpa.views.items(f, under, limit)
    response.headers["X-Total-Count"] = str(found.page.total)
    if found.page.next_before is not None:
        params = {"status": status, "task": task, "q": q, "limit": limit}
        link = found.page.link(params, found.page.next_before)
        response.headers["Link"] = f'</api/items{link}>; rel="next"'
    return [i.as_json(c.rpa.views.local) for i in found.rows]


@router.post("/items", tags=["elementer"], status_code=201)
def api_submit(
    body: SubmitBody, c: Console = Depends(console), who: Principal = Depends(principal)
) -> JSONResponse:
    task = c.rpa.registry.get(body.task)
    if task is None:
        if not can(who.role, "submit"):
            raise Forbidden()
        exc = UnknownTask(body.task, list(c.rpa.registry))
        return JSONResponse({"detail": str(exc)}, status_code=404)
    try:
        submitted = actions.submit(c, who, task, body.reference, body.payload, body.priority)
    except InvalidPayload as exc:
        return JSONResponse(
            {"detail": "Ugyldige inndata", "errors": dict(exc.errors)}, status_code=422
        )
    except ValueError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=422)
    item = c.rpa.views.item(submitted.item.id)
    return JSONResponse(
        {**item.as_json(c.rpa.views.local), "created": submitted.created},
        status_code=201 if submitted.created else 200,
    )


@router.get("/items/{item_id}", tags=["elementer"])
def api_item(
    item_id: RowId, c: Console = Depends(console), who: Principal = Depends(principal)
) -> dict[str, Any]:
    item = actions.visible_item(c, who, item_id)
    return {**item.as_json(c.rpa.views.local), "payload": actions.shown_input(c, who, item)}


@router.post("/items/{item_id}/{action}", tags=["elementer"])
def api_item_action(
    item_id: RowId,
    action: str,
    c: Console = Depends(console),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    return actions.act(c, who, item_id, action).as_json(c.rpa.views.local)


@router.get("/dashboard", tags=["drift"])
def api_dashboard(
    c: Console = Depends(console), who: Principal = Depends(permission("dashboard"))
) -> dict[str, Any]:
    return c.rpa.views.dashboard(actions.paused(c))


@router.get("/statistikk", tags=["drift"])
def api_statistics(
    c: Console = Depends(console), who: Principal = Depends(permission("dashboard"))
) -> dict[str, Any]:
    """The dashboard's charts: runs per hour (24 h) and per day (30 days) by outcome, items
    waiting or running per hour, median duration per task (7 days)."""
    return chart_data(c.rpa.views)


@router.get("/schedules", tags=["drift"])
def api_schedules(
    c: Console = Depends(console), who: Principal = Depends(permission("schedules"))
) -> list[dict[str, Any]]:
    return c.rpa.views.schedules()


@router.post("/schedules/{name}/{action}", tags=["drift"])
def api_schedule_action(
    name: str, action: str, c: Console = Depends(console), who: Principal = Depends(principal)
) -> dict[str, Any]:
    return actions.schedule_action(c, who, name, action)


@router.post("/pauses/{kind}/{name}", tags=["drift"])
def api_pause(
    kind: str, name: str, c: Console = Depends(console), who: Principal = Depends(principal)
) -> dict[str, str]:
    actions.pause(c, who, kind, name)
    return {"paused": f"{kind}:{name}"}


@router.delete("/pauses/{kind}/{name}", tags=["drift"])
def api_resume(
    kind: str, name: str, c: Console = Depends(console), who: Principal = Depends(principal)
) -> dict[str, str]:
    actions.pause(c, who, kind, name, resume=True)
    return {"resumed": f"{kind}:{name}"}


@router.get("/runs", tags=["revisjon"])
def api_runs(
    f: RunFilter = Depends(),
    limit: int = Query(200, ge=1, le=1000),
    under: Cursor = None,
    c: Console = Depends(console),
    who: Principal = Depends(permission("runs")),
) -> list[dict[str, Any]]:
    return [r.as_json() for r in c.rpa.views.runs(f, under, limit).rows]


@router.get("/runs/{run_id}/events", tags=["revisjon"])
def api_run_events(
    run_id: RowId, c: Console = Depends(console), who: Principal = Depends(permission("runs"))
) -> list[dict[str, Any]]:
    return [e.as_json() for e in c.rpa.views.run_events(run_id)]


@router.get("/audit", tags=["revisjon"])
def api_audit(
    actor: str = Query("", max_length=120),
    action: str = Query("", max_length=40),
    limit: int = Query(200, ge=1, le=1000),
    under: Cursor = None,
    c: Console = Depends(console),
    who: Principal = Depends(permission("audit")),
) -> list[dict[str, Any]]:
    found = c.rpa.views.audit_events(AuditFilter(actor=actor, action=action), under, limit)
    return [e.as_json() for e in found.rows]


@router.get("/audit/verify", tags=["revisjon"])
def api_audit_verify(
    c: Console = Depends(console), who: Principal = Depends(permission("audit"))
) -> dict[str, Any]:
    with c.rpa.db.session() as session:
        check = audit.verify(session)
    return {
        "intact": check.intact,
        "checked": check.checked,
        "first_broken_id": check.first_broken_id,
        "reason": check.reason,
        "anchored_from": check.anchored_from,
    }


@router.get("/tasks", tags=["elementer"])
def api_tasks(
    c: Console = Depends(console), who: Principal = Depends(principal)
) -> list[dict[str, Any]]:
    return [
        {
            "name": t.name,
            "description": t.description,
            "systems": list(t.systems),
            "input_schema": t.input_model.model_json_schema(),
        }
        for t in c.rpa.registry.values()
    ]
