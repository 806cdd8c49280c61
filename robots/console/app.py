"""The console (FastAPI, server-rendered, bokmål): caseworkers submit and follow their items,
operators run the fleet, auditors review the run logs and the audit trail. The JSON API under
/api offers the same functions to machine clients (bearer tokens), documented at /api/docs."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field
from sqlalchemy import and_, func, select
from starlette.middleware.sessions import SessionMiddleware

from robots import audit
from robots.console import auth
from robots.console.auth import Principal, can
from robots.console.paging import keyset_page
from robots.db import Database
from robots.labels import OUTCOME, action_name, outcome_name, role_name, status_name
from robots.masking import mask, mask_text
from robots.models import (
    Artifact,
    AuditEvent,
    ItemStatus,
    Role,
    Run,
    RunEvent,
    Schedule,
    User,
    Worker,
    WorkItem,
    utcnow,
)
from robots.queue import (
    PRIORITY_MAX,
    PRIORITY_MIN,
    InvalidTransition,
    ItemNotFound,
    Queue,
)
from robots.settings import Settings
from robots.tasks import InvalidPayload, Task, UnknownTask, discover, may_start

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
TEMPLATES.env.filters["status"] = status_name
TEMPLATES.env.filters["utfall"] = outcome_name
TEMPLATES.env.filters["handling"] = action_name
TEMPLATES.env.filters["rolle"] = role_name
TEMPLATES.env.filters["mask"] = lambda v: mask_text(str(v)) if v is not None else ""
# Numbers as Norwegian writes them: thousands grouped by a (no-break) space.
TEMPLATES.env.filters["tall"] = lambda n: f"{n:,}".replace(",", "\u00a0")
HOME = {
    Role.CASEWORKER: "/mine",
    Role.OPERATOR: "/drift",
    Role.AUDITOR: "/revisjon",
    Role.ADMIN: "/drift",
}


# A row id in a path: bounded to what both databases can hold (a larger number is a 422).
RowId = Annotated[int, PathParam(ge=1, le=2**62)]
Cursor = Annotated[int | None, Query(ge=1, le=2**62)]  # keyset paging: ids below this

WORKER_STATES = {
    "idle": "ledig",
    "busy": "opptatt",
    "stopping": "stopper",
    "stopped": "stoppet",
    "dead": "borte (hjerteslaget uteble)",
}


class SubmitBody(BaseModel):
    """An item to submit through the API."""

    task: str = Field(max_length=100)
    reference: str = Field(min_length=1, max_length=200)
    payload: dict[str, Any] = {}
    priority: int = Field(0, ge=PRIORITY_MIN, le=PRIORITY_MAX)


@dataclass(frozen=True)
class RunFilter:
    """The auditor's run-log search, shared by the search page, the CSV export and the API
    (FastAPI reads the fields from the query string)."""

    task: str = ""
    outcome: str = ""
    reference: str = ""
    actor: str = ""
    fra: str = ""
    til: str = ""


class NotLoggedIn(Exception):
    pass


class Forbidden(Exception):
    pass


def create_app(settings: Settings, db: Database | None = None) -> FastAPI:
    db = db or Database(settings.effective_database_url, settings)
    registry = discover(settings.task_packages)
    queue = Queue(db, settings, registry)
    app = FastAPI(
        title="RPA-konsollen", docs_url="/api/docs", openapi_url="/api/openapi.json", redoc_url=None
    )
    secret = settings.secret_key.get_secret_value() or _local_secret(settings)
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie="rpa_konsoll",
        max_age=8 * 3600,
        same_site="strict",
        https_only=settings.console_secure_cookie,
    )
    zone = settings.zone

    def local(ts: datetime | None) -> str:
        return ts.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"

    TEMPLATES.env.filters["local"] = local

    # Who is asking ---------------------------------------------------------------------------

    def principal(request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        with db.session() as session:
            if header.lower().startswith("bearer "):
                user = auth.token_user(session, header[7:].strip())
                if user is None:
                    raise HTTPException(401, "Ugyldig API-nøkkel")
                return Principal(user.id, user.username, user.role, via_token=True)
            user_id = request.session.get("user_id")
            user = session.get(User, user_id) if user_id else None
        if user is None:
            raise NotLoggedIn()
        unsafe_api = request.method not in ("GET", "HEAD") and request.url.path.startswith("/api/")
        if unsafe_api and not auth.csrf_ok(request.session, request.headers.get("x-csrf-token")):
            raise HTTPException(403, "Mangler eller ugyldig CSRF-nøkkel")
        return Principal(user.id, user.username, user.role)

    def require(who: Principal, permission: str) -> None:
        if not can(who.role, permission):
            raise Forbidden()

    def require_start(who: Principal, task: Task) -> None:
        """Starting a task by hand: the task (or the municipality's task_roles) names who may."""
        if not may_start(who.role, task, settings.task_roles):
            raise Forbidden()

    async def form_with_csrf(request: Request) -> dict[str, Any]:
        form = await request.form()
        if not auth.csrf_ok(request.session, str(form.get("csrf", ""))):
            raise HTTPException(403, "Skjemaet er utløpt eller ugyldig (CSRF). Last siden på nytt.")
        return dict(form)

    @app.exception_handler(NotLoggedIn)
    def to_login(request: Request, exc: NotLoggedIn) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": "Innlogging kreves"}, status_code=401)
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(Forbidden)
    def forbidden(request: Request, exc: Forbidden) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": "Ingen tilgang for din rolle"}, status_code=403)
        return HTMLResponse(
            "<h1>Ingen tilgang</h1><p>Din rolle gir ikke tilgang til dette.</p>", status_code=403
        )

    def page(
        request: Request, template: str, who: Principal | None, **context: Any
    ) -> HTMLResponse:
        return TEMPLATES.TemplateResponse(
            request,
            template,
            {
                "who": who,
                "can": (lambda p: who is not None and can(who.role, p)),
                "csrf": auth.csrf_token(request.session),
                **context,
            },
        )

    # Login -----------------------------------------------------------------------------------

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_page(request: Request) -> HTMLResponse:
        return page(request, "login.html", None, error="")

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        form = await form_with_csrf(request)
        error = ""
        with db.session() as session:  # a refusal is committed too: the back-off counts it
            try:
                user = auth.authenticate(
                    session, str(form.get("username", "")), str(form.get("password", ""))
                )
                role, user_id = user.role, user.id
            except auth.LoginRefused as exc:
                error = str(exc)
        if error:
            response = page(request, "login.html", None, error=error)
            response.status_code = 401
            return response
        request.session.clear()
        request.session["user_id"] = user_id
        auth.csrf_token(request.session)
        return RedirectResponse(HOME[role], status_code=303)

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        await form_with_csrf(request)
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    @app.get("/", include_in_schema=False)
    def home(who: Principal = Depends(principal)) -> Response:
        return RedirectResponse(HOME[who.role], status_code=303)

    # Items -----------------------------------------------------------------------------------

    def own(who: Principal) -> Any:
        return WorkItem.submitted_by.in_([f"web:{who.username}", f"api:{who.username}"])

    def visible_item(session: Any, who: Principal, item_id: int) -> WorkItem:
        item = session.get(WorkItem, item_id)
        if item is None:
            raise HTTPException(404, "Fant ikke elementet")
        sees_all = can(who.role, "all_items") or can(who.role, "all_items_read")
        mine = item.submitted_by in (f"web:{who.username}", f"api:{who.username}")
        if not sees_all and not (can(who.role, "own_items") and mine):
            raise HTTPException(404, "Fant ikke elementet")
        return item

    def item_json(item: WorkItem) -> dict[str, Any]:
        return {
            "id": item.id,
            "task": item.task,
            "reference": mask_text(item.reference),
            "status": item.status,
            "status_text": status_name(item.status),
            "attempts": item.attempts,
            "priority": item.priority,
            "error_kind": item.error_kind,
            "error": mask_text(item.error_message or ""),
            "submitted_by": item.submitted_by,
            "created_at": item.created_at.isoformat(),
            "finished_at": item.finished_at.isoformat() if item.finished_at else None,
            # For display: in the installation's time zone, as the page renders it.
            "created_local": local(item.created_at),
            "finished_local": local(item.finished_at),
            "payload": mask(item.payload),
            "result": mask(item.result),
        }

    def items_query(who: Principal, status: str = "", task: str = "", text: str = "") -> Any:
        """The items this person may see, filtered (reference: a part of it, any case)."""
        query = select(WorkItem)
        if not (can(who.role, "all_items") or can(who.role, "all_items_read")):
            require(who, "own_items")
            query = query.where(own(who))
        if status:
            query = query.where(WorkItem.status == status)
        if task:
            query = query.where(WorkItem.task == task)
        if text:
            query = query.where(WorkItem.reference.ilike(f"%{_like(text)}%", escape="\\"))
        return query

    def list_items(
        who: Principal, status: str = "", task: str = "", limit: int = 100, under: int | None = None
    ) -> list[WorkItem]:
        query = items_query(who, status, task).order_by(WorkItem.id.desc()).limit(limit)
        if under is not None:
            query = query.where(WorkItem.id < under)
        with db.session() as session:
            return list(session.scalars(query))

    @app.get("/mine", response_class=HTMLResponse, include_in_schema=False)
    def my_items(
        request: Request,
        who: Principal = Depends(principal),
        q: str = Query("", max_length=200),
        status: str = Query("", max_length=20),
        under: Cursor = None,
    ) -> HTMLResponse:
        require(who, "own_items")
        with db.session() as session:
            found = keyset_page(session, items_query(who, status, "", q), WorkItem.id, under)
        return page(
            request,
            "mine.html",
            who,
            items=found.rows,
            found=found,
            params={"q": q, "status": status},
            statuses=ItemStatus.ALL,
            tasks=sorted(
                (t for t in registry.values() if may_start(who.role, t, settings.task_roles)),
                key=lambda t: t.name,
            ),
        )

    @app.get("/ny/{task_name}", response_class=HTMLResponse, include_in_schema=False)
    def submit_form(
        request: Request, task_name: str, who: Principal = Depends(principal)
    ) -> HTMLResponse:
        require(who, "submit")
        task = _task(registry, task_name)
        require_start(who, task)
        return page(
            request,
            "form.html",
            who,
            task=task,
            fields=_fields(task),
            values={},
            errors={},
            reference="",
        )

    @app.post("/ny/{task_name}", include_in_schema=False)
    async def submit_post(
        request: Request, task_name: str, who: Principal = Depends(principal)
    ) -> Response:
        require(who, "submit")
        task = _task(registry, task_name)
        require_start(who, task)
        form = await form_with_csrf(request)
        reference = str(form.pop("reference", "")).strip()
        form.pop("csrf", None)
        upload = form.pop("fil", None)
        values = {k: v for k, v in form.items() if isinstance(v, str) and v != ""}
        errors: dict[str, str] = {}
        if upload is not None and getattr(upload, "filename", ""):
            content = await upload.read()
            values.update(_store_upload(settings, upload.filename, content))
            reference = reference or f"fil:{values['sha256'][:32]}"
        if not reference:
            errors["reference"] = "Referanse må fylles ut"
        try:
            if not errors:
                submitted = queue.submit(task.name, reference, values, submitted_by=who.actor)
                return RedirectResponse(f"/elementer/{submitted.item.id}", status_code=303)
        except InvalidPayload as exc:
            errors.update(dict(exc.errors))
        except ValueError as exc:
            errors["reference"] = str(exc)
        response = page(
            request,
            "form.html",
            who,
            task=task,
            fields=_fields(task),
            values=values,
            errors=errors,
            reference=reference,
        )
        response.status_code = 400
        return response

    @app.get("/elementer/{item_id}", response_class=HTMLResponse, include_in_schema=False)
    def item_page(
        request: Request, item_id: RowId, who: Principal = Depends(principal)
    ) -> HTMLResponse:
        with db.session() as session:
            item = visible_item(session, who, item_id)
            runs = list(item.runs)
        return page(
            request,
            "item.html",
            who,
            item=item,
            runs=runs,
            payload=json.dumps(mask(item.payload), ensure_ascii=False, indent=1),
            may_retry=_may_retry(who, item),
            may_cancel=can(who.role, "cancel")
            and item.status in (ItemStatus.PENDING, ItemStatus.RUNNING),
        )

    def _may_retry(who: Principal, item: WorkItem) -> bool:
        retryable = item.status in (
            ItemStatus.FAILED,
            ItemStatus.BUSINESS_ERROR,
            ItemStatus.CANCELLED,
        )
        return retryable and (can(who.role, "retry") or can(who.role, "retry_own"))

    @app.post("/elementer/{item_id}/{action}", include_in_schema=False)
    async def item_action(
        request: Request, item_id: RowId, action: str, who: Principal = Depends(principal)
    ) -> Response:
        await form_with_csrf(request)
        _act(who, item_id, action)
        return RedirectResponse(f"/elementer/{item_id}", status_code=303)

    def _act(who: Principal, item_id: int, action: str) -> WorkItem:
        with db.session() as session:
            item = visible_item(session, who, item_id)
        if action == "retry":
            if not (can(who.role, "retry") or can(who.role, "retry_own")):
                raise Forbidden()
            return _transition(lambda: queue.retry(item.id, who.actor))
        if action == "cancel":
            require(who, "cancel")
            return _transition(lambda: queue.cancel(item.id, who.actor))
        raise HTTPException(404, "Ukjent handling")

    # Operator --------------------------------------------------------------------------------

    def dashboard_data() -> dict[str, Any]:
        since = utcnow() - timedelta(hours=24)
        with db.session() as session:
            depth = dict(
                session.execute(
                    select(WorkItem.task, func.count())
                    .where(WorkItem.status == ItemStatus.PENDING)
                    .group_by(WorkItem.task)
                ).all()
            )
            by_status = dict(
                session.execute(
                    select(WorkItem.status, func.count()).group_by(WorkItem.status)
                ).all()
            )
            outcomes = dict(
                session.execute(
                    select(Run.outcome, func.count())
                    .where(Run.started_at >= since)
                    .group_by(Run.outcome)
                ).all()
            )
            workers = [
                {
                    "id": w.id,
                    "host": w.host,
                    "pid": w.pid,
                    "status": WORKER_STATES.get(w.status, w.status),
                    "heartbeat": local(w.heartbeat_at),
                    "item": w.current_item_id,
                    "online": w.status not in ("stopped", "dead")
                    and (utcnow() - w.heartbeat_at).total_seconds()
                    < 3 * settings.heartbeat_seconds,
                }
                for w in session.scalars(
                    select(Worker).order_by(Worker.started_at.desc()).limit(50)
                )
            ]
        done = sum(v for k, v in outcomes.items() if k)
        failed = sum(v for k, v in outcomes.items() if k in ("system_error", "abandoned"))
        return {
            "queue_depth": depth,
            "items_by_status": by_status,
            "runs_24h": done,
            "failure_rate_24h": round(failed / done, 3) if done else 0.0,
            "outcomes_24h": {k or "pågår": v for k, v in outcomes.items()},
            "workers": workers,
            "limits": settings.system_limits,
            "pauses": [{"kind": p.kind, "name": p.name, "by": p.paused_by} for p in queue.paused()],
        }

    @app.get("/drift", response_class=HTMLResponse, include_in_schema=False)
    def operations(request: Request, who: Principal = Depends(principal)) -> HTMLResponse:
        require(who, "dashboard")
        systems = sorted({s for t in registry.values() for s in t.systems})
        return page(
            request,
            "drift.html",
            who,
            d=dashboard_data(),
            tasks=sorted(registry),
            systems=systems,
            items=list_items(who, limit=30),
        )

    def check_pausable(kind: str, name: str) -> None:
        """Only a known task or system can be paused (a typo must not look like a pause)."""
        known = registry if kind == "task" else {s for t in registry.values() for s in t.systems}
        if kind not in ("task", "system"):
            raise HTTPException(422, "Bare en oppgave (task) eller et system kan settes på pause")
        if name not in known:
            what = "oppgave" if kind == "task" else "system"
            raise HTTPException(404, f"Ukjent {what} {name!r}")

    @app.post("/pause", include_in_schema=False)
    async def pause(request: Request, who: Principal = Depends(principal)) -> Response:
        require(who, "pause")
        form = await form_with_csrf(request)
        kind, name = str(form.get("kind")), str(form.get("name"))
        check_pausable(kind, name)
        if form.get("resume"):
            queue.resume(kind, name, who.actor)
        else:
            queue.pause(kind, name, who.actor)
        return RedirectResponse("/drift", status_code=303)

    def schedules_data() -> list[dict[str, Any]]:
        from robots.scheduler import ScheduleError, next_fire_times

        with db.session() as session:
            rows = list(session.scalars(select(Schedule).order_by(Schedule.name)))
        result = []
        for s in rows:
            try:
                upcoming = [local(t) for t in next_fire_times(s, settings)] if s.enabled else []
            except ScheduleError as exc:
                upcoming = [str(exc)]
            result.append(
                {
                    "name": s.name,
                    "task": s.task,
                    "trigger": f"{s.trigger} {s.spec}",
                    "enabled": s.enabled,
                    "working_days_only": s.working_days_only,
                    "source": s.source,
                    "next": upcoming,
                }
            )
        return result

    @app.get("/tidsplaner", response_class=HTMLResponse, include_in_schema=False)
    def schedules(request: Request, who: Principal = Depends(principal)) -> HTMLResponse:
        require(who, "schedules")
        return page(request, "schedules.html", who, schedules=schedules_data())

    @app.post("/tidsplaner/{name}/{action}", include_in_schema=False)
    async def schedule_action(
        request: Request, name: str, action: str, who: Principal = Depends(principal)
    ) -> Response:
        require(who, "schedules")
        await form_with_csrf(request)
        _schedule_action(who, name, action)
        return RedirectResponse("/tidsplaner", status_code=303)

    def _schedule_action(who: Principal, name: str, action: str) -> dict[str, Any]:
        with db.session() as session:
            schedule = session.scalars(select(Schedule).where(Schedule.name == name)).first()
            if schedule is None:
                raise HTTPException(404, "Fant ikke tidsplanen")
            if action in ("aktiver", "deaktiver"):
                schedule.enabled = action == "aktiver"
                schedule.updated_at = utcnow()
                audit.record(
                    session,
                    who.actor,
                    "schedule_change",
                    f"schedule:{name}",
                    {"enabled": schedule.enabled},
                )
                return {"name": name, "enabled": schedule.enabled}
            if action == "kjor":
                task, payload, priority = schedule.task, schedule.payload, schedule.priority
            else:
                raise HTTPException(404, "Ukjent handling")
        stamp = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
        submitted = queue.submit(
            task, f"{name}@manuell-{stamp}", payload, priority=priority, submitted_by=who.actor
        )
        return {"name": name, "item": submitted.item.id}

    # Auditor ---------------------------------------------------------------------------------

    def search_runs(
        f: RunFilter, limit: int = 200, under: int | None = None
    ) -> list[tuple[Run, WorkItem]]:
        query = runs_query(f).order_by(Run.id.desc()).limit(limit)
        if under is not None:
            query = query.where(Run.id < under)
        with db.session() as session:
            return [(run, item) for run, item in session.execute(query)]

    def runs_query(f: RunFilter) -> Any:
        """Runs with their items as the filter says (no order, no limit; newest is the highest
        id, as runs are numbered when they start)."""
        query = select(Run, WorkItem).join(WorkItem, WorkItem.id == Run.item_id)
        filters = []
        if f.task:
            filters.append(WorkItem.task == f.task)
        if f.outcome:
            filters.append(Run.outcome == f.outcome)
        if f.reference:
            filters.append(WorkItem.reference == f.reference)
        if f.actor:
            filters.append(WorkItem.submitted_by == f.actor)
        if f.fra:
            filters.append(Run.started_at >= _day(f.fra, zone))
        if f.til:
            filters.append(Run.started_at < _day(f.til, zone) + timedelta(days=1))
        if filters:
            query = query.where(and_(*filters))
        return query

    @app.get("/revisjon", response_class=HTMLResponse, include_in_schema=False)
    def audit_search(
        request: Request,
        f: RunFilter = Depends(),
        who: Principal = Depends(principal),
        under: Cursor = None,
    ) -> HTMLResponse:
        require(who, "runs")
        with db.session() as session:
            found = keyset_page(session, runs_query(f), Run.id, under, scalars=False)
        return page(
            request,
            "revisjon.html",
            who,
            rows=found.rows,
            found=found,
            params=asdict(f),
            q=asdict(f),
            tasks=sorted(registry),
            outcomes=list(OUTCOME),
        )

    @app.get("/kjoringer/{run_id}", response_class=HTMLResponse, include_in_schema=False)
    def run_page(
        request: Request, run_id: RowId, who: Principal = Depends(principal)
    ) -> HTMLResponse:
        require(who, "runs")
        with db.session() as session:
            run = session.get(Run, run_id)
            if run is None:
                raise HTTPException(404, "Fant ikke kjøringen")
            events, artifacts, item = list(run.events), list(run.artifacts), run.item
        audit_view(who, f"run:{run_id}")
        return page(
            request, "run.html", who, run=run, events=events, artifacts=artifacts, item=item
        )

    @app.get("/artefakter/{artifact_id}", include_in_schema=False)
    def artifact(artifact_id: RowId, who: Principal = Depends(principal)) -> FileResponse:
        require(who, "runs")
        with db.session() as session:
            row = session.get(Artifact, artifact_id)
        if row is None or not Path(row.path).exists():
            raise HTTPException(404, "Fant ikke filen")
        audit_view(who, f"artifact:{artifact_id}")
        return FileResponse(row.path, filename=Path(row.path).name)

    @app.get("/kjoringer/{run_id}/rapport", response_class=HTMLResponse, include_in_schema=False)
    def run_report(run_id: RowId, who: Principal = Depends(principal)) -> HTMLResponse:
        require(who, "runs")
        from robots.report import render

        with db.session() as session:
            try:
                html = render(session, run_id, settings)
            except ItemNotFound as exc:
                raise HTTPException(404, str(exc)) from None
        audit_view(who, f"report:{run_id}")
        return HTMLResponse(html)

    def audit_view(who: Principal, target: str) -> None:
        with db.session() as session:
            audit.record(session, who.actor, "view", target)

    @app.get("/revisjonsspor", response_class=HTMLResponse, include_in_schema=False)
    def audit_trail(
        request: Request,
        who: Principal = Depends(principal),
        actor: str = Query("", max_length=120),
        action: str = Query("", max_length=40),
        target: str = Query("", max_length=200),
        fra: str = Query("", max_length=10),
        til: str = Query("", max_length=10),
        under: Cursor = None,
        melding: str = Query("", max_length=200),
    ) -> HTMLResponse:
        """The trail, newest first, filtered (actor and target: a part of them), a page at a
        time; the chain is verified from the last checkpoint on (the new events only)."""
        require(who, "audit")
        query = select(AuditEvent)
        if actor:
            query = query.where(AuditEvent.actor.ilike(f"%{_like(actor)}%", escape="\\"))
        if action:
            query = query.where(AuditEvent.action == action)
        if target:
            query = query.where(AuditEvent.target.ilike(f"%{_like(target)}%", escape="\\"))
        if fra:
            query = query.where(AuditEvent.ts >= _day(fra, zone))
        if til:
            query = query.where(AuditEvent.ts < _day(til, zone) + timedelta(days=1))
        with db.session() as session:
            found = keyset_page(session, query, AuditEvent.id, under)
            actions = sorted(session.scalars(select(AuditEvent.action).distinct()))
            check = audit.verify(session, full=False)
        params = {"actor": actor, "action": action, "target": target, "fra": fra, "til": til}
        return page(
            request,
            "audit.html",
            who,
            events=found.rows,
            found=found,
            params=params,
            actions=actions,
            check=check,
            message=melding,
        )

    @app.post("/revisjonsspor/kontroller", include_in_schema=False)
    async def audit_verify_all(request: Request, who: Principal = Depends(principal)) -> Response:
        """The full verification from the first event, on request (audited)."""
        require(who, "audit")
        await form_with_csrf(request)
        with db.session() as session:
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
            else f"Kjeden er brutt ved hendelse {check.first_broken_id}: {check.reason}"
        )
        return RedirectResponse(f"/revisjonsspor?{urlencode({'melding': text})}", status_code=303)

    @app.get("/revisjon/eksport.csv", include_in_schema=False)
    def export(f: RunFilter = Depends(), who: Principal = Depends(principal)) -> StreamingResponse:
        """Every matching run, streamed (no cap), masked; a UTF-8 BOM first so that Excel
        reads æøå. The export is audited with its filter and its true row count."""
        require(who, "export")
        query = runs_query(f)
        with db.session() as session:
            total = session.scalar(select(func.count()).select_from(query.subquery()))
            audit.record(session, who.actor, "export", "runs", {"filter": asdict(f), "rows": total})
        return StreamingResponse(
            _csv_rows(query),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": "attachment; filename=kjoringer.csv"},
        )

    def _csv_rows(query: Any) -> Iterator[str]:
        yield "\ufeff" + _csv_line(EXPORT_HEADER)
        with db.session() as session:
            newest_first = query.order_by(Run.id.desc()).execution_options(yield_per=500)
            for run, item in session.execute(newest_first):
                yield _csv_line(
                    [
                        run.id,
                        item.id,
                        item.task,
                        mask_text(item.reference),
                        run.attempt,
                        local(run.started_at),
                        local(run.ended_at),
                        run.outcome or "",
                        mask_text(run.error_message or ""),
                        item.submitted_by,
                    ]
                )

    # JSON API --------------------------------------------------------------------------------

    @app.get("/api/items", tags=["elementer"])
    def api_items(
        response: Response,
        status: str = "",
        task: str = "",
        q: str = Query("", max_length=200),
        limit: int = Query(100, ge=1, le=1000),
        under: Cursor = None,
        who: Principal = Depends(principal),
    ) -> list[dict[str, Any]]:
        """Items newest first, `limit` at a time; the true total is in X-Total-Count and the
        next page in a Link header (rel="next", keyset cursor `under`)."""
        with db.session() as session:
            found = keyset_page(
                session, items_query(who, status, task, q), WorkItem.id, under, limit
            )
        response.headers["X-Total-Count"] = str(found.total)
        if found.next_before is not None:
            params = {"status": status, "task": task, "q": q, "limit": limit}
            response.headers["Link"] = (
                f'</api/items{found.link(params, found.next_before)}>; rel="next"'
            )
        return [item_json(i) for i in found.rows]

    @app.post("/api/items", tags=["elementer"], status_code=201)
    def api_submit(body: SubmitBody, who: Principal = Depends(principal)) -> JSONResponse:
        if body.priority > 0:
            require(who, "prioritise")  # jumping the queue is an operator's decision
        if body.task in registry:
            require_start(who, registry[body.task])
        elif not can(who.role, "submit"):
            raise Forbidden()
        try:
            submitted = queue.submit(
                body.task,
                body.reference,
                body.payload,
                priority=body.priority,
                submitted_by=who.actor,
            )
        except UnknownTask as exc:
            return JSONResponse({"detail": str(exc)}, status_code=404)
        except InvalidPayload as exc:
            return JSONResponse(
                {"detail": "Ugyldige inndata", "errors": dict(exc.errors)}, status_code=422
            )
        except ValueError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=422)
        return JSONResponse(
            {**item_json(submitted.item), "created": submitted.created},
            status_code=201 if submitted.created else 200,
        )

    @app.get("/api/items/{item_id}", tags=["elementer"])
    def api_item(item_id: RowId, who: Principal = Depends(principal)) -> dict[str, Any]:
        with db.session() as session:
            return item_json(visible_item(session, who, item_id))

    @app.post("/api/items/{item_id}/{action}", tags=["elementer"])
    def api_item_action(
        item_id: RowId, action: str, who: Principal = Depends(principal)
    ) -> dict[str, Any]:
        return item_json(_act(who, item_id, action))

    @app.get("/api/dashboard", tags=["drift"])
    def api_dashboard(who: Principal = Depends(principal)) -> dict[str, Any]:
        require(who, "dashboard")
        return dashboard_data()

    @app.get("/api/schedules", tags=["drift"])
    def api_schedules(who: Principal = Depends(principal)) -> list[dict[str, Any]]:
        require(who, "schedules")
        return schedules_data()

    @app.post("/api/schedules/{name}/{action}", tags=["drift"])
    def api_schedule_action(
        name: str, action: str, who: Principal = Depends(principal)
    ) -> dict[str, Any]:
        require(who, "schedules")
        return _schedule_action(who, name, action)

    @app.post("/api/pauses/{kind}/{name}", tags=["drift"])
    def api_pause(kind: str, name: str, who: Principal = Depends(principal)) -> dict[str, str]:
        require(who, "pause")
        check_pausable(kind, name)
        queue.pause(kind, name, who.actor)
        return {"paused": f"{kind}:{name}"}

    @app.delete("/api/pauses/{kind}/{name}", tags=["drift"])
    def api_resume(kind: str, name: str, who: Principal = Depends(principal)) -> dict[str, str]:
        require(who, "pause")
        check_pausable(kind, name)
        queue.resume(kind, name, who.actor)
        return {"resumed": f"{kind}:{name}"}

    @app.get("/api/runs", tags=["revisjon"])
    def api_runs(
        f: RunFilter = Depends(),
        limit: int = Query(200, ge=1, le=1000),
        who: Principal = Depends(principal),
    ) -> list[dict[str, Any]]:
        require(who, "runs")
        return [
            {
                "run": r.id,
                "item": i.id,
                "task": i.task,
                "reference": mask_text(i.reference),
                "attempt": r.attempt,
                "started_at": r.started_at.isoformat(),
                "ended_at": r.ended_at.isoformat() if r.ended_at else None,
                "outcome": r.outcome,
                "error": mask_text(r.error_message or ""),
                "submitted_by": i.submitted_by,
            }
            for r, i in search_runs(f, limit)
        ]

    @app.get("/api/runs/{run_id}/events", tags=["revisjon"])
    def api_run_events(run_id: RowId, who: Principal = Depends(principal)) -> list[dict[str, Any]]:
        require(who, "runs")
        with db.session() as session:
            events = session.scalars(
                select(RunEvent).where(RunEvent.run_id == run_id).order_by(RunEvent.seq)
            ).all()
        return [
            {
                "seq": e.seq,
                "ts": e.ts.isoformat(),
                "level": e.level,
                "step": e.step,
                "message": mask_text(e.message),
                "duration_ms": e.duration_ms,
            }
            for e in events
        ]

    @app.get("/api/audit", tags=["revisjon"])
    def api_audit(
        actor: str = "",
        action: str = "",
        limit: int = Query(200, ge=1, le=1000),
        who: Principal = Depends(principal),
    ) -> list[dict[str, Any]]:
        require(who, "audit")
        query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(min(limit, 1000))
        if actor:
            query = query.where(AuditEvent.actor == actor)
        if action:
            query = query.where(AuditEvent.action == action)
        with db.session() as session:
            return [
                {
                    "id": e.id,
                    "ts": e.ts.isoformat(),
                    "actor": e.actor,
                    "action": e.action,
                    "target": e.target,
                    "details": mask(e.details),
                    "hash": e.hash,
                }
                for e in session.scalars(query)
            ]

    @app.get("/api/audit/verify", tags=["revisjon"])
    def api_audit_verify(who: Principal = Depends(principal)) -> dict[str, Any]:
        require(who, "audit")
        with db.session() as session:
            check = audit.verify(session)
        return {
            "intact": check.intact,
            "checked": check.checked,
            "first_broken_id": check.first_broken_id,
            "reason": check.reason,
            "anchored_from": check.anchored_from,
        }

    @app.get("/api/tasks", tags=["elementer"])
    def api_tasks(who: Principal = Depends(principal)) -> list[dict[str, Any]]:
        return [
            {
                "name": t.name,
                "description": t.description,
                "systems": list(t.systems),
                "input_schema": t.input_model.model_json_schema(),
            }
            for t in registry.values()
        ]

    return app


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


