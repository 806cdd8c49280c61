"""Side doors into the console (issue 22), each reproduced as the attacker would, over real
HTTP against the app, on SQLite and (when configured) PostgreSQL: NUL in any input, a forged
or missing HTTPS signal for the session cookie, and a session cookie replayed after logout or
after the admin ended the user's access."""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from robots.console.app import create_app
from robots.console.auth import add_user, new_token
from robots.models import AuditEvent, ConsoleSession, User, utcnow
from robots.storable import NUL_STAND_IN
from robots.web import ServerThread
from tests.conftest import PASSWORD, ROLES, Env, wait_for


@pytest.fixture
def both_console(env: Env, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Env, Any, Any]]:
    """The conftest's console (one user per role, a token each), on both databases."""
    from argon2 import PasswordHasher

    from robots.console import auth

    monkeypatch.setattr(
        auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    tokens = {}
    with env.db.session() as session:
        for role in ROLES:
            tokens[role] = new_token(
                session, add_user(session, role, PASSWORD, role, "t"), "t", "t"
            )
    server = ServerThread(create_app(env.settings, env.db)).start()
    try:
        yield env, server, tokens
    finally:
        server.stop()


def csrf_of(client: httpx.Client, path: str = "/login") -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert found, path
    return found.group(1)


def login(server: ServerThread, user: str) -> httpx.Client:
    client = httpx.Client(base_url=server.url)
    form = {"username": user, "password": PASSWORD, "csrf": csrf_of(client)}
    response = client.post("/login", data=form)
    assert response.status_code == 303, response.text
    return client


def replay(server: ServerThread, cookies: httpx.Cookies) -> httpx.Client:
    """A second client (the attacker's) with a copy of the victim's cookies."""
    return httpx.Client(base_url=server.url, cookies=httpx.Cookies(cookies))


# 5. NUL in a query, form or JSON field --------------------------------------------------------

NUL_QUERIES = (
    "/api/items?q=%00",
    "/api/runs?task=%00",
    "/api/audit?actor=%00",
    "/mine?q=%00",
    "/revisjon/eksport.csv?q=%00",
    "/drift/elementer?q=%00",
)


def test_nul_in_any_listed_query_is_a_422_not_a_server_error(both_console: Any) -> None:
    env, server, tokens = both_console
    admin_api = httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {tokens['admin']}"}
    )
    admin_web = login(server, "admin")
    for url in NUL_QUERIES:
        client = admin_api if url.startswith("/api/") else admin_web
        response = client.get(url)
        assert response.status_code == 422, (env.backend, url, response.status_code)
        assert "NUL-tegn" in response.text, (url, response.text[:300])
    # a form field and a JSON field: refused the same way, nothing stored
    token = csrf_of(admin_web, "/ny/probe")
    form = admin_web.post("/ny/probe", data={"csrf": token, "reference": "r", "note": "a\x00b"})
    assert form.status_code == 422 and "NUL-tegn" in form.text
    body = {"task": "probe", "reference": "r", "payload": {"note": "a\x00b"}}
    assert admin_api.post("/api/items", json=body).status_code == 422
    assert admin_api.get("/api/items").json() == []


def test_a_login_with_nul_in_the_name_is_refused_and_audited(both_console: Any) -> None:
    env, server, _ = both_console
    client = httpx.Client(base_url=server.url)
    form = {"username": "ad\x00m", "password": "a\x00b", "csrf": csrf_of(client)}
    response = client.post("/login", data=form)
    assert response.status_code == 401 and "Innloggingen mislyktes" in response.text
    with env.db.session() as session:
        actors = session.scalars(
            select(AuditEvent.actor).where(AuditEvent.action == "login_failed")
        ).all()
    assert actors == [f"web:ad{NUL_STAND_IN}m"]


# 10. The session cookie's Secure flag behind an HTTPS proxy -----------------------------------


def _cookie_header(env: Env, forwarded: dict[str, str], **settings: Any) -> str:
    app = create_app(env.settings.model_copy(update=settings), env.db)
    server = ServerThread(app).start()
    try:
        response = httpx.get(f"{server.url}/login", headers=forwarded)
        return response.headers["set-cookie"].lower()
    finally:
        server.stop()


HTTPS = {"X-Forwarded-Proto": "https"}


def test_cookie_is_secure_behind_a_trusted_https_proxy_only(sqlite_env: Env) -> None:
    env = sqlite_env
    trusted = {"console_trusted_proxies": ["127.0.0.1"]}
    assert "secure" in _cookie_header(env, HTTPS, **trusted)
    assert "secure" not in _cookie_header(env, {}, **trusted)  # plain HTTP through the proxy
    # the same header from an address that is not a trusted proxy is forged: ignored
    untrusted = {"console_trusted_proxies": ["192.0.2.10"]}
    assert "secure" not in _cookie_header(env, HTTPS, **untrusted)
    assert "secure" not in _cookie_header(env, HTTPS, console_trusted_proxies=[])
    # console_secure_cookie still forces it, whatever the request says
    assert "secure" in _cookie_header(
        env, {}, console_trusted_proxies=[], console_secure_cookie=True
    )


