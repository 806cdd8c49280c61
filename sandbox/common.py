"""What the sandbox systems share: a server thread, logins with timeouts, fault injection.

The sandbox systems are test targets with realistic behaviour, not part of the framework.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from robots.web import ServerThread

# The server thread is the framework's (robots.web); the sandbox systems use it too.
__all__ = ["ServerThread", "local_today"]


def local_today() -> date:
    """Today in Norway: the sandbox systems, like the municipality's, live in Europe/Oslo."""
    return datetime.now(ZoneInfo("Europe/Oslo")).date()


# Fault injection ------------------------------------------------------------------------------


class Faults(BaseModel):
    """Deterministic faults: the same seed and the same request sequence give the same faults."""

    seed: int = 0
    latency_ms: int = Field(default=0, ge=0, le=10_000)
    error_rate: float = Field(default=0.0, ge=0, le=1, description="share of HTTP 500 answers")
    popup_rate: float = Field(default=0.0, ge=0, le=1, description="'Ny versjon' modal")
    session_expiry_rate: float = Field(default=0.0, ge=0, le=1)
    layout_variant: bool = Field(default=False, description="changed ids and classes")
    slow_logins: int = Field(
        default=0, ge=0, description="the next N logins succeed, but the page after is slow"
    )
    slow_login_ms: int = Field(default=12_000, ge=0, le=60_000)
    down: bool = Field(default=False, description="every page answers 503 (maintenance)")


@dataclass
class FaultState:
    faults: Faults = field(default_factory=Faults)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    injected: dict[str, int] = field(default_factory=lambda: {"error": 0, "popup": 0, "expiry": 0})
    slow_logins_left: int = 0
    login_posts: int = 0  # login forms submitted (a wrong password must not become a storm)

    def set(self, faults: Faults) -> None:
        self.faults = faults
        self.rng = random.Random(faults.seed)
        self.injected = {"error": 0, "popup": 0, "expiry": 0}
        self.slow_logins_left = faults.slow_logins

    def roll(self, rate: float, kind: str) -> bool:
        hit = rate > 0 and self.rng.random() < rate
        if hit:
            self.injected[kind] += 1
        return hit


def install_faults(app: FastAPI, state: FaultState) -> None:
    """Latency and HTTP 500 on every non-admin request; an admin API to change faults."""

    @app.middleware("http")
    async def inject(request: Request, call_next: Any) -> Response:
        path = request.url.path
        if path.startswith("/_sandbox") or path.startswith("/static"):
            return await call_next(request)
        faults = state.faults
        if faults.down:
            return HTMLResponse(
                "<html><body><h1>503 Vedlikehold</h1><p>Tjenesten er stengt for vedlikehold."
                "</p></body></html>",
                status_code=503,
            )
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if state.roll(faults.error_rate, "error"):
            return HTMLResponse(
                "<html><body><h1>500 Intern feil</h1><p>Tjenesten er midlertidig utilgjengelig."
                "</p></body></html>",
                status_code=500,
            )
        return await call_next(request)

    @app.get("/_sandbox/faults")
    def get_faults() -> dict[str, Any]:
        return {"faults": state.faults.model_dump(), "injected": state.injected}

    @app.post("/_sandbox/faults")
    def set_faults(faults: Faults) -> dict[str, Any]:
        state.set(faults)
        return {"faults": faults.model_dump()}


# Logins ---------------------------------------------------------------------------------------


@dataclass
class Session:
    user: str
    expires: float


class SessionStore:
    """Server-side sessions behind a random cookie, with an idle timeout."""

    def __init__(self, cookie: str, timeout_seconds: float = 900) -> None:
        self.cookie = cookie
        self.timeout = timeout_seconds
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, user: str) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._sessions[token] = Session(user, time.monotonic() + self.timeout)
        return token

    def user(self, request: Request) -> str | None:
        token = request.cookies.get(self.cookie)
        if not token:
            return None
        with self._lock:
            session = self._sessions.get(token)
            if session is None or session.expires < time.monotonic():
                self._sessions.pop(token, None)
                return None
            session.expires = time.monotonic() + self.timeout
            return session.user

    def drop(self, request: Request) -> None:
        token = request.cookies.get(self.cookie)
        with self._lock:
            self._sessions.pop(token or "", None)


class LoginRequired(Exception):
    def __init__(self, expired: bool = False) -> None:
        self.expired = expired


