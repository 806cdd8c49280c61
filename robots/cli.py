"""The command line: `python runner.py <command>`. Output in Norwegian for the operators."""

from __future__ import annotations

import csv
import getpass
import json
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from robots import audit
from robots.db import Database, check_reachable, check_schema, describe_url, upgrade
from robots.labels import status_name
from robots.masking import mask, mask_text
from robots.models import ItemStatus, Run, Schedule, WorkItem
from robots.queue import (
    InvalidTransition,
    Queue,
    check_priority,
    check_reference,
)
from robots.settings import Settings, get_settings, unknown_environment
from robots.storable import unstorable
from robots.tasks import InvalidPayload, NotAllowed, Task, discover, get_task, may_start

# No markup: user data (references, selectors like a[href='/x']) must print as written.
console = Console(highlight=False, markup=False, width=None if sys.stdout.isatty() else 150)
app = typer.Typer(
    help="RPA-robotrammeverk for kommuner: kø, arbeidere, planlegger og kjørelogg.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Databaseskjema (Alembic-migreringer).", no_args_is_help=True)
config_app = typer.Typer(help="Innstillinger.", no_args_is_help=True)
items_app = typer.Typer(help="Arbeidselementer i køen.", no_args_is_help=True)
runs_app = typer.Typer(help="Kjøringer (forsøk) og kjøreloggen.", no_args_is_help=True)
tasks_app = typer.Typer(help="Oppgaver (robotene i tasks/).", no_args_is_help=True)
schedules_app = typer.Typer(help="Tidsplaner.", no_args_is_help=True)
audit_app = typer.Typer(help="Revisjonsspor.", no_args_is_help=True)
for sub, name in (
    (db_app, "db"),
    (config_app, "config"),
    (items_app, "items"),
    (runs_app, "runs"),
    (tasks_app, "tasks"),
    (schedules_app, "schedules"),
    (audit_app, "audit"),
):
    app.add_typer(sub, name=name)


def cli_actor() -> str:
    return f"cli:{getpass.getuser()}"


_warned = False


def _settings() -> Settings:
    global _warned
    settings = get_settings()
    if not _warned:
        _warned = True
        for line in unknown_environment():
            Console(stderr=True, highlight=False, markup=False).print(f"Advarsel: {line}")
    return settings


def _database(check: bool = True) -> Database:
    settings = _settings()
    db = Database(settings.effective_database_url, settings)
    if check:
        check_schema(db.engine)
    return db


def _queue() -> tuple[Queue, Database]:
    db = _database()
    return Queue(db, _settings(), discover()), db


def _local(ts: datetime | None) -> str:
    if ts is None:
        return "-"
    return ts.astimezone(_settings().zone).strftime("%Y-%m-%d %H:%M:%S")


def _parse_time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} er ikke et tidspunkt (ÅÅÅÅ-MM-DDTTT:MM)", param_hint=option
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=_settings().zone)


# db -----------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Oppgrader databaseskjemaet til siste versjon."""
    db = _database(check=False)
    check_reachable(db.engine)
    before, after = upgrade(db.engine)
    where = describe_url(db.url)
    if before == after:
        console.print(f"Databasen {where} er allerede på skjemaversjon {after}.")
    else:
        console.print(f"Databasen {where} oppgradert fra {before or '(tom)'} til {after}.")


@db_app.command("status")
def db_status() -> None:
    """Vis skjemaversjonen og om den er oppdatert."""
    db = _database(check=False)
    check_schema(db.engine)
    console.print(f"Databasen {describe_url(db.url)} er oppdatert.")


# config -------------------------------------------------------------------------------------


@config_app.command("show")
def config_show() -> None:
    """Vis gjeldende innstillinger (hemmeligheter skjult)."""
    table = Table("Innstilling", "Verdi", "Miljøvariabel")
    for key, value in _settings().shown().items():
        shown = json.dumps(value, default=str) if isinstance(value, dict | list) else str(value)
        table.add_row(key, shown, f"RPA_{key.upper()}")
    console.print(table)


# tasks --------------------------------------------------------------------------------------


