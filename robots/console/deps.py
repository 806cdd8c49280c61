"""What every console route depends on: the application, who is asking (session cookie or API
token), what their role allows, CSRF on forms, and the page renderer.

Routes declare these as FastAPI dependencies (`who: Principal = Depends(principal)`,
`Depends(permission("runs"))`), so each router module stands alone and can be tested alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from robots.app import RpaApp
from robots.console import auth, sessions
from robots.console.auth import Principal, can
from robots.labels import (
    action_name,
    actor_name,
    artifact_name,
    outcome_name,
    role_name,
    status_name,
    system_state_name,
    target_name,
    value_text,
)
from robots.models import Role
from robots.paging import At
from robots.tasks import Task, may_start

TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
HOME: dict[str, str] = {
    Role.CASEWORKER: "/mine",
    Role.OPERATOR: "/drift",
    Role.AUDITOR: "/revisjon",
    Role.LEADER: "/sykefravaer",
    Role.ADMIN: "/drift",
}

# A row id in a path: bounded to what both databases can hold (a larger number is a 422).
RowId = Annotated[int, PathParam(ge=1, le=2**62)]
Cursor = Annotated[int | None, Query(ge=1, le=2**62)]  # keyset paging: ids below this


def page_at(under: Cursor = None, over: Cursor = None, siste: bool = False) -> At:
    """Which page of a list the query string asks for (robots.paging)."""
    return At(before=under, after=over, last=siste)


class NotLoggedIn(Exception):
    """No session and no token: a page goes to the login, the API answers 401."""


class Forbidden(Exception):
    """The role does not allow this: a page says so, the API answers 403."""


@dataclass
class Console:
    """One console: the application it serves and its own templates (filters per instance, so
    two consoles in one process never share a time zone or a setting)."""

    rpa: RpaApp
    templates: Jinja2Templates
    state: dict[str, Any] = field(default_factory=dict)  # e.g. the SSO client, made on first use

    @classmethod
    def for_app(cls, rpa: RpaApp) -> Console:
        templates = Jinja2Templates(directory=TEMPLATE_DIR)
        filters = templates.env.filters
        filters["status"] = status_name
        filters["utfall"] = outcome_name
        filters["handling"] = action_name
        filters["systemtilstand"] = system_state_name
        filters["rolle"] = role_name
        filters["local"] = rpa.views.local
        filters["tall"] = number
        filters["niva"] = level_name
        filters["varighet"] = duration
        filters["maal"] = target_link
        filters["person"] = actor_name
        filters["maalnavn"] = target_name
        filters["verdi"] = value_text
        filters["vedlegg"] = artifact_name
        return cls(rpa, templates)

    def task(self, name: str) -> Task:
        if name not in self.rpa.registry:
            raise HTTPException(404, f"Ukjent oppgave {name!r}")
        return self.rpa.registry[name]

    def may_start(self, who: Principal, task: Task) -> bool:
        return may_start(who.role, task, self.rpa.settings.task_roles)

    def require_start(self, who: Principal, task: Task) -> None:
        """Starting a task by hand: the task (or the municipality's task_roles) names who may."""
        if not self.may_start(who, task):
            raise Forbidden()

    def startable(self, who: Principal) -> list[Task]:
        return sorted(
            (t for t in self.rpa.registry.values() if self.may_start(who, t)),
            key=lambda t: t.name,
        )

    def page(
        self, request: Request, template: str, who: Principal | None, **context: Any
    ) -> HTMLResponse:
        return self.templates.TemplateResponse(
            request,
            template,
            {
                "who": who,
                "can": (lambda p: who is not None and can(who.role, p)),
                "csrf": auth.csrf_token(request.session),
                "notice": request.session.pop("melding", None),
                **context,
            },
        )


def number(value: float | int | None, decimals: int = 0) -> str:
    """A number as Norwegian writes it: thousands grouped by a no-break space, decimal comma."""
    if value is None:
        return "–"
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\u00a0").replace(".", ",")


def duration(seconds: float | None) -> str:
    """A duration in words a caseworker reads at a glance (1,2 s; 3 min 5 s; 2 t 10 min; two
    days and more in days: "90 d", not "2159 t")."""
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{number(seconds, 1)} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    if hours >= 48:
        return f"{hours // 24} d"
    return f"{hours} t {minutes} min"


TARGETS = {
    "item": "/elementer/{}",
    "run": "/kjoringer/{}",
    "report": "/kjoringer/{}",
    "artifact": "/artefakter/{}",
    "schedule": "/tidsplaner",
    "user": "/admin/brukere",
}


def target_link(target: str) -> str:
    """Where an audit event's target can be looked at ("item:12" is /elementer/12), or ""."""
    kind, _, ident = target.partition(":")
    pattern = TARGETS.get(kind)
    if pattern is None or not ident or ("{}" in pattern and not ident.isdigit()):
        return ""
    return pattern.format(ident)


LEVELS = {"DEBUG": "feilsøking", "INFO": "info", "WARNING": "advarsel", "ERROR": "feil"}


def level_name(level: str) -> str:
    return LEVELS.get(level, level)


def flash(request: Request, text: str) -> None:
    """A notice for the next page this person sees ("Element 12 er lagt i kø på nytt")."""
    request.session["melding"] = text


def console(request: Request) -> Console:
    found: Console = request.app.state.console  # set by create_app
    return found


def principal(request: Request, c: Console = Depends(console)) -> Principal:
    """Who is asking: a bearer token's user, or the session's. An unsafe API call made with the
    cookie must carry the CSRF token in X-CSRF-Token."""
    header = request.headers.get("authorization", "")
    with c.rpa.db.session() as session:
        if header.lower().startswith("bearer "):
            user = auth.token_user(session, header[7:].strip())
            if user is None:
                raise HTTPException(401, "Ugyldig API-nøkkel")
            return Principal(user.id, user.username, user.role, via_token=True)
        sid = request.session.get("sid")
        # ended (logout, deactivated, new role), lapsed or disabled: the cookie is worth nothing
        found = sessions.user_of(session, sid) if isinstance(sid, str) else None
    if found is None:
        raise NotLoggedIn()
    unsafe_api = request.method not in ("GET", "HEAD") and request.url.path.startswith("/api/")
    if unsafe_api and not auth.csrf_ok(request.session, request.headers.get("x-csrf-token")):
        raise HTTPException(403, "Mangler eller ugyldig CSRF-nøkkel")
    return Principal(found.id, found.username, found.role)


def require(who: Principal, permission: str) -> None:
    if not can(who.role, permission):
        raise Forbidden()


def permission(name: str) -> Callable[..., Principal]:
    """A dependency: the person asking, who must have `name`."""

    def allowed(who: Principal = Depends(principal)) -> Principal:
        require(who, name)
        return who

    return allowed


async def csrf_form(request: Request) -> dict[str, Any]:
    """The posted form, refused unless it carries the session's CSRF token."""
    form = await request.form()
    if not auth.csrf_ok(request.session, str(form.get("csrf", ""))):
        raise HTTPException(403, "Skjemaet er utløpt eller ugyldig (CSRF). Last siden på nytt.")
    return dict(form)


def own_submitters(who: Principal) -> tuple[str, ...]:
    """The submitters that count as this person: through the pages, the API, or the command
    line's `submit --as <username>` (which checks that the console user exists)."""
    return (f"web:{who.username}", f"api:{who.username}", f"cli:{who.username}")


def visible_submitters(who: Principal) -> tuple[str, ...] | None:
    """None if the person may see every item; else their own submitters (or Forbidden)."""
    if can(who.role, "all_items") or can(who.role, "all_items_read"):
        return None
    require(who, "own_items")
    return own_submitters(who)
