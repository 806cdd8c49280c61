"""The commands no other test ran as a subprocess, each run once with real arguments against
a real installation (tests/test_cli_coverage.py keeps the list complete)."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import httpx
from sqlalchemy import select

from robots.models import AuditEvent, WorkItem
from tests.conftest import Env, wait_for
from tests.test_serve import free_port


def item(env: Env, reference: str) -> WorkItem:
    with env.db.session() as session:
        return session.scalars(select(WorkItem).where(WorkItem.reference == reference)).one()


def stop(proc: subprocess.Popen[bytes]) -> str:
    """SIGTERM, as systemd stops a service: a clean end is exit 0 or, as uvicorn does, the
    signal raised again after its shutdown (systemd counts both as a clean stop)."""
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
    return Path(proc.log_path).read_text()  # type: ignore[attr-defined]


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_db_upgrade_and_status_on_a_new_file(sqlite_env: Env, tmp_path: Path) -> None:
    env = sqlite_env
    fresh = {"RPA_DATABASE_URL": f"sqlite:///{tmp_path / 'ny.db'}"}
    behind = env.runner("db", "status", extra_env=fresh)
    assert behind.returncode == 6 and "db upgrade" in behind.stderr
    upgraded = env.runner("db", "upgrade", extra_env=fresh)
    assert upgraded.returncode == 0 and "oppgradert fra (tom)" in upgraded.stdout
    again = env.runner("db", "upgrade", extra_env=fresh)
    assert again.returncode == 0 and "allerede på skjemaversjon" in again.stdout
    current = env.runner("db", "status", extra_env=fresh)
    assert current.returncode == 0 and "er oppdatert" in current.stdout


def test_config_show_hides_secrets(sqlite_env: Env) -> None:
    secret = "hemmelig-nokkel-123456789"
    shown = sqlite_env.runner("config", "show", extra_env={"RPA_SECRET_KEY": secret})
    assert shown.returncode == 0, shown.stderr
    assert "RPA_POLL_SECONDS" in shown.stdout and "0.05" in shown.stdout
    assert secret not in shown.stdout + shown.stderr


def test_tasks_list_describe_and_protocol(sqlite_env: Env, tmp_path: Path) -> None:
    env = sqlite_env
    listed = env.runner("tasks", "list")
    assert listed.returncode == 0 and "arkivering.scan_inbox" in listed.stdout
    described = env.runner("tasks", "describe", "arkivering")
    assert described.returncode == 0 and described.stdout.startswith("#")
    unknown = env.runner("tasks", "describe", "finnes-ikke")
    assert unknown.returncode == 4
    out = tmp_path / "protokoll.csv"
    written = env.runner("tasks", "protocol", "--format", "csv", "--out", str(out))
    assert written.returncode == 0 and "Behandlingsprotokollen er skrevet" in written.stdout
    assert "arkivering" in out.read_text(encoding="utf-8")
    wrong = env.runner("tasks", "protocol", "--format", "pdf")
    assert wrong.returncode == 2 and "bruk md eller csv" in wrong.stderr


def test_items_cancel_and_retry_are_audited(sqlite_env: Env) -> None:
    env = sqlite_env
    assert env.runner("submit", "probe", "--ref", "avbryt-meg").returncode == 0
    cancelled = env.runner("items", "cancel", "avbryt-meg", "--as", "cli:ola")
    assert cancelled.returncode == 0 and "avbrutt" in cancelled.stdout
    assert item(env, "avbryt-meg").status == "cancelled"
    retried = env.runner("items", "retry", "avbryt-meg", "--as", "cli:ola")
    assert retried.returncode == 0 and "lagt i kø på nytt" in retried.stdout
    assert item(env, "avbryt-meg").status == "pending"
    again = env.runner("items", "retry", "avbryt-meg")
    assert again.returncode == 8  # a waiting item cannot be retried
    with env.db.session() as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.actor == "cli:ola")
        ).all()
    assert sorted(actions) == ["cancel", "retry"]


def test_audit_anchor_ddl_prints_the_statements(sqlite_env: Env) -> None:
    printed = sqlite_env.runner("audit", "anchor-ddl", "--role", "rpa_anker")
    assert printed.returncode == 0 and "GRANT" in printed.stdout and "rpa_anker" in printed.stdout
    refused = sqlite_env.runner("audit", "anchor-ddl", "--role", "x; DROP TABLE y")
    assert refused.returncode == 2 and "DROP TABLE" not in printed.stdout


def test_status_says_what_is_missing(sqlite_env: Env) -> None:
    result = sqlite_env.runner("status")
    assert result.returncode == 15, result.stdout + result.stderr
    assert "NEI" in result.stdout and "ikke klar" in result.stderr


ALERTS = """
rules:
  - {name: element_feilet, kind: item_failed, severity: warning, channels: []}
