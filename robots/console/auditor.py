"""The auditor's pages: the run-log search, a run with its timeline and masked evidence, the
HTML report, the audit trail with its verification, and the CSV export of every matching run."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)

from robots import audit
from robots.console import actions
from robots.console.auth import Principal
from robots.console.deps import Console, RowId, console, csrf_form, page_at, permission
from robots.labels import OUTCOME
from robots.paging import At
from robots.views import AuditFilter, NotFound, RunFilter, RunView, Views

router = APIRouter(include_in_schema=False)

EXPORT_HEADER = [
    "kjøring",
    "element",
    "oppgave",
    "referanse",
    "forsøk",
    "start",
    "slutt",
    "utfall",
    "feil",
    "sendt inn av",
]


@router.get("/revisjon", response_class=HTMLResponse)
def run_search(
    request: Request,
    f: RunFilter = Depends(),
    under: At = Depends(page_at),
    c: Console = Depends(console),
    who: Principal = Depends(permission("runs")),
) -> HTMLResponse:
    found = c.rpa.views.runs(f, under)
    params = asdict(f)
    return c.page(
        request,
        "revisjon.html",
        who,
        rows=found.rows,
        found=found.page,
        params=params,
        q=params,
        tasks=sorted(c.rpa.registry),
        outcomes=list(OUTCOME),
    )


@router.get("/kjoringer/{run_id}", response_class=HTMLResponse)
def run_page(
    request: Request,
    run_id: RowId,
    c: Console = Depends(console),
    who: Principal = Depends(permission("runs")),
) -> HTMLResponse:
    try:
        detail = c.rpa.views.run(run_id)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    actions.audit_view(c, who, f"run:{run_id}")
    return c.page(
        request,
        "run.html",
        who,
        run=detail.run,
        events=detail.events,
        artifacts=detail.artifacts,
        item=detail.item,
        rules=detail.rules,
        provenance=detail.provenance,
    )


@router.get("/artefakter/{artifact_id}")
def artifact(
    artifact_id: RowId,
    c: Console = Depends(console),
    who: Principal = Depends(permission("runs")),
) -> FileResponse:
    try:
        found = c.rpa.views.artifact(artifact_id)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    if not Path(found.path).exists():
        raise HTTPException(404, "Fant ikke filen")
    actions.audit_view(c, who, f"artifact:{artifact_id}")
    return FileResponse(found.path, filename=Path(found.path).name)


@router.get("/kjoringer/{run_id}/rapport", response_class=HTMLResponse)
def run_report(
    run_id: RowId,
    c: Console = Depends(console),
    who: Principal = Depends(permission("runs")),
) -> HTMLResponse:
    from robots.report import render

    try:
        html = render(c.rpa.views, run_id)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    actions.audit_view(c, who, f"report:{run_id}")
    return HTMLResponse(html)


@router.get("/revisjonsspor", response_class=HTMLResponse)
def audit_trail(
    request: Request,
    c: Console = Depends(console),
    who: Principal = Depends(permission("audit")),
    actor: str = Query("", max_length=120),
    action: str = Query("", max_length=40),
    target: str = Query("", max_length=200),
    fra: str = Query("", max_length=10),
    til: str = Query("", max_length=10),
    under: At = Depends(page_at),
    melding: str = Query("", max_length=200),
) -> HTMLResponse:
    """The trail, newest first, filtered (actor and target: a part of them), a page at a
    time; the chain is verified from the last checkpoint on (the new events only)."""
    f = AuditFilter(actor=actor, action=action, target=target, fra=fra, til=til)
    found = c.rpa.views.audit_events(f, under)
    with c.rpa.db.session() as session:
        check = audit.verify(session, full=False)
    return c.page(
        request,
        "audit.html",
        who,
        events=found.rows,
        found=found.page,
        params=asdict(f),
        actions=found.extra["actions"],
        check=check,
        message=melding,
    )


@router.post("/revisjonsspor/kontroller")
async def audit_verify_all(
    request: Request,
    c: Console = Depends(console),
    who: Principal = Depends(permission("audit")),
) -> Response:
    """The full verification from the first event, on request (audited)."""
    await csrf_form(request)
    with c.rpa.db.session() as session:
        check = audit.verify(session, full=True)
        audit.record(
            session,
            who.actor,
            "verify",
            "audit_chain",
            {"intact": check.intact, "checked": check.checked, "broken": check.first_broken_id},
        )
    text = (
        f"Hele kjeden er kontrollert: {check.checked} hendelser i orden."
        if check.intact
        else f"Kjeden er brutt{check.at}: {check.reason}"
    )
    return RedirectResponse(f"/revisjonsspor?{urlencode({'melding': text})}", status_code=303)


@router.get("/revisjon/eksport.csv")
def export(
    f: RunFilter = Depends(),
    c: Console = Depends(console),
    who: Principal = Depends(permission("export")),
) -> StreamingResponse:
    """Every matching run, streamed (no cap), masked; a UTF-8 BOM first so that Excel reads
    æøå. The export is audited with its filter and its true row count."""
    views = c.rpa.views
    total = views.run_count(f)
    with c.rpa.db.session() as session:
        audit.record(session, who.actor, "export", "runs", {"filter": asdict(f), "rows": total})
    return StreamingResponse(
        csv_rows(views, f),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": "attachment; filename=kjoringer.csv"},
    )


def csv_rows(views: Views, f: RunFilter) -> Iterator[str]:
    yield "\ufeff" + _csv_line(EXPORT_HEADER)
    for run in views.each_run(f):
        yield _csv_line(_export_row(views, run))


def _export_row(views: Views, run: RunView) -> list[Any]:
    return [
        run.id,
        run.item_id,
        run.task,
        run.reference,
        run.attempt,
        views.local(run.started_at),
        views.local(run.ended_at),
        run.outcome or "",
        run.error,
        run.submitted_by,
    ]


def _csv_line(values: list[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";").writerow(values)
    return buffer.getvalue()
