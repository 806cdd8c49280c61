"""A client for the Noark 5 tjenestegrensesnitt (v1.1, Noark 5 v5) that knows only the standard.

It starts at the API root and logs in as the root announces (kapittel 4, "Autentisering og
Autorisering"): OpenID Connect (`login/oidc`: the token endpoint from its
openid-configuration) or OAuth 2.0 (`login/rfc6749`: the token endpoint) with the
client-credentials grant and a bearer token, Basic (`login/rfc7617`) only where nothing else is
offered. From there it follows `_links` by relation key; it never builds a path. Lists
are read page by page (`next`), searched with OData `$filter`, and objects are created through
the `ny-*` relations (GET the template, POST it filled in). Files go up through the `fil`
relation with their MIME type. Updates are PUT to `self` with the ETag read as If-Match
(kapittel 6, "Oppdatere objekter"); a stale ETag (412) is read again and retried once.

Reads are retried on transport errors and HTTP 5xx (safe to repeat); writes are not (a writer
looks before it acts, so the caller decides what a retry means).
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

if TYPE_CHECKING:  # imported when a client is made: task discovery stays light
    import httpx

MEDIA_TYPE = "application/vnd.noark5+json"
REL = "https://rel.arkivverket.no/noark5/v5/api/"


class NoarkError(Exception):
    """The archive refused a request or lacks what the standard promises; the message says
    which relation or answer (Norwegian, it ends up in the run log). `kind` says when it is
    the archive itself that failed: "unreachable" (no connection, a timeout, HTTP 502/503/504
    after the retries) or "rejected" (HTTP 401: the robot's credentials were refused)."""

    def __init__(self, message: str, kind: str = "") -> None:
        super().__init__(message)
        self.kind = kind


def quoted(value: str) -> str:
    """An OData string literal: in single quotes, quotes inside doubled."""
    return "'" + value.replace("'", "''") + "'"


def code_of(value: Any) -> str:
    """The code of a Noark code value ({"kode": ..., "kodenavn": ...})."""
    return str(value.get("kode", "")) if isinstance(value, dict) else str(value or "")


@cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every client in the process: building one loads the
    system's CA certificates (about 60 ms here), and a robot makes a client per item."""
    return ssl.create_default_context()


class Noark5Client:
    RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0)

    def __init__(
        self,
        root_url: str,
        username: str,
        password: str,
        *,
        timeout: float = 30,
        retry_delays: tuple[float, ...] | None = None,
    ) -> None:
        import httpx

        self.root_url = root_url.rstrip("/")
        self.http = httpx.Client(
            headers={"Accept": MEDIA_TYPE}, timeout=timeout, verify=tls_context()
        )
        self.credentials = (username, password)
        self.retry_delays = self.RETRY_DELAYS if retry_delays is None else retry_delays
        self._root: dict[str, Any] | None = None
        self.login = ""  # the mechanism used: "oidc", "rfc6749" or "rfc7617"
        self._followed: dict[tuple[str, ...], dict[str, Any]] = {}

    def __enter__(self) -> Noark5Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        closing = getattr(self.http.auth, "close", None)
        if closing is not None:
            closing()  # a BearerAuth's own client for the token endpoint
        self.http.close()

    # Discovery ----------------------------------------------------------------------------------

    def root(self) -> dict[str, Any]:
        """The API root, read without credentials, then logged in as it announces."""
        if self._root is None:
            root = self._get(self.root_url)
            rels = root.get("_links", {})
            oidc, oauth = rels.get(f"{REL}login/oidc/"), rels.get(f"{REL}login/rfc6749/")
            basic = rels.get(f"{REL}login/rfc7617/")
            if oidc is not None or oauth is not None:
                endpoint = (
                    str(self._get(oidc["href"])["token_endpoint"])
                    if oidc is not None
                    else self._url(oauth["href"])
                )
                from tasks.noark5_login import BearerAuth

                bearer = BearerAuth(endpoint, self.credentials, self.http.timeout)
                bearer.token = bearer.fetch()  # refused credentials show here, at login
                self.http.auth = bearer
                self.login = "oidc" if oidc is not None else "rfc6749"
            elif basic is not None:
                self.http.auth = (self.credentials[0], self.credentials[1])  # HTTP Basic
                self._get(basic["href"])  # 401 here: the archive refused the credentials
                self.login = "rfc7617"
            else:
                offered = [r for r in rels if "/login/" in r]
                raise NoarkError(
                    "arkivet tilbyr ingen innlogging klienten kan (oidc, rfc6749, rfc7617); "
                    "det tilbyr: " + (", ".join(offered) or "ingen innlogging")
                )
            self._root = root
        return self._root

    @staticmethod
    def href(entity: dict[str, Any], rel: str) -> str:
        """The href of a relation (`arkivstruktur/arkivdel`, `sakarkiv/ny-journalpost`, or
        `self`) of an object, without its URI-template part."""
        key = rel if rel in ("self", "next") else f"{REL}{rel.strip('/')}/"
        link = entity.get("_links", {}).get(key)
        if link is None:
            raise NoarkError(f"arkivet mangler relasjonen {rel} der klienten trenger den")
        return str(link["href"]).split("{", 1)[0]

    def follow(self, *rels: str) -> dict[str, Any]:
        """From the root, follow a chain of relations to a resource (e.g. `arkivstruktur`);
        read once per client (the links of the API's own resources do not change)."""
        if rels not in self._followed:
            entity = self.root()
            for rel in rels:
                entity = self._get(self.href(entity, rel))
            self._followed[rels] = entity
        return self._followed[rels]

    # Reading ------------------------------------------------------------------------------------

    def get(self, href: str) -> dict[str, Any]:
        return self._get(href)

    def items(
        self, href: str, odata_filter: str | None = None, *, top: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every object of a list, page after page (`next`), optionally filtered."""
        params: dict[str, Any] = {}
        if odata_filter:
            params["$filter"] = odata_filter
        if top is not None:
            params["$top"] = top
        page: dict[str, Any] | None = self._get(href, params)
        while page is not None:
            yield from page.get("results", [])  # an empty list has no "results" member
            following = page.get("_links", {}).get("next")
            page = self._get(following["href"]) if following else None

    def first(self, href: str, odata_filter: str) -> dict[str, Any] | None:
        return next(self.items(href, odata_filter, top=1), None)

    def list(self, entity: dict[str, Any], rel: str, odata_filter: str | None = None) -> list[Any]:
        return list(self.items(self.href(entity, rel), odata_filter))

    # Writing ------------------------------------------------------------------------------------

    def create(self, parent: dict[str, Any], rel: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Create through a `ny-*` relation: the server's template, filled in, POSTed."""
        href = self.href(parent, rel)
        body = {**self._get(href), **fields}
        return self._write("POST", href, json=body, headers={"Content-Type": MEDIA_TYPE})

    def upload(self, entity: dict[str, Any], content: bytes, mime_type: str) -> dict[str, Any]:
        """Upload a small file through the `fil` relation of a dokumentobjekt or
        dokumentbeskrivelse; the answer is the dokumentobjekt."""
        href = self.href(entity, "arkivstruktur/fil")
        return self._write("POST", href, content=content, headers={"Content-Type": mime_type})

    def update(self, entity: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
        """PUT the object fresh from the archive with `fields` changed, If-Match its ETag; when
        someone changed it in between (412), read it again and try once more."""
        import httpx

        href = self._url(self.href(entity, "self"))
        for attempt in (1, 2):
            current = self.http.get(href)
            self._check(current)
            etag = current.headers.get("etag")
            if not etag:
                raise NoarkError("arkivet ga ingen ETag; kan ikke oppdatere trygt")
            body = {k: v for k, v in current.json().items() if k != "_links"} | fields
            headers = {"Content-Type": MEDIA_TYPE, "If-Match": etag}
            try:
                response = self.http.put(href, json=body, headers=headers)
            except httpx.HTTPError as exc:
                raise NoarkError(f"arkivets API svarer ikke: {exc}") from exc
            if response.status_code != 412 or attempt == 2:
                self._check(response)
                return dict(response.json())
        raise AssertionError("unreachable")

    def download(self, dokumentobjekt: dict[str, Any]) -> bytes:
        href = self.href(dokumentobjekt, "arkivstruktur/fil")
        response = self.http.get(self._url(href), headers={"Accept": "*/*"})
        self._check(response)
        return response.content

    # HTTP ---------------------------------------------------------------------------------------

    def _url(self, href: str) -> str:
        """An href as given, or resolved against the root if the server gave a relative one."""
        return urljoin(self.root_url + "/", href)

    def _get(self, href: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        import httpx

        href = self._url(href)
        failure, kind = "", ""
        for delay in (*self.retry_delays, None):
            try:
                response = self.http.get(href, params=params or None)
            except httpx.HTTPError as exc:
                failure = f"arkivets API svarer ikke: {exc}"
                kind = "unreachable" if isinstance(exc, httpx.TransportError) else ""
            else:
                if response.status_code < 500:
                    self._check(response)
                    return dict(response.json())
                failure = f"arkivets API svarte HTTP {response.status_code}"
                kind = "unreachable" if response.status_code in (502, 503, 504) else ""
            if delay is None:
                break
            time.sleep(delay)
        raise NoarkError(failure, kind)

    def _write(self, method: str, href: str, **kwargs: Any) -> dict[str, Any]:
        import httpx

        try:
            response = self.http.request(method, self._url(href), **kwargs)
        except httpx.HTTPError as exc:
            # Only a connection never made is surely nothing done; a timeout on a write may
            # have been applied (the robot looks before it acts on the next try).
            kind = "unreachable" if isinstance(exc, httpx.ConnectError) else ""
            raise NoarkError(f"arkivets API svarer ikke: {exc}", kind) from exc
        self._check(response)
        return dict(response.json())

    @staticmethod
    def _check(response: httpx.Response) -> None:
        if response.is_success:
            return
        if response.status_code == 401:
            raise NoarkError(
                "arkivet avviste robotens brukernavn eller passord (HTTP 401)", "rejected"
            )
        try:
            detail: Any = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        raise NoarkError(f"arkivet svarte HTTP {response.status_code}: {str(detail)[:300]}")
