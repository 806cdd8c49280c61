"""Flow benchmark: the onboarding flow through the framework against a bare script doing the
same page actions and API calls, alternating in rounds against the same sandbox.

    python bench/flows.py [--rounds 3]

Each round starts two fresh sandboxes with the same seed (so the same ten new hires, the same
terms, the same empty archive) and runs the ten onboarding items once as a bare script and once
through the framework (queue on SQLite, one `runner.py worker --until-idle`, logged steps, run
log, evidence on failure, trace on retries, outbox), each against its own sandbox.

The bare script: one Chromium, one context per system logged in once, and per employee exactly
the flow's actions: read the employee page; the contract PDF/A from the same template and
renderer (WeasyPrint); the personalmappe looked up through the Noark 5 API and created in the
archive's web form when missing; the journalpost looked up by its external reference, filed in
the web form with the PDF, read back and its SHA-256 checked; IT access ordered, the contract
marked sent for signing, the IT item ticked, the page read again; the manager's mail sent over
SMTP. The same Noark 5 client (tasks/noark5.py, an httpx client of the standard) does the API
calls in both. What the bare script leaves out is what the framework adds: the queue, the
run log, idempotency checks before each click (it looks before it acts as the flow does, by the
same reads), evidence, the outbox, the follow-up item.

Figures: median seconds per item of each and the ratio framework / bare (target ≤ 1.15), the
framework's per-step medians from its run log, and the time between steps no step accounts for.
"""

from __future__ import annotations

import argparse
import os
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, sync_playwright  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from robots.artifacts import sha256_file  # noqa: E402
from robots.browser import launch  # noqa: E402
from robots.db import Database, upgrade  # noqa: E402
from robots.models import Run, RunEvent, WorkItem  # noqa: E402
from robots.queue import Queue  # noqa: E402
from robots.settings import load_settings, use_settings  # noqa: E402
from robots.tasks import discover  # noqa: E402
from sandbox.run import Sandbox  # noqa: E402
from tasks import onboarding as flow  # noqa: E402
from tasks.noark5 import Noark5Client, quoted  # noqa: E402
from tasks.screening import check_public  # noqa: E402

USER, PASSWORD = "robot", "robot-passord"


# The bare script -------------------------------------------------------------------------------


def login(page: Page, url: str) -> None:
    page.goto(f"{url}/login")
    page.locator("#username").fill(USER)
    page.locator("#password").fill(PASSWORD)
    page.locator("#login-button").click()
    page.locator("header a[href='/logout']").wait_for(state="attached")


def read_employee(page: Page, url: str, employee_id: int) -> dict[str, Any]:
    page.goto(f"{url}/ansatte/{employee_id}")
    checklist = {}
    for row in page.locator("#sjekkliste tbody tr").all():
        cells = row.locator("td").all_inner_texts()
        checklist[row.get_attribute("data-punkt") or cells[0]] = {
            "label": cells[0],
            "done": cells[1].strip() == "Utført",
            "state": cells[1].strip(),
        }
    terms = {
        (field.get_attribute("data-felt") or ""): field.inner_text().strip()
        for field in page.locator("dl[aria-label=Ansettelsesforhold] dd[data-felt]").all()
    }

    def text(css: str) -> str:
        return page.locator(css).inner_text().strip()

    return {
        "id": employee_id,
        "terms": terms,
        "name": text("#ansatt-navn"),
        "fnr": text("#fnr"),
        "unit": text("#enhet"),
        "title": text("#stilling"),
        "start_date": text("#startdato"),
        "manager": text("#leder"),
        "manager_email": text("#leder-epost"),
        "politiattest": text("#politiattest") == "Ja",
        "checklist": checklist,
    }


