"""E-mail with an outbox: the intent is stored (unique key) before anything is sent, so a
reminder goes out at most once whatever crashes and retries happen."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from robots.db import Database
from robots.models import OutboxMessage, utcnow
from robots.settings import Settings


class MailError(RuntimeError):
    """The mail server refused or could not be reached (a system exception: retried)."""


@dataclass(frozen=True)
class Delivery:
    key: str
    status: str  # sent | already_sent | uncertain


class Outbox:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    def send(
        self,
        key: str,
        recipient: str,
        subject: str,
        body: str,
        *,
        item_id: int | None = None,
        run_id: int | None = None,
    ) -> Delivery:
        """Send once per key. `already_sent`: done before; `uncertain`: a crash came between
        handing the message to the mail server and recording it; it is not sent again."""
        now = utcnow()
        insert = (
            postgresql.insert if self.db.engine.dialect.name == "postgresql" else sqlite.insert
        )(OutboxMessage)
        with self.db.engine.begin() as conn:
            conn.execute(
                insert.values(
                    key=key,
                    recipient=recipient,
                    subject=subject,
                    body=body,
                    status="pending",
                    item_id=item_id,
                    run_id=run_id,
                    created_at=now,
                ).on_conflict_do_nothing(index_elements=["key"])
            )
            status = conn.execute(
                select(OutboxMessage.status).where(OutboxMessage.key == key)
            ).scalar_one()
            if status == "sent":
                return Delivery(key, "already_sent")
            if status == "sending":
                return Delivery(key, "uncertain")
            conn.execute(
                update(OutboxMessage).where(OutboxMessage.key == key).values(status="sending")
            )
        self._smtp(key, recipient, subject, body)
        with self.db.engine.begin() as conn:
            conn.execute(
                update(OutboxMessage)
                .where(OutboxMessage.key == key)
                .values(status="sent", sent_at=utcnow())
            )
        return Delivery(key, "sent")

    def release(self, key: str) -> None:
        """Back to pending after a send that certainly failed (refused, unreachable)."""
        with self.db.engine.begin() as conn:
            conn.execute(
                update(OutboxMessage)
                .where(OutboxMessage.key == key, OutboxMessage.status == "sending")
                .values(status="pending")
            )

    def _smtp(self, key: str, recipient: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        message["To"] = recipient
        message["Subject"] = subject
        message["Message-ID"] = make_msgid(idstring=key.replace(":", "."), domain="rpa.local")
        message["X-RPA-Key"] = key
        message.set_content(body)
        try:
            smtp = smtplib.SMTP(self.settings.smtp_host, self.settings.smtp_port, timeout=30)
        except OSError as exc:
            self.release(key)  # never reached the server: safe to try again
            raise MailError(f"Får ikke kontakt med e-posttjeneren: {exc}") from exc
        try:
            smtp.send_message(message)
        except (
            smtplib.SMTPRecipientsRefused,
            smtplib.SMTPSenderRefused,
            smtplib.SMTPDataError,
            smtplib.SMTPHeloError,
        ) as exc:
            self.release(key)  # refused before it was accepted: safe to try again
            raise MailError(f"E-post til {recipient} ble avvist: {exc}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            # The connection died while the message was being handed over: it may have been
            # accepted. Left as 'sending' so it is never sent twice; a person can check.
            raise MailError(f"Usikker levering av e-post til {recipient}: {exc}") from exc
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()
