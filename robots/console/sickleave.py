"""The leader's page (role leder / HR): the sick-leave percentage per tjenesteområde and unit
against its target, last month, last quarter and twelve months, with a trend per area.

Read-only and audited as a view. It reads only the figures the sykefravær robot stored, which
hold no group of fewer than five employees (robots.sickleave): no name, fødselsnummer or
single absence is reachable from here."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from robots.console import actions
from robots.console.auth import Principal
from robots.console.deps import Console, console, permission
from robots.sickleave import Overview, read_overview

router = APIRouter(include_in_schema=False)


def chart_data(view: Overview) -> dict[str, Any]:
    """What the trend charts draw: one series per area (and the municipality) with its target."""
    return {
        "months": [m.isoformat() for m in view.months],
        "areas": [
            {
                "name": row.area or "Hele kommunen",
                "target": row.target,
                "values": [None if v is None else round(v, 2) for v in row.trend],
            }
            for row in view.rows
            if row.unit == ""
        ],
    }


@router.get("/sykefravaer", response_class=HTMLResponse)
def sick_leave(
    request: Request,
    c: Console = Depends(console),
    who: Principal = Depends(permission("sick_leave_stats")),
) -> HTMLResponse:
    with c.rpa.db.session() as session:
        view = read_overview(session)
    actions.audit_view(c, who, "sykefravaer:statistikk")
    return c.page(request, "sykefravaer.html", who, view=view, chart=chart_data(view))