def onboard(
    hr: Page, archive: Page, api: Noark5Client, box: Sandbox, cfg: dict[str, Any], employee: int
) -> None:
    """One employee, the flow's actions in the flow's order, nothing else."""
    hr_url, archive_url = box.hr.url, box.archive.url
    person = read_employee(hr, hr_url, employee)
    terms = flow.contract_terms(person, cfg["contract"])
    contract = Path(tempfile.mkdtemp()) / f"arbeidsavtale-{employee}.pdf"
    settings = SimpleNamespace(settings=load_settings())
    flow.render_contract(settings, person, terms, contract)  # type: ignore[arg-type]

    a = cfg["archive"]
    part = api.first(
        api.href(api.follow("arkivstruktur"), "arkivstruktur/arkivdel"),
        f"tittel eq {quoted(a['arkivdel'])}",
    )
    assert part is not None

    def case_in() -> dict[str, Any] | None:
        found = api.first(
            api.href(part, "arkivstruktur/mappe"), f"klasse/klasseID eq {quoted(str(employee))}"
        )
        return dict(found) if found is not None else None

    case = case_in()
    if case is None:
        archive.goto(f"{archive_url}/saker/ny")
        archive.locator("#tittel").fill(a["personalmappe_tittel"].format(name=person["name"]))
        archive.locator("#offentlig-tittel").fill(
            check_public(a["personalmappe_offentlig_tittel"], [person["name"]])
        )
        archive.locator("#arkivdel").select_option(a["arkivdel"])
        archive.locator("#klasse").fill(str(employee))
        archive.locator("#enhet").fill(a["administrativ_enhet"])
        archive.locator("#ekstern").fill(f"ansatt:{employee}")
        archive.locator("#tilgang").select_option(a["tilgangsrestriksjon"])
        archive.locator("#save").click()
        archive.locator("#saksnr").wait_for()
        case = case_in()
        assert case is not None

    reference = f"onboarding:{employee}:arbeidsavtale"

    def record() -> tuple[dict[str, Any], dict[str, Any]] | None:
        description = api.first(
            api.href(api.follow("arkivstruktur"), "arkivstruktur/dokumentbeskrivelse"),
            f"eksternReferanse eq {quoted(reference)}",
        )
        if description is None:
            return None
        registration = api.get(api.href(description, "arkivstruktur/registrering"))
        return registration, api.list(description, "arkivstruktur/dokumentobjekt")[-1]

    if record() is None:
        archive.goto(f"{archive_url}/saker/{case['systemID']}/journalpost/ny")
        archive.locator("#tittel").fill(a["arbeidsavtale_tittel"].format(name=person["name"]))
        archive.locator("#offentlig-tittel").fill(
            check_public(a["arbeidsavtale_offentlig_tittel"], [person["name"]])
        )
        archive.locator("#jp-type").select_option(a["journalposttype"])
        archive.locator("#dato").fill(datetime.now().date().isoformat())
        archive.locator("#tilgang").select_option(a["tilgangsrestriksjon"])
        archive.locator("#hjemmel").fill(a["skjermingshjemmel"])
        archive.locator("#ekstern").fill(reference)
        archive.locator("#hoveddokument").set_input_files([contract])
        archive.locator("#save").click()
        assert archive.get_by_role("alert").count() == 0
        archive.locator("#dokumentnr").wait_for()
    filed = record()
    assert filed is not None and filed[1]["sjekksum"] == sha256_file(contract)

    it_reference = f"onboarding:{employee}:it"
    hr.goto(f"{hr_url}/ansatte/{employee}")
    if f"(ref. {it_reference})" not in hr.content():
        hr.locator("#it-systemer").fill(cfg["it_systems"])
        hr.locator("#it-referanse").fill(it_reference)
        hr.get_by_role("button", name="Bestill IT-tilgang").click()
        hr.wait_for_load_state()
        assert hr.get_by_role("alert").count() == 0 or "finnes allerede" in hr.content()
    hr.goto(f"{hr_url}/ansatte/{employee}")
    row = hr.locator("tr[data-punkt='arbeidsavtale']")
    if row.get_attribute("data-status") not in ("sendt_til_signering", "utfort"):
        row.locator("button[value=sendt_til_signering]").click()
        hr.get_by_role("status").wait_for()
    hr.goto(f"{hr_url}/ansatte/{employee}")
    button = hr.locator("tr[data-punkt='it_tilgang'] button[value=utfort]")
    if button.count():
        button.click()
        hr.get_by_role("status").wait_for()
    person = read_employee(hr, hr_url, employee)
    open_items = flow.open_checklist(person, cfg["checklist"], terms)
    if open_items:
        message = EmailMessage()
        message["From"], message["To"] = "rpa@kommune.example", person["manager_email"]
        message["Subject"] = f"Nyansatt {person['name']}: {len(open_items)} punkter gjenstår"
        message.set_content(flow.manager_mail(person, open_items))
        with smtplib.SMTP(box.smtp.host, box.smtp.port) as smtp:
            smtp.send_message(message)


def bare(box: Sandbox, employees: list[int]) -> list[float]:
    """Seconds per employee (after both logins, which the bare script does once)."""
    cfg = flow.config()
    times = []
    with sync_playwright() as playwright:
        browser = launch(playwright)
        hr = browser.new_context(locale="nb-NO", timezone_id="Europe/Oslo").new_page()
        archive = browser.new_context(locale="nb-NO", timezone_id="Europe/Oslo").new_page()
        login(hr, box.hr.url)
        login(archive, box.archive.url)
        api = Noark5Client(f"{box.archive.url}/api", USER, PASSWORD)
        for employee in employees:
            started = time.perf_counter()
            onboard(hr, archive, api, box, cfg, employee)
            times.append(time.perf_counter() - started)
        api.close()
        browser.close()
    return times


# The framework ---------------------------------------------------------------------------------


