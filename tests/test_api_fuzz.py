"""Schemathesis against the console's own OpenAPI document, with each role's token, on SQLite and
(when configured) PostgreSQL, which refuses more (NUL in text): no answer is a server error, and
a refused request (4xx) stores no work item."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from sqlalchemy import func, select

from robots.console.app import create_app
from robots.console.auth import add_user, new_token
from robots.models import WorkItem
from tests.conftest import Env

ROLES = ("caseworker", "operator", "auditor", "admin")


@pytest.fixture
def console_api(env: Env) -> Any:
    tokens = {}
    with env.db.session() as session:
        for role in ROLES:
            user = add_user(session, f"fuzz-{role}", "riktig-passord-1", role, "test")
            tokens[role] = new_token(session, user, "fuzz", "test")
    app = create_app(env.settings, env.db)
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    schema.tokens = tokens  # type: ignore[attr-defined]
    schema.env = env  # type: ignore[attr-defined]
    return schema


def items(env: Env) -> int:
    with env.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(WorkItem)) or 0)


def test_no_server_errors_and_nothing_stored_on_refusal(console_api: Any) -> None:
    """Every operation of the API, generated cases for each, called with each role's token."""
    env, tokens = console_api.env, console_api.tokens
    operations = [result.ok() for result in console_api.get_all_operations()]
    assert len(operations) >= 8

    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=20, deadline=None, suppress_health_check=list(HealthCheck)
        )
        def check(case: Any) -> None:
            for role, token in tokens.items():
                before = items(env)
                response = case.call(headers={"Authorization": f"Bearer {token}"})
                where = (role, case.method, case.formatted_path, response.status_code)
                assert response.status_code < 500, (*where, response.text[:300])
                if 400 <= response.status_code < 500:
                    assert items(env) == before, where

        check()
