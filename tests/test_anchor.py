"""The audit anchor cannot be removed, cut back or moved without the key (issue 22), and it can
live where a fleet of machines can reach it: a PostgreSQL database in which the service may only
INSERT and SELECT, with an RFC 5424 syslog mirror.

Real SQLite and PostgreSQL, real files, a real restricted role; the attacks are done as an
attacker would (rows deleted and re-chained in the database, anchor lines removed from the file).
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, delete, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from robots import audit
from robots.anchor_pg import PostgresStore, apply_ddl
from robots.db import Database
from robots.models import AuditEvent
from tests.conftest import PG_ENV, Env, _make_env, postgres_url


def _events(db: Database, count: int) -> list[int]:
    for i in range(count):
        with db.session() as session:
            audit.record(session, "t", "view", f"run:{i}")
    with db.session() as session:
        return list(session.scalars(select(AuditEvent.id).order_by(AuditEvent.id)))


def _verify(db: Database, *, full: bool = True) -> audit.Verification:
    with db.session() as session:
        return audit.verify(session, full=full)


def _drop_and_rechain(db: Database, event_id: int) -> None:
    """The database administrator's attack: delete a row, recompute every later hash."""
    with db.session() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.id == event_id))
        rows = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        prev = audit.GENESIS
        for row in rows:
            row.prev_hash = prev
            row.hash = audit._digest(prev, row.ts, row.actor, row.action, row.target, row.details)
            prev = row.hash


def _one_new_event(env: Env) -> None:
    """Another process (fresh program state) causes one new event."""
    db = Database(env.url, env.settings)
    try:
        _events(db, 1)
    finally:
        db.dispose()


def _anchor_a(env: Env) -> None:
    """Attack (a): delete the anchor file, delete a middle row and re-chain, one new event."""
    _events(env.db, 6)
    (env.data_dir / "audit-anchor.log").unlink()
    _drop_and_rechain(env.db, 3)
    _one_new_event(env)


def _anchor_b(env: Env) -> list[int]:
    """Attack (b): after a verification, delete the last two rows and their anchor lines."""
    ids = _events(env.db, 7)
    assert _verify(env.db).intact
    verified = (env.data_dir / "audit-anchor-verified.log").read_text()
    assert f'"event_id": {ids[-1]}' in verified
    with env.db.session() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.id.in_(ids[-2:])))
    path = env.data_dir / "audit-anchor.log"
    kept = [ln for ln in path.read_text().splitlines() if json.loads(ln)["id"] not in ids[-2:]]
    path.write_text("".join(line + "\n" for line in kept))
    return ids


def test_a_deleted_anchor_is_not_begun_again(env: Env) -> None:
    _anchor_a(env)
    result = _verify(env.db)
    assert not result.intact and result.first_broken_id == 1
    assert "ikke noe signert kontrollpunkt" in result.reason


def test_a_deleted_anchor_fails_audit_verify_on_the_command_line(sqlite_env: Env) -> None:
    env = sqlite_env
    _anchor_a(env)
    done = env.runner("audit", "verify")
    assert done.returncode == 9, done.stdout + done.stderr
    assert "Revisjonssporet er brutt ved hendelse 1" in done.stdout
    assert "ikke noe signert kontrollpunkt" in done.stdout


def test_the_last_rows_cut_with_their_anchor_lines_are_detected(env: Env) -> None:
    _anchor_b(env)
    for full in (True, False):
        result = _verify(env.db, full=full)
        assert not result.intact
        assert "avkortet, slettet eller skrevet om siden kontrollen" in result.reason


def test_the_last_rows_cut_with_their_anchor_lines_fail_on_the_command_line(
    sqlite_env: Env,
) -> None:
    env = sqlite_env
    _anchor_b(env)
    done = env.runner("audit", "verify")
    assert done.returncode == 9, done.stdout + done.stderr
    assert "avkortet, slettet eller skrevet om" in done.stdout


def test_the_row_verified_last_must_still_be_there(env: Env) -> None:
    """Rows cut, anchor left whole: the verification names the row it verified last as gone,
    after locating the first missing one."""
    ids = _events(env.db, 5)
    assert _verify(env.db, full=False).intact
    with env.db.session() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.id == ids[-1]))
    for full in (True, False):
        result = _verify(env.db, full=full)
        assert not result.intact and result.first_broken_id == ids[-1]
        assert "signerte hendelser mangler" in result.reason


def test_a_deleted_verification_log_is_reported(env: Env) -> None:
    _events(env.db, 3)
    assert _verify(env.db).intact
    (env.data_dir / "audit-anchor-verified.log").unlink()
    result = _verify(env.db)
    assert not result.intact and "kontrollogg mangler" in result.reason