@tasks_app.command("list")
def tasks_list() -> None:
    """Vis oppgavene arbeiderne kan kjøre, med systemer og inndatafelt."""
    table = Table("Oppgave", "Beskrivelse", "Systemer", "Maks forsøk", "Felt")
    for task in sorted(discover().values(), key=lambda t: t.name):
        fields = ", ".join(
            f"{n}{'' if f.is_required() else '?'}" for n, f in task.input_model.model_fields.items()
        )
        table.add_row(
            task.name,
            task.description,
            ", ".join(task.systems) or "-",
            str(task.max_attempts or _settings().default_max_attempts),
            fields,
        )
    console.print(table)


# submit -------------------------------------------------------------------------------------


@app.command("submit")
def submit(
    task: str = typer.Argument(..., help="Oppgavens navn (se `tasks list`)."),
    ref: str = typer.Option(None, "--ref", help="Referansen (idempotensnøkkel) til elementet."),
    data: str = typer.Option("{}", "--data", help="Inndata som JSON."),
    file: Path = typer.Option(
        None,
        "--file",
        help="CSV- eller Excel-fil med ett element per rad.",
        exists=True,
        dir_okay=False,
    ),
    ref_column: str = typer.Option("reference", help="Kolonnen i filen som holder referansen."),
    priority: int = typer.Option(0, help="Høyere tall kjøres først."),
    not_before: str = typer.Option(None, help="Ikke før dette tidspunktet (utsett)."),
    deadline: str = typer.Option(None, help="Frist (SLA)."),
    actor: str = typer.Option(
        None,
        "--as",
        help="Send inn som denne konsollbrukeren (rollen må få starte oppgaven). "
        "Standard: cli:<bruker>.",
    ),
) -> None:
    """Legg ett element i køen, eller mange fra en CSV/Excel-fil."""
    queue, _ = _queue()
    who = _submitter(queue, get_task(task, queue.registry), actor)
    nb, dl = _parse_time(not_before, "--not-before"), _parse_time(deadline, "--deadline")
    if file is not None:
        _submit_file(queue, task, file, ref_column, who, priority, nb, dl)
        return
    if not ref:
        raise typer.BadParameter("oppgi --ref eller --file", param_hint="--ref")
    try:
        payload = json.loads(data)
    except json.JSONDecodeError as exc:
        raise InvalidPayload(
            task, [("--data", f"ikke gyldig JSON ({exc.msg}, tegn {exc.pos})")]
        ) from None
    result = queue.submit(
        task, ref, payload, submitted_by=who, priority=priority, not_before=nb, deadline=dl
    )
    item = result.item
    if result.created:
        console.print(f"Element {item.id} lagt i kø: {task} {ref!r}")
    else:
        console.print(
            f"Referansen {ref!r} finnes allerede for {task}: element {item.id} "
            f"({status_name(item.status)}). Ingenting nytt lagt i kø."
        )


def _read_table(path: Path) -> list[dict[str, Any]]:
    """Rows of a CSV or Excel file as dicts (rpaframework's Tables and Excel.Files)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        from RPA.Tables import Tables

        table = Tables().read_table_from_csv(str(path), header=True, encoding="utf-8-sig")
    elif suffix in (".xlsx", ".xls"):
        from RPA.Excel.Files import Files

        excel = Files()
        excel.open_workbook(str(path))
        try:
            table = excel.read_worksheet_as_table(header=True)
        finally:
            excel.close_workbook()
    else:
        raise InvalidPayload("fil", [(path.name, "må være .csv, .xlsx eller .xls")])
    return [
        {str(k).strip(): v for k, v in row.items() if k is not None and v not in (None, "")}
        for row in table.iter_dicts(with_index=False)
    ]


def _submitter(queue: Queue, task: Task, username: str | None) -> str:
    """Who submits: the shell user (an operator with access to the machine), or with --as a
    console user, whose role must be allowed to start the task."""
    if not username:
        return cli_actor()
    from robots.models import User

    with queue.db.session() as session:
        user = session.scalars(select(User).where(User.username == username)).first()
        role = user.role if user is not None else None
    if role is None:
        raise NotAllowed(f"Fant ingen konsollbruker {username!r} (--as)")
    if not may_start(role, task, queue.settings.task_roles):
        raise NotAllowed(f"Rollen {role} kan ikke starte oppgaven {task.name} ({username!r})")
    return f"cli:{username}"


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a CSV or Excel file as dicts; a file that cannot be read is one clear error."""
    try:
        return _read_table(path)
    except InvalidPayload:
        raise
    except Exception as exc:  # noqa: BLE001 - csv, openpyxl and xlrd each fail their own way
        text = str(exc).strip().splitlines()
        reason = text[0] if text else type(exc).__name__
        if "field larger than field limit" in reason:
            reason = f"en celle er større enn {csv.field_size_limit() // 1024} KB"
        raise InvalidPayload("fil", [(path.name, f"kan ikke leses: {reason[:200]}")]) from None


