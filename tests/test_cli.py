"""The command line: clear messages and exit codes, nothing half-written."""

from __future__ import annotations

import csv
from datetime import date

from openpyxl import Workbook
from sqlalchemy import func, select

from robots.models import RunEvent, WorkItem
from tests.conftest import Env
from tests.test_fnr import make


def items(env: Env) -> int:
    with env.db.session() as session:
        return session.scalar(select(func.count()).select_from(WorkItem))


def test_submit_show_and_duplicate(sqlite_env: Env) -> None:
    env = sqlite_env
    done = env.runner("submit", "probe", "--ref", "r1", "--data", '{"sleep_s": 0}')
    assert done.returncode == 0 and "lagt i kø" in done.stdout
    again = env.runner("submit", "probe", "--ref", "r1", "--data", '{"sleep_s": 9}')
    assert again.returncode == 0 and "finnes allerede" in again.stdout
    assert items(env) == 1
    shown = env.runner("items", "show", "r1")
    assert shown.returncode == 0 and "venter" in shown.stdout


def test_invalid_payload_unknown_task_and_bad_json(sqlite_env: Env) -> None:
    env = sqlite_env
    bad = env.runner("submit", "probe", "--ref", "r", "--data", '{"sleep_s": "x", "y": 1}')
    assert bad.returncode == 3
    assert "sleep_s: må være et tall" in bad.stderr and "y: ukjent felt" in bad.stderr
    unknown = env.runner("submit", "nope", "--ref", "r")
    assert unknown.returncode == 4 and "Ukjent oppgave 'nope'" in unknown.stderr
    broken = env.runner("submit", "probe", "--ref", "r", "--data", "{sleep")
    assert broken.returncode == 3 and "ikke gyldig JSON" in broken.stderr
    assert items(env) == 0


def test_bad_setting_names_setting_and_allowed_values(sqlite_env: Env) -> None:
    result = sqlite_env.runner("items", "list", extra_env={"RPA_LOG_LEVEL": "LOUD"})
    assert result.returncode == 7
    assert "RPA_LOG_LEVEL='LOUD'" in result.stderr and "'DEBUG', 'INFO'" in result.stderr
    zone = sqlite_env.runner("items", "list", extra_env={"RPA_TIMEZONE": "Mars/Base"})
    assert zone.returncode == 7 and "RPA_TIMEZONE" in zone.stderr


def test_database_unreachable_and_schema_behind(sqlite_env: Env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    down = sqlite_env.runner(
        "items",
        "list",
        extra_env={"RPA_DATABASE_URL": "postgresql://rpa:topsecret@127.0.0.1:1/rpa"},
    )
    assert down.returncode == 5 and "Får ikke kontakt med databasen" in down.stderr
    assert "topsecret" not in down.stderr + down.stdout
    empty = sqlite_env.runner(
        "submit",
        "probe",
        "--ref",
        "x",
        extra_env={"RPA_DATABASE_URL": f"sqlite:///{tmp_path / 'new.db'}"},
    )
    assert empty.returncode == 6 and "python runner.py db upgrade" in empty.stderr


def test_bulk_submit_from_csv_and_excel_all_or_nothing(sqlite_env: Env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = sqlite_env
    good = tmp_path / "items.csv"
    with good.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["reference", "sleep_s", "secret_note"])
        writer.writerows([["c1", "0", "a"], ["c2", "0.1", ""], ["c3", "0", "b"]])
    result = env.runner("submit", "probe", "--file", str(good))
    assert result.returncode == 0 and "3 nye elementer" in result.stdout
    again = env.runner("submit", "probe", "--file", str(good))
    assert "0 nye elementer" in again.stdout and items(env) == 3

    book = Workbook()
    sheet = book.active
    sheet.append(["reference", "sleep_s"])
    sheet.append(["x1", 0])
    sheet.append(["x2", "ikke et tall"])
    sheet.append([None, 1])
    path = tmp_path / "items.xlsx"
    book.save(path)
    bad = env.runner("submit", "probe", "--file", str(path))
    assert bad.returncode == 3
    assert "rad 3.sleep_s: må være et tall" in bad.stderr
    assert "rad 4: mangler referanse" in bad.stderr
    assert items(env) == 3  # x1 was valid but nothing from the bad file was stored


def test_worker_run_log_is_masked_everywhere(sqlite_env: Env) -> None:
    env = sqlite_env
    number = make(date(1988, 2, 29), 345)
    env.runner(
        "submit",
        "probe",
        "--ref",
        f"ansatt-{number}",
        "--data",
        f'{{"secret_note": "fnr {number}", "fail": "system"}}',
    )
    result = env.runner("worker", "--until-idle", extra_env={"RPA_DEFAULT_MAX_ATTEMPTS": "1"})
    assert result.returncode == 0
    with env.db.session() as session:
        messages = " ".join(session.scalars(select(RunEvent.message)))
        data = str(session.scalars(select(RunEvent.data)).all())
        item = session.scalars(select(WorkItem)).one()
    assert "Behandler fnr 290288*****" in messages
    assert "Målsystemet svarte ikke" in messages
    jsonl = "".join(p.read_text() for p in (env.data_dir / "runs").glob("*.jsonl"))
    shown = env.runner("runs", "show", "1").stdout + env.runner("items", "list").stdout
    for text in (
        messages,
        data,
        jsonl,
        result.stderr,
        result.stdout,
        shown,
        item.error_message or "",
    ):
        assert number not in text
    assert item.status == "failed" and item.error_kind == "system"
