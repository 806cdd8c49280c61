"""What the sandbox systems share: a server thread, logins with timeouts, fault injection.

The sandbox systems are test targets with realistic behaviour, not part of the framework.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

# Server ---------------------------------------------------------------------------------------


class ServerThread:
    """Runs an ASGI app with uvicorn in a daemon thread on a loopback port (0: any free port)."""

    def __init__(self, app: Any, port: int = 0, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Without this, accepted keep-alive connections wait ~40 ms per response (Nagle and
        # delayed ACK): uvicorn does not set it on sockets handed to it.
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.bind((host, port))
        self.host, self.port = self.sock.getsockname()
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"http-{self.port}")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        self.server.run(sockets=[self.sock])

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"server on port {self.port} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


# Fault injection ------------------------------------------------------------------------------


class Faults(BaseModel):
    """Deterministic faults: the same seed and the same request sequence give the same faults."""

    seed: int = 0
    latency_ms: int = Field(default=0, ge=0, le=10_000)
    error_rate: float = Field(default=0.0, ge=0, le=1, description="share of HTTP 500 answers")
    popup_rate: float = Field(default=0.0, ge=0, le=1, description="'Ny versjon' modal")
    session_expiry_rate: float = Field(default=0.0, ge=0, le=1)
    layout_variant: bool = Field(default=False, description="changed ids and classes")


@dataclass
class FaultState:
    faults: Faults = field(default_factory=Faults)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    injected: dict[str, int] = field(default_factory=lambda: {"error": 0, "popup": 0, "expiry": 0})

    def set(self, faults: Faults) -> None:
        self.faults = faults
        self.rng = random.Random(faults.seed)
        self.injected = {"error": 0, "popup": 0, "expiry": 0}

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