def install_login_redirect(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    def to_login(request: Request, exc: LoginRequired) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": "Innlogging kreves"}, status_code=401)
        from urllib.parse import quote

        target = quote(
            str(request.url.path) + (f"?{request.url.query}" if request.url.query else "")
        )
        suffix = "&utlopt=1" if exc.expired else ""
        return Response(status_code=303, headers={"location": f"/login?neste={target}{suffix}"})


def current_user(request: Request, sessions: SessionStore, state: FaultState) -> str:
    """The logged-in user, or LoginRequired (also when fault injection expires the session)."""
    user = sessions.user(request)
    if user is None:
        raise LoginRequired(expired=bool(request.cookies.get(sessions.cookie)))
    if state.roll(state.faults.session_expiry_rate, "expiry"):
        sessions.drop(request)
        raise LoginRequired(expired=True)
    return user


def safe_next(target: str | None) -> str:
    """Only same-site paths after login (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


class Site:
    """What every sandbox web system shares: fault injection, server-side sessions, layout
    variants (ids and classes), page rendering with the occasional popup, and the login pages."""

    def __init__(
        self,
        app: FastAPI,
        *,
        cookie: str,
        session_timeout: float,
        faults: Faults | None,
        templates: Any,
        ids: dict[bool, dict[str, str]],
        classes: dict[bool, dict[str, str]],
        users: dict[str, str],
        context: dict[str, Any] | None = None,
    ) -> None:
        self.state = FaultState()
        self.state.set(faults or Faults())
        self.sessions = SessionStore(cookie, session_timeout)
        self.templates = templates
        self.ids, self.classes, self.users = ids, classes, users
        self.context = context or {}
        app.state.faults = self.state
        install_faults(app, self.state)
        install_login_redirect(app)
        self._install_login(app)

    def render(
        self, request: Request, template: str, user: str | None, status: int = 200, **context: Any
    ) -> HTMLResponse:
        variant = self.state.faults.layout_variant
        popup = user is not None and self.state.roll(self.state.faults.popup_rate, "popup")
        return self.templates.TemplateResponse(
            request,
            template,
            {
                "user": user,
                "ids": self.ids[variant],
                "c": self.classes[variant],
                "css": BASE_CSS,
                "popup": popup,
                **self.context,
                **context,
            },
            status_code=status,
        )

    def user(self, request: Request) -> str:
        """The logged-in user, or LoginRequired (the login page)."""
        return current_user(request, self.sessions, self.state)

    def _install_login(self, app: FastAPI) -> None:
        from urllib.parse import quote

        from fastapi import Form
        from fastapi.responses import RedirectResponse

        @app.get("/login", response_class=HTMLResponse)
        def login_page(request: Request, neste: str = "/", utlopt: int = 0) -> Response:
            if self.sessions.user(request) is not None:  # like Django: logged in, so onward
                return RedirectResponse(safe_next(neste), status_code=303)
            return self.render(request, "login.html", None, neste=neste, expired=bool(utlopt))

        @app.get("/_sandbox/vent")
        def slow_onward(neste: str = "/") -> Response:
            """The slow first page after a login (fault `slow_logins`): the login itself has
            succeeded and the cookie is set; the browser waits here, then goes on."""
            time.sleep(self.state.faults.slow_login_ms / 1000)
            return RedirectResponse(safe_next(neste), status_code=303)

        @app.post("/login")
        def login(
            request: Request,
            username: str = Form(""),
            password: str = Form(""),
            neste: str = Form("/"),
        ) -> Response:
            self.state.login_posts += 1
            if not username or not password:
                return self.render(
                    request,
                    "login.html",
                    None,
                    status=400,
                    neste=neste,
                    error="Fyll inn brukernavn og passord.",
                )
            if self.users.get(username) != password:
                return self.render(
                    request,
                    "login.html",
                    None,
                    status=401,
                    neste=neste,
                    error="Feil brukernavn eller passord.",
                )
            onward = safe_next(neste)
            if self.state.slow_logins_left > 0:
                self.state.slow_logins_left -= 1
                onward = f"/_sandbox/vent?neste={quote(onward)}"
            response = RedirectResponse(onward, status_code=303)
            response.set_cookie(
                self.sessions.cookie, self.sessions.create(username), httponly=True, samesite="lax"
            )
            return response

        @app.get("/logout")
        def logout(request: Request) -> Response:
            self.sessions.drop(request)
            response = RedirectResponse("/login", status_code=303)
            response.delete_cookie(self.sessions.cookie)
            return response


BASE_CSS = """
body { font-family: system-ui, sans-serif; margin: 0; background: #f4f6f8; color: #1d2733; }
header { background: #1f3b57; color: white; padding: .6rem 1.2rem; display: flex;
         justify-content: space-between; align-items: center; }
header a { color: white; margin-right: 1rem; }
main { padding: 1rem 1.5rem; max-width: 1100px; }
table { border-collapse: collapse; width: 100%; background: white; }
th, td { border-bottom: 1px solid #d8dee4; padding: .35rem .5rem; text-align: left; }
.error, .feil { color: #a40000; background: #fde8e8; padding: .4rem .6rem; }
.ok, .melding { color: #0b5c1d; background: #e6f4ea; padding: .4rem .6rem; }
label { display: block; margin-top: .5rem; }
input, select { padding: .25rem; }
.modal-backdrop, .overlay-v2 { position: fixed; inset: 0; background: rgba(0,0,0,.45);
         display: flex; align-items: center; justify-content: center; z-index: 1000; }
.modal, .dialog-v2 { background: white; padding: 1.5rem; border-radius: 6px; min-width: 320px; }
"""
