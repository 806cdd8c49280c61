"""The command line: clear messages and exit codes, nothing half-written."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy import create_engine, func, select

from robots import fnr, sealing
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
    sealing.install(env.settings)  # the installation's key, as the worker used it
    assert f"Behandler fnr {fnr.tag(number)}" in messages and "290288" not in messages
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


def test_bad_input_ends_in_one_line_and_an_exit_code(sqlite_env: Env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Inputs that used to end in a traceback (issue 9, item 10)."""
    env = sqlite_env
    cases = [
        (("submit", "probe", "--ref", "p", "--priority", "99999999999"), {}, 3, "Prioriteten"),
        (("items", "show", "[/x]"), {}, 8, "Fant ikke element '[/x]'"),
        (("items", "list"), {"RPA_DATABASE_URL": "notaurl"}, 7, "RPA_DATABASE_URL"),
        (("items", "list"), {"RPA_DATABASE_URL": "mysql://u:pw1234@h/x"}, 7, "'mysql'"),
        (("tasks", "list"), {"RPA_TASK_PACKAGES": '["finnes_ikke"]'}, 7, "finnes_ikke"),
        (("items", "list"), {"RPA_CLOSED_DAYS": '["13-45"]'}, 7, "13-45"),
        (("items", "list"), {"RPA_HEARTBEAT_SECONDS": "30"}, 7, "heartbeat_seconds"),
    ]
    for args, extra, code, needle in cases:
        result = env.runner(*args, extra_env=extra)
        assert result.returncode == code, (args, result.stderr)
        assert needle in result.stderr and "Traceback" not in result.stderr, result.stderr
        assert "pw1234" not in result.stderr
    typo = env.runner("items", "list", extra_env={"RPA_POLL_SECOND": "1"})
    assert typo.returncode == 0 and "mente du RPA_POLL_SECONDS?" in typo.stderr
    assert items(env) == 0


