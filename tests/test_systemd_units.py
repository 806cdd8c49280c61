"""The shipped systemd units (docs/systemd/) stop workers the way the grace period needs, and
restart what they should. systemd does not run here: its stop is simulated from each unit's
own settings (KillMode, KillSignal, TimeoutStopSec), as systemd.kill(5) describes it."""

from __future__ import annotations

import contextlib
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from sqlalchemy import select

from robots.cli import EXIT_CODES
from robots.models import Run, WorkItem
from robots.settings import Settings
from tests.conftest import ROOT, Env, wait_for
from tests.test_serve import free_port

UNITS = ROOT / "docs" / "systemd"
WITH_WORKERS = ("rpa-worker.service", "rpa-serve.service")


@dataclass(frozen=True)
class Unit:
    name: str
    service: dict[str, str]  # the [Service] section (the last value of a key wins)

    @classmethod
    def read(cls, path: Path) -> Unit:
        section, service = "", {}
        for raw in path.read_text().splitlines():
            line = raw.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                section = line
            elif section == "[Service]":
                key, _, value = line.partition("=")
                service[key.strip()] = value.strip()
        return cls(path.name, service)

    @property
    def kill_mode(self) -> str:
        return self.service.get("KillMode", "control-group")  # systemd's default

    @property
    def kill_signal(self) -> signal.Signals:
        return signal.Signals[self.service.get("KillSignal", "SIGTERM")]

    @property
    def timeout_stop(self) -> float:
        return float(self.service.get("TimeoutStopSec", "90"))  # DefaultTimeoutStopSec

    def restarts_after(self, code: int) -> bool:
        """Whether systemd restarts the service after its main process exits with `code`."""
        restart = self.service.get("Restart", "no")
        prevented = {int(c) for c in self.service.get("RestartPreventExitStatus", "").split()}
        if code in prevented:
            return False
        return restart == "always" or (restart == "on-failure" and code != 0)

    def command(self) -> list[str]:
        """ExecStart's arguments after the `rpa` program, as runner.py takes them."""
        return shlex.split(self.service["ExecStart"])[1:]


def stop_like_systemd(proc: subprocess.Popen[bytes], unit: Unit) -> float:
    """Stop `proc` and its process tree (the unit's control group) as systemd would: the kill
    signal to the main process only (mixed, process) or to every process at once
    (control-group); then wait up to TimeoutStopSec for the main process, and SIGKILL whatever
    of the group is left. Returns the seconds the stop took."""
    group = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    started = time.monotonic()
    targets = group if unit.kill_mode == "control-group" else group[:1]
    for member in targets:
        try:
            member.send_signal(unit.kill_signal)
        except psutil.NoSuchProcess:
            continue
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=unit.timeout_stop)
    took = time.monotonic() - started
    if unit.kill_mode != "none":
        for member in group:
            try:
                member.kill()
            except psutil.NoSuchProcess:
                continue
    proc.wait(timeout=10)
    return took


def running_probe(env: Env, proc: subprocess.Popen[bytes], helper_s: float) -> int:
    """Submit a probe item that waits for a helper process of its own (as a task waits for
    its Chromium), and wait until the helper runs."""
    submitted = env.queue().submit("probe", "stopp", {"helper_s": helper_s}, submitted_by="t")
    executions = env.data_dir / "executions.log"
    wait_for(executions.exists, timeout=90, interval=0.2, message="the item to start")
    wait_for(
        lambda: any(p.name() == "sleep" for p in psutil.Process(proc.pid).children(recursive=True)),
        timeout=30,
        interval=0.1,
        message="the helper process",
    )
    return submitted.item.id


def outcomes(env: Env, item_id: int) -> tuple[str, list[str | None]]:
    with env.db.session() as session:
        item = session.get(WorkItem, item_id)
        assert item is not None
        runs = session.scalars(select(Run.outcome).where(Run.item_id == item_id)).all()
        return item.status, list(runs)


# The units' settings ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", WITH_WORKERS)
def test_units_with_workers_stop_the_main_process_first_and_wait_past_the_grace(
    name: str,
) -> None:
    unit = Unit.read(UNITS / name)
    assert unit.kill_mode == "mixed"
    assert unit.kill_signal == signal.SIGTERM
    grace = Settings.model_fields["shutdown_grace_seconds"].default
    # The supervisor waits grace + 15 s for a worker before it kills it; systemd must not
    # SIGKILL before that.
    assert unit.timeout_stop > grace + 15


@pytest.mark.parametrize("name", sorted(p.name for p in UNITS.glob("*.service")))
def test_every_unit_restarts_after_every_exit_code_the_service_uses(name: str) -> None:
    unit = Unit.read(UNITS / name)
    codes = {0, 1, *EXIT_CODES.values()}
    assert [code for code in sorted(codes) if not unit.restarts_after(code)] == []


# The stop itself -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", WITH_WORKERS)
def test_a_stop_through_the_unit_lets_the_running_item_finish_within_the_grace(
    sqlite_env: Env, name: str
) -> None:
    env = sqlite_env
    unit = Unit.read(UNITS / name)
    args = unit.command()
    if "--port" in args:  # the console on a free port; everything else as the unit says
        args[args.index("--port") + 1] = str(free_port())
    proc = env.start(*args, name=name)
    item_id = running_probe(env, proc, helper_s=3)
    assert env.settings.shutdown_grace_seconds > 3  # the item fits in the grace
    took = stop_like_systemd(proc, unit)
    assert proc.returncode == 0, Path(proc.log_path).read_text()  # type: ignore[attr-defined]
    assert took < unit.timeout_stop, f"the stop took {took:.1f} s: systemd would SIGKILL"
    assert outcomes(env, item_id) == ("done", ["done"])


def test_under_control_group_every_process_gets_sigterm_and_the_item_fails(
    sqlite_env: Env,
) -> None:
    """What the default KillMode does (documented in the worker unit): every process of the
    group gets SIGTERM at once, the worker's own helpers too (its Chromium; here a helper
    process the item waits for), so the item fails at once instead of finishing within the
    grace as it does under KillMode=mixed."""
    env = sqlite_env
    unit = Unit.read(UNITS / "rpa-worker.service")
    default = Unit(unit.name, {k: v for k, v in unit.service.items() if k != "KillMode"})
    assert default.kill_mode == "control-group"
    proc = env.start(*default.command(), name="control-group")
    item_id = running_probe(env, proc, helper_s=8)
    took = stop_like_systemd(proc, default)
    assert proc.returncode == 0 and took < default.timeout_stop
    # The helper died with the SIGTERM: the item failed (to be tried again) where under
    # KillMode=mixed the same item finishes within the grace.
    assert outcomes(env, item_id) == ("pending", ["system_error"])


def test_systemds_and_the_supervisors_sigterm_together_are_one_stop_request(
    sqlite_env: Env,
) -> None:
    """Under control-group a worker gets systemd's SIGTERM and the supervisor's within
    milliseconds (or as one, when they coalesce); that is one request to stop, never the
    deliberate second one that releases at once, so the outcome does not depend on timing."""
    env = sqlite_env
    unit = Unit.read(UNITS / "rpa-worker.service")
    default = Unit(unit.name, {k: v for k, v in unit.service.items() if k != "KillMode"})
    proc = env.start(*default.command(), name="control-group")
    submitted = env.queue().submit("probe", "to-signaler", {"sleep_s": 3}, submitted_by="t")
    wait_for((env.data_dir / "executions.log").exists, timeout=90, message="the item to start")
    stop_like_systemd(proc, default)
    assert proc.returncode == 0
    assert outcomes(env, submitted.item.id) == ("done", ["done"])