def framework(box: Sandbox, employees: list[int], data_dir: Path) -> tuple[list[float], Any]:
    """Seconds per item (each run's start to end) and the runs' step events."""
    credentials = data_dir / "credentials.toml"
    data_dir.mkdir(parents=True, exist_ok=True)
    credentials.write_text(
        f'[hr]\nusername = "{USER}"\npassword = "{PASSWORD}"\n\n'
        f'[archive]\nusername = "{USER}"\npassword = "{PASSWORD}"\n'
    )
    credentials.chmod(0o600)
    env = {
        **os.environ,
        "RPA_DATABASE_URL": f"sqlite:///{data_dir}/rpa.db",
        "RPA_DATA_DIR": str(data_dir),
        "RPA_LOG_STDERR": "false",
        "RPA_SYSTEM_URLS": f'{{"hr": "{box.hr.url}", "archive": "{box.archive.url}"}}',
        "RPA_SMTP_HOST": box.smtp.host,
        "RPA_SMTP_PORT": str(box.smtp.port),
        "RPA_CREDENTIALS_FILE": str(credentials),
    }
    os.environ.update(env)
    use_settings(None)
    settings = load_settings()
    db = Database(settings.effective_database_url)
    upgrade(db.engine)
    queue = Queue(db, settings, discover(settings.task_packages))
    for employee in employees:
        queue.submit("onboarding", str(employee), {"employee_id": employee}, submitted_by="bench")
    subprocess.run(
        [sys.executable, "runner.py", "worker", "--until-idle", "--task", "onboarding"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    with db.session() as session:
        runs = session.execute(
            select(Run.id, Run.started_at, Run.ended_at, Run.outcome)
            .join(WorkItem)
            .where(WorkItem.task == "onboarding")
        ).all()
        events = session.execute(
            select(RunEvent.run_id, RunEvent.step, RunEvent.duration_ms, RunEvent.ts)
            .where(RunEvent.run_id.in_([r.id for r in runs]))
            .order_by(RunEvent.run_id, RunEvent.seq)
        ).all()
        done = session.scalar(
            select(func.count()).select_from(WorkItem).where(WorkItem.status == "done")
        )
    db.dispose()
    if done != len(employees) or any(r.outcome != "done" for r in runs):
        print(
            f"ADVARSEL: {done} av {len(employees)} elementer ferdige; utfall: "
            f"{[r.outcome for r in runs]}"
        )
    return [(r.ended_at - r.started_at).total_seconds() for r in runs], (runs, events)


def step_figures(runs: Any, events: Any) -> tuple[dict[str, list[float]], list[float]]:
    """Per step: its durations (ms); per run: the time no step accounts for (ms): the run's
    length minus the union of its steps' intervals (nested steps lie inside their parent)."""
    steps: dict[str, list[float]] = defaultdict(list)
    intervals: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for run_id, step, duration, ts in events:
        if step and duration is not None:
            steps[step].append(duration)
            end = ts.timestamp() * 1000
            intervals[run_id].append((end - duration, end))
    gaps = []
    for r in runs:
        covered, reach = 0.0, float("-inf")
        for start, end in sorted(intervals.get(r.id, [])):
            if end > reach:
                covered += end - max(start, reach)
                reach = end
        gaps.append((r.ended_at - r.started_at).total_seconds() * 1000 - covered)
    return steps, gaps


def employees_of(box: Sandbox) -> list[int]:
    return list(box.hr_app.state.data.new_hire_ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    scratch = ROOT / "var" / "bench"
    scratch.mkdir(parents=True, exist_ok=True)
    bare_times: list[float] = []
    fw_times: list[float] = []
    all_steps: dict[str, list[float]] = defaultdict(list)
    all_gaps: list[float] = []
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        for round_no in range(args.rounds):
            box = Sandbox(Path(tmp) / f"bare-{round_no}").start()
            try:
                bare_times += bare(box, employees_of(box))
            finally:
                box.stop()
            box = Sandbox(Path(tmp) / f"fw-{round_no}").start()
            try:
                times, (runs, events) = framework(
                    box, employees_of(box), Path(tmp) / f"data-{round_no}"
                )
                fw_times += times
                steps, gaps = step_figures(runs, events)
                for name, values in steps.items():
                    all_steps[name] += values
                all_gaps += gaps
            finally:
                box.stop()
    from rich.console import Console
    from rich.table import Table

    b, f = statistics.median(bare_times), statistics.median(fw_times)
    table = Table("Måling", "Verdi", title=f"bench/flows.py: onboarding, {args.rounds} runder")
    table.add_row(
        f"Rent skript (Playwright + httpx + smtplib), {len(bare_times)} ansatte",
        f"{b:.2f} s per ansatt (median)",
    )
    table.add_row(f"Gjennom rammeverket, {len(fw_times)} elementer", f"{f:.2f} s per element")
    table.add_row("Forhold rammeverk / rent skript (mål ≤ 1,15)", f"{f / b:.2f}x")
    table.add_row(
        "Tid mellom stegene (median per element)",
        f"{statistics.median(all_gaps):.0f} ms" if all_gaps else "-",
    )
    for name, values in sorted(all_steps.items(), key=lambda kv: -statistics.median(kv[1])):
        table.add_row(f"  steg «{name}» (median)", f"{statistics.median(values):.0f} ms")
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
