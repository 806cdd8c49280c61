"""Flow benchmark: each of the three flows through the framework against a bare script doing
the same page actions and API calls, alternating in rounds against the same sandbox.

    python bench/flows.py [--rounds 3] [--flow onboarding|arkivering|sykefravaer|all]
    BENCH_PROFILE_DIR=dir python bench/flows.py ...   # py-spy (bench extra) records each worker

Each round starts two fresh sandboxes with the same seed (the same ten new hires, the same
terms, the same absences, the same archive) and runs a flow's items once as a bare script and
once through the framework (queue on SQLite, one `runner.py worker --until-idle`, logged steps,
run log, evidence on failure, trace on retries, outbox), each against its own sandbox.

The bare scripts: one Chromium, one context per system logged in once, and per item exactly
the flow's actions, through the same pure functions the flow uses for its rules (contract
terms, public titles, milestones) and the same Noark 5 client (tasks/noark5.py, an httpx client
of the standard) for the API calls:
- onboarding (ten new hires): read the employee page; the contract PDF/A from the same template
  and renderer (WeasyPrint); the personalmappe looked up through the Noark 5 API and created in
  the archive's web form when missing; the journalpost looked up by its external reference,
  filed in the web form with the PDF, read back and its SHA-256 checked; IT access ordered, the
  contract marked sent for signing, the IT item ticked, the page read again; the manager's mail
  sent over SMTP.
- arkivering (ten text documents in the inbox, for three saksmapper): metadata from the file
  name, the public title, the PDF/A conversion, the saksmappe by its reference and the
  journalpost by its external reference through the API, the web form with the PDF, the stored
  checksum and format read back, the file moved to done/.
- sykefravaer (one reminder run per round, as the schedule does daily): every page of the
  absence list read, periods joined, the due milestones' reminders sent over SMTP, the Excel
  overview written with rpaframework.
What a bare script leaves out is what the framework adds: the queue, the run log, idempotency
checks before each click (it looks before it acts as the flow does, by the same reads),
evidence, the outbox, acknowledgement keys, the follow-up item.

Figures per flow: median seconds per item of each and the ratio framework / bare (target ≤
1.15), the framework's per-step medians from its run log, and the time between steps no step
accounts for.
"""

from __future__ import annotations

import argparse
import html
import os
import shutil
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

import RPA.Excel.Files  # noqa: E402, F401 - imported before the clock starts, as a script does
from playwright.sync_api import Page, sync_playwright  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from robots.artifacts import sha256_file  # noqa: E402
from robots.browser import launch  # noqa: E402
from robots.db import Database, upgrade  # noqa: E402
from robots.models import Run, RunEvent, WorkItem  # noqa: E402
from robots.queue import Queue  # noqa: E402
from robots.settings import load_settings, use_settings  # noqa: E402
from robots.tasks import discover  # noqa: E402
from robots.workdays import WorkingDays  # noqa: E402
from sandbox.run import Sandbox  # noqa: E402
from tasks import arkivering as filing  # noqa: E402
from tasks import onboarding as flow  # noqa: E402
from tasks import sykefravaer as absence  # noqa: E402
from tasks.documents import html_to_pdfa, pdf_kind  # noqa: E402
from tasks.noark5 import Noark5Client, code_of, quoted  # noqa: E402
from tasks.screening import check_public, public_title  # noqa: E402

USER, PASSWORD = "robot", "robot-passord"
PROFILE = os.environ.get("BENCH_PROFILE_DIR", "")  # set: py-spy records each framework worker


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


SELECTS = ("#jp-type", "#tilgang")  # the journalpost form's select elements


def file_in_web_form(page: Page, url: str, fields: dict[str, str], document: Path) -> None:
    """A journalpost through the archive's web form, with its main document."""
    page.goto(url)
    for css, value in fields.items():
        if css in SELECTS:
            page.locator(css).select_option(value)
        else:
            page.locator(css).fill(value)
    page.locator("#hoveddokument").set_input_files([document])
    page.locator("#save").click()
    assert page.get_by_role("alert").count() == 0
    page.locator("#dokumentnr").wait_for()