def _submit_file(
    queue: Queue,
    task_name: str,
    path: Path,
    ref_column: str,
    who: str,
    priority: int,
    nb: datetime | None,
    dl: datetime | None,
) -> None:
    """All rows are validated first; one bad row stops the file and nothing is stored."""
    task: Task = get_task(task_name, queue.registry)
    rows = read_rows(path)
    errors: list[tuple[str, str]] = []
    prepared = []
    seen: dict[str, int] = {}
    check_priority(priority)
    for number, row in enumerate(rows, start=2):  # row 1 is the header
        ref = str(row.pop(ref_column, "")).strip()
        if not ref:
            errors.append((f"rad {number}", f"mangler referanse i kolonnen {ref_column!r}"))
            continue
        try:
            check_reference(ref)
        except ValueError as exc:
            errors.append((f"rad {number}", str(exc)))
            continue
        if ref in seen:
            errors.append(
                (f"rad {number}", f"referansen {ref!r} står også på rad {seen[ref]} i filen")
            )
            continue
        seen[ref] = number
        try:
            model = task.validate(row)
        except InvalidPayload as exc:
            errors.extend((f"rad {number}.{loc}", msg) for loc, msg in exc.errors)
            continue
        errors.extend(
            (f"rad {number}.{loc}", msg) for loc, msg in unstorable(model.model_dump(mode="json"))
        )
        prepared.append((ref, row))
    if errors:
        raise InvalidPayload(f"{task_name} fra {path.name} (ingenting lagt i kø)", errors)
    created = 0
    with queue.db.session() as session:
        for ref, row in prepared:
            created += queue.submit(
                task_name,
                ref,
                row,
                submitted_by=who,
                priority=priority,
                not_before=nb,
                deadline=dl,
                session=session,
            ).created
    console.print(
        f"{path.name}: {len(prepared)} rader, {created} nye elementer lagt i kø, "
        f"{len(prepared) - created} fantes fra før."
    )


# items --------------------------------------------------------------------------------------


@items_app.command("list")
def items_list(
    task: str = typer.Option(None, help="Bare denne oppgaven."),
    status: str = typer.Option(None, help=f"Bare denne statusen: {', '.join(ItemStatus.ALL)}."),
    limit: int = typer.Option(50, min=1, max=10000),
) -> None:
    """Vis elementer, nyeste først."""
    if status and status not in ItemStatus.ALL:
        raise typer.BadParameter(
            f"ukjent status; bruk en av {', '.join(ItemStatus.ALL)}", param_hint="--status"
        )
    _, db = _queue()
    query = select(WorkItem).order_by(WorkItem.id.desc()).limit(limit)
    if task:
        query = query.where(WorkItem.task == task)
    if status:
        query = query.where(WorkItem.status == status)
    table = Table(
        "Id", "Oppgave", "Referanse", "Status", "Forsøk", "Prioritet", "Frist", "Opprettet", "Feil"
    )
    now = datetime.now(_settings().zone)
    with db.session() as session:
        for item in session.scalars(query):
            overdue = (
                item.deadline is not None
                and item.deadline < now
                and item.status not in ItemStatus.FINAL
            )
            table.add_row(
                str(item.id),
                item.task,
                mask_text(item.reference),
                status_name(item.status),
                f"{item.attempts}",
                str(item.priority),
                _local(item.deadline) + (" FORFALT" if overdue else ""),
                _local(item.created_at),
                mask_text((item.error_message or "")[:80]),
            )
        counts = dict(
            session.execute(select(WorkItem.status, func.count()).group_by(WorkItem.status)).all()
        )
    console.print(table)
    console.print("  ".join(f"{status_name(s)}: {counts.get(s, 0)}" for s in ItemStatus.ALL))