# The anchor in a separate PostgreSQL database (a fleet) -----------------------------------


@dataclass
class AnchorDb:
    admin_url: str  # the anchor database's administrator (a superuser here)
    service_url: str  # the service's role: INSERT and SELECT only


@pytest.fixture
def anchor_db() -> Iterator[AnchorDb]:
    """A database of its own and a login role of its own, set up with `audit anchor-ddl`."""
    if not postgres_url():
        pytest.skip(f"PostgreSQL tests need {PG_ENV}")
    server = make_url(postgres_url()).set(drivername="postgresql+psycopg")
    tag = secrets.token_hex(4)
    name, role = f"rpa_anchor_{tag}", f"rpa_anchor_{tag}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
    admin_url = server.set(database=name).render_as_string(hide_password=False)
    service_url = server.set(database=name, username=role).render_as_string(hide_password=False)
    try:
        apply_ddl(admin_url, role)
        yield AnchorDb(admin_url, service_url)
    finally:
        store = PostgresStore._shared.pop(service_url, None)
        if store is not None:
            store.engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


@pytest.fixture
def pg_anchored(
    backend: str, anchor_db: AnchorDb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Env, AnchorDb]]:
    """An installation (SQLite or PostgreSQL) whose anchor is the PostgreSQL anchor store."""
    for env in _make_env(
        backend, tmp_path, monkeypatch, RPA_AUDIT_ANCHOR_URL=anchor_db.service_url
    ):
        yield env, anchor_db


def test_the_service_role_may_only_insert_and_select(anchor_db: AnchorDb) -> None:
    service = create_engine(make_url(anchor_db.service_url).set(drivername="postgresql+psycopg"))
    try:
        with service.begin() as conn:
            conn.execute(text("INSERT INTO audit_anchor (line) VALUES ('x')"))
            assert conn.scalar(text("SELECT count(*) FROM audit_anchor")) == 1
        for statement in (
            "UPDATE audit_anchor SET line = 'y'",
            "DELETE FROM audit_anchor",
            "TRUNCATE audit_anchor",
            "DELETE FROM audit_anchor_verified",
            "TRUNCATE audit_anchor_verified",
            "DROP TABLE audit_anchor",
        ):
            with (
                pytest.raises(ProgrammingError, match="permission denied|must be owner"),
                service.begin() as conn,
            ):
                conn.execute(text(statement))
    finally:
        service.dispose()
    owner = create_engine(make_url(anchor_db.admin_url))
    try:  # even the tables' owner is refused, by the triggers (a superuser can disable them)
        for statement in ("UPDATE audit_anchor SET line = 'y'", "TRUNCATE audit_anchor"):
            with pytest.raises(ProgrammingError, match="append-only"), owner.begin() as conn:
                conn.execute(text(statement))
    finally:
        owner.dispose()


def test_the_anchor_ddl_is_printed_for_the_admin(sqlite_env: Env) -> None:
    from typer.testing import CliRunner

    from robots.cli import app

    printed = CliRunner().invoke(app, ["audit", "anchor-ddl", "--role", "rpa_anker"])
    assert printed.exit_code == 0
    assert "GRANT SELECT, INSERT ON audit_anchor, audit_anchor_verified TO rpa_anker" in (
        printed.output
    )
    refused = CliRunner().invoke(app, ["audit", "anchor-ddl", "--role", "x; DROP TABLE y"])
    assert refused.exit_code != 0


def test_verification_works_on_the_postgres_anchor(pg_anchored: tuple[Env, AnchorDb]) -> None:
    env, anchor_db = pg_anchored
    _events(env.db, 5)
    assert _verify(env.db).intact
    _events(env.db, 2)
    incremental = _verify(env.db, full=False)
    assert incremental.intact and incremental.since is not None and incremental.checked == 7
    assert not (env.data_dir / "audit-anchor.log").exists()
    with create_engine(make_url(anchor_db.admin_url)).connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM audit_anchor")) == 14  # 7 x (p, c)
        assert conn.scalar(text("SELECT count(*) FROM audit_anchor_verified")) == 2