def filed_record(
    api: Noark5Client, reference: str
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The journalpost whose hoveddokument has this eksternReferanse, with its stored object."""
    description = api.first(
        api.href(api.follow("arkivstruktur"), "arkivstruktur/dokumentbeskrivelse"),
        f"eksternReferanse eq {quoted(reference)}",
    )
    if description is None:
        return None
    registration = api.get(api.href(description, "arkivstruktur/registrering"))
    return registration, api.list(description, "arkivstruktur/dokumentobjekt")[-1]


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
    if filed_record(api, reference) is None:
        file_in_web_form(
            archive,
            f"{archive_url}/saker/{case['systemID']}/journalpost/ny",
            {
                "#tittel": a["arbeidsavtale_tittel"].format(name=person["name"]),
                "#offentlig-tittel": check_public(
                    a["arbeidsavtale_offentlig_tittel"], [person["name"]]
                ),
                "#jp-type": a["journalposttype"],
                "#dato": datetime.now().date().isoformat(),
                "#tilgang": a["tilgangsrestriksjon"],
                "#hjemmel": a["skjermingshjemmel"],
                "#ekstern": reference,
            },
            contract,
        )
    filed = filed_record(api, reference)
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


def file_document(archive: Page, api: Noark5Client, box: Sandbox, source: Path) -> None:
    """One inbox document, the arkivering flow's actions in its order, nothing else."""
    digest = sha256_file(source)
    meta = filing.read_metadata(source)
    public = public_title(
        meta.tittel,
        given=meta.offentlig_tittel,
        restriction=meta.tilgangsrestriksjon,
        words=meta.skjermede_ord,
        templates=filing.config()["public_title"],
    )
    pdf = source.parent / "pdf" / f"arkiv-{digest[:32]}.pdf"
    pdf.parent.mkdir(exist_ok=True)
    body = f"<pre style='white-space:pre-wrap'>{html.escape(source.read_text('utf-8'))}</pre>"
    html_to_pdfa(body, pdf, title=source.stem)
    case = api.first(
        api.href(api.follow("sakarkiv"), "sakarkiv/saksmappe"),
        f"virksomhetsspesifikkeMetadata/eksternReferanse eq {quoted(meta.saksreferanse)}",
    )
    assert case is not None, meta.saksreferanse
    reference = f"arkiv:{digest}"
    if filed_record(api, reference) is None:
        file_in_web_form(
            archive,
            f"{box.archive.url}/saker/{case['systemID']}/journalpost/ny",
            {
                "#tittel": meta.tittel,
                "#offentlig-tittel": public,
                "#jp-type": meta.journalposttype,
                "#dato": meta.dokumentets_dato.isoformat(),
                "#tilgang": meta.tilgangsrestriksjon,
                "#hjemmel": meta.skjermingshjemmel,
                "#ekstern": reference,
            },
            pdf,
        )
    filed = filed_record(api, reference)
    assert filed is not None and filed[1]["sjekksum"] == sha256_file(pdf)
    kind = pdf_kind(pdf)
    assert code_of(filed[1]["variantformat"]) == kind.variantformat
    (source.parent / "done").mkdir(exist_ok=True)
    shutil.move(str(source), source.parent / "done" / source.name)


def read_absence_pages(hr: Page, url: str, days: int) -> list[absence.Absence]:
    """Every page of the absence list, as the flow reads it."""
    hr.goto(f"{url}/sykefravaer?avsluttet_siste={days}")
    hr.locator("#resultater").wait_for(state="attached")
    found = []
    while True:
        for row in hr.locator("#resultater tbody tr").all():
            found.append(absence.absence_from_cells(row.locator("td").all_inner_texts()))
        if not hr.locator("a[rel=next]").count():
            return found
        hr.locator("a[rel=next]").click()
        hr.locator("#resultater tbody tr").first.wait_for()


def remind(hr: Page, box: Sandbox, day: date, out: Path) -> None:
    """One day's reminder run, the sykefravær flow's actions in its order, nothing else."""
    cfg = absence.config()
    settings = load_settings()
    calendar = WorkingDays(settings.closed_days)
    after = int(cfg["new_period_after_days_at_work"])
    reference_day = max(day, datetime.now(settings.zone).date())
    absences = absence.read_window(
        lambda days: read_absence_pages(hr, box.hr.url, days),
        reference_day,
        int(cfg["recent_days"]),
        after,
        int(cfg["max_sickness_benefit_lookback_years"]),
        int(cfg["hr_history_days"]) if cfg.get("hr_history_days") else None,
    )
    periods = absence.join_periods(absences, after)
    by_id = {a.employee_id: a for a in absences}
    overview = []
    with smtplib.SMTP(box.smtp.host, box.smtp.port) as smtp:
        for period in periods:
            if period.end is not None and period.end < day:
                continue
            person = by_id[period.employee_id]
            earlier = [p for p in periods if p.employee_id == period.employee_id]
            dates = absence.key_dates(period, cfg, earlier)
            for milestone in absence.due_reminders(period, day, calendar, cfg):
                message = EmailMessage()
                message["From"], message["To"] = "rpa@kommune.example", person.manager_email
                message["Subject"] = (
                    f"Påminnelse: {milestone.name} for {person.name} "
                    f"innen {milestone.due:%d.%m.%Y}"
                )
                message.set_content(absence.reminder_text(person, period, milestone, dates))
                smtp.send_message(message)
            for milestone in absence.milestones(period, calendar, cfg):
                if day <= milestone.due <= day + timedelta(days=60):
                    overview.append((person, period, milestone, dates))
    place = SimpleNamespace(settings=SimpleNamespace(data_path=out))
    absence.write_overview(place, day, overview)  # type: ignore[arg-type]


@contextmanager
def logged_in(box: Sandbox) -> Iterator[tuple[Page, Page, Noark5Client]]:
    """The bare scripts' one Chromium with one page per system, each logged in once."""
    with sync_playwright() as playwright:
        browser = launch(playwright)
        hr = browser.new_context(locale="nb-NO", timezone_id="Europe/Oslo").new_page()
        archive = browser.new_context(locale="nb-NO", timezone_id="Europe/Oslo").new_page()
        login(hr, box.hr.url)
        login(archive, box.archive.url)
        api = Noark5Client(f"{box.archive.url}/api", USER, PASSWORD)
        try:
            yield hr, archive, api
        finally:
            api.close()
            browser.close()


def timed(work: list[Any], do: Callable[[Any], None]) -> list[float]:
    times = []
    for unit in work:
        started = time.perf_counter()
        do(unit)
        times.append(time.perf_counter() - started)
    return times


# The flows: what each round gives the bare script and submits to the framework ------------------


DOCUMENTS = [  # (saksreferanse, title): three saksmapper of the archive's seed
    ("BYGG-2026-001", "Nabovarsel fra Storgata {n}"),
    ("BYGG-2026-002", "Tegninger av garasjen, versjon {n}"),
    ("INNKJOP-2026-17", "Tilbud på skoleutstyr nr. {n}"),
]


def inbox_documents(folder: Path, count: int = 10) -> list[Path]:
    """`count` text documents named as config/arkivering.yaml describes."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(count):
        case, title = DOCUMENTS[n % len(DOCUMENTS)]
        path = folder / f"{case}__{title.format(n=n + 1)}__I__2026-03-{n % 28 + 1:02d}.txt"
        path.write_text(
            f"{title.format(n=n + 1)}\n\n" + f"Avsnitt {n} om saken {case}.\n" * 40, "utf-8"
        )
        paths.append(path)
    return paths


@dataclass(frozen=True)
class Flow:
    task: str
    bare: Callable[[Sandbox, Path], list[float]]  # seconds per item
    submit: Callable[[Queue, Sandbox, Path], None]  # the round's items, into the data dir


def bare_onboarding(box: Sandbox, scratch: Path) -> list[float]:
    cfg = flow.config()
    with logged_in(box) as (hr, archive, api):
        return timed(employees_of(box), lambda e: onboard(hr, archive, api, box, cfg, e))


def submit_onboarding(queue: Queue, box: Sandbox, data_dir: Path) -> None:
    for employee in employees_of(box):
        queue.submit("onboarding", str(employee), {"employee_id": employee}, submitted_by="bench")


def bare_arkivering(box: Sandbox, scratch: Path) -> list[float]:
    documents = inbox_documents(scratch / "inbox")
    with logged_in(box) as (_, archive, api):
        return timed(documents, lambda path: file_document(archive, api, box, path))


def submit_arkivering(queue: Queue, box: Sandbox, data_dir: Path) -> None:
    for path in inbox_documents(data_dir / "inbox"):
        digest = sha256_file(path)
        payload = {"filnavn": path.name, "sha256": digest}
        queue.submit("arkivering", f"fil:{digest[:32]}", payload, submitted_by="bench")


def reminder_day() -> date:
    return datetime.now(load_settings().zone).date()


def bare_sykefravaer(box: Sandbox, scratch: Path) -> list[float]:
    """One run a day: the browser start and the login are part of it here as in the worker
    (a day-old session has expired; the worker's Chromium starts with its first item)."""
    started = time.perf_counter()
    with sync_playwright() as playwright:
        browser = launch(playwright)
        hr = browser.new_context(locale="nb-NO", timezone_id="Europe/Oslo").new_page()
        login(hr, box.hr.url)
        remind(hr, box, reminder_day(), scratch)
        seconds = time.perf_counter() - started
        browser.close()
    return [seconds]


def submit_sykefravaer(queue: Queue, box: Sandbox, data_dir: Path) -> None:
    day = reminder_day().isoformat()
    queue.submit("sykefravaer.reminders", f"dag:{day}", {"dato": day}, submitted_by="bench")


FLOWS = {
    "onboarding": Flow("onboarding", bare_onboarding, submit_onboarding),
    "arkivering": Flow("arkivering", bare_arkivering, submit_arkivering),
    "sykefravaer": Flow("sykefravaer.reminders", bare_sykefravaer, submit_sykefravaer),
}


# The framework ---------------------------------------------------------------------------------


def framework(box: Sandbox, chosen: Flow, data_dir: Path) -> tuple[list[float], Any]:
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
    chosen.submit(queue, box, data_dir)
    with db.session() as session:
        submitted = session.scalar(select(func.count()).select_from(WorkItem))
    command = [sys.executable, "runner.py", "worker", "--until-idle", "--task", chosen.task]
    if PROFILE:  # a sampling profile of the worker (py-spy, not installed by the project)
        out = Path(PROFILE) / f"{chosen.task}-{data_dir.name}.txt"
        beside = Path(sys.executable).with_name("py-spy")  # the virtualenv's, else PATH's
        spy = [str(beside) if beside.exists() else "py-spy", "record", "--format", "raw"]
        spy += ["--threads", "--idle", "-o", str(out)]
        command = [*spy, "--", *command]
    subprocess.run(
        command,
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
            .where(WorkItem.task == chosen.task)
        ).all()
        events = session.execute(
            select(RunEvent.run_id, RunEvent.step, RunEvent.duration_ms, RunEvent.ts)
            .where(RunEvent.run_id.in_([r.id for r in runs]))
            .order_by(RunEvent.run_id, RunEvent.seq)
        ).all()
        done = session.scalar(
            select(func.count())
            .select_from(WorkItem)
            .where(WorkItem.status == "done", WorkItem.task == chosen.task)
        )
    db.dispose()
    if done != submitted or any(r.outcome != "done" for r in runs):
        print(
            f"ADVARSEL ({chosen.task}): {done} av {submitted} elementer ferdige; utfall: "
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


def measure(name: str, rounds: int, tmp: Path) -> tuple[list[float], list[float], Any, Any]:
    """Rounds of bare script then framework, each on a fresh sandbox with the same seed."""
    chosen = FLOWS[name]
    bare_times: list[float] = []
    fw_times: list[float] = []
    all_steps: dict[str, list[float]] = defaultdict(list)
    all_gaps: list[float] = []
    for round_no in range(rounds):
        box = Sandbox(tmp / f"{name}-bare-{round_no}").start()
        try:
            bare_times += chosen.bare(box, tmp / f"{name}-bare-files-{round_no}")
        finally:
            box.stop()
        box = Sandbox(tmp / f"{name}-fw-{round_no}").start()
        try:
            times, (runs, events) = framework(box, chosen, tmp / f"{name}-data-{round_no}")
            fw_times += times
            steps, gaps = step_figures(runs, events)
            for step, values in steps.items():
                all_steps[step] += values
            all_gaps += gaps
        finally:
            box.stop()
    return bare_times, fw_times, all_steps, all_gaps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--flow", choices=[*FLOWS, "all"], default="all")
    args = parser.parse_args()
    scratch = ROOT / "var" / "bench"
    scratch.mkdir(parents=True, exist_ok=True)
    from rich.console import Console
    from rich.table import Table

    for name in FLOWS if args.flow == "all" else [args.flow]:
        with tempfile.TemporaryDirectory(dir=scratch) as tmp:
            bare_times, fw_times, all_steps, all_gaps = measure(name, args.rounds, Path(tmp))
        b, f = statistics.median(bare_times), statistics.median(fw_times)
        table = Table("Måling", "Verdi", title=f"bench/flows.py: {name}, {args.rounds} runder")
        table.add_row(
            f"Rent skript (Playwright + httpx + smtplib), {len(bare_times)} elementer",
            f"{b:.2f} s per element (median)",
        )
        table.add_row(f"Gjennom rammeverket, {len(fw_times)} elementer", f"{f:.2f} s per element")
        table.add_row("Forhold rammeverk / rent skript (mål ≤ 1,15)", f"{f / b:.2f}x")
        table.add_row(
            "Tid mellom stegene (median per element)",
            f"{statistics.median(all_gaps):.0f} ms" if all_gaps else "-",
        )
        for step, values in sorted(all_steps.items(), key=lambda kv: -statistics.median(kv[1])):
            table.add_row(f"  steg «{step}» (median)", f"{statistics.median(values):.0f} ms")
        Console(width=120).print(table)


if __name__ == "__main__":
    main()