@items_app.command("show")
def items_show(ident: str = typer.Argument(..., help="Element-id eller referanse.")) -> None:
    """Vis ett element med alle forsøk."""
    queue, db = _queue()
    with db.session() as session:
        item = queue.get(session, ident)
        console.print(
            f"Element {item.id}  {item.task}  {mask_text(item.reference)!r}", style="bold"
        )
        for label, value in (
            ("Status", status_name(item.status)),
            (
                "Forsøk",
                f"{item.attempts} (systemfeil {item.failures} av maks "
                f"{item.max_attempts}, tapte arbeidere {item.abandons})",
            ),
            ("Prioritet", item.priority),
            ("Ikke før", _local(item.not_before)),
            ("Frist", _local(item.deadline)),
            ("Sendt inn av", item.submitted_by),
            ("Opprettet", _local(item.created_at)),
            ("Avsluttet", _local(item.finished_at)),
            ("Feiltype", item.error_kind or "-"),
            ("Feil", mask_text(item.error_message or "-")),
            ("Inndata", json.dumps(mask(item.payload), ensure_ascii=False)),
            ("Resultat", json.dumps(mask(item.result), ensure_ascii=False)),
        ):
            console.print(f"  {label:<13} {value}")
        table = Table("Kjøring", "Forsøk", "Arbeider", "Start", "Slutt", "Utfall", "Feil")
        for run in item.runs:
            table.add_row(
                str(run.id),
                str(run.attempt),
                run.worker_id,
                _local(run.started_at),
                _local(run.ended_at),
                run.outcome or "pågår",
                mask_text((run.error_message or "")[:80]),
            )
        console.print(table)


@items_app.command("retry")
def items_retry(ident: str, actor: str = typer.Option(None, "--as")) -> None:
    """Prøv et feilet, forretningsfeilet eller avbrutt element på nytt."""
    queue, _ = _queue()
    item = queue.retry(ident, actor or cli_actor())
    console.print(f"Element {item.id} lagt i kø på nytt.")


@items_app.command("cancel")
def items_cancel(ident: str, actor: str = typer.Option(None, "--as")) -> None:
    """Avbryt et element som venter eller kjører."""
    queue, _ = _queue()
    item = queue.cancel(ident, actor or cli_actor())
    console.print(f"Element {item.id} avbrutt.")


# runs ---------------------------------------------------------------------------------------


@runs_app.command("list")
def runs_list(
    item: int = typer.Option(None, help="Bare kjøringer av dette elementet."),
    outcome: str = typer.Option(None, help="Bare dette utfallet."),
    limit: int = typer.Option(50, min=1, max=10000),
) -> None:
    """Vis kjøringer, nyeste først."""
    _, db = _queue()
    query = select(Run, WorkItem).join(WorkItem).order_by(Run.id.desc()).limit(limit)
    if item:
        query = query.where(Run.item_id == item)
    if outcome:
        query = query.where(Run.outcome == outcome)
    table = Table(
        "Kjøring",
        "Element",
        "Oppgave",
        "Referanse",
        "Forsøk",
        "Arbeider",
        "Start",
        "Varighet",
        "Utfall",
    )
    with db.session() as session:
        for run, work in session.execute(query):
            duration = (
                f"{(run.ended_at - run.started_at).total_seconds():.2f} s" if run.ended_at else "-"
            )
            table.add_row(
                str(run.id),
                str(work.id),
                work.task,
                mask_text(work.reference),
                str(run.attempt),
                run.worker_id,
                _local(run.started_at),
                duration,
                run.outcome or "pågår",
            )
    console.print(table)


@runs_app.command("show")
def runs_show(run_id: int) -> None:
    """Vis én kjøring med hele kjøreloggen."""
    _, db = _queue()
    with db.session() as session:
        run = session.get(Run, run_id)
        if run is None:
            from robots.queue import ItemNotFound

            raise ItemNotFound(f"Fant ikke kjøring {run_id}")
        console.print(
            f"Kjøring {run.id}  element {run.item_id} "
            f"({run.item.task} {mask_text(run.item.reference)!r}), forsøk {run.attempt}",
            style="bold",
        )
        console.print(f"  Arbeider {run.worker_id} på {run.host} (pid {run.pid})")
        console.print(
            f"  {_local(run.started_at)} – {_local(run.ended_at)}  utfall: {run.outcome or 'pågår'}"
        )
        if run.error_message:
            console.print(f"  Feil: {run.error_message}")
        table = Table("#", "Tid", "Nivå", "Steg", "Melding", "ms")
        for event in run.events:
            table.add_row(
                str(event.seq),
                _local(event.ts),
                event.level,
                event.step or "",
                event.message,
                "" if event.duration_ms is None else f"{event.duration_ms:.0f}",
            )
        console.print(table)
        for artifact in run.artifacts:
            console.print(
                f"  Vedlegg: {artifact.kind} {artifact.path} ({artifact.size} byte, "
                f"sha256 {artifact.sha256[:16]}…)"
            )


