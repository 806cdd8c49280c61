"""Links for people outside the console (a manager acknowledging a reminder from an e-mail).

The URL carries only a random token (256 bits): nothing about the employee travels in it, so
nothing lands in a proxy's log or a forwarded mail. The database keeps the token's SHA-256
(a copy of the database gives no working links) with what the link answers; a link is used
once and expires some days after its milestone. Also the console's own key (`secret`)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import date, datetime, time, timedelta

from sqlalchemy import select, update

from robots.db import Database
from robots.models import AcknowledgementLink, utcnow
from robots.settings import Settings


class BadLink(LookupError):
    """No such link (made up, changed, or from before the links were opaque)."""


class LinkRefused(ValueError):
    """The link exists but cannot be used now: expired, already used, or a date out of range."""


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


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(
    db: Database, settings: Settings, key: str, milestone: str, due: date, recipient: str
) -> str:
    """A new link's token for the reminder with outbox key `key`; valid until the end of the
    day `acknowledgement_link_days` after `due`."""
    token = secrets.token_urlsafe(32)
    last_day = due + timedelta(days=settings.acknowledgement_link_days)
    expires = datetime.combine(last_day + timedelta(days=1), time(), settings.zone)
    with db.session() as session:
        session.add(
            AcknowledgementLink(
                token_hash=_digest(token),
                key=key,
                milestone=milestone,
                due=due,
                recipient=recipient,
                expires_at=expires,
            )
        )
    return token


def find(db: Database, token: str) -> AcknowledgementLink:
    """The link, expired or used ones too (the page says which); BadLink when there is none."""
    with db.session() as session:
        link = session.scalars(
            select(AcknowledgementLink).where(AcknowledgementLink.token_hash == _digest(token))
        ).first()
        if link is None:
            raise BadLink()
        session.expunge(link)
        return link


def check_open(link: AcknowledgementLink) -> None:
    if link.used_at is not None:
        raise LinkRefused(
            "Denne lenken er allerede brukt. Du får en ny lenke med neste påminnelse."
        )
    if utcnow() >= link.expires_at:
        raise LinkRefused("Denne lenken er utløpt.")


def check_postponement(settings: Settings, link: AcknowledgementLink, until: date) -> None:
    """ "Utsatt til" lies between today and `acknowledgement_postpone_max_days` after the
    milestone."""
    today = datetime.now(settings.zone).date()
    latest = link.due + timedelta(days=settings.acknowledgement_postpone_max_days)
    if not today <= until <= latest:
        raise LinkRefused(f"Velg en dato fra og med {today:%d.%m.%Y} til og med {latest:%d.%m.%Y}.")


def answer(
    db: Database,
    settings: Settings,
    link: AcknowledgementLink,
    status: str,
    until: date | None,
) -> None:
    """Record the manager's answer through the link and mark the link used, in one
    transaction: of two answers racing, one wins and the other is refused."""
    from robots.people import record_acknowledgement

    check_open(link)
    if status == "utsatt" and until is not None:
        check_postponement(settings, link, until)
    now = utcnow()
    with db.session() as session:
        done = session.execute(
            update(AcknowledgementLink)
            .where(
                AcknowledgementLink.id == link.id,
                AcknowledgementLink.used_at.is_(None),
                AcknowledgementLink.expires_at > now,
            )
            .values(used_at=now)
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise LinkRefused("Denne lenken er allerede brukt eller utløpt.")
        record_acknowledgement(session, link.key, status, until, f"leder:{link.recipient}")