def test_attack_a_fails_against_the_postgres_anchor(pg_anchored: tuple[Env, AnchorDb]) -> None:
    """The anchor cannot be deleted with the service's credentials, so the re-chained rows
    no longer match their signed hashes."""
    env, anchor_db = pg_anchored
    ids = _events(env.db, 6)
    service = create_engine(make_url(anchor_db.service_url).set(drivername="postgresql+psycopg"))
    try:
        with pytest.raises(ProgrammingError, match="permission denied"), service.begin() as conn:
            conn.execute(text("DELETE FROM audit_anchor"))
    finally:
        service.dispose()
    _drop_and_rechain(env.db, ids[2])
    _one_new_event(env)
    result = _verify(env.db)
    assert not result.intact and result.first_broken_id == ids[3]
    assert "skrevet om etter at hendelsen ble signert" in result.reason


def test_attack_b_fails_against_the_postgres_anchor(pg_anchored: tuple[Env, AnchorDb]) -> None:
    env, anchor_db = pg_anchored
    ids = _events(env.db, 7)
    assert _verify(env.db).intact
    with env.db.session() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.id.in_(ids[-2:])))
    # Attack (b): refused to the service's role; only the anchor database's superuser, past
    # the triggers, can cut the lines, and that is seen.
    service = create_engine(make_url(anchor_db.service_url).set(drivername="postgresql+psycopg"))
    superuser = create_engine(make_url(anchor_db.admin_url))
    cut = text("DELETE FROM audit_anchor WHERE (line::json->>'id')::int = ANY(:ids)")
    try:
        with pytest.raises(ProgrammingError, match="permission denied"), service.begin() as conn:
            conn.execute(cut, {"ids": ids[-2:]})
        with superuser.begin() as conn:
            conn.execute(text("SET session_replication_role = replica"))  # triggers off
            assert conn.execute(cut, {"ids": ids[-2:]}).rowcount == 4
    finally:
        service.dispose()
        superuser.dispose()
    for full in (True, False):
        result = _verify(env.db, full=full)
        assert not result.intact
        assert "avkortet, slettet eller skrevet om siden kontrollen" in result.reason


# The syslog mirror ---------------------------------------------------------------------------

RFC5424 = re.compile(
    r"^<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<pid>\S+) (?P<msgid>\S+) "
    r"\[(?P<sdid>checkpoint@32473)(?P<params>(?: [a-z]+=\"(?:[^\"\\\]]|\\.)*\")+)\] (?P<msg>.*)$"
)


def _parsed(frame: bytes) -> dict[str, str]:
    match = RFC5424.match(frame.decode())
    assert match, frame
    params = dict(re.findall(r' ([a-z]+)="((?:[^"\\\]]|\\.)*)"', match["params"]))
    assert match["pri"] == "109" and match["app"] == "kommune-rpa"  # log audit, notice
    assert datetime.fromisoformat(match["ts"].replace("Z", "+00:00")).tzinfo is not None
    return params


def _signed_lines(env: Env) -> list[dict[str, str]]:
    lines = (env.data_dir / "audit-anchor.log").read_text().splitlines()
    return [{k: str(v) for k, v in json.loads(line).items()} for line in lines]


def test_checkpoints_are_mirrored_to_syslog_over_udp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(10)
        address = f"udp://127.0.0.1:{receiver.getsockname()[1]}"
        for env in _make_env("sqlite", tmp_path, monkeypatch, RPA_AUDIT_SYSLOG=address):
            _events(env.db, 2)
            received = [_parsed(receiver.recv(4096)) for _ in range(4)]
            assert received == _signed_lines(env)  # id, hash, state and mac of each line


def test_checkpoints_are_mirrored_to_syslog_over_tcp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames: list[bytes] = []
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(10)
        address = f"tcp://127.0.0.1:{server.getsockname()[1]}"

        def receive() -> None:
            for _ in range(2):  # one connection per append (before and after the commit)
                conn, _peer = server.accept()
                with conn, conn.makefile("rb") as stream:
                    while head := _octets(stream):  # RFC 6587 octet counting
                        frames.append(stream.read(head))

        thread = threading.Thread(target=receive)
        thread.start()
        for env in _make_env("sqlite", tmp_path, monkeypatch, RPA_AUDIT_SYSLOG=address):
            _events(env.db, 1)
            thread.join(timeout=10)
            assert [_parsed(frame) for frame in frames] == _signed_lines(env)


def _octets(stream: Any) -> int:
    digits = b""
    while (char := stream.read(1)) not in (b" ", b""):
        digits += char
    return int(digits) if digits else 0


def test_a_collector_that_is_down_does_not_stop_the_audit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    for env in _make_env(
        "sqlite", tmp_path, monkeypatch, RPA_AUDIT_SYSLOG=f"tcp://127.0.0.1:{port}"
    ):
        _events(env.db, 1)
        assert _verify(env.db).intact