@runs_app.command("report")
def runs_report(
    run_id: int,
    out: Path = typer.Option(None, help="Filen rapporten skrives til."),
) -> None:
    """Lag en selvstendig HTML-rapport for én kjøring (steg, logg, skjermbilder, utfall)."""
    from robots.report import render

    settings = _settings()
    _, db = _queue()
    with db.session() as session:
        html = render(session, run_id, settings)
    target = out or settings.data_path / "reports" / f"run-{run_id}.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html, encoding="utf-8")
    console.print(f"Rapport skrevet til {target}")


# schedules ----------------------------------------------------------------------------------


@schedules_app.command("list")
def schedules_list() -> None:
    """Vis tidsplaner og de neste utløsningstidene."""
    from robots.scheduler import next_fire_times, sync_config_schedules

    settings = _settings()
    db = _database()
    sync_config_schedules(db, settings, discover())
    table = Table("Navn", "Oppgave", "Utløser", "Arbeidsdager", "Aktiv", "Kilde", "Neste")
    with db.session() as session:
        for schedule in session.scalars(select(Schedule).order_by(Schedule.name)):
            upcoming = next_fire_times(schedule, settings) if schedule.enabled else []
            table.add_row(
                schedule.name,
                schedule.task,
                f"{schedule.trigger} {schedule.spec}",
                "ja" if schedule.working_days_only else "nei",
                "ja" if schedule.enabled else "nei",
                schedule.source,
                ", ".join(t.strftime("%a %d.%m %H:%M") for t in upcoming) or "-",
            )
    console.print(table)


# audit --------------------------------------------------------------------------------------


@audit_app.command("verify")
def audit_verify() -> None:
    """Kontroller at revisjonssporet er urørt (hashkjeden)."""
    db = _database()
    with db.session() as session:
        result = audit.verify(session)
    if result.intact:
        since = (
            f"; signert fra hendelse {result.anchored_from}"
            if result.anchored_from is not None
            else ""
        )
        console.print(f"Revisjonssporet er intakt ({result.checked} hendelser kontrollert{since}).")
        return
    console.print(
        f"Revisjonssporet er brutt ved hendelse {result.first_broken_id}: "
        f"{result.reason} ({result.checked} hendelser var i orden før den).",
        style="red",
    )
    raise typer.Exit(9)


# processes ----------------------------------------------------------------------------------


class CrashLoop(RuntimeError):
    """The worker processes keep dying; the supervisor gave up (exit code 12)."""