def test_csv_with_duplicates_a_huge_cell_or_a_nul_is_refused_whole(
    sqlite_env: Env,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    env = sqlite_env
    duplicates = tmp_path / "dobbel.csv"
    duplicates.write_text("reference,sleep_s\na,0\nb,0\na,0\n", encoding="utf-8")
    result = env.runner("submit", "probe", "--file", str(duplicates))
    assert result.returncode == 3 and "rad 4: referansen 'a' står også på rad 2" in result.stderr
    huge = tmp_path / "stor.csv"
    huge.write_text("reference,note\na," + "x" * 200_000 + "\n", encoding="utf-8")
    result = env.runner("submit", "probe", "--file", str(huge))
    assert result.returncode == 3 and "større enn" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    nul = tmp_path / "nul.csv"
    nul.write_text("reference,note\na,x\x00y\n", encoding="utf-8")
    result = env.runner("submit", "probe", "--file", str(nul))
    assert result.returncode == 3 and "Traceback" not in result.stderr, result.stderr
    assert items(env) == 0


def test_submit_as_a_console_user_is_held_to_the_tasks_roles(sqlite_env: Env) -> None:
    from robots.console.auth import add_user

    env = sqlite_env
    with env.db.session() as session:
        add_user(session, "kari", "riktig-passord-1", "caseworker", "test")
    refused = env.runner("submit", "vedlikehold.retention", "--ref", "r", "--as", "kari")
    assert refused.returncode == 8 and "kan ikke starte" in refused.stderr
    unknown = env.runner("submit", "probe", "--ref", "r", "--as", "finnes-ikke")
    assert unknown.returncode == 8 and "Fant ingen konsollbruker" in unknown.stderr
    allowed = env.runner("submit", "probe", "--ref", "r", "--as", "kari")
    assert allowed.returncode == 0, allowed.stderr
    assert items(env) == 1


def test_schedule_errors_name_the_schedule_and_the_file(sqlite_env: Env) -> None:
    env = sqlite_env
    path = env.settings.schedules_path
    path.write_text(
        "schedules:\n  - name: morgen\n    task: finnes.ikke\n    cron: '0 7 * * *'\n",
        encoding="utf-8",
    )
    unknown = env.runner("schedules", "list")
    assert unknown.returncode == 7
    assert f"{path}: tidsplan morgen: Ukjent oppgave 'finnes.ikke'" in " ".join(
        unknown.stderr.split()
    )
    path.write_text(
        "schedules:\n  - name: natt\n    task: selftest\n    cron: '99 7 * * *'\n",
        encoding="utf-8",
    )
    bad = env.runner("schedules", "list")
    assert bad.returncode == 7 and "tidsplan natt: '99 7 * * *'" in " ".join(bad.stderr.split())


def test_run_one_item_here_and_now(sqlite_env: Env) -> None:
    """`runner.py run`: the developer's loop, without a worker; the run log as it goes, the
    outcome, the evidence and the report. Its items live in a scratch database of its own: a
    dev item that failed with a system error (and so would be retried) never reaches the
    production queue, whose workers would run it again against the real systems."""
    env = sqlite_env
    done = env.runner("run", "probe", "--data", '{"note": "hei fra utvikleren"}')
    assert done.returncode == 0, done.stderr
    assert "Notat: hei fra utvikleren" in done.stderr  # the run log, printed as it goes
    assert "ferdig" in done.stdout and "Rapport:" in done.stdout
    assert "ikke produksjonskøen" in done.stdout
    report = done.stdout.split("Rapport:")[1].strip().splitlines()[0]
    assert Path(report).exists() and "hei fra utvikleren" in Path(report).read_text()
    assert "Tid (norsk tid)" in Path(report).read_text()  # the report says its zone
    failed = env.runner("run", "probe", "--data", '{"fail": "business"}')
    assert failed.returncode == 14
    assert "Ansatt finnes ikke i HR-systemet" in failed.stdout
    retried = env.runner("run", "probe", "--data", '{"fail": "system"}')
    assert retried.returncode == 14, retried.stdout + retried.stderr
    bad = env.runner("run", "probe", "--data", '{"fail": 1}')
    assert bad.returncode == 3
    with env.db.session() as session:  # the production queue saw none of it
        assert session.scalars(select(WorkItem.reference)).all() == []
    scratch = env.data_dir / "utvikling" / "rpa.db"
    engine = create_engine(f"sqlite:///{scratch}")
    with engine.connect() as conn:
        rows = conn.execute(select(WorkItem.reference, WorkItem.status)).all()
    engine.dispose()
    assert len(rows) == 3 and all(r.startswith("utvikling:") for r, _ in rows)
    assert "pending" in {status for _, status in rows}  # the system error waits for a retry...
    worker = env.runner("worker", "--until-idle", timeout=120)
    assert worker.returncode == 0, worker.stderr
    assert "0 elementer behandlet" in worker.stdout  # ...but no production worker can take it
    verified = env.runner("audit", "verify")  # and the production audit trail is untouched
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_new_task_scaffold_runs_its_own_test(sqlite_env: Env) -> None:
    """`new task` writes a task, a selectors file and a test; the test it wrote passes (it runs
    the task with `runner.py run` in real Chromium against a local stand-in page)."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = sqlite_env
    name, system = "stillas_sjekk", "stillas"
    written = [
        ROOT / "tasks" / f"{name}.py",
        ROOT / "selectors" / f"{system}.yaml",
        ROOT / "tests" / f"test_{name}.py",
    ]
    assert not any(p.exists() for p in written)
    try:
        made = env.runner("new", "task", name, "--system", system)
        assert made.returncode == 0, made.stderr
        assert all(p.exists() for p in written)
        again = env.runner("new", "task", name, "--system", system)
        assert again.returncode == 3 and "finnes allerede" in again.stderr
        assert env.runner("selectors", "validate").returncode == 0
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(written[2])],
            cwd=ROOT,
            env=env.environ,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert result.returncode == 0, result.stdout[-3000:]
    finally:
        for path in written:
            path.unlink(missing_ok=True)


def test_csv_cells_read_back_as_excel_wrote_them(tmp_path: Path) -> None:
    """Quotes, line breaks and both Norwegian delimiters come back exactly; a row with more
    fields than the header is refused, not folded into a made-up column."""
    import pytest

    from robots.cli import read_rows
    from robots.tasks import InvalidPayload

    notes = ['sa "ja"', "linje 1\r\nlinje 2", "\r", '"\r0', "a;b,c", "æøå"]
    for delimiter in (",", ";", "\t"):
        path = tmp_path / "rader.csv"
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle, delimiter=delimiter)
            writer.writerow(["reference", "note"])
            writer.writerows([f"rad-{n}", note] for n, note in enumerate(notes))
        assert [row["note"] for row in read_rows(path)] == notes
        assert [row["reference"] for row in read_rows(path)] == [f"rad-{n}" for n in range(6)]
    extra = tmp_path / "ekstra.csv"
    extra.write_text("reference;note\na;x\nb;y;z\n", encoding="utf-8")
    with pytest.raises(InvalidPayload, match="rad 3 har flere felt"):
        read_rows(extra)


def test_bulk_submit_keeps_the_reference_column_in_the_input(sqlite_env: Env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`--ref-column employee_id`: the column is the item's reference and stays in its input
    (hr_lookup needs it); `--drop-ref-column` leaves it out."""
    env = sqlite_env
    path = tmp_path / "ansatte.csv"
    path.write_text("employee_id\n1503\n1504\n", encoding="utf-8")
    result = env.runner("submit", "hr_lookup", "--file", str(path), "--ref-column", "employee_id")
    assert result.returncode == 0, result.stderr
    assert "2 nye elementer" in result.stdout
    with env.db.session() as session:
        payloads = {i.reference: i.payload for i in session.scalars(select(WorkItem))}
    assert {ref: p["employee_id"] for ref, p in payloads.items()} == {"1503": 1503, "1504": 1504}

    notes = tmp_path / "notater.csv"
    notes.write_text("note,sleep_s\nn1,0\n", encoding="utf-8")
    dropped = env.runner(
        "submit", "probe", "--file", str(notes), "--ref-column", "note", "--drop-ref-column"
    )
    assert dropped.returncode == 0, dropped.stderr
    with env.db.session() as session:
        item = session.scalars(select(WorkItem).where(WorkItem.reference == "n1")).one()
        assert item.payload["note"] == ""  # the default, not the reference


def test_a_run_that_needs_a_browser_and_has_none_stops_at_once(sqlite_env: Env) -> None:
    """The browser is pointed at nothing (RPA_BROWSER_PATH to a missing file): the demo and a
    worker for browser tasks stop in seconds, with one line that names the fixing command
    (exit 11), instead of failing every item until a timeout; a worker for tasks without a
    browser runs."""
    env = sqlite_env
    nothing = {"RPA_BROWSER_PATH": str(env.data_dir / "finnes-ikke" / "chromium")}
    for args in (("demo", "--timeout", "600"), ("worker", "--until-idle")):
        result = env.runner(*args, extra_env=nothing, timeout=60)
        assert result.returncode == 11, (args, result.stdout, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "playwright install chromium" in lines[0], result.stderr
        assert "finnes-ikke" in lines[0]
    plain = env.runner("worker", "--until-idle", "--task", "probe", extra_env=nothing)
    assert plain.returncode == 0, plain.stderr


def test_times_shown_to_people_say_their_zone(sqlite_env: Env) -> None:
    """One zone for everything a person reads (the configured timezone, Europe/Oslo), and it
    says so: `items show`, `runs list`, `runs show` and the run log lines `run` prints."""
    import re
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    env = sqlite_env
    done = env.runner("run", "probe", "--data", '{"note": "tid"}')
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stderr.splitlines() if "Notat: tid" in x)
    clock = re.match(r"(\d\d):(\d\d):\d\d([+-]\d\d:\d\d) ", line)
    assert clock, line
    offset = datetime.now(ZoneInfo("Europe/Oslo")).strftime("%z")
    assert clock.group(3) == f"{offset[:3]}:{offset[3:]}"  # Oslo's offset, said on the line

    env.runner("submit", "probe", "--ref", "t1")
    worker = env.runner("worker", "--until-idle", timeout=120)
    assert worker.returncode == 0, worker.stderr
    with env.db.session() as session:
        created = session.scalars(select(WorkItem.created_at)).one()
    oslo = created.replace(tzinfo=created.tzinfo or UTC).astimezone(ZoneInfo("Europe/Oslo"))
    shown = env.runner("items", "show", "t1").stdout
    assert "(norsk tid)" in shown and oslo.strftime("%Y-%m-%d %H:%M") in shown
    listed = env.runner("runs", "list").stdout
    assert "Start (norsk tid)" in listed
    run = env.runner("runs", "show", "1").stdout
    assert "(norsk tid)" in run and "Tid (norsk tid)" in run


def test_questions_are_listed_shown_and_answered_from_the_command_line(sqlite_env: Env) -> None:
    """`questions list|show|answer --as USER`: the same visibility as the console (a colleague
    learns nothing of the question), the answer validated by the question's model, audited as
    cli:<user>, and the item then resumes."""
    from robots.models import AuditEvent, Question
    from robots.worker import WorkerProcess

    env = sqlite_env
    for username in ("kari", "ola"):
        added = env.runner(
            "users", "add", username, "--role", "caseworker", "--password-stdin",
            stdin="riktig-passord-123\n",
        )
        assert added.returncode == 0, added.stderr
    env.queue().submit("asking", "sak-cli-1", {}, submitted_by="cli:kari")
    WorkerProcess(env.settings, env.queue().registry).run(exit_when_idle=True)
    with env.db.session() as session:
        question_id = session.scalars(select(Question.id)).one()

    mine = env.runner("questions", "list", "--as", "kari")
    assert mine.returncode == 0, mine.stderr
    assert "Skal søknaden godkjennes?" in mine.stdout and "sak-cli-1" in mine.stdout
    assert "15076500565" not in mine.stdout  # the evidence's fødselsnummer stays masked
    theirs = env.runner("questions", "list", "--as", "ola")
    assert theirs.returncode == 0 and "sak-cli-1" not in theirs.stdout
    assert env.runner("questions", "show", str(question_id), "--as", "ola").returncode == 8
    shown = env.runner("questions", "show", str(question_id), "--as", "kari")
    assert shown.returncode == 0 and "godkjent" in shown.stdout
    assert "15076500565" not in shown.stdout

    refused = env.runner("questions", "answer", str(question_id), "--as", "ola",
                         "--field", "godkjent=true")
    assert refused.returncode == 8 and "Fant ikke" in refused.stdout + refused.stderr
    wrong = env.runner("questions", "answer", str(question_id), "--as", "kari",
                       "--field", "godkjent=kanskje")
    assert wrong.returncode == 3 and "godkjent" in wrong.stdout + wrong.stderr
    done = env.runner("questions", "answer", str(question_id), "--as", "kari",
                      "--field", "godkjent=true", "--field", "kommentar=OK fra terminalen")
    assert done.returncode == 0, done.stdout + done.stderr
    again = env.runner("questions", "answer", str(question_id), "--as", "kari",
                       "--json", '{"godkjent": false}')
    assert again.returncode == 8 and "allerede besvart" in again.stdout + again.stderr
    WorkerProcess(env.settings, env.queue().registry).run(exit_when_idle=True)
    with env.db.session() as session:
        item = session.scalars(select(WorkItem).where(WorkItem.reference == "sak-cli-1")).one()
        actors = session.scalars(
            select(AuditEvent.actor).where(AuditEvent.action == "answer")
        ).all()
    assert item.status == "done" and item.result["kommentar"] == "OK fra terminalen"
    assert actors == ["cli:kari"]
