"""What IT operations point their tools at: `/healthz` (the process is up), `/readyz` (ready to
work: 503 with the failing checks otherwise), `/metrics` (Prometheus), and the alerts page
where an operator acknowledges an alert (audited)."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import select

from robots import audit
from robots.console.auth import Principal, can
from robots.console.deps import (
    Console,
    NotLoggedIn,
    RowId,
    console,
    csrf_form,
    flash,
    permission,
    principal,
)
from robots.health import readiness, ready
from robots.models import Alert, utcnow

router = APIRouter()


# Outside the API's OpenAPI document: plumbing for load balancers and Prometheus (documented in
# docs/operations.md), and /readyz answers 503 by design when the installation is not ready.
@router.get("/healthz", include_in_schema=False)
def healthz() -> dict[str, str]:
    """The process is up and answers."""
    return {"status": "ok"}


@router.get("/readyz", include_in_schema=False)
def readyz(request: Request, c: Console = Depends(console)) -> JSONResponse:
    """Ready to work: database reachable, schema current, a live worker, a scheduler leading.
    A load balancer needs only the status code; the checks (host names, process ids, the
    database's error) are for operators: a logged-in operator or admin, or their API key."""
    checks = readiness(c.rpa.db, c.rpa.settings)
    body: dict[str, object] = {"ready": ready(checks)}
    if _operator(request, c):
        body["checks"] = [asdict(check) for check in checks]
    return JSONResponse(body, status_code=200 if body["ready"] else 503)


def _operator(request: Request, c: Console) -> bool:
    try:
        who = principal(request, c)
    except (NotLoggedIn, HTTPException):
        return False
    return can(who.role, "dashboard")


@router.get("/metrics", include_in_schema=False)
def metrics(c: Console = Depends(console)) -> Response:
    """Prometheus text format; every figure is read from the database at scrape time, so one
    scrape covers every worker process on every machine."""
    from robots.metrics import render

    body, content_type = render(c.rpa.db, c.rpa.settings)
    return Response(body, media_type=content_type)


@router.get("/drift/varsler", response_class=HTMLResponse, include_in_schema=False)
def alerts_page(
    request: Request,
    c: Console = Depends(console),
    who: Principal = Depends(permission("dashboard")),
) -> HTMLResponse:
    with c.rpa.db.session() as session:
        alerts = list(
            session.scalars(
                select(Alert).where(Alert.status != "closed").order_by(Alert.last_at.desc())
            )
        )
    return c.page(request, "alerts.html", who, alerts=alerts)


@router.post("/drift/varsler/{alert_id}/kvitter", include_in_schema=False)
async def acknowledge(
    request: Request,
    alert_id: RowId,
    c: Console = Depends(console),
    who: Principal = Depends(permission("dashboard")),
) -> Response:
    await csrf_form(request)
    with c.rpa.db.session() as session:
        alert = session.get(Alert, alert_id)
        if alert is None:
            raise HTTPException(404, "Fant ikke varselet")
        if alert.status == "open":
            alert.status = "acknowledged"
            alert.acknowledged_by = who.actor
            alert.acknowledged_at = utcnow()
            audit.record(session, who.actor, "alert_ack", f"alert:{alert.id}", {"key": alert.key})
    flash(request, "Varselet er kvittert ut.")
    return RedirectResponse("/drift/varsler", status_code=303)
