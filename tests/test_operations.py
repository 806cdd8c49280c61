"""IT operations (issue 15): health and readiness, Prometheus metrics, alert rules and their
channels. A real SQLite file, a real console over HTTP, and a real local HTTP server as the
webhook receiver that checks every signature."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from robots.alerts import SIGNATURE_HEADER, TIMESTAMP_HEADER, evaluate, verify_signature
from robots.health import readiness, ready
from robots.models import (
    Alert,
    AlertDelivery,
    AuditEvent,
    OutboxMessage,
    Run,
    RunEvent,
    Schedule,
    Worker,
    WorkItem,
    utcnow,
)
from tests.conftest import Env
from tests.test_console import api, csrf_of, login

SECRET = "delt-hemmelighet-for-webhook"


class Receiver:
    """A webhook receiver on loopback: verifies the HMAC of every request, answers with the
    queued status codes (then 200)."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the standard library's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                ok = verify_signature(
                    SECRET, self.headers[TIMESTAMP_HEADER], body, self.headers[SIGNATURE_HEADER]
                )
                outer.received.append({"ok": ok, "body": json.loads(body), "path": self.path})
                status = outer.statuses.pop(0) if outer.statuses else 200
                self.send_response(status if ok else 401)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Any:
    found = Receiver()
    yield found
    found.stop()


def write_rules(env: Env, receiver_url: str, rules: str) -> Any:
    path = env.data_dir / "alerts.yaml"
    path.write_text(
        f"""quiet_minutes: 30
retry_delays: [0, 0]
channels:
  epost: {{type: email, to: drift@kommune.example}}
  teams: {{type: webhook, format: teams, url: "{receiver_url}/teams"}}
  slack: {{type: webhook, format: slack, url: "{receiver_url}/slack"}}
  generisk: {{type: webhook, url: "{receiver_url}/hook"}}
rules:
{rules}
""",
        encoding="utf-8",
    )
    return env.settings.model_copy(
        update={"alerts_file": path, "alert_webhook_secret": _secret(), "smtp_port": 1}
    )


def _secret() -> Any:
    from pydantic import SecretStr

    return SecretStr(SECRET)


def add_item(env: Env, ref: str, *, status: str = "pending", **values: Any) -> int:
    queue = env.queue()
    item = queue.submit("probe", ref, {}, submitted_by="t").item
    with env.db.session() as session:
        session.execute(
            update(WorkItem).where(WorkItem.id == item.id).values(status=status, **values)
        )
    return item.id


def add_run(env: Env, item_id: int, outcome: str, ended: datetime) -> None:
    with env.db.session() as session:
        session.add(
            Run(
                item_id=item_id,
                attempt=1,
                worker_id="w",
                host="h",
                pid=1,
                started_at=ended - timedelta(seconds=3),
                ended_at=ended,
                outcome=outcome,
            )
        )


def no_sleep(_: float) -> None:
    pass


# Alerts ---------------------------------------------------------------------------------------


def test_a_failed_item_alerts_once_and_not_again_within_the_quiet_period(
    sqlite_env: Env, receiver: Receiver
) -> None:
    env = sqlite_env
    settings = write_rules(
        env,
        receiver.url,
        "  - {name: feilet, kind: item_failed, channels: [generisk, teams, slack]}",
    )
    item = add_item(env, "f-1", status="failed", finished_at=utcnow(), error_kind="system")
    now = utcnow()
    first = evaluate(env.db, settings, now, sleep=no_sleep)
    assert first.opened == [f"feilet:item:{item}"] == first.notified
    assert [r["path"] for r in receiver.received] == ["/hook", "/teams", "/slack"]
    assert all(r["ok"] for r in receiver.received)  # every signature verified
    assert receiver.received[0]["body"]["alert"]["key"] == f"feilet:item:{item}"
    assert receiver.received[1]["body"]["@type"] == "MessageCard"
    assert "feilet" in receiver.received[2]["body"]["text"]
    again = evaluate(env.db, settings, now + timedelta(minutes=10), sleep=no_sleep)
    assert again.opened == again.notified == [] and len(receiver.received) == 3
    later = evaluate(env.db, settings, now + timedelta(minutes=31), sleep=no_sleep)
    assert later.notified == [f"feilet:item:{item}"] and len(receiver.received) == 6
    with env.db.session() as session:
        alert = session.scalars(select(Alert)).one()
        assert alert.fired == 3 and alert.status == "open"