def _wait_for_stop() -> threading.Event:
    stop = threading.Event()

    def handler(_signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


@app.command("worker")
def worker(
    processes: int = typer.Option(
        None,
        "--processes",
        "-p",
        min=1,
        max=64,
        help="Antall arbeiderprosesser (standard: worker_processes).",
    ),
    task: list[str] = typer.Option(None, "--task", help="Bare disse oppgavene (kan gjentas)."),
    until_idle: bool = typer.Option(
        False,
        help="Stopp når køen er tom: ingen elementer venter, kjører eller venter på nytt forsøk "
        "(med --processes N: N prosesser).",
    ),
) -> None:
    """Start arbeiderprosesser som henter og kjører elementer."""
    from robots.runlog import configure_logging
    from robots.worker import Supervisor, WorkerProcess, run_until_idle

    settings = _settings()
    configure_logging(settings)
    _database()
    registry = discover()
    for name in task or []:
        get_task(name, registry)
    if until_idle and (processes or 1) > 1:
        codes = run_until_idle(processes, task or None)
        console.print(f"Køen er tom; {len(codes)} arbeiderprosesser stoppet.")
        if any(code != 0 for code in codes):
            raise typer.Exit(1)
        return
    if until_idle:
        worker_process = WorkerProcess(settings, registry, tasks=task or None)
        worker_process.install_signal_handlers()
        count = worker_process.run(exit_when_idle=True)
        console.print(f"Køen er tom; {count} elementer behandlet.")
        return
    supervisor = Supervisor(processes or settings.worker_processes, settings, task or None)
    stop = _wait_for_stop()
    supervisor.on_crash_loop = stop.set  # type: ignore[method-assign]
    supervisor.start()
    watcher = threading.Thread(target=supervisor.watch, daemon=True)
    watcher.start()
    stop.wait()
    console.print("Stopper arbeiderne …")
    supervisor.stop()
    if supervisor.crash_loop:
        raise CrashLoop(supervisor.crash_loop)


@app.command("run")
def run(
    task: str = typer.Argument(..., help="Oppgaven som skal kjøres."),
    data: str = typer.Option("{}", "--data", help="Inndata som JSON."),
    ref: str = typer.Option(None, "--ref", help="Referanse (standard: utvikling:<tidspunkt>)."),
    headed: bool = typer.Option(False, "--headed", help="Vis nettleseren."),
    slow_mo: int = typer.Option(0, "--slow-mo", min=0, help="Pause mellom handlinger (ms)."),
    pause_on_error: bool = typer.Option(
        False, "--pause-on-error", help="Ved feil: la nettleseren stå åpen til du trykker Enter."
    ),
) -> None:
    """Kjør ett element her og nå, uten arbeider: samme kontekst, kjørelogg, bevis og rapport.

    Utviklerens løkke: kjøreloggen skrives mens den går, og til slutt vises utfall, resultat,
    bevis og stien til HTML-rapporten. Elementet lagres som vanlig (referanse utvikling:...)."""
    from robots.report import render
    from robots.runlog import configure_logging
    from robots.worker import WorkerProcess

    settings = _settings().model_copy(
        update={
            "headless": not headed and _settings().headless,
            "slow_mo_ms": slow_mo or _settings().slow_mo_ms,
            "log_stderr": True,
            "trace": "retain_on_failure",
        }
    )
    configure_logging(settings)
    queue, db = _queue()
    chosen = get_task(task, queue.registry)
    try:
        payload = json.loads(data)
    except json.JSONDecodeError as exc:
        reason = f"ikke gyldig JSON ({exc.msg}, tegn {exc.pos})"
        raise InvalidPayload(task, [("--data", reason)]) from None
    reference = ref or f"utvikling:{datetime.now(settings.zone):%Y%m%dT%H%M%S.%f}"
    submitted = queue.submit(chosen.name, reference, payload, submitted_by=cli_actor())
    worker = WorkerProcess(settings, queue.registry, tasks=[chosen.name])
    if pause_on_error:
        worker.on_failure = lambda _ctx: input(
            "Feil: nettleseren står åpen. Trykk Enter for å lukke den … "
        )
    claim = worker.queue.claim_item(worker.identity, submitted.item.id)
    if claim is None:
        raise InvalidTransition(
            f"Element {submitted.item.id} ({reference!r}) venter ikke og kan ikke kjøres nå"
        )
    try:
        worker.run_item(claim)
    finally:
        if worker.browsers is not None:
            worker.browsers.close()
    with db.session() as session:
        item = session.get(WorkItem, submitted.item.id)
        assert item is not None
        html = render(session, claim.run_id, settings)
        artifacts = [a.path for a in session.get(Run, claim.run_id).artifacts]  # type: ignore[union-attr]
    report = settings.data_path / "reports" / f"run-{claim.run_id}.html"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(html, encoding="utf-8")
    console.print(f"Element {item.id}, kjøring {claim.run_id}: {status_name(item.status)}")
    if item.result is not None:
        console.print(f"Resultat: {json.dumps(mask(item.result), ensure_ascii=False)}")
    if item.error_message:
        console.print(f"Feil: {mask_text(item.error_message)}")
    for path in artifacts:
        console.print(f"Bevis: {path}")
    console.print(f"Rapport: {report}")
    if item.status != ItemStatus.DONE:
        raise typer.Exit(14)


@app.command("scheduler")
def scheduler() -> None:
    """Start planleggeren (én leder; flere kan stå i beredskap på PostgreSQL)."""
    from robots.runlog import configure_logging
    from robots.scheduler import Scheduler

    settings = _settings()
    configure_logging(settings)
    db = _database()
    sched = Scheduler(db, settings, discover())
    stop = _wait_for_stop()
    thread = threading.Thread(target=sched.run, name="scheduler", daemon=True)
    thread.start()
    stop.wait()
    sched.stop()
    thread.join(timeout=15)


@app.command("serve")
def serve(
    processes: int = typer.Option(None, "--processes", "-p", min=1, max=64),
    port: int = typer.Option(8000, min=0, max=65535, help="Konsollens port (0: ingen konsoll)."),
    host: str = typer.Option("127.0.0.1", help="Adressen konsollen lytter på."),
) -> None:
    """Kjør planlegger, arbeidere og konsollen i én kommando (standardoppsettet på SQLite)."""
    from robots.serve import Service

    service = Service(_settings(), processes=processes, web_port=port or None, web_host=host)
    stop = _wait_for_stop()
    service.supervisor.on_crash_loop = stop.set  # type: ignore[method-assign]
    service.start()
    if service.url:
        console.print(f"Konsollen: {service.url}")
    stop.wait()
    console.print("Stopper …")
    service.stop()
    if service.supervisor.crash_loop:
        raise CrashLoop(service.supervisor.crash_loop)


@app.command("demo")
def demo(
    processes: int = typer.Option(2, "--processes", "-p", min=1, max=16),
    timeout: float = typer.Option(240, help="Maks sekunder demoen venter på elementene."),
) -> None:
    """Start tjenesten, send inn demoarbeid, vis fremdrift og en oppsummering."""
    from robots.demo import run_demo

    ok = run_demo(_settings(), processes=processes, timeout=timeout, console=console)
    raise typer.Exit(0 if ok else 1)


@app.command("sandbox")
def sandbox(
    seed: int = typer.Option(0, help="Frø for feilinjeksjon."),
    error_rate: float = typer.Option(0.0, min=0, max=1, help="Andel HTTP 500-svar."),
    popup_rate: float = typer.Option(0.0, min=0, max=1, help="Andel sider med «Ny versjon»."),
    expiry_rate: float = typer.Option(
        0.0, min=0, max=1, help="Andel forespørsler som avslutter økten."
    ),
    latency_ms: int = typer.Option(0, min=0, help="Forsinkelse per forespørsel."),
    layout_variant: bool = typer.Option(False, help="Endrede id-er og klasser."),
) -> None:
    """Start testsystemene (HR, arkiv, e-post) på lokale porter."""
    from sandbox.common import Faults
    from sandbox.run import Ports, Sandbox

    settings = _settings()
    faults = Faults(
        seed=seed,
        error_rate=error_rate,
        popup_rate=popup_rate,
        session_expiry_rate=expiry_rate,
        latency_ms=latency_ms,
        layout_variant=layout_variant,
    )
    ports = Ports(
        settings.sandbox_hr_port,
        settings.sandbox_archive_port,
        settings.sandbox_mail_port,
        settings.sandbox_smtp_port,
    )
    box = Sandbox(settings.data_path / "sandbox", ports=ports, faults=faults).start()
    table = Table("System", "Adresse", "Innlogging")
    for row in box.describe():
        table.add_row(*row)
    console.print(table)
    console.print("Stopp med Ctrl+C.")
    stop = _wait_for_stop()
    stop.wait()
    box.stop()


selectors_app = typer.Typer(help="Objektlageret (selectors/<system>.yaml).", no_args_is_help=True)
app.add_typer(selectors_app, name="selectors")


@selectors_app.command("validate")
def selectors_validate() -> None:
    """Les og kontroller alle selektorfiler (uten nettleser)."""
    from robots.locators import SELECTOR_DIR, load_system

    for path in sorted(SELECTOR_DIR.glob("*.yaml")):
        spec = load_system(path.stem)
        console.print(f"{path.name}: {len(spec.all_elements())} elementer i orden")


@selectors_app.command("suggest")
def selectors_suggest(
    system: str = typer.Argument(..., help="Systemet, f.eks. hr."),
    path: str = typer.Argument(..., help="Siden, f.eks. /ansatte/1503."),
    page: str = typer.Option("side", "--page", help="Sidens logiske navn i YAML-en."),
    headed: bool = typer.Option(False, "--headed", help="Vis siden og Playwrights inspektør."),
) -> None:
    """Foreslå selektorer for en side: felt, knapper, lenker, overskrifter og tabeller, med de
    mest robuste lokatorene først og personopplysninger merket pii; klar til å lime inn."""
    from robots.locators import load_system
    from robots.runlog import configure_logging
    from robots.selector_suggest import suggest_page

    settings = _settings().model_copy(update={"headless": not headed})
    configure_logging(settings.model_copy(update={"log_level": "WARNING"}))
    text = suggest_page(load_system(system), settings, path, page, pause=headed)
    print(text, end="")


@selectors_app.command("check")
def selectors_check(system: str = typer.Argument(..., help="Systemet, f.eks. hr.")) -> None:
    """Åpne det levende systemet og rapporter selektorer som ikke lenger virker."""
    from robots.locators import load_system
    from robots.selector_check import check_system

    settings = _settings()
    spec = load_system(system)
    results = check_system(spec, settings, settings.data_path / "selector-check")
    labels = {
        "ok": "OK",
        "fallback": "RESERVE",
        "missing": "MANGLER",
        "optional": "valgfri",
        "unchecked": "ikke kontrollert",
    }
    table = Table("Side", "Element", "Status", "Detaljer", "Skjermbilde")
    for r in results:
        table.add_row(r.page, r.name, labels[r.status], r.detail, str(r.screenshot or ""))
    console.print(table)
    missing = [r for r in results if r.status == "missing"]
    fallbacks = [r for r in results if r.status == "fallback"]
    console.print(
        f"{len(missing)} mangler, {len(fallbacks)} bruker reserve, "
        f"{sum(r.status == 'ok' for r in results)} i orden."
    )
    if missing:
        raise typer.Exit(10)


new_app = typer.Typer(help="Lag nye filer for en robot.", no_args_is_help=True)
app.add_typer(new_app, name="new")


@new_app.command("task")
def new_task_command(
    name: str = typer.Argument(..., help="Oppgavens navn, f.eks. it_tilgang."),
    system: str = typer.Option(..., "--system", help="Målsystemet, f.eks. hr."),
) -> None:
    """Lag en ny oppgave: tasks/NAVN.py, selectors/SYSTEM.yaml (om den mangler) og en test."""
    from robots.scaffold import new_task

    made = new_task(name, system)
    console.print(f"Oppgave: {made.task}")
    console.print(
        f"Selektorer: {made.selectors}"
        if made.selectors
        else f"Selektorer: selectors/{system}"
        ".yaml fantes fra før (legg til siden start.heading eller endre oppgaven)"
    )
    console.print(f"Test: {made.test}")
    console.print(
        f"Neste: rediger selektorene, så `python runner.py run {name} --data "
        '\'{"sak": "1"}\' --headed` og `python -m pytest ' + str(made.test) + "`"
    )


users_app = typer.Typer(help="Brukere av konsollen.", no_args_is_help=True)
app.add_typer(users_app, name="users")


@users_app.command("add")
def users_add(
    username: str,
    role: str = typer.Option(..., help="caseworker, operator, auditor eller admin."),
    name: str = typer.Option("", help="Visningsnavn."),
    password_stdin: bool = typer.Option(False, help="Les passordet fra standard inn."),
) -> None:
    """Legg til en bruker (passordet lagres som argon2-hash)."""
    from robots.console.auth import add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Passord", hide_input=True, confirmation_prompt=True)
    db = _database()
    with db.session() as session:
        add_user(session, username, password, role, cli_actor(), name)
    console.print(f"Brukeren {username} ({role}) er lagt til.")


@users_app.command("token")
def users_token(
    username: str, name: str = typer.Option("api", help="Hva nøkkelen er for.")
) -> None:
    """Lag en API-nøkkel for en bruker (vises bare én gang)."""
    from robots.console.auth import new_token
    from robots.models import User

    db = _database()
    with db.session() as session:
        user = session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            from robots.queue import ItemNotFound

            raise ItemNotFound(f"Fant ikke brukeren {username}")
        token = new_token(session, user, name, cli_actor())
    console.print(f"API-nøkkel for {username} (vises bare nå): {token}")


@app.command("web")
def web(
    host: str = typer.Option("127.0.0.1", help="Adressen konsollen lytter på."),
    port: int = typer.Option(8000, help="Porten."),
) -> None:
    """Start konsollen (FastAPI) for saksbehandlere, drift og revisorer."""
    import uvicorn

    from robots.console.app import create_app

    _database()
    uvicorn.run(create_app(_settings()), host=host, port=port, log_level="warning")
