"""The scheduler: no duplicate items from two schedulers or a restart; working days; failover."""

from __future__ import annotations

import signal
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from robots.models import Schedule, WorkItem
from robots.scheduler import (
    ScheduleError,
    build_trigger,
    fire_reference,
    load_schedule_file,
    next_fire_times,
)
from robots.settings import load_settings
from robots.workdays import WorkingDays
from tests.conftest import Env, wait_for

EVERY_SECOND = """
schedules:
  - name: hvert-sekund
    task: probe
    interval_seconds: 1
    coalesce: false
    misfire_grace_seconds: 600
"""


def fire_times(env: Env) -> list[datetime]:
    with env.db.session() as session:
        refs = session.scalars(
            select(WorkItem.reference).where(WorkItem.submitted_by == "scheduler:hvert-sekund")
        ).all()
    assert len(refs) == len(set(refs))
    return sorted(datetime.strptime(r.split("@")[1], "%Y-%m-%dT%H:%M:%SZ") for r in refs)


def log_text(proc: object) -> str:
    return Path(proc.log_path).read_text()  # type: ignore[attr-defined]


def assert_one_item_per_second(times: list[datetime]) -> None:
    gaps = {(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)}
    assert gaps == {1.0}, f"fire times not one per second: {times}"


def test_two_schedulers_started_at_once_give_no_duplicates(env: Env) -> None:
    (env.data_dir / "schedules.yaml").write_text(EVERY_SECOND)
    first = env.start("scheduler", name="sched")
    second = env.start("scheduler", name="sched")
    wait_for(lambda: len(fire_times(env)) >= 5, timeout=60, message="five firings")
    logs = [log_text(p) for p in (first, second)]
    assert sum("Planleggeren leder" in log for log in logs) == 1
    assert sum("venter i beredskap" in log for log in logs) == 1
    for proc in (first, second):
        proc.send_signal(signal.SIGTERM)
    for proc in (first, second):
        assert proc.wait(timeout=30) == 0
    assert_one_item_per_second(fire_times(env))


def test_restart_across_fire_times_catches_up_without_duplicates(env: Env) -> None:
    (env.data_dir / "schedules.yaml").write_text(EVERY_SECOND)
    proc = env.start("scheduler", name="sched")
    wait_for(lambda: len(fire_times(env)) >= 2, timeout=60, message="two firings")
    proc.kill()  # no clean shutdown
    proc.wait()
    before = fire_times(env)
    wait_for(
        lambda: datetime.now(UTC).replace(tzinfo=None) > before[-1] + timedelta(seconds=3),
        timeout=10,
        message="three fire times to pass",
    )
    proc = env.start("scheduler", name="sched")
    wait_for(
        lambda: len(fire_times(env)) >= len(before) + 4,
        timeout=60,
        message="catch-up and new firings",
    )
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    after = fire_times(env)
    assert after[: len(before)] == before
    assert_one_item_per_second(after)  # the missed seconds were enqueued, each exactly once


def test_postgres_standby_takes_over_within_30_seconds(pg_env: Env) -> None:
    env = pg_env
    (env.data_dir / "schedules.yaml").write_text(EVERY_SECOND)
    first = env.start("scheduler", name="sched")
    wait_for(
        lambda: "Planleggeren leder" in log_text(first),
        timeout=30,
        message="first leads",
    )
    second = env.start("scheduler", name="sched")
    wait_for(
        lambda: "beredskap" in log_text(second),
        timeout=30,
        message="second stands by",
    )
    first.kill()
    first.wait()
    killed_at = datetime.now(UTC).replace(tzinfo=None)
    wait_for(
        lambda: "Planleggeren leder" in log_text(second),
        timeout=30,
        message="standby takes over",
    )
    wait_for(
        lambda: sum(t > killed_at for t in fire_times(env)) >= 3,
        timeout=30,
        message="firings after takeover",
    )
    second.send_signal(signal.SIGTERM)
    second.wait(timeout=30)
    assert_one_item_per_second(fire_times(env))


def test_working_day_trigger_skips_weekends_holidays_and_closed_days(sqlite_env: Env) -> None:
    settings = load_settings(closed_days=["12-24"])
    schedule = Schedule(
        name="s", task="probe", trigger="cron", spec="0 7 * * *", working_days_only=True
    )
    trigger = build_trigger(schedule, settings)
    zone = settings.zone
    fired = []
    previous = None
    now = datetime(2026, 12, 18, 8, 0, tzinfo=zone)  # a Friday after 07:00
    for _ in range(6):
        fire = trigger.get_next_fire_time(previous, now)
        fired.append(fire.date())
        previous, now = fire, fire + timedelta(seconds=1)
    # 19-20 weekend, 24 closed, 25-26 Christmas, 27 Sunday
    assert fired == [date(2026, 12, d) for d in (21, 22, 23, 28, 29, 30)]
    assert all(f.hour == 7 for f in [trigger.get_next_fire_time(None, now)])
    easter = WorkingDays()
    assert not easter.is_working_day(date(2027, 3, 25))  # skjærtorsdag
    assert not easter.is_working_day(date(2027, 5, 17))
    assert easter.on_or_before(date(2027, 3, 29)) == date(2027, 3, 24)  # 2. påskedag -> onsdag


def test_schedule_file_errors_name_the_schedule(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "s.yaml"
    path.write_text("schedules:\n  - name: morgen\n    task: probe\n")
    with pytest.raises(ScheduleError, match="morgen.*exactly one of cron"):
        load_schedule_file(path)
    path.write_text("schedules: [\n")
    with pytest.raises(ScheduleError, match="ikke gyldig YAML"):
        load_schedule_file(path)


def test_bad_cron_and_next_fire_times(sqlite_env: Env) -> None:
    settings = sqlite_env.settings
    bad = Schedule(name="feil", task="probe", trigger="cron", spec="61 * * * *")
    with pytest.raises(ScheduleError, match="feil"):
        build_trigger(bad, settings)
    good = Schedule(
        name="ok", task="probe", trigger="cron", spec="0 7 * * 1", working_days_only=False
    )
    times = next_fire_times(good, settings, count=3)
    assert [t.weekday() for t in times] == [0, 0, 0]  # crontab 1 is Monday
    weekdays = Schedule(name="ok", task="probe", trigger="cron", spec="0 7 * * 1-5")
    assert {t.weekday() for t in next_fire_times(weekdays, settings, count=10)} == set(range(5))
    sunday = Schedule(name="ok", task="probe", trigger="cron", spec="0 7 * * 0")
    assert next_fire_times(sunday, settings, count=1)[0].weekday() == 6
    assert fire_reference("ok", times[0]).startswith("ok@")