def test_webhooks_are_retried_with_backoff_and_every_attempt_recorded(
    sqlite_env: Env, receiver: Receiver
) -> None:
    env = sqlite_env
    settings = write_rules(
        env, receiver.url, "  - {name: feilet, kind: item_failed, channels: [generisk]}"
    )
    add_item(env, "f-2", status="failed", finished_at=utcnow())
    receiver.statuses = [500, 503]
    slept: list[float] = []
    evaluate(env.db, settings, sleep=slept.append)
    with env.db.session() as session:
        attempts = session.execute(
            select(AlertDelivery.attempt, AlertDelivery.outcome, AlertDelivery.detail).order_by(
                AlertDelivery.id
            )
        ).all()
    assert attempts == [
        (1, "failed", "HTTP 500"),
        (2, "failed", "HTTP 503"),
        (3, "sent", "HTTP 200"),
    ]
    assert slept == [0, 0]


def test_a_wrong_secret_is_refused_by_the_receiver(sqlite_env: Env, receiver: Receiver) -> None:
    env = sqlite_env
    settings = write_rules(
        env, receiver.url, "  - {name: feilet, kind: item_failed, channels: [generisk]}"
    )
    from pydantic import SecretStr

    wrong = settings.model_copy(update={"alert_webhook_secret": SecretStr("en annen")})
    add_item(env, "f-3", status="failed", finished_at=utcnow())
    evaluate(env.db, wrong, sleep=no_sleep)
    assert receiver.received and not any(r["ok"] for r in receiver.received)


def test_e_mail_goes_through_the_outbox_at_most_once_per_notification(
    sqlite_env: Env, receiver: Receiver
) -> None:
    env = sqlite_env
    settings = write_rules(
        env, receiver.url, "  - {name: feilet, kind: item_failed, channels: [epost]}"
    )
    add_item(env, "f-4", status="failed", finished_at=utcnow())
    now = utcnow()
    evaluate(env.db, settings, now, sleep=no_sleep)
    evaluate(env.db, settings, now + timedelta(minutes=5), sleep=no_sleep)
    with env.db.session() as session:
        mails = session.scalars(select(OutboxMessage.key)).all()
    assert len(mails) == 1 and mails[0].startswith("alert:")