# 11. A session ends on the server ------------------------------------------------------------


def _locked_out(client: httpx.Client) -> None:
    page = client.get("/mine")
    assert page.status_code == 303 and page.headers["location"] == "/login", page.status_code
    assert client.get("/api/items").status_code == 401
    csrf = client.cookies.get("rpa_konsoll")  # any header: the cookie itself must be refused
    posted = client.post(
        "/api/items",
        json={"task": "probe", "reference": "x", "payload": {}},
        headers={"X-CSRF-Token": csrf or ""},
    )
    assert posted.status_code == 401


def test_a_cookie_copied_before_logout_is_dead_after_it(both_console: Any) -> None:
    _, server, _ = both_console
    kari = login(server, "caseworker")
    copied = httpx.Cookies(kari.cookies)
    assert replay(server, copied).get("/mine").status_code == 200
    assert kari.post("/logout", data={"csrf": csrf_of(kari, "/mine")}).status_code == 303
    _locked_out(replay(server, copied))
    # another session of the same person (a second browser) is not ended by this logout
    other = login(server, "caseworker")
    assert other.get("/mine").status_code == 200


@pytest.mark.parametrize("change", ["deaktiver", "rolle"])
def test_the_admins_change_ends_the_users_sessions(both_console: Any, change: str) -> None:
    env, server, _ = both_console
    kari = login(server, "caseworker")
    copied = httpx.Cookies(kari.cookies)
    admin = login(server, "admin")
    with env.db.session() as session:
        kari_id = session.scalars(select(User.id).where(User.username == "caseworker")).one()
    # bekreft=ja: the confirmation page's own post (deactivating asks first)
    form = {"csrf": csrf_of(admin, "/admin/brukere"), "role": "auditor", "bekreft": "ja"}
    assert admin.post(f"/admin/brukere/{kari_id}/{change}", data=form).status_code == 303
    if change == "deaktiver":  # and enabling the user again does not revive the old session
        form["csrf"] = csrf_of(admin, "/admin/brukere")
        assert admin.post(f"/admin/brukere/{kari_id}/aktiver", data=form).status_code == 303
    _locked_out(replay(server, copied))
    assert admin.get("/drift").status_code == 200  # the admin's own session is untouched


def test_an_open_live_stream_ends_with_the_session(both_console: Any) -> None:
    """A live-update stream opened with the cookie stops once the session is logged out,
    instead of sending the person's items for minutes more."""
    _, server, tokens = both_console
    kari = login(server, "caseworker")
    watcher = replay(server, kari.cookies)
    with watcher.stream("GET", "/hendelser/mine", timeout=30) as events:
        assert events.status_code == 200
        lines = events.iter_lines()
        assert next(line for line in lines if line.startswith("data:"))  # the first drawing
        assert kari.post("/logout", data={"csrf": csrf_of(kari, "/mine")}).status_code == 303
        # something new to draw: a stream still open would send it within a second
        submit = {"task": "probe", "reference": "etter-utlogging", "payload": {}}
        headers = {"Authorization": f"Bearer {tokens['caseworker']}"}
        assert httpx.post(f"{server.url}/api/items", json=submit, headers=headers).is_success
        sent = next((line for line in lines if line.startswith("data:")), None)
    assert sent is None  # the stream ended with nothing more


def test_a_session_unused_for_its_lifetime_has_lapsed(both_console: Any) -> None:
    env, server, _ = both_console
    kari = login(server, "caseworker")
    assert kari.get("/mine").status_code == 200
    with env.db.session() as session:
        session.execute(update(ConsoleSession).values(last_seen_at=utcnow() - timedelta(hours=9)))
    _locked_out(kari)


def _self_signed(where: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as a municipality's own CA would make one."""
    import ipaddress
    from datetime import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = where / "cert.pem", where / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def test_cookie_is_secure_over_direct_https(sqlite_env: Env, tmp_path: Path) -> None:
    import threading

    import uvicorn

    env = sqlite_env
    cert_file, key_file = _self_signed(tmp_path)
    settings = env.settings.model_copy(update={"console_trusted_proxies": []})
    config = uvicorn.Config(
        create_app(settings, env.db),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        ssl_certfile=str(cert_file),
        ssl_keyfile=str(key_file),
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started and server.servers, timeout=20, message="TLS server")
        port = server.servers[0].sockets[0].getsockname()[1]
        trust = ssl.create_default_context(cafile=str(cert_file))
        response = httpx.get(f"https://127.0.0.1:{port}/login", verify=trust)
        assert response.status_code == 200
        assert "secure" in response.headers["set-cookie"].lower()
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def test_a_trusted_proxy_must_be_an_address_or_network() -> None:
    """uvicorn would take a misspelt address as a name that never matches, silently."""
    from robots.settings import SettingsError, load_settings

    assert load_settings(console_trusted_proxies=["10.0.0.0/24", "::1", "*"])
    with pytest.raises(SettingsError, match="not an IP address or network"):
        load_settings(console_trusted_proxies=["proxy.kommune.no"])
