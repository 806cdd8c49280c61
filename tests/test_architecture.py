"""The layering rules of docs/architecture.md, checked on the source itself."""

from __future__ import annotations

import ast
import inspect
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from robots.models import ItemStatus
from robots.settings import get_settings, load_settings, use_settings
from tests.conftest import Env

ROBOTS = Path(__file__).resolve().parent.parent / "robots"
FNR = "15076500565"  # a valid synthetic fødselsnummer


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_the_engine_imports_neither_tasks_nor_the_sandbox() -> None:
    offenders = {
        str(path.relative_to(ROBOTS.parent)): sorted(
            m for m in imported_modules(path) if m.split(".")[0] in ("tasks", "sandbox")
        )
        for path in ROBOTS.rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_console_is_assembled_not_written_in_one_function() -> None:
    from robots.console import app

    lines = len(inspect.getsource(app.create_app).splitlines()) + len(
        inspect.getsource(app.console_for).splitlines()
    )
    assert lines < 60, lines


def test_the_schema_check_reads_the_same_head_as_alembic() -> None:
    from alembic.script import ScriptDirectory

    from robots.db import alembic_config, head_revision

    alembic_head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head_revision() == alembic_head is not None


def test_a_spawned_worker_gets_its_parents_settings_not_the_environment(tmp_path: Path) -> None:
    """What multiprocessing hands a worker (pickled settings) becomes that process's own."""
    given = load_settings(data_dir=tmp_path, lease_seconds=42)
    received = pickle.loads(pickle.dumps(given))
    try:
        use_settings(received)
        assert get_settings() is received
        assert get_settings().data_path == tmp_path and get_settings().lease_seconds == 42
    finally:
        use_settings(None)


def test_what_the_read_layer_gives_out_is_masked(sqlite_env: Env) -> None:
    """Masking at the boundary: a reference, a payload and an error stored before a rule or a
    secret existed still leave the read layer masked."""
    from robots.app import RpaApp
    from robots.models import WorkItem
    from robots.views import ItemFilter, RunFilter

    env = sqlite_env
    env.queue().submit("probe", "ref-1", {"sleep_s": 0}, submitted_by="t")
    with env.db.session() as session:  # as an older version might have stored it
        item = session.query(WorkItem).one()
        item.reference = f"sak {FNR}"
        item.error_message = f"feil for {FNR}"
        item.payload = {"note": FNR, FNR: 1}
        item.status = ItemStatus.BUSINESS_ERROR
    views = RpaApp.build(env.settings, env.db).views
    shown = views.items(ItemFilter()).rows[0]
    assert shown.status == ItemStatus.BUSINESS_ERROR and shown.retryable
    assert FNR not in repr(shown) and FNR not in str(shown.as_json(views.local))
    assert views.runs(RunFilter()).rows == []


@pytest.mark.slow
def test_the_wheel_carries_everything_an_installation_outside_the_checkout_needs(
    tmp_path: Path,
) -> None:
    """`pip install .` must give a working `rpa`: templates, migrations, default config and
    selectors are in the wheel (the full check, `rpa demo` from a fresh virtualenv outside the
    checkout, is in docs/architecture.md)."""
    root = ROBOTS.parent
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
        + ["-w", str(tmp_path), str(root)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("kommune_rpa-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    data = next(
        n.split("/")[0]
        for n in names
        if n.endswith(".data/data/share/kommune-rpa/config/settings.toml")
    )
    needed = {
        "robots/console/templates/base.html",
        "robots/console/static/uPlot.iife.min.js",
        "robots/templates/run_report.html",
        "robots/migrations/env.py",
        "robots/migrations/script.py.mako",
        "robots/migrations/versions/0001_initial_schema.py",
        "sandbox/templates/login.html",
        f"{data}/data/share/kommune-rpa/config/onboarding.yaml",
        f"{data}/data/share/kommune-rpa/config/templates/arbeidsavtale.html",
        f"{data}/data/share/kommune-rpa/selectors/hr.yaml",
    }
    assert needed <= names, sorted(needed - names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "rpa = robots.cli:main" in text and "sandbox.cli:register" in text