"""


def test_alerts_check_opens_an_alert_for_a_failed_item(sqlite_env: Env) -> None:
    env = sqlite_env
    (env.data_dir / "alerts.yaml").write_text(ALERTS)
    extra = {"RPA_ALERTS_FILE": str(env.data_dir / "alerts.yaml"), "RPA_DEFAULT_MAX_ATTEMPTS": "1"}
    env.runner("submit", "probe", "--ref", "feiler", "--data", '{"fail": "system"}')
    assert env.runner("worker", "--until-idle", extra_env=extra).returncode == 0
    assert item(env, "feiler").status == "failed"
    checked = env.runner("alerts", "check", extra_env=extra)
    assert checked.returncode == 0, checked.stderr
    assert "Åpnet 1" in checked.stdout and "element_feilet" in checked.stdout
    again = env.runner("alerts", "check", extra_env=extra)
    assert "Åpnet 0" in again.stdout  # still open: not opened twice


def test_systems_probe_names_a_known_system_and_refuses_others(sqlite_env: Env) -> None:
    probed = sqlite_env.runner("systems", "probe", "hr")
    assert probed.returncode == 0 and "hr har ingen åpen sikring" in probed.stdout
    unknown = sqlite_env.runner("systems", "probe", "lonn")
    assert unknown.returncode == 2 and "ukjent system" in unknown.stderr


def test_web_serves_the_login_page_and_stops(sqlite_env: Env) -> None:
    port = free_port()
    proc = sqlite_env.start("web", "--port", str(port), name="web")
    wait_for(lambda: answers(f"http://127.0.0.1:{port}/login"), timeout=60, interval=0.3)
    assert "Logg inn" in httpx.get(f"http://127.0.0.1:{port}/login").text
    assert "Traceback" not in stop(proc)


def test_sandbox_starts_the_test_systems_on_the_given_ports(sqlite_env: Env) -> None:
    ports = {name: free_port() for name in ("HR", "ARCHIVE", "MAIL", "SMTP")}
    proc = sqlite_env.start(
        "sandbox",
        "--seed",
        "1",
        name="sandbox",
        extra_env={f"RPA_SANDBOX_{name}_PORT": str(port) for name, port in ports.items()},
    )
    wait_for(lambda: answers(f"http://127.0.0.1:{ports['HR']}/login"), timeout=60, interval=0.3)
    assert answers(f"http://127.0.0.1:{ports['ARCHIVE']}/login")
    log = stop(proc)
    assert f"127.0.0.1:{ports['HR']}" in log and "Traceback" not in log


def test_demo_starts_and_reports_when_its_time_runs_out(sqlite_env: Env) -> None:
    """The demo with a one-second budget: it starts the sandbox and the service, submits its
    work, and says plainly that it did not end as expected (exit 1) rather than hanging."""
    result = sqlite_env.runner("demo", "--processes", "1", "--timeout", "1", timeout=180)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Demo: RPA-roboter mot testsystemene" in result.stdout
    assert "Demoen endte ikke som forventet" in result.stdout
    assert "Traceback" not in result.stderr