@pytest.mark.parametrize(
    "rule",
    [
        "system_errors",
        "sla",
        "deadline",
        "schedule_missed",
        "no_worker",
        "selector_fallback",
    ],
)
def test_each_rule_fires_once_and_closes_when_its_condition_is_gone(
    sqlite_env: Env, receiver: Receiver, rule: str
) -> None:
    env = sqlite_env
    now = utcnow()
    options = {
        "system_errors": "count: 3, minutes: 15",
        "sla": "task: probe, working_days: 2",
        "deadline": "",
        "schedule_missed": "grace_minutes: 5",
        "no_worker": "minutes: 5",
        "selector_fallback": "minutes: 60",
    }[rule]
    yaml = f"  - {{name: r, kind: {rule}, {options + ', ' if options else ''}channels: [generisk]}}"
    settings = write_rules(env, receiver.url, yaml)

    def clear() -> None:  # what makes the condition go away, per rule
        with env.db.session() as session:
            if rule == "system_errors":
                session.execute(update(Run).values(ended_at=now - timedelta(hours=2)))
            elif rule in ("sla", "deadline"):
                session.execute(update(WorkItem).values(status="done", finished_at=now))
            elif rule == "schedule_missed":
                session.execute(update(Schedule).values(enabled=False))
            elif rule == "no_worker":
                session.add(Worker(id="w-live", host="h", pid=1, status="idle", heartbeat_at=now))
            else:
                session.execute(update(RunEvent).values(ts=now - timedelta(hours=3)))

    if rule == "system_errors":
        item = add_item(env, "s-1", status="pending")
        for _ in range(3):
            add_run(env, item, "system_error", now - timedelta(minutes=2))
    elif rule == "sla":
        add_item(env, "s-2", created_at=now - timedelta(days=7))
    elif rule == "deadline":
        add_item(env, "s-3", deadline=now - timedelta(hours=1))
    elif rule == "schedule_missed":
        with env.db.session() as session:
            session.add(
                Schedule(
                    name="hver-time",
                    task="probe",
                    trigger="cron",
                    spec="0 * * * *",
                    updated_at=now - timedelta(hours=5),
                )
            )
    elif rule == "no_worker":
        add_item(env, "s-5", not_before=now - timedelta(minutes=30))
    else:
        item = add_item(env, "s-6", status="done")
        add_run(env, item, "done", now)
        with env.db.session() as session:
            run_id = session.scalar(select(Run.id))
            session.add(
                RunEvent(
                    run_id=run_id,
                    seq=1,
                    ts=now,
                    level="WARNING",
                    step="s",
                    message="fant ikke css='#id_navn'; brukte reserve label='Navn'",
                )
            )
    first = evaluate(env.db, settings, now, sleep=no_sleep)
    assert len(first.opened) == 1 and first.notified == first.opened, first
    assert len(receiver.received) == 1 and receiver.received[0]["ok"]
    second = evaluate(env.db, settings, now + timedelta(minutes=1), sleep=no_sleep)
    assert second.opened == second.notified == [] and len(receiver.received) == 1
    clear()
    closed = evaluate(env.db, settings, now + timedelta(minutes=2), sleep=no_sleep)
    assert closed.closed == first.opened


def test_an_operator_acknowledges_an_alert_and_it_is_audited(
    console: Any, receiver: Receiver
) -> None:
    env, server, tokens = console
    settings = write_rules(
        env, receiver.url, "  - {name: feilet, kind: item_failed, channels: [generisk]}"
    )
    add_item(env, "k-1", status="failed", finished_at=utcnow())
    now = utcnow()
    evaluate(env.db, settings, now, sleep=no_sleep)
    operator = login(server, "operator")
    page = operator.get("/drift/varsler")
    assert "feilet" in page.text and "Kvitter ut varsel" in page.text
    with env.db.session() as session:
        alert_id = session.scalar(select(Alert.id))
    token = csrf_of(operator, "/drift/varsler")
    done = operator.post(
        f"/drift/varsler/{alert_id}/kvitter", data={"csrf": token}, follow_redirects=True
    )
    assert "kvittert av operator " in done.text  # a name, not "web:operator"
    later = evaluate(env.db, settings, now + timedelta(hours=2), sleep=no_sleep)
    assert later.notified == []  # acknowledged: not told again
    with env.db.session() as session:
        assert session.scalar(select(func.count()).where(AuditEvent.action == "alert_ack")) == 1
    assert login(server, "caseworker").get("/drift/varsler").status_code == 403


def test_a_broken_alerts_file_is_one_clear_error(sqlite_env: Env) -> None:
    from robots.alerts import AlertConfigError

    env = sqlite_env
    path = env.data_dir / "alerts.yaml"
    path.write_text("rules:\n  - {name: x, kind: finnes_ikke}\n", encoding="utf-8")
    with pytest.raises(AlertConfigError, match="alerts.yaml"):
        evaluate(env.db, env.settings.model_copy(update={"alerts_file": path}))


# Health and metrics ---------------------------------------------------------------------------


def test_health_and_readiness(console: Any) -> None:
    env, server, _ = console
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{server.url}/readyz").status_code == 503
    answer = login(server, "operator").get("/readyz")  # the checks: for operators only
    assert answer.status_code == 503
    checks = {c["name"]: c["ok"] for c in answer.json()["checks"]}
    assert checks == {"database": True, "schema": True, "workers": False, "scheduler": False}
    now = utcnow()
    with env.db.session() as session:
        session.add(Worker(id="h:1:a", host="h", pid=1, status="idle", heartbeat_at=now))
        session.add(Worker(id="scheduler:h:2", host="h", pid=2, status="leader", heartbeat_at=now))
    assert httpx.get(f"{server.url}/readyz").status_code == 200
    assert ready(readiness(env.db, env.settings))


