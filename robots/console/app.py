"""The console (FastAPI, server-rendered, bokmål): caseworkers submit and follow their items,
operators run the fleet, auditors review the run logs and the audit trail. The JSON API under
/api offers the same functions to machine clients (bearer tokens), documented at /api/docs.

One router per role (robots.console.login, caseworker, operator, auditor, api) over the
application object; this module only assembles them."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from robots.app import RpaApp
from robots.console import (
    admin,
    api,
    auditor,
    caseworker,
    events,
    login,
    operator,
    ops,
    people,
    sickleave,
    sso,
)
from robots.console.deps import STATIC_DIR, Console, Forbidden, NotLoggedIn, console, principal
from robots.console.https import SecureCookies
from robots.console.sessions import SESSION_AGE
from robots.console.storable_input import storable_input
from robots.db import Database
from robots.links import secret
from robots.masking import mask_text
from robots.settings import Settings
from robots.views import InvalidFilter

# One router per role or concern, in the order their routes are matched.
ROUTERS = (login, sso, caseworker, people, operator, auditor, sickleave, admin, events, ops, api)


def create_app(settings: Settings, db: Database | None = None) -> FastAPI:
    """The console for these settings (and database, if one is open already)."""
    return console_for(RpaApp.build(settings, db, check=False))


def console_for(rpa: RpaApp) -> FastAPI:
    app = FastAPI(
        title="RPA-konsollen",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
        dependencies=[Depends(storable_input)],  # no input the database refuses gets further
    )
    app.state.console = Console.for_app(rpa)
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret(rpa.settings),
        session_cookie="rpa_konsoll",
        max_age=int(SESSION_AGE.total_seconds()),  # the server ends it earlier on logout
        same_site="strict",
        https_only=rpa.settings.console_secure_cookie,
    )
    app.add_middleware(SecureCookies)  # over HTTPS every cookie is Secure
    # outermost: the scheme (and client) a trusted proxy reports, before anything reads them
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=rpa.settings.console_trusted_proxies)
    app.add_exception_handler(NotLoggedIn, _to_login)
    app.add_exception_handler(Forbidden, _error_page)
    app.add_exception_handler(InvalidFilter, _error_page)
    app.add_exception_handler(HTTPException, _error_page)
    app.add_exception_handler(RequestValidationError, _error_page)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in ROUTERS:
        app.include_router(module.router)
    app.include_router(people.api)
    return app


def _api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _to_login(request: Request, exc: Exception) -> Response:
    if _api(request):
        return JSONResponse({"detail": "Innlogging kreves"}, status_code=401)
    return RedirectResponse("/login", status_code=303)


HEADINGS = {
    400: "Ugyldig forespørsel",
    401: "Innlogging kreves",
    403: "Ingen tilgang",
    404: "Fant ikke siden",
    409: "Kan ikke gjøres nå",
    422: "Ugyldige verdier",
}


def _error_page(request: Request, exc: Exception) -> Response:
    """An error as the caller reads it: JSON for the API, a styled page with navigation for
    people (never a bare JSON body or a traceback)."""
    if isinstance(exc, Forbidden):
        status, message = 403, "Din rolle gir ikke tilgang til dette."
    elif isinstance(exc, InvalidFilter):
        status, message = 422, str(exc)
    elif isinstance(exc, RequestValidationError):
        status = 422
        message = "; ".join(_field_error(e) for e in exc.errors()) or "Ugyldige verdier"
    elif isinstance(exc, HTTPException):
        status, message = exc.status_code, str(exc.detail)
    else:  # pragma: no cover - only the exceptions registered above come here
        status, message = 500, "Uventet feil"
    if _api(request):
        if isinstance(exc, RequestValidationError):
            return JSONResponse({"detail": [_named(e) for e in exc.errors()]}, status_code=422)
        return JSONResponse({"detail": message}, status_code=status)
    c = console(request)
    try:
        who = principal(request, c)
    except Exception:  # noqa: BLE001 - not logged in, or a bad token: the page without a menu
        who = None
    response = c.page(
        request,
        "feil.html",
        who,
        status=status,
        heading=HEADINGS.get(status, "Noe gikk galt"),
        message=message,
    )
    response.status_code = status
    return response


def _field_error(error: Any) -> str:
    """One field's complaint in words ("under: ugyldig verdi"), without the request's parts."""
    where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("query", "path", "body"))
    return f"{where}: ugyldig verdi" if where else "ugyldig verdi"


def _named(error: Any) -> object:
    """One validation error for an API client; an unknown key says which ("ukjent felt
    «data»") instead of pydantic's "Extra inputs are not permitted"."""
    if error.get("type") == "extra_forbidden":
        key = mask_text(str(error.get("loc", ("?",))[-1])[:100])  # may be a fødselsnummer
        error = {**error, "msg": f"ukjent felt «{key}»"}
        error.pop("input", None)
    return jsonable(error)


def jsonable(value: object) -> object:
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder(value)
