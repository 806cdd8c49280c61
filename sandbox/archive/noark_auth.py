"""Login to the sandbox's Noark 5 tjenestegrensesnitt as the standard describes it (kapittel 4,
"Autentisering og Autorisering"): the API root, readable without login, announces the
mechanisms in `_links`; OpenID Connect (`login/oidc`, its href the
`.well-known/openid-configuration` relative to the root) and OAuth 2.0 (`login/rfc6749`, its
href the token endpoint, as Nikita does) are mandatory, Basic (`login/rfc7617`) is optional.

The sandbox is its own authorization server for the client-credentials grant (RFC 6749 §4.4;
the client authenticates with HTTP Basic, §2.3.1): it issues opaque bearer tokens (RFC 6750)
for an hour. It does not run interactive logins and does not take tokens from other issuers.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials

NOARK = "application/vnd.noark5+json"
REL = "https://rel.arkivverket.no/noark5/v5/api/"
LOGINS = ("oidc", "rfc6749", "rfc7617")
TOKEN_SECONDS = 3600
BASIC_CHALLENGE = 'Basic realm="Sak og arkiv", charset="UTF-8"'


class NoarkAuth:
    """Who is calling: a bearer token this archive issued, or Basic credentials where Basic is
    offered. `logins` are the mechanisms the root announces (a subset of LOGINS)."""

    def __init__(self, users: dict[str, str], logins: tuple[str, ...] = LOGINS) -> None:
        self.users = users
        self.logins = logins
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._basic = HTTPBasic(realm="Sak og arkiv", auto_error=False)

    def check_password(self, username: str, password: str) -> bool:
        expected = self.users.get(username, "")
        return bool(expected) and secrets.compare_digest(password, expected)

    def issue(self, username: str) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            now = time.monotonic()
            self._tokens = {t: v for t, v in self._tokens.items() if v[1] > now}
            self._tokens[token] = (username, now + TOKEN_SECONDS)
        return token

    def bearer(self, token: str) -> str | None:
        with self._lock:
            found = self._tokens.get(token)
        return found[0] if found and found[1] > time.monotonic() else None

    def refuse(self, reason: str = "Innlogging kreves") -> HTTPException:
        challenges = [BASIC_CHALLENGE] if "rfc7617" in self.logins else []
        if {"oidc", "rfc6749"} & set(self.logins):
            challenges.append('Bearer realm="Sak og arkiv"')
        return HTTPException(401, reason, headers={"WWW-Authenticate": ", ".join(challenges)})

    def dependency(self) -> Callable[..., str]:
        """The FastAPI dependency every API route uses: the caller's user name, or 401."""

        def user(
            request: Request, credentials: HTTPBasicCredentials | None = Depends(self._basic)
        ) -> str:
            scheme, _, value = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() == "bearer":
                who = self.bearer(value.strip())
                if who is None:
                    raise self.refuse("Ugyldig eller utløpt tilgangsnøkkel (token)")
                return who
            if (
                credentials is not None
                and "rfc7617" in self.logins
                and self.check_password(credentials.username, credentials.password)
            ):
                return credentials.username
            raise self.refuse(
                "Feil brukernavn eller passord" if credentials else "Innlogging kreves"
            )

        return user


def root_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/api"


def login_links(auth: NoarkAuth, root: str) -> dict[str, str]:
    hrefs = {
        "oidc": f"{root}/.well-known/openid-configuration",
        "rfc6749": f"{root}/login/rfc6749/token",
        "rfc7617": f"{root}/login/rfc7617",
    }
    return {f"{REL}login/{name}/": hrefs[name] for name in auth.logins}


def auth_router(auth: NoarkAuth) -> APIRouter:
    """The API root and the login endpoints."""
    router = APIRouter(prefix="/api")
    user = auth.dependency()

    @router.get("")
    @router.get("/")
    def root(request: Request) -> JSONResponse:
        base = root_url(request)
        rels = {
            f"{REL}admin/system/": f"{base}/admin/system",
            f"{REL}arkivstruktur/": f"{base}/arkivstruktur",
            f"{REL}sakarkiv/": f"{base}/sakarkiv",
            **login_links(auth, base),
        }
        body = {"_links": {rel: {"href": href} for rel, href in sorted(rels.items())}}
        return JSONResponse(body, media_type=NOARK)

    @router.get("/.well-known/openid-configuration")
    def openid_configuration(request: Request) -> JSONResponse:
        if "oidc" not in auth.logins:
            raise HTTPException(404, "Arkivet tilbyr ikke OpenID Connect")
        base = root_url(request)
        return JSONResponse(
            {
                "issuer": base,
                "token_endpoint": f"{base}/login/rfc6749/token",
                "grant_types_supported": ["client_credentials"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
                "response_types_supported": ["token"],
            }
        )

    @router.post("/login/rfc6749/token")
    def token(
        credentials: HTTPBasicCredentials | None = Depends(auth._basic),
        grant_type: str = Form(""),
    ) -> JSONResponse:
        # RFC 6749 §5.2: errors are JSON with "error", invalid_client with 401.
        no_store = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        if not {"oidc", "rfc6749"} & set(auth.logins):
            raise HTTPException(404, "Arkivet tilbyr ikke OAuth 2.0")
        if grant_type != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, 400, headers=no_store)
        if credentials is None or not auth.check_password(
            credentials.username, credentials.password
        ):
            return JSONResponse(
                {"error": "invalid_client"},
                401,
                headers={**no_store, "WWW-Authenticate": BASIC_CHALLENGE},
            )
        body: dict[str, Any] = {
            "access_token": auth.issue(credentials.username),
            "token_type": "Bearer",
            "expires_in": TOKEN_SECONDS,
        }
        return JSONResponse(body, headers=no_store)

    @router.get("/login/rfc7617")
    def basic_login(request: Request, who: str = Depends(user)) -> JSONResponse:
        if "rfc7617" not in auth.logins:
            raise HTTPException(404, "Arkivet tilbyr ikke Basic-innlogging")
        body = {"bruker": who, "_links": {"self": {"href": str(request.url)}}}
        return JSONResponse(body, media_type=NOARK)

    return router
