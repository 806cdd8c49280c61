"""Single sign-on against a real OpenID Provider: oidc-provider from the npm registry (an OpenID
Certified implementation), started on loopback by a fixture (its packages installed from
tests/oidc/package.json on first use), and a login journey in real Chromium."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from robots.console.app import create_app
from robots.models import AuditEvent, User
from robots.web import ServerThread
from tests.conftest import Env

OIDC = Path(__file__).parent / "oidc"
ACCOUNTS = {
    "kari": {"name": "Kari Nordmann", "groups": ["RPA-Saksbehandlere", "Alle ansatte"]},
    "ola": {"name": "Ola Drift", "groups": ["RPA-Drift", "RPA-Saksbehandlere"]},
    "per": {"name": "Per Uten Tilgang", "groups": ["Alle ansatte"]},
}
ROLE_MAP = {"RPA-Saksbehandlere": "caseworker", "RPA-Drift": "operator"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def provider_and_console(sqlite_env: Env) -> Iterator[tuple[Env, str, str]]:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("The SSO test needs Node.js and npm (the OpenID Provider is oidc-provider)")
    if not (OIDC / "node_modules" / "oidc-provider").exists():
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=OIDC,
            check=True,
            capture_output=True,
            timeout=300,
        )
    env = sqlite_env
    console_port, port = free_port(), free_port()
    console_url = f"http://127.0.0.1:{console_port}"
    issuer = f"http://127.0.0.1:{port}"
    log = (env.data_dir / "oidc.log").open("wb")
    node = subprocess.Popen(
        [
            "node",
            "provider.mjs",
            str(port),
            "rpa-konsoll",
            "klient-hemmelighet",
            f"{console_url}/login/sso/tilbake",
            f"{console_url}/login",
        ],
        cwd=OIDC,
        env={**os.environ, "OIDC_ACCOUNTS": json.dumps(ACCOUNTS)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{issuer}/.well-known/openid-configuration").status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert node.poll() is None and time.monotonic() < deadline, (
            env.data_dir / "oidc.log"
        ).read_text()
        time.sleep(0.2)
    settings = env.settings.model_copy(
        update={
            "oidc_issuer": issuer,
            "oidc_client_id": "rpa-konsoll",
            "oidc_client_secret": SecretStr("klient-hemmelighet"),
            "oidc_scopes": "openid profile email groups",
            "oidc_role_map": ROLE_MAP,
        }
    )
    server = ServerThread(create_app(settings, env.db), console_port).start()
    try:
        yield env, server.url, issuer
    finally:
        server.stop()
        node.terminate()
        node.wait(10)


def sign_in_at_provider(page: Any, console_url: str, account: str) -> None:
    """Through the provider's own pages: its login form, then its consent page on a first
    login, until it sends the browser back to the console."""
    page.goto(f"{console_url}/login")
    with page.expect_navigation():
        page.get_by_role("link", name="Logg inn med kommunens konto").click()
    for _ in range(3):
        if page.url.startswith(console_url):
            return
        with page.expect_navigation():
            if page.locator("input[name=login]").count():
                page.locator("input[name=login]").fill(account)
                page.locator("input[name=password]").fill("hva-som-helst")
            page.locator("button[type=submit]").first.click()
    page.wait_for_url(f"{console_url}/**")


@pytest.mark.slow
def test_single_sign_on_with_a_real_openid_provider(provider_and_console: Any, page: Any) -> None:
    env, console_url, issuer = provider_and_console
    sign_in_at_provider(page, console_url, "kari")
    assert page.url == f"{console_url}/mine"
    assert "kari (saksbehandler)" in page.locator("header").inner_text()
    with env.db.session() as session:
        kari = session.scalars(select(User).where(User.username == "kari")).one()
        assert kari.role == "caseworker" and kari.sso_subject == f"{issuer} kari"
        logins = session.scalars(select(AuditEvent).where(AuditEvent.action == "login_sso")).all()
    assert [e.details["subject"] for e in logins] == [f"{issuer} kari"]
    # The local password form does not let an SSO user in (its password is unusable).
    page.get_by_role("button", name="Logg ut").click()
    page.get_by_role("heading", name="Logg inn").wait_for()
    # Groups decide the role, the strongest mapped one wins: ola is an operator.
    page.context.clear_cookies()
    sign_in_at_provider(page, console_url, "ola")
    assert page.url == f"{console_url}/drift"
    # A person whose groups map to no role is refused with a page that says why.
    page.context.clear_cookies()
    sign_in_at_provider(page, console_url, "per")
    assert "ingen av gruppene dine gir tilgang" in page.locator("main").inner_text()
    with env.db.session() as session:
        assert session.scalars(select(User).where(User.username == "per")).first() is None
        refused = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "login_failed")
        ).all()
    assert any(e.details.get("reason") == "ingen rolle" for e in refused)
