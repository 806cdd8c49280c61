"""A local mail server: aiosmtpd receives on SMTP and keeps every message; a small web app
shows them (HTML for people, JSON for tests)."""

from __future__ import annotations

import threading
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse
from markupsafe import escape

from sandbox.common import BASE_CSS


class MailStore:
    def __init__(self) -> None:
        self._messages: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def add(self, sender: str, recipients: list[str], raw: bytes) -> None:
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        body = parsed.get_body(preferencelist=("plain", "html"))
        with self._lock:
            self._messages.append(
                {
                    "id": len(self._messages) + 1,
                    "received": datetime.now().isoformat(timespec="seconds"),
                    "from": sender,
                    "to": recipients,
                    "subject": str(parsed.get("subject", "")),
                    "message_id": str(parsed.get("message-id", "")),
                    "headers": {k: str(v) for k, v in parsed.items()},
                    "body": body.get_content() if body is not None else "",
                }
            )

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._messages)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()


class _Handler:
    def __init__(self, store: MailStore) -> None:
        self.store = store

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.store.add(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd in its own thread on a loopback port."""

    def __init__(self, store: MailStore, port: int = 0, host: str = "127.0.0.1") -> None:
        if port == 0:
            import socket

            with socket.socket() as probe:
                probe.bind((host, 0))
                port = probe.getsockname()[1]
        self.host, self.port = host, port
        self.controller = Controller(_Handler(store), hostname=host, port=port)

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


def create_app(store: MailStore) -> FastAPI:
    app = FastAPI(title="E-post (sandbox)", docs_url=None, redoc_url=None)

    @app.get("/", response_class=HTMLResponse)
    def inbox() -> str:
        rows = "".join(
            f"<tr><td>{m['id']}</td><td>{escape(m['received'])}</td>"
            f"<td>{escape(', '.join(m['to']))}"
            f"</td><td><a href='/meldinger/{m['id']}'>{escape(m['subject'])}</a></td></tr>"
            for m in reversed(store.all())
        )
        return (
            f"<!doctype html><html lang='nb'><head><meta charset='utf-8'><title>E-post</title>"
            f"<style>{BASE_CSS}</style></head><body><header><strong>E-post (test)</strong>"
            f"</header><main><h1>Mottatte meldinger</h1><table aria-label='Meldinger'><thead>"
            f"<tr><th>Nr</th><th>Mottatt</th><th>Til</th><th>Emne</th></tr></thead><tbody>"
            f"{rows}</tbody></table></main></body></html>"
        )

    @app.get("/meldinger/{message_id}", response_class=HTMLResponse)
    def show(message_id: int) -> str:
        message = _get(message_id)
        return (
            f"<!doctype html><html lang='nb'><head><meta charset='utf-8'>"
            f"<title>{escape(message['subject'])}</title><style>{BASE_CSS}</style></head>"
            f"<body><main><h1>{escape(message['subject'])}</h1><p>Fra: "
            f"{escape(message['from'])}<br>Til: {escape(', '.join(message['to']))}</p>"
            f"<pre>{escape(message['body'])}</pre></main></body></html>"
        )

    def _get(message_id: int) -> dict[str, Any]:
        for message in store.all():
            if message["id"] == message_id:
                return message
        raise HTTPException(404, "Fant ikke meldingen")

    @app.get("/api/messages")
    def messages() -> list[dict[str, Any]]:
        return store.all()

    @app.delete("/api/messages")
    def clear() -> dict[str, int]:
        store.clear()
        return {"deleted": 1}

    return app
