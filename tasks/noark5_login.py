"""OAuth 2.0 client credentials for the Noark 5 client (tasks/noark5.py): RFC 6749 §4.4, the
client authenticated with HTTP Basic (§2.3.1), the token sent as a bearer token (RFC 6750).

Kept apart from the client so that httpx is imported only when a robot logs in."""

from __future__ import annotations

from collections.abc import Generator

import httpx

from tasks.noark5 import NoarkError, tls_context


class BearerAuth(httpx.Auth):
    """A token fetched on first use and fetched again once when the API answers 401 (it has
    expired, or the archive forgot it)."""

    def __init__(
        self, token_endpoint: str, credentials: tuple[str, str], timeout: httpx.Timeout
    ) -> None:
        self.token_endpoint = token_endpoint
        self.credentials = credentials
        self.token = ""
        # The token request goes out on its own client (this runs inside the API client's send).
        self._http = httpx.Client(timeout=timeout, verify=tls_context())

    def fetch(self) -> str:
        try:
            response = self._http.post(
                self.token_endpoint,
                data={"grant_type": "client_credentials"},
                auth=self.credentials,
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise NoarkError(f"arkivets innlogging svarer ikke: {exc}", "unreachable") from exc
        if response.status_code in (400, 401):
            raise NoarkError(
                f"arkivet avviste robotens klient-ID eller hemmelighet (HTTP "
                f"{response.status_code})",
                "rejected",
            )
        try:
            token = response.json().get("access_token") if response.is_success else None
        except ValueError:
            token = None
        if not token:
            raise NoarkError(f"arkivets innlogging ga ingen token (HTTP {response.status_code})")
        return str(token)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if not self.token:
            self.token = self.fetch()
        request.headers["Authorization"] = f"Bearer {self.token}"
        response = yield request
        if response.status_code == 401:
            self.token = self.fetch()
            request.headers["Authorization"] = f"Bearer {self.token}"
            yield request

    def close(self) -> None:
        self._http.close()
