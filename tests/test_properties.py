"""Property-based tests (Hypothesis): whatever text a caseworker or a file brings, a submit either
stores exactly what was given or refuses with a clear error and stores nothing."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select

from robots.models import AuditEvent, WorkItem
from robots.storable import refused_in
from robots.tasks import InvalidPayload
from tests.conftest import Env

# Any Unicode, surrogates and NUL included, plus the awkward cases named in issue 9.
ANY_TEXT = st.one_of(
    st.text(st.characters(codec=None), max_size=60),
    st.sampled_from(
        ["a\u0000b", "\ud800", "\u202e høyre-til-venstre", "\ufeff", "x" * 1_000_000, ""]
    ),
)
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def stored(env: Env) -> int:
    with env.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(WorkItem)) or 0)


def reset(env: Env) -> None:
    with env.db.session() as session:
        session.execute(delete(WorkItem))


@FUZZ
@given(note=ANY_TEXT, reference=ANY_TEXT)
def test_submit_stores_exactly_or_refuses_cleanly(env: Env, note: str, reference: str) -> None:
    reset(env)
    queue = env.queue()
    try:
        result = queue.submit("probe", reference, {"note": note}, submitted_by="t")
    except (InvalidPayload, ValueError) as refused:
        assert str(refused)  # a message for the person
        assert (
            refused_in(note)
            or refused_in(reference)
            or not reference.strip()
            or (
                len(reference) > 200
                or any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in reference)
            )
        )
        assert stored(env) == 0
        return
    assert result.created and stored(env) == 1
    with env.db.session() as session:
        item = session.scalars(select(WorkItem)).one()
        assert item.payload["note"] == note and item.reference == reference


@FUZZ
@given(notes=st.lists(ANY_TEXT, min_size=1, max_size=4))
def test_a_csv_file_is_stored_whole_or_refused_whole(
    sqlite_env: Env, tmp_path_factory: pytest.TempPathFactory, notes: list[str]
) -> None:
    from robots.cli import _submit_file

    env = sqlite_env
    reset(env)
    path = Path(tmp_path_factory.mktemp("csv")) / "rader.csv"
    with path.open("w", encoding="utf-8", errors="surrogatepass", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["reference", "note"])
        for number, note in enumerate(notes):
            writer.writerow([f"rad-{number}", note])
    queue = env.queue()
    try:
        _submit_file(queue, "probe", path, "reference", "t", 0, None, None)
    except InvalidPayload as refused:
        assert refused.errors and stored(env) == 0
        return
    assert stored(env) == len(notes)
    with env.db.session() as session:
        for item in session.scalars(select(WorkItem)):
            assert refused_in(item.payload.get("note", "")) is None


def test_audit_details_with_refused_characters_are_stored(env: Env) -> None:
    from robots import audit

    with env.db.session() as session:
        audit.record(session, "web:a\u0000b", "submit", "item:\ud800", {"x": "c\u0000d"})
    with env.db.session() as session:
        event = session.scalars(select(AuditEvent)).one()
        assert refused_in(event.actor + event.target + str(event.details)) is None
        assert audit.verify(session).intact
