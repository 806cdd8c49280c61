"""Whether a request came over HTTPS, and the session cookie's Secure flag from it.

Behind a TLS proxy the console sees plain HTTP; the proxy says "https" in X-Forwarded-Proto.
Only the proxies in `console_trusted_proxies` are believed (anyone else could claim it), and the
console decides this itself, whichever server runs it: the servers leave proxy headers alone."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class SecureCookies:
    """Marks every cookie Secure on a response to a request that came over HTTPS."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("scheme") != "https":
            await self.app(scope, receive, send)
            return

        async def secure(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                cookies = headers.getlist("set-cookie")
                if cookies:
                    del headers["set-cookie"]
                    for cookie in cookies:
                        has_flag = "secure" in (p.strip().lower() for p in cookie.split(";"))
                        headers.append("set-cookie", cookie if has_flag else cookie + "; secure")
            await send(message)

        await self.app(scope, receive, secure)