def _csv_line(values: list[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";").writerow(values)
    return buffer.getvalue()


def _like(text: str) -> str:
    """Text for a LIKE pattern, its wildcards taken literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _task(registry: dict[str, Task], name: str) -> Task:
    if name not in registry:
        raise HTTPException(404, f"Ukjent oppgave {name!r}")
    return registry[name]


def _fields(task: Task) -> list[dict[str, Any]]:
    """Form fields generated from the task's input model."""
    fields = []
    for name, info in task.input_model.model_fields.items():
        annotation = str(info.annotation)
        kind = (
            "number"
            if "int" in annotation or "float" in annotation
            else "date"
            if "date" in annotation
            else "text"
        )
        choices = list(getattr(info.annotation, "__args__", ())) if "Literal" in annotation else []
        fields.append(
            {
                "name": name,
                "label": info.description or name,
                "kind": kind,
                "required": info.is_required(),
                "choices": [str(c) for c in choices],
                "default": "" if info.is_required() or info.default is None else str(info.default),
            }
        )
    return fields


def _store_upload(settings: Settings, filename: str, content: bytes) -> dict[str, str]:
    """An attached file goes into the archive inbox under a name of its own: a prefix from its
    checksum, then the user's file name made safe. Two uploads with the same name can never
    replace each other, and a name like `..` or `/etc/x` cannot leave the inbox."""
    digest = hashlib.sha256(content).hexdigest()
    inbox = settings.data_path / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    base = re.sub(r"[^\w.\-æøåÆØÅ ]", "_", Path(filename.replace("\\", "/")).name).strip(". ")
    name = f"u{digest[:16]}-{base[:150] or 'vedlegg'}"
    path = inbox / name
    try:
        with path.open("xb") as handle:  # never overwrite
            handle.write(content)
    except FileExistsError:
        if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise HTTPException(409, "En annen fil med samme navn venter allerede") from None
    return {"filnavn": name, "sha256": digest}


def _transition(action: Any) -> WorkItem:
    try:
        return action()
    except InvalidTransition as exc:
        raise HTTPException(409, str(exc)) from None
    except ItemNotFound as exc:
        raise HTTPException(404, str(exc)) from None


def _day(value: str, zone: Any) -> datetime:
    try:
        return datetime.fromisoformat(value).replace(tzinfo=zone).astimezone(UTC)
    except ValueError:
        raise HTTPException(422, f"{value!r} er ikke en dato (ÅÅÅÅ-MM-DD)") from None


def _local_secret(settings: Settings) -> str:
    """A per-installation session key kept in the data directory (mode 0600) when none is set."""
    path = settings.data_path / "console-secret"
    if not path.exists():
        import secrets

        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()
