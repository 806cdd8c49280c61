"""Every decision can be explained (forvaltningsloven §§ 11-13): what a run was made of (code
version, the task module's hash, the config files it read), the rules it applied, the
documented legal content of every task, and the record of processing activities."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from robots import provenance
from robots.config import config_path
from robots.describe import COLUMNS, describe, protocol
from robots.models import Run
from robots.report import render
from robots.tasks import discover
from robots.views import Views
from robots.worker import WorkerProcess
from tests.conftest import Env


def test_a_run_records_its_code_version_config_and_rules(sqlite_env: Env) -> None:
    from robots.runlog import configure_logging

    env = sqlite_env
    configure_logging(env.settings)  # as a worker process does: run-bound records to the run log
    queue = env.queue()
    rule = "Dialogmøte 1: dag 49 fra 2026-02-02, aml. § 4-6 fjerde ledd"
    queue.submit("explained", "forklar-1", {"rule": rule}, submitted_by="t")
    WorkerProcess(env.settings, queue.registry).run(exit_when_idle=True)
    with env.db.session() as session:
        run = session.scalars(select(Run)).one()
        recorded = run.provenance
    import tests.probe_tasks.probe as module

    with open(module.__file__, "rb") as handle:
        source = hashlib.sha256(handle.read()).hexdigest()
    assert recorded["task_module"] == source
    assert recorded["package"].startswith("kommune-rpa")
    assert list(recorded["config"]) == ["config/sykefravaer.yaml"]
    detail = Views(env.db, env.settings).run(run.id)
    assert detail.rules == [rule]
    report = render(Views(env.db, env.settings), run.id)
    assert "Regler brukt" in report and rule in report and source in report


def test_the_config_a_run_reads_is_recorded_with_its_hash(sqlite_env: Env) -> None:
    provenance.start()
    path = config_path("sykefravaer.yaml", sqlite_env.settings)
    read = provenance.finish()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert read == {"config/sykefravaer.yaml": digest}
    assert provenance.finish() == {}  # nothing recorded outside a run


def test_every_task_can_be_described_and_the_protocol_lists_them_all(sqlite_env: Env) -> None:
    settings = sqlite_env.settings
    registry = discover(settings.task_packages)
    for task in registry.values():
        text = describe(task, settings)
        assert text.startswith(f"# {task.display_title} (`{task.name}`)")
        assert "## Behandling av personopplysninger" in text and "SHA-256" in text
    reminders = describe(registry["sykefravaer.reminders"], settings)
    assert "helseopplysninger" in reminders and "ftrl. § 8-19" in reminders
    assert "## Regler: sykefravaer.yaml" in reminders and "hjemmel: aml. § 4-6" in reminders
    csv_text = protocol(list(registry.values()), "csv")
    assert csv_text.startswith("\ufeff" + ";".join(COLUMNS))
    assert len(csv_text.strip().splitlines()) == 1 + len(registry)
    markdown = protocol(list(registry.values()), "md")
    assert "| onboarding |" in markdown and "aml. §§ 14-5 og 14-6" in markdown