def test_readiness_says_what_is_wrong_with_the_database(tmp_path: Path) -> None:
    from robots.db import Database
    from robots.settings import load_settings

    url = f"sqlite:///{tmp_path / 'tom.db'}"
    settings = load_settings(database_url=url, data_dir=tmp_path)
    checks = readiness(Database(url, settings), settings)
    assert [c.name for c in checks] == ["database", "schema"] and not checks[1].ok
    assert "db upgrade" in checks[1].detail


def test_metrics_count_what_the_database_holds(console: Any) -> None:
    env, server, _ = console
    item = add_item(env, "m-1", status="done")
    add_run(env, item, "done", utcnow())
    add_run(env, item, "abandoned", utcnow())
    add_item(env, "m-2", created_at=utcnow() - timedelta(minutes=10))
    with env.db.session() as session:
        session.add(
            Worker(
                id="h:1:b",
                host="h",
                pid=1,
                status="busy",
                heartbeat_at=utcnow(),
                browser_launches=3,
                browser_crashes=1,
            )
        )
    text = httpx.get(f"{server.url}/metrics").text
    from prometheus_client.parser import text_string_to_metric_families

    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("rpa_items", (("status", "done"), ("task", "probe")))] == 1
    assert samples[("rpa_runs_total", (("outcome", "done"), ("task", "probe")))] == 1
    assert samples[("rpa_claims_total", ())] == 2
    assert samples[("rpa_lease_reclaims_total", ())] == 1
    assert samples[("rpa_run_duration_seconds_bucket", (("le", "5.0"), ("task", "probe")))] == 2
    assert samples[("rpa_run_duration_seconds_bucket", (("le", "2.0"), ("task", "probe")))] == 0
    assert samples[("rpa_run_duration_seconds_count", (("task", "probe"),))] == 2
    assert 590 < samples[("rpa_queue_oldest_waiting_seconds", (("task", "probe"),))] < 700
    assert samples[("rpa_workers", (("state", "alive"),))] == 1
    assert samples[("rpa_browser_launches_total", ())] == 3
    assert samples[("rpa_browser_crashes_total", ())] == 1
    assert samples[("rpa_scheduler_leader", ())] == 0
    assert api(server, "ingen").get("/metrics").status_code == 200  # scraped without a login
    # Every metric the example Grafana dashboard uses is one /metrics serves.
    import re

    families = {f.name for f in text_string_to_metric_families(text)}  # empty ones too
    served = {name for name, _ in samples} | families | {f"{n}_total" for n in families}
    dashboard = (Path(__file__).parent.parent / "docs" / "grafana-dashboard.json").read_text()
    used = set(re.findall(r"rpa_[a-z_]+", dashboard))
    assert used and used <= served | {n.removesuffix("_bucket") for n in served}, used - served


# Traces ---------------------------------------------------------------------------------------


def test_a_run_and_its_steps_are_spans_when_tracing_is_on(sqlite_env: Env) -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from robots import tracing
    from robots.worker import WorkerProcess

    env = sqlite_env
    exporter = InMemorySpanExporter()
    assert tracing.configure(env.settings, exporter)
    try:
        queue = env.queue()
        queue.submit("probe", "spor-1", {"note": "15076500565"}, submitted_by="t")
        WorkerProcess(env.settings, queue.registry).run(exit_when_idle=True)
    finally:
        tracing.shutdown()
    spans = {s.name: s for s in exporter.get_finished_spans()}
    run, step = spans["kjøring probe"], spans["steg Sov"]
    assert step.parent is not None and step.parent.span_id == run.context.span_id
    assert run.attributes["rpa.status"] == "done" and run.attributes["rpa.attempt"] == 1
    assert "15076500565" not in json.dumps([dict(s.attributes) for s in spans.values()])
    assert not tracing.configure(env.settings)  # no endpoint configured: off
