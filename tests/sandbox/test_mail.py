"""The mail server: SMTP in, messages out over HTTP; and the inbox in Chromium."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import httpx


def send(sandbox, subject: str, body: str) -> None:  # type: ignore[no-untyped-def]
    message = EmailMessage()
    message["From"] = "robot@kommune.example"
    message["To"] = "leder@kommune.example"
    message["Subject"] = subject
    message.set_content(body)
    with smtplib.SMTP(sandbox.smtp.host, sandbox.smtp.port) as smtp:
        smtp.send_message(message)


def test_messages_are_kept_and_shown(sandbox, page) -> None:  # type: ignore[no-untyped-def]
    send(sandbox, "Påminnelse: oppfølgingsplan", "Frist 2026-12-01. Æ ø å.")
    send(sandbox, "Påminnelse: dialogmøte 1", "Frist 2026-12-20.")
    messages = httpx.get(f"{sandbox.mail_web.url}/api/messages").json()
    assert [m["subject"] for m in messages] == [
        "Påminnelse: oppfølgingsplan",
        "Påminnelse: dialogmøte 1",
    ]
    assert messages[0]["to"] == ["leder@kommune.example"] and "Æ ø å" in messages[0]["body"]
    page.goto(sandbox.mail_web.url)
    page.get_by_role("link", name="Påminnelse: oppfølgingsplan").click()
    assert "Frist 2026-12-01" in page.locator("pre").inner_text()
    httpx.delete(f"{sandbox.mail_web.url}/api/messages")
    assert httpx.get(f"{sandbox.mail_web.url}/api/messages").json() == []
