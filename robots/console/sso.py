"""Single sign-on with the municipality's identity provider (Microsoft Entra ID, or any OpenID
Connect provider): the authorization code flow with PKCE (authlib), roles from the provider's
group or role claim through `oidc_role_map`, users made on their first login and their role
kept up to date at each login; local users stay for small installations and break-glass admin.

A person whose groups map to no console role is refused with a page that says so; every SSO
login, and every refusal, is in the audit trail with the provider's subject."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from robots import audit
from robots.console import auth, sessions
from robots.console.deps import HOME, Console, console
from robots.models import Role, User
from robots.settings import Settings

router = APIRouter(prefix="/login/sso", include_in_schema=False)
# the strongest wins
ROLE_ORDER = (Role.ADMIN, Role.OPERATOR, Role.AUDITOR, Role.CASEWORKER, Role.LEADER)


def client(settings: Settings, state: dict[str, Any]) -> Any:
    """The provider's client, made once per console (discovery on first use)."""
    if "oauth" not in state:
        from authlib.integrations.starlette_client import OAuth  # only where SSO is set up

        oauth = OAuth()
        oauth.register(
            name="kommune",
            server_metadata_url=settings.oidc_issuer.rstrip("/")
            + "/.well-known/openid-configuration",
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret.get_secret_value(),
            client_kwargs={"scope": settings.oidc_scopes, "code_challenge_method": "S256"},
        )
        state["oauth"] = oauth
    return state["oauth"].kommune


def role_for(claims: dict[str, Any], settings: Settings) -> str | None:
    """The console role the provider's groups or roles give, or None."""
    given = claims.get(settings.oidc_roles_claim) or []
    if isinstance(given, str):
        given = [given]
    mapped = {settings.oidc_role_map[g] for g in given if g in settings.oidc_role_map}
    return next((role for role in ROLE_ORDER if role in mapped), None)


@router.get("")
async def start(request: Request, c: Console = Depends(console)) -> Response:
    settings = c.rpa.settings
    if not settings.oidc_issuer:
        return RedirectResponse("/login", status_code=303)
    callback = str(request.url_for("sso_callback"))
    return await client(settings, c.state).authorize_redirect(request, callback)  # type: ignore[no-any-return]


@router.get("/tilbake", name="sso_callback")
async def callback(request: Request, c: Console = Depends(console)) -> Response:
    from authlib.integrations.starlette_client import OAuthError

    settings = c.rpa.settings
    provider = client(settings, c.state)
    try:
        token = await provider.authorize_access_token(request)
    except OAuthError as exc:
        return refused(
            c, request, f"Innloggingen hos identitetsleverandøren mislyktes: {exc.error}"
        )
    claims = dict(token.get("userinfo") or {})
    if not claims.get(settings.oidc_roles_claim):
        claims.update(await provider.userinfo(token=token))
    subject = f"{claims.get('iss', settings.oidc_issuer)} {claims['sub']}"
    username = str(claims.get("preferred_username") or claims.get("email") or claims["sub"])[:80]
    role = role_for(claims, settings)
    with c.rpa.db.session() as session:
        if role is None:
            audit.record(
                session,
                f"sso:{username}",
                "login_failed",
                "console",
                {"reason": "ingen rolle", "subject": subject},
            )
            message = (
                "Du er logget inn hos kommunens identitetsleverandør, men ingen av gruppene "
                "dine gir tilgang til RPA-konsollen. Spør IT-avdelingen om tilgang."
            )
        else:
            user = session.scalars(select(User).where(User.sso_subject == subject)).first()
            if user is None:
                user = _new_user(session, username, subject, role)
            elif user.role != role:
                try:
                    auth.set_role(session, user, role, "sso")
                except auth.LastAdmin as exc:  # the provider took admin from the last one
                    audit.record(
                        session,
                        f"sso:{username}",
                        "login_failed",
                        "console",
                        {"reason": "siste admin", "subject": subject},
                    )
                    return refused(c, request, str(exc))
            if user.disabled_at is not None:
                audit.record(
                    session,
                    f"sso:{username}",
                    "login_failed",
                    "console",
                    {"reason": "deaktivert", "subject": subject},
                )
                role = None
                message = "Brukeren din er deaktivert i RPA-konsollen."
            else:
                audit.record(
                    session,
                    f"web:{user.username}",
                    "login_sso",
                    "console",
                    {"subject": subject, "role": role},
                )
                sid = sessions.start(session, user.id)
    if role is None:
        return refused(c, request, message)
    request.session.clear()
    request.session["sid"] = sid
    request.session["sso"] = True
    auth.csrf_token(request.session)
    return RedirectResponse(HOME[role], status_code=303)


def _new_user(session: Any, username: str, subject: str, role: str) -> User:
    """A user made at the first SSO login (a name already taken by a local user gets the
    provider's subject appended); its password is unusable: it logs in only through SSO."""
    if session.scalars(select(User).where(User.username == username)).first() is not None:
        username = f"{username[:60]}-{secrets.token_hex(3)}"
    user = User(
        username=username,
        display_name=username,
        role=role,
        password_hash=auth.unusable_password(),
        failed_logins=0,
        sso_subject=subject,
    )
    session.add(user)
    session.flush()
    audit.record(session, "sso", "user_add", f"user:{username}", {"role": role, "sso": subject})
    return user


def refused(c: Console, request: Request, message: str) -> HTMLResponse:
    response = c.page(
        request, "feil.html", None, status=403, heading="Ingen tilgang", message=message
    )
    response.status_code = 403
    return response
