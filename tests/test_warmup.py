"""A worker pays the first item's one-off costs when it starts, not while a person waits."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest
from loguru import logger

from robots.worker import WorkerProcess
from tests.conftest import Env


def test_a_worker_imports_and_parses_before_its_first_item(
    sqlite_env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from robots import runtime

    (tmp_path / "rpa_warm_probe.py").write_text("LOADED = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "rpa_warm_probe", raising=False)
    monkeypatch.setattr(runtime, "_SPECS", {})
    registry = dict(sqlite_env.queue().registry)
    registry["varm"] = replace(
        registry["probe"],
        name="varm",
        systems=("hr", "finnes-ikke"),
        preload=("rpa_warm_probe", "rpa_no_such_module"),
    )
    worker = WorkerProcess(sqlite_env.settings, registry, tasks=["varm"])
    warnings: list[str] = []
    sink = logger.add(lambda m: warnings.append(str(m)), level="WARNING")
    try:
        worker._warm_up()  # a broken part is a warning here; the item using it fails itself
    finally:
        logger.remove(sink)
        worker.db.dispose()
    assert "rpa_warm_probe" in sys.modules and "hr" in runtime._SPECS
    assert any("finnes-ikke" in w for w in warnings), warnings
    assert any("rpa_no_such_module" in w for w in warnings), warnings


def test_a_worker_without_browser_tasks_does_not_load_the_browser_runtime(
    sqlite_env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    from robots import runtime

    monkeypatch.setattr(runtime, "_SPECS", {})
    queue = sqlite_env.queue()
    worker = WorkerProcess(sqlite_env.settings, queue.registry, tasks=["probe"])
    try:
        worker._warm_up()
    finally:
        worker.db.dispose()
    assert runtime._SPECS == {}
