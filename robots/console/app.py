"""The console (FastAPI, server-rendered, bokmål): caseworkers submit and follow their items,
operators run the fleet, auditors review the run logs and the audit trail. The JSON API under
/api offers the same functions to machine clients (bearer tokens), documented at /api/docs.

One router per role (robots.console.login, caseworker, operator, auditor, api) over the
application object; this module only assembles them."""

from __future__ import annotations

import secrets

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.middleware.sessions import SessionMiddleware

from robots.app import RpaApp
from robots.console import api, auditor, caseworker, login, operator
from robots.console.deps import Console, Forbidden, NotLoggedIn
from robots.db import Database
from robots.settings import Settings
from robots.views import InvalidFilter


def create_app(settings: Settings, db: Database | None = None) -> FastAPI:
    """The console for these settings (and database, if one is open already)."""
    return console_for(RpaApp.build(settings, db, check=False))


def console_for(rpa: RpaApp) -> FastAPI:
    app = FastAPI(
        title="RPA-konsollen", docs_url="/api/docs", openapi_url="/api/openapi.json", redoc_url=None
    )
    app.state.console = Console.for_app(rpa)
    app.add_middleware(
        SessionMiddleware,
        secret_key=rpa.settings.secret_key.get_secret_value() or local_secret(rpa.settings),
        session_cookie="rpa_konsoll",
        max_age=8 * 3600,
        same_site="strict",
        https_only=rpa.settings.console_secure_cookie,
    )
    app.add_exception_handler(NotLoggedIn, _to_login)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(InvalidFilter, _invalid_filter)
    for module in (login, caseworker, operator, auditor, api):
        app.include_router(module.router)
    return app


def _api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _to_login(request: Request, exc: Exception) -> Response:
    if _api(request):
        return JSONResponse({"detail": "Innlogging kreves"}, status_code=401)
    return RedirectResponse("/login", status_code=303)


def _forbidden(request: Request, exc: Exception) -> Response:
    if _api(request):
        return JSONResponse({"detail": "Ingen tilgang for din rolle"}, status_code=403)
    return HTMLResponse(
        "<h1>Ingen tilgang</h1><p>Din rolle gir ikke tilgang til dette.</p>", status_code=403
    )


def _invalid_filter(request: Request, exc: Exception) -> Response:
    return JSONResponse({"detail": str(exc)}, status_code=422)


def local_secret(settings: Settings) -> str:
    """A per-installation session key kept in the data directory (mode 0600) when none is set."""
    path = settings.data_path / "console-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()
