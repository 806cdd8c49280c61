"""Logging in and out (local users; see robots.console.auth), and the start page per role."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from robots.console import auth, sessions
from robots.console.auth import Principal
from robots.console.deps import HOME, Console, console, csrf_form, principal

router = APIRouter(include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, c: Console = Depends(console)) -> HTMLResponse:
    return c.page(request, "login.html", None, error="", sso=bool(c.rpa.settings.oidc_issuer))


@router.post("/login")
async def login(request: Request, c: Console = Depends(console)) -> Response:
    form = await csrf_form(request)
    error = ""
    with c.rpa.db.session() as session:  # a refusal is committed too: the back-off counts it
        try:
            user = auth.authenticate(
                session, str(form.get("username", "")), str(form.get("password", ""))
            )
            role, sid = user.role, sessions.start(session, user.id)
        except auth.LoginRefused as exc:
            error = str(exc)
    if error:
        response = c.page(
            request, "login.html", None, error=error, sso=bool(c.rpa.settings.oidc_issuer)
        )
        response.status_code = 401
        return response
    request.session.clear()
    request.session["sid"] = sid
    auth.csrf_token(request.session)
    return RedirectResponse(HOME[role], status_code=303)


@router.post("/logout")
async def logout(request: Request, c: Console = Depends(console)) -> Response:
    await csrf_form(request)
    sid = request.session.get("sid")
    if isinstance(sid, str):
        with c.rpa.db.session() as session:  # ended here: a copy of the cookie is dead too
            sessions.end(session, sid)
    request.session.clear()  # a single sign-on session at the provider is the provider's to end
    return RedirectResponse("/login", status_code=303)


@router.get("/")
def home(who: Principal = Depends(principal)) -> Response:
    return RedirectResponse(HOME[who.role], status_code=303)
