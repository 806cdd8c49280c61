"""The admin's pages: users (add, change role, disable and enable) and their API tokens
(create, shown once; revoke). Every change is in the audit trail."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from robots.console import auth
from robots.console.auth import Principal
from robots.console.confirm import ask_first
from robots.console.deps import Console, RowId, console, csrf_form, flash, permission
from robots.models import ApiToken, Role, User

router = APIRouter(include_in_schema=False)


@router.get("/admin/brukere", response_class=HTMLResponse)
def users_page(
    request: Request,
    c: Console = Depends(console),
    who: Principal = Depends(permission("users")),
) -> HTMLResponse:
    with c.rpa.db.session() as session:
        users = list(session.scalars(select(User).order_by(User.username)))
        tokens = list(session.scalars(select(ApiToken).order_by(ApiToken.id)))
    by_user: dict[int, list[ApiToken]] = {}
    for token in tokens:
        by_user.setdefault(token.user_id, []).append(token)
    return c.page(
        request,
        "users.html",
        who,
        users=users,
        tokens=by_user,
        roles=list(Role),
        new_token=request.session.pop("ny_nokkel", None),
        errors={},
        values={},
    )


@router.post("/admin/brukere")
async def add_user(
    request: Request,
    c: Console = Depends(console),
    who: Principal = Depends(permission("users")),
) -> Response:
    form = await csrf_form(request)
    username = str(form.get("username", "")).strip()
    try:
        with c.rpa.db.session() as session:
            auth.add_user(
                session,
                username,
                str(form.get("password", "")),
                str(form.get("role", "")),
                who.actor,
                str(form.get("display_name", "")).strip(),
            )
    except ValueError as exc:
        flash(request, f"Brukeren ble ikke lagt til: {exc}")
        return RedirectResponse("/admin/brukere", status_code=303)
    flash(request, f"Brukeren {username} er lagt til.")
    return RedirectResponse("/admin/brukere", status_code=303)


@router.post("/admin/brukere/{user_id}/{action}")
async def user_action(
    request: Request,
    user_id: RowId,
    action: str,
    c: Console = Depends(console),
    who: Principal = Depends(permission("users")),
) -> Response:
    form = await csrf_form(request)
    with c.rpa.db.session() as session:
        user = session.get(User, user_id)
        if user is None:
            raise HTTPException(404, "Fant ikke brukeren")
        if action in ("deaktiver", "aktiver", "rolle") and user.id == who.id:
            raise HTTPException(409, "Du kan ikke endre eller deaktivere din egen bruker her")
        if action == "deaktiver":
            asked = ask_first(
                c,
                request,
                who,
                form,
                question=f"{user.username} deaktiveres: innloggingen og API-nøklene slutter å "
                "virke med en gang.",
                yes=f"Ja, deaktiver {user.username}",
                back="/admin/brukere",
            )
            if asked is not None:
                return asked
        try:
            text = _change(session, user, action, form, who)
        except auth.LastAdmin as exc:
            raise HTTPException(409, str(exc)) from None
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        if action == "nokkel":
            name = str(form.get("name", "")).strip()[:100] or "api"
            request.session["ny_nokkel"] = {
                "user": user.username,
                "token": auth.new_token(session, user, name, who.actor),
            }
            text = f"Ny API-nøkkel for {user.username}: kopier den nå, den vises bare én gang."
    flash(request, text)
    return RedirectResponse("/admin/brukere", status_code=303)


def _change(session: Session, user: User, action: str, form: dict[str, Any], who: Principal) -> str:
    """Deactivate, activate or change the role of a user; what to tell the admin ("" for a
    new key, which is made by the caller). The last active admin is kept (auth.LastAdmin)."""
    if action == "deaktiver":
        auth.set_disabled(session, user, True, who.actor)
        return f"{user.username} er deaktivert; nøklene virker ikke lenger."
    if action == "aktiver":
        auth.set_disabled(session, user, False, who.actor)
        return f"{user.username} er aktivert igjen."
    if action == "rolle":
        auth.set_role(session, user, str(form.get("role", "")), who.actor)
        return f"{user.username} har nå rollen {user.role}."
    if action == "nokkel":
        return ""
    raise HTTPException(404, "Ukjent handling")


@router.post("/admin/nokler/{token_id}/trekk-tilbake")
async def revoke(
    request: Request,
    token_id: RowId,
    c: Console = Depends(console),
    who: Principal = Depends(permission("users")),
) -> Response:
    form = await csrf_form(request)
    with c.rpa.db.session() as session:
        token = session.get(ApiToken, token_id)
        if token is None:
            raise HTTPException(404, "Fant ikke nøkkelen")
        asked = (
            None
            if token.revoked_at is not None
            else ask_first(
                c,
                request,
                who,
                form,
                question=f"API-nøkkelen «{token.name}» trekkes tilbake: det som bruker den, får "
                "ikke lenger svar.",
                yes="Ja, trekk tilbake nøkkelen",
                back="/admin/brukere",
            )
        )
        if asked is not None:
            return asked
        auth.revoke_token(session, token, who.actor)
    flash(request, "Nøkkelen er trukket tilbake.")
    return RedirectResponse("/admin/brukere", status_code=303)
