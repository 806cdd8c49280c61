"""Signed links for people outside the console (a manager acknowledging a reminder from an
e-mail): the data travels in the link, signed with the console's key, so nobody can make one
up or change it, and it expires."""

from __future__ import annotations

import secrets
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from robots.settings import Settings

MAX_AGE_DAYS = 120  # a sykefravær period's reminders span half a year at most per milestone


class BadLink(ValueError):
    """The link was changed, made up, or has expired."""


def secret(settings: Settings) -> str:
    """The console's key: the setting, else one kept in the data directory (mode 0600). With
    several machines, set `secret_key` so that they all sign alike."""
    configured = settings.secret_key.get_secret_value()
    if configured:
        return configured
    path = settings.data_path / "console-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def sign(settings: Settings, purpose: str, data: dict[str, Any]) -> str:
    return URLSafeTimedSerializer(secret(settings), salt=purpose).dumps(data)


def unsign(settings: Settings, purpose: str, token: str) -> dict[str, Any]:
    try:
        data = URLSafeTimedSerializer(secret(settings), salt=purpose).loads(
            token, max_age=MAX_AGE_DAYS * 86400
        )
    except BadSignature:
        raise BadLink("Lenken er ugyldig eller utløpt") from None
    if not isinstance(data, dict):
        raise BadLink("Lenken er ugyldig")
    return data
