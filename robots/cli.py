"""The command line: `python runner.py <command>`. Output in Norwegian for the operators."""

from __future__ import annotations

import getpass
import json
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

# Start-up matters here: `--help` and `submit` import only what they use (bench/startup.py
# measures it), so the database, browser, console and Excel stacks are imported inside the
# commands that need them.
if TYPE_CHECKING:
    from rich.table import Table

    from robots.app import RpaApp
    from robots.queue import Queue
    from robots.settings import Settings
    from robots.tasks import Task

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


def table(*columns: str) -> Table:
    from rich.table import Table

    return Table(*columns)


def cli_actor() -> str:
    return f"cli:{getpass.getuser()}"


_warned = False
_app: RpaApp | None = None


def _settings() -> Settings:
    global _warned
    from robots.settings import get_settings, unknown_environment

    settings = get_settings()
    if not _warned:
        _warned = True
        for line in unknown_environment():
            Console(stderr=True, highlight=False, markup=False).print(f"Advarsel: {line}")
    return settings


def rpa(check: bool = True) -> RpaApp:
    """The application for this command (built once; `check`: refuse an outdated schema)."""
    global _app
    from robots.app import RpaApp

    if _app is None:
        _app = RpaApp.build(_settings(), check=check)
    return _app


def _queue() -> Queue:
    return rpa().queue


def _at(views: Any, ts: datetime | None) -> str:
    """A time for people, in the installation's zone and labelled with it; "-" for none."""
    return f"{views.local(ts)} ({views.zone_note})" if ts else "-"


def _local(ts: datetime | None) -> str:
    return rpa(check=False).views.local(ts)


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


def _json(text: str, task: str) -> Any:
    from robots.tasks import InvalidPayload

    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        reason = f"ikke gyldig JSON ({exc.msg}, tegn {exc.pos})"
        raise InvalidPayload(task, [("--data", reason)]) from None


# db -----------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Oppgrader databaseskjemaet til siste versjon."""
    from robots.db import check_reachable, describe_url, upgrade

    db = rpa(check=False).db
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
    from robots.db import describe_url

    console.print(f"Databasen {describe_url(rpa().db.url)} er oppdatert.")


# config -------------------------------------------------------------------------------------


@config_app.command("show")
def config_show() -> None:
    """Vis gjeldende innstillinger (hemmeligheter skjult)."""
    shown_settings = table("Innstilling", "Verdi", "Miljøvariabel")
    for key, value in _settings().shown().items():
        shown = json.dumps(value, default=str) if isinstance(value, dict | list) else str(value)
        shown_settings.add_row(key, shown, f"RPA_{key.upper()}")
    console.print(shown_settings)


# tasks --------------------------------------------------------------------------------------


@tasks_app.command("list")
def tasks_list() -> None:
    """Vis oppgavene arbeiderne kan kjøre, med systemer og inndatafelt."""
    from robots.tasks import discover

    settings = _settings()
    listed = table("Oppgave", "Beskrivelse", "Systemer", "Maks forsøk", "Felt")
    for task in sorted(discover(settings.task_packages).values(), key=lambda t: t.name):
        fields = ", ".join(
            f"{n}{'' if f.is_required() else '?'}" for n, f in task.input_model.model_fields.items()
        )
        listed.add_row(
            task.name,
            task.description,
            ", ".join(task.systems) or "-",
            str(task.max_attempts or settings.default_max_attempts),
            fields,
        )
    console.print(listed)


@tasks_app.command("describe")
def tasks_describe(task: str = typer.Argument(..., help="Oppgavens navn.")) -> None:
    """Skriv ut oppgavens dokumenterte rettslige innhold (fvl. § 13): hva den gjør, inndata,
    systemer, hvem som kan starte den, personopplysninger og rettslig grunnlag, og reglene i
    oppsettsfilene med kildene deres (Markdown)."""
    from robots.describe import describe
    from robots.tasks import discover, get_task

    settings = _settings()
    print(describe(get_task(task, discover(settings.task_packages)), settings), end="")


@tasks_app.command("protocol")
def tasks_protocol(
    form: str = typer.Option("md", "--format", help="md eller csv."),
    out: Path = typer.Option(None, "--out", help="Filen den skrives til (standard: skjermen)."),
) -> None:
    """Behandlingsprotokoll (GDPR art. 30) for alle oppgaver: formål, personopplysninger,
    rettslig grunnlag, mottakere og lagringstid."""
    from robots.describe import protocol
    from robots.tasks import discover

    if form not in ("md", "csv"):
        raise typer.BadParameter("bruk md eller csv", param_hint="--format")
    text = protocol(list(discover(_settings().task_packages).values()), form)
    if out is None:
        print(text, end="")
        return
    out.write_text(text, encoding="utf-8")
    console.print(f"Behandlingsprotokollen er skrevet til {out}")


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
    drop_ref_column: bool = typer.Option(
        False,
        "--drop-ref-column",
        help="Ta referansekolonnen ut av inndataene. Standard: den blir med når oppgaven har "
        "et felt med det navnet.",
    ),
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
    from robots.labels import status_name
    from robots.tasks import get_task

    queue = _queue()
    who = _submitter(queue, get_task(task, queue.registry), actor)
    nb, dl = _parse_time(not_before, "--not-before"), _parse_time(deadline, "--deadline")
    if file is not None:
        _submit_file(queue, task, file, ref_column, who, priority, nb, dl, drop_ref_column)
        return
    if not ref:
        raise typer.BadParameter("oppgi --ref eller --file", param_hint="--ref")
    result = queue.submit(
        task,
        ref,
        _json(data, task),
        submitted_by=who,
        priority=priority,
        not_before=nb,
        deadline=dl,
    )
    item = result.item
    from robots.masking import mask_text

    shown = mask_text(repr(ref))
    if result.created:
        console.print(f"Element {item.id} lagt i kø: {task} {shown}")
    else:
        console.print(
            f"Referansen {shown} finnes allerede for {task}: element {item.id} "
            f"({status_name(item.status)}). Ingenting nytt lagt i kø."
        )


CSV_DELIMITERS = ",;\t"


def _read_csv(path: Path) -> list[dict[str, Any]]:
    """Rows of a CSV file as dicts, quoted as RFC 4180 and Excel write it (a quote inside a
    quoted field is doubled). The delimiter is the one of , ; or tab the header line uses most
    (Norwegian Excel exports with ;). Not rpaframework's Tables: it sniffs the whole dialect
    from the header line alone, and an unquoted header makes the sniffer turn doubled quotes
    off, so a note with a quote or a line break in it was read as other text or as two rows."""
    import csv

    with path.open(newline="", encoding="utf-8-sig") as handle:
        header = handle.readline()
        delimiter = max(CSV_DELIMITERS, key=lambda d: (header.count(d), d == ","))
        handle.seek(0)  # the utf-8-sig decoder starts over and drops the BOM again
        reader = csv.DictReader(handle, delimiter=delimiter, restkey="\x00ekstra", strict=True)
        rows = list(reader)
    if any("\x00ekstra" in row for row in rows):
        number = next(n for n, row in enumerate(rows, start=2) if "\x00ekstra" in row)
        raise ValueError(f"rad {number} har flere felt enn overskriftsraden")
    return rows


def _read_table(path: Path) -> list[dict[str, Any]]:
    """Rows of a CSV or Excel file as dicts (Excel through rpaframework's Excel.Files)."""
    suffix = path.suffix.lower()
    rows: list[dict[str, Any]]
    if suffix == ".csv":
        rows = _read_csv(path)
    elif suffix in (".xlsx", ".xls"):
        from RPA.Excel.Files import Files

        excel = Files()
        excel.open_workbook(str(path))
        try:
            rows = list(excel.read_worksheet_as_table(header=True).iter_dicts(with_index=False))
        finally:
            excel.close_workbook()
    else:
        from robots.tasks import InvalidPayload

        raise InvalidPayload("fil", [(path.name, "må være .csv, .xlsx eller .xls")])
    return [
        {str(k).strip(): v for k, v in row.items() if k is not None and v not in (None, "")}
        for row in rows
    ]


def identifiers_as_text(task: Task, row: dict[str, Any]) -> dict[str, Any]:
    """Cells of text fields read as text: Excel stores a column of digits as numbers, so a
    number in a text field becomes its digits, and in a fødselsnummer field gets back the
    leading zero Excel dropped (every fødselsnummer has 11 digits; the check digits still
    decide)."""
    fields = getattr(task.input_model, "model_fields", {})
    out = dict(row)
    for name, info in fields.items():
        value = out.get(name)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            continue
        is_fnr = "Fodselsnummer" in repr(info.annotation)
        if is_fnr or info.annotation in (str, str | None):
            out[name] = str(value).zfill(11) if is_fnr and len(str(value)) == 10 else str(value)
    return out


def _submitter(queue: Queue, task: Task, username: str | None) -> str:
    """Who submits: the shell user (an operator with access to the machine), or with --as a
    console user, whose role must be allowed to start the task."""
    if not username:
        return cli_actor()
    from sqlalchemy import select

    from robots.models import User
    from robots.tasks import NotAllowed, may_start

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
    import csv

    from robots.tasks import InvalidPayload

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
    drop_ref_column: bool = False,
) -> None:
    """All rows are validated first; one bad row stops the file and nothing is stored. The
    reference column stays in the item's input where the task's input has such a field (or
    takes any field) unless `drop_ref_column`; a column the task does not know is left out."""
    from robots.masking import mask_text
    from robots.queue import check_priority, check_reference
    from robots.storable import unstorable
    from robots.tasks import InvalidPayload, get_task

    task: Task = get_task(task_name, queue.registry)
    rows = read_rows(path)
    errors: list[tuple[str, str]] = []
    prepared = []
    seen: dict[str, int] = {}
    check_priority(priority)
    fields = task.input_model
    keep = not drop_ref_column and (
        ref_column in fields.model_fields or fields.model_config.get("extra") != "forbid"
    )
    for number, row in enumerate(rows, start=2):  # row 1 is the header
        ref = str((row.get if keep else row.pop)(ref_column, "")).strip()
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
                (
                    f"rad {number}",
                    f"referansen {mask_text(ref)!r} står også på rad {seen[ref]} i filen",
                )
            )
            continue
        seen[ref] = number
        row = identifiers_as_text(task, row)
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
    status: str = typer.Option(
        None, help="Bare denne statusen: pending, running, done, business_error, failed, cancelled."
    ),
    limit: int = typer.Option(50, min=1, max=10000),
) -> None:
    """Vis elementer, nyeste først."""
    from robots.labels import status_name
    from robots.models import ItemStatus
    from robots.views import ItemFilter

    if status and status not in set(ItemStatus):
        raise typer.BadParameter(
            f"ukjent status; bruk en av {', '.join(ItemStatus)}", param_hint="--status"
        )
    views = rpa().views
    found = views.items(ItemFilter(status=status or "", task=task or ""), size=limit)
    zone = views.zone_note
    listed = table(
        "Id",
        "Oppgave",
        "Referanse",
        "Status",
        "Forsøk",
        "Prioritet",
        f"Frist ({zone})",
        f"Opprettet ({zone})",
        "Feil",
    )
    for item in found.rows:
        listed.add_row(
            str(item.id),
            item.task,
            item.reference,
            item.status_text,
            f"{item.attempts}",
            str(item.priority),
            views.local(item.deadline) + (" FORFALT" if item.overdue else ""),
            views.local(item.created_at),
            item.error[:80],
        )
    console.print(listed)
    counts = views.status_counts()
    console.print("  ".join(f"{status_name(s)}: {counts.get(s, 0)}" for s in ItemStatus))


@items_app.command("show")
def items_show(ident: str = typer.Argument(..., help="Element-id eller referanse.")) -> None:
    """Vis ett element med alle forsøk."""
    views = rpa().views
    item = views.item_by_ident(ident)
    console.print(f"Element {item.id}  {item.task}  {item.reference!r}", style="bold")
    zone = views.zone_note  # the run table's columns
    for label, value in (
        ("Status", item.status_text),
        (
            "Forsøk",
            f"{item.attempts} (systemfeil {item.failures} av maks "
            f"{item.max_attempts}, tapte arbeidere {item.abandons})",
        ),
        ("Prioritet", item.priority),
        ("Ikke før", _at(views, item.not_before)),
        ("Frist", _at(views, item.deadline)),
        ("Sendt inn av", item.submitted_by),
        ("Opprettet", _at(views, item.created_at)),
        ("Avsluttet", _at(views, item.finished_at)),
        ("Feiltype", item.error_kind or "-"),
        ("Feil", item.error or "-"),
        ("Inndata", json.dumps(item.payload, ensure_ascii=False)),
        ("Resultat", json.dumps(item.result, ensure_ascii=False)),
    ):
        console.print(f"  {label:<13} {value}")
    runs = table(
        "Kjøring", "Forsøk", "Arbeider", f"Start ({zone})", f"Slutt ({zone})", "Utfall", "Feil"
    )
    for run in views.item_runs(item.id):
        runs.add_row(
            str(run.id),
            str(run.attempt),
            run.worker_id,
            views.local(run.started_at),
            views.local(run.ended_at),
            run.outcome_text,
            run.error[:80],
        )
    console.print(runs)


@items_app.command("retry")
def items_retry(ident: str, actor: str = typer.Option(None, "--as")) -> None:
    """Prøv et feilet, forretningsfeilet eller avbrutt element på nytt."""
    item = _queue().retry(ident, actor or cli_actor())
    console.print(f"Element {item.id} lagt i kø på nytt.")


@items_app.command("cancel")
def items_cancel(ident: str, actor: str = typer.Option(None, "--as")) -> None:
    """Avbryt et element som venter eller kjører."""
    item = _queue().cancel(ident, actor or cli_actor())
    console.print(f"Element {item.id} avbrutt.")


# runs ---------------------------------------------------------------------------------------


@runs_app.command("list")
def runs_list(
    item: int = typer.Option(None, help="Bare kjøringer av dette elementet."),
    outcome: str = typer.Option(None, help="Bare dette utfallet."),
    limit: int = typer.Option(50, min=1, max=10000),
) -> None:
    """Vis kjøringer, nyeste først."""
    from robots.views import RunFilter

    views = rpa().views
    found = views.runs(RunFilter(item=item, outcome=outcome or ""), size=limit)
    listed = table(
        "Kjøring",
        "Element",
        "Oppgave",
        "Referanse",
        "Forsøk",
        "Arbeider",
        f"Start ({views.zone_note})",
        "Varighet",
        "Utfall",
    )
    for run in found.rows:
        duration = f"{run.duration_s:.2f} s" if run.duration_s is not None else "-"
        listed.add_row(
            str(run.id),
            str(run.item_id),
            run.task,
            run.reference,
            str(run.attempt),
            run.worker_id,
            views.local(run.started_at),
            duration,
            run.outcome_text,
        )
    console.print(listed)


@runs_app.command("show")
def runs_show(run_id: int) -> None:
    """Vis én kjøring med hele kjøreloggen."""
    from robots.queue import ItemNotFound
    from robots.views import NotFound

    views = rpa().views
    try:
        detail = views.run(run_id)
    except NotFound as exc:
        raise ItemNotFound(str(exc)) from None
    run = detail.run
    console.print(
        f"Kjøring {run.id}  element {run.item_id} ({run.task} {run.reference!r}), "
        f"forsøk {run.attempt}",
        style="bold",
    )
    console.print(f"  Arbeider {run.worker_id} på {run.host} (pid {run.pid})")
    console.print(
        f"  {views.local(run.started_at)} – {views.local(run.ended_at)} ({views.zone_note})  "
        f"utfall: {run.outcome_text}"
    )
    if run.error:
        console.print(f"  Feil: {run.error}")
    events = table("#", f"Tid ({views.zone_note})", "Nivå", "Steg", "Melding", "ms")
    for event in detail.events:
        events.add_row(
            str(event.seq),
            views.local(event.ts),
            event.level,
            event.step or "",
            event.message,
            "" if event.duration_ms is None else f"{event.duration_ms:.0f}",
        )
    console.print(events)
    for artifact in detail.artifacts:
        console.print(
            f"  Vedlegg: {artifact.kind} {artifact.path} ({artifact.size} byte, "
            f"sha256 {artifact.sha256[:16]}…)"
        )


def _write_report(run_id: int, out: Path | None = None) -> Path:
    from robots.queue import ItemNotFound
    from robots.report import render
    from robots.views import NotFound

    app_ = rpa()
    try:
        html = render(app_.views, run_id)
    except NotFound as exc:
        raise ItemNotFound(str(exc)) from None
    target = out or app_.settings.data_path / "reports" / f"run-{run_id}.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html, encoding="utf-8")
    return target


@runs_app.command("report")
def runs_report(
    run_id: int,
    out: Path = typer.Option(None, help="Filen rapporten skrives til."),
) -> None:
    """Lag en selvstendig HTML-rapport for én kjøring (steg, logg, skjermbilder, utfall)."""
    console.print(f"Rapport skrevet til {_write_report(run_id, out)}")


# schedules ----------------------------------------------------------------------------------


@schedules_app.command("list")
def schedules_list() -> None:
    """Vis tidsplaner og de neste utløsningstidene."""
    from robots.scheduler import sync_config_schedules

    app_ = rpa()
    sync_config_schedules(app_.db, app_.settings, app_.registry)
    listed = table("Navn", "Oppgave", "Utløser", "Arbeidsdager", "Aktiv", "Kilde", "Neste")
    for schedule in app_.views.schedules():
        listed.add_row(
            schedule["name"],
            schedule["task"],
            schedule["trigger"],
            "ja" if schedule["working_days_only"] else "nei",
            "ja" if schedule["enabled"] else "nei",
            schedule["source"],
            ", ".join(schedule["next"]) or "-",
        )
    console.print(listed)


# audit --------------------------------------------------------------------------------------


@audit_app.command("verify")
def audit_verify() -> None:
    """Kontroller at revisjonssporet er urørt (hashkjeden)."""
    from robots import audit

    with rpa().db.session() as session:
        result = audit.verify(session)
    if result.intact:
        since = (
            f"; signert fra hendelse {result.anchored_from}"
            if result.anchored_from is not None
            else ""
        )
        console.print(f"Revisjonssporet er intakt ({result.checked} hendelser kontrollert{since}).")
        return
    before = f" ({result.checked} hendelser var i orden før den)" if result.first_broken_id else ""
    console.print(f"Revisjonssporet er brutt{result.at}: {result.reason}{before}.", style="red")
    raise typer.Exit(9)


@audit_app.command("anchor-ddl")
def audit_anchor_ddl(
    role: str = typer.Option(..., help="Tjenestens egen rolle i kontrollpunktdatabasen."),
    apply: bool = typer.Option(False, "--apply", help="Kjør den med --admin-url."),
    admin_url: str = typer.Option(
        "",
        envvar="RPA_AUDIT_ANCHOR_ADMIN_URL",
        help="Adressen til kontrollpunktdatabasen som dens administrator (ikke tjenestens).",
    ),
) -> None:
    """Skriv ut (eller kjør) tabellene og rettighetene for kontrollpunktene i en egen
    PostgreSQL-database: tjenestens rolle får bare INSERT og SELECT. Kjøres én gang av den
    databasens administrator; tjenesten peker så audit_anchor_url dit."""
    from robots.anchor_pg import apply_ddl, ddl

    try:
        statements = ddl(role)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--role") from None
    if not apply:
        typer.echo(statements, nl=False)
        return
    if not admin_url:
        raise typer.BadParameter("--apply trenger --admin-url", param_hint="--admin-url")
    apply_ddl(admin_url, role)
    console.print(f"Kontrollpunkttabellene er klare; rollen {role} kan bare legge til og lese.")


# operations ---------------------------------------------------------------------------------


class NotReady(RuntimeError):
    """`status`: the installation is not ready to work (exit code 15)."""


@app.command("status")
def status() -> None:
    """Er installasjonen klar? Database, skjema, arbeidere i live og en planlegger som leder
    (det samme som /readyz); avslutter med kode 15 når noe mangler."""
    from robots.db import Database
    from robots.health import readiness, ready

    settings = _settings()
    checks = readiness(Database(settings.effective_database_url, settings), settings)
    shown = table("Kontroll", "I orden", "Funn")
    for check in checks:
        shown.add_row(check.name, "ja" if check.ok else "NEI", check.detail)
    console.print(shown)
    if not ready(checks):
        raise NotReady("Installasjonen er ikke klar (se tabellen)")
    console.print("Klar.")


alerts_app = typer.Typer(help="Varsler (config/alerts.yaml).", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")


@alerts_app.command("check")
def alerts_check() -> None:
    """Kjør varselreglene én gang nå (planleggerens leder gjør det ved hver synkronisering)."""
    from robots.alerts import evaluate

    app_ = rpa()
    outcome = evaluate(app_.db, app_.settings)
    console.print(
        f"Åpnet {len(outcome.opened)}, varslet {len(outcome.notified)}, "
        f"lukket {len(outcome.closed)} varsler."
    )
    for key in outcome.opened:
        console.print(f"  nytt: {key}")


systems_app = typer.Typer(
    help="Målsystemenes tilstand: avvist innlogging og åpne sikringer.", no_args_is_help=True
)
app.add_typer(systems_app, name="systems")


def _systems() -> Any:
    from robots.systems import Systems

    app_ = rpa()
    return Systems(app_.db, app_.settings)


def _known_system(system: str) -> str:
    import re

    from robots.locators import selector_dir
    from robots.masking import mask_text

    if not re.fullmatch(r"[a-z][a-z0-9_]{0,99}", system):
        raise typer.BadParameter(f"ukjent system {mask_text(system[:100])!r}")
    if not (selector_dir() / f"{system}.yaml").exists():
        raise typer.BadParameter(f"ukjent system {system!r} (ingen selectors/{system}.yaml)")
    return system


@systems_app.command("list")
def systems_list() -> None:
    """Vis hvert systems tilstand (tilgjengelig, innlogging avvist, utilgjengelig)."""
    from robots.labels import system_state_name
    from robots.locators import selector_dir

    known = [path.stem for path in sorted(selector_dir().glob("*.yaml"))]
    grid = table("System", "Tilstand", "Siden", "Grunn", "Neste sjekk")
    for status in _systems().all(known):
        grid.add_row(
            status.system,
            system_state_name(status.state),
            _local(status.since) if status.since else "",
            status.detail,
            _local(status.next_probe_at) if status.next_probe_at else "",
        )
    console.print(grid)


@systems_app.command("renewed")
def systems_renewed(
    system: str = typer.Argument(..., help="Systemet, f.eks. hr.", callback=_known_system),
) -> None:
    """Si at robotens innlogging er fornyet: arbeiderne kan logge inn og ta systemets elementer
    igjen (revisjonsført)."""
    if _systems().renewed(system, cli_actor()):
        console.print(f"{system}: innloggingen er fornyet; elementene tas igjen.")
    else:
        console.print(f"{system} var allerede tilgjengelig; ingenting endret.")


@systems_app.command("probe")
def systems_probe(
    system: str = typer.Argument(..., help="Systemet, f.eks. hr.", callback=_known_system),
) -> None:
    """Be om en ny sjekk av et system med åpen sikring nå (revisjonsført)."""
    if _systems().probe_now(system, cli_actor()):
        console.print(f"{system}: ny sjekk bestilt; en ledig arbeider sjekker det straks.")
    else:
        console.print(f"{system} har ingen åpen sikring; ingenting endret.")


questions_app = typer.Typer(
    help="Robotenes spørsmål til saksbehandlere: se og svar som en konsollbruker.",
    no_args_is_help=True,
)
app.add_typer(questions_app, name="questions")


def _console_user(username: str) -> Any:
    """The console user `username` as a Principal (the same rules as in the console)."""
    from sqlalchemy import select

    from robots.console.auth import Principal
    from robots.models import User
    from robots.tasks import NotAllowed

    with rpa().db.session() as session:
        user = session.scalars(select(User).where(User.username == username)).first()
        if user is None or user.disabled_at is not None:
            raise NotAllowed(f"Fant ingen aktiv konsollbruker {username!r} (--as)")
        return Principal(user.id, user.username, user.role)


def _audience(who: Any) -> Any:
    from robots.console.auth import can
    from robots.views import audience_for

    submitters = (f"web:{who.username}", f"api:{who.username}", f"cli:{who.username}")
    return audience_for(rpa().settings, who.username, can(who.role, "all_items"), submitters)


AS_USER = typer.Option(..., "--as", help="Konsollbrukeren du svarer som (f.eks. kari).")


@questions_app.command("list")
def questions_list(
    username: str = AS_USER,
    status: str = typer.Option(
        "open", "--status", help="open (åpne), answered (besvarte) eller expired (utløpte)."
    ),
) -> None:
    """Vis spørsmålene denne personen kan se (som i konsollen)."""
    from robots.views import questions

    who = _console_user(username)
    if status not in ("open", "answered", "expired"):
        raise typer.BadParameter("--status må være open, answered eller expired")
    grid = table("Spørsmål", "Element", "Oppgave", "Referanse", "Til", "Frist (norsk tid)", "Tekst")
    for q in questions(rpa().views, audience=_audience(who), status=status):
        grid.add_row(
            str(q.id),
            str(q.item_id),
            q.task,
            q.reference,
            q.to_role,
            _local(q.deadline) if q.deadline else "",
            q.text,
        )
    console.print(grid)


QUESTION_ID = typer.Argument(..., min=1, max=2**62, help="Spørsmålets nummer.")


@questions_app.command("show")
def questions_show(question_id: int = QUESTION_ID, username: str = AS_USER) -> None:
    """Vis ett spørsmål: teksten, det roboten så, og feltene i svaret."""
    from robots.people import load_model
    from robots.views import question

    q = question(rpa().views, question_id, _audience(_console_user(username)))
    console.print(f"Spørsmål {q.id} om element {q.item_id} ({q.task} {q.reference!r}): {q.text}")
    if q.deadline:
        console.print(f"Frist: {_local(q.deadline)} (norsk tid)")
    for key, value in (q.evidence or {}).items():
        console.print(f"  {key}: {value}")
    console.print(f"Status: {q.status}")
    if q.status == "open":
        console.print("Felter i svaret (--field navn=verdi):")
        for name, field in load_model(q.model).model_fields.items():
            need = "påkrevd" if field.is_required() else f"standard {field.default!r}"
            console.print(f"  {name}: {field.description or ''} ({need})")


@questions_app.command("answer")
def questions_answer(
    question_id: int = QUESTION_ID,
    username: str = AS_USER,
    field: list[str] = typer.Option(None, "--field", help="Et felt i svaret: navn=verdi."),
    data: str = typer.Option(None, "--json", help="Hele svaret som JSON."),
) -> None:
    """Svar på et spørsmål som konsollbrukeren (revisjonsført som cli:<bruker>); elementet
    fortsetter der roboten stoppet."""
    from robots import people
    from robots.console.auth import can
    from robots.tasks import NotAllowed
    from robots.views import question

    who = _console_user(username)
    question(rpa().views, question_id, _audience(who))  # NotFound, as for none, if not seen
    if not can(who.role, "answer"):
        raise NotAllowed(f"Rollen {who.role} kan ikke svare på spørsmål")
    if bool(field) == bool(data):
        raise typer.BadParameter("gi svaret med --field navn=verdi (én eller flere) eller --json")
    if data:
        try:
            values = json.loads(data)
        except json.JSONDecodeError as exc:
            raise typer.BadParameter(f"--json er ikke gyldig JSON ({exc.msg})") from None
        if not isinstance(values, dict):
            raise typer.BadParameter('--json må være et objekt, f.eks. {"godkjent": true}')
    else:
        values = {}
        for pair in field:
            name, sep, value = pair.partition("=")
            if not sep or not name.strip():
                raise typer.BadParameter(f"--field {pair!r}: skriv navn=verdi")
            values[name.strip()] = value
    try:
        people.answer(rpa().db, question_id, values, f"cli:{who.username}")
    except people.AnswerRefused as exc:
        if exc.errors:  # the answer does not fit the question (exit 3, as bad input)
            details = "; ".join(f"{k}: {v}" for k, v in exc.errors)
            raise ValueError(f"{exc}: {details}") from None
        raise NotAllowed(str(exc)) from None  # answered already, or too late
    console.print(f"Svaret på spørsmål {question_id} er lagret; elementet fortsetter.")


# processes ----------------------------------------------------------------------------------


def _require_browser(settings: Settings, tasks: list[Task]) -> None:
    """Stop at once (BrowserNotFound, exit 11) when a task to run needs a browser and none
    is there."""
    from robots.browser import require_browser

    if any(t.systems for t in tasks):
        require_browser(settings.browser_path)


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
    from robots.tasks import get_task
    from robots.worker import Supervisor, WorkerProcess, run_until_idle

    app_ = rpa()
    settings = app_.settings
    configure_logging(settings)
    for name in task or []:
        get_task(name, app_.registry)
    _require_browser(settings, [get_task(n, app_.registry) for n in task or app_.registry])
    if until_idle and (processes or 1) > 1:
        codes = run_until_idle(settings, processes, task or None)
        console.print(f"Køen er tom; {len(codes)} arbeiderprosesser stoppet.")
        if any(code != 0 for code in codes):
            raise typer.Exit(1)
        return
    if until_idle:
        worker_process = WorkerProcess(settings, app_.registry, tasks=task or None)
        worker_process.install_signal_handlers()
        count = worker_process.run(exit_when_idle=True)
        console.print(f"Køen er tom; {count} elementer behandlet.")
        return
    supervisor = Supervisor(processes or settings.worker_processes, settings, task or None)
    stop = _wait_for_stop()
    supervisor.start()
    watcher = threading.Thread(target=supervisor.watch, daemon=True)
    watcher.start()
    stop.wait()
    console.print("Stopper arbeiderne …")
    supervisor.stop()


def _scratch_settings(settings: Settings) -> Settings:
    """The developer's `run` works in a scratch installation of its own: data_dir/utvikling
    with its own SQLite database, evidence, reports, audit trail and anchor. A dev item that
    failed can then never be claimed by the production workers (they do not read this
    database), and its audit events never reach the production chain or anchor. Credentials,
    selectors, config and system addresses stay the installation's."""
    scratch = settings.data_path / "utvikling"
    scratch.mkdir(parents=True, exist_ok=True)
    blank = {
        name: type(getattr(settings, name))("")
        for name in (
            "database_url",
            "artifacts_dir",
            "audit_anchor_file",
            "audit_anchor_url",
            "audit_syslog",
            "audit_key",
        )
    }
    return settings.model_copy(update={"data_dir": scratch, **blank})


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
    bevis og stien til HTML-rapporten. Elementet lagres i en egen utviklingsdatabase
    (data_dir/utvikling), aldri i køen produksjonsarbeiderne tar fra."""
    global _app
    from robots.app import RpaApp
    from robots.db import upgrade
    from robots.queue import InvalidTransition
    from robots.runlog import configure_logging
    from robots.settings import use_settings
    from robots.tasks import get_task
    from robots.worker import WorkerProcess

    installed = _settings()
    settings = _scratch_settings(installed).model_copy(
        update={
            "headless": not headed and installed.headless,
            "slow_mo_ms": slow_mo or installed.slow_mo_ms,
            "log_stderr": True,
            "trace": "retain_on_failure",
        }
    )
    use_settings(settings)
    configure_logging(settings)
    _app = RpaApp.build(settings, check=False)
    upgrade(_app.db.engine)
    console.print(f"Utviklingskjøring i {settings.data_path} (egen database, ikke produksjonskøen)")
    queue = _app.queue
    chosen = get_task(task, queue.registry)
    payload = _json(data, task)
    reference = ref or f"utvikling:{datetime.now(settings.zone):%Y%m%dT%H%M%S.%f}"
    submitted = queue.submit(chosen.name, reference, payload, submitted_by=cli_actor())
    worker = WorkerProcess(settings, queue.registry, tasks=[chosen.name])
    if pause_on_error:

        def wait_for_enter(_ctx: object) -> None:
            input("Feil: nettleseren står åpen. Trykk Enter for å lukke den … ")

        worker.on_failure = wait_for_enter
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
    views = _app.views
    item = views.item(submitted.item.id)
    report = _write_report(claim.run_id)
    console.print(f"Element {item.id}, kjøring {claim.run_id}: {item.status_text}")
    if item.result is not None:
        console.print(f"Resultat: {json.dumps(item.result, ensure_ascii=False)}")
    if item.error:
        console.print(f"Feil: {item.error}")
    for artifact in views.run(claim.run_id).artifacts:
        console.print(f"Bevis: {artifact.path}")
    console.print(f"Rapport: {report}")
    if item.status != "done":
        raise typer.Exit(14)


@app.command("scheduler")
def scheduler() -> None:
    """Start planleggeren (én leder; flere kan stå i beredskap på PostgreSQL)."""
    from robots.runlog import configure_logging
    from robots.scheduler import Scheduler

    app_ = rpa()
    configure_logging(app_.settings)
    sched = Scheduler(app_.db, app_.settings, app_.registry)
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

    app_ = rpa()
    _require_browser(app_.settings, list(app_.registry.values()))
    service = Service(app_, processes=processes, web_port=port or None, web_host=host)
    stop = _wait_for_stop()
    service.start()
    if service.url:
        console.print(f"Konsollen: {service.url}")
    stop.wait()
    console.print("Stopper …")
    service.stop()


selectors_app = typer.Typer(help="Objektlageret (selectors/<system>.yaml).", no_args_is_help=True)
app.add_typer(selectors_app, name="selectors")


@selectors_app.command("validate")
def selectors_validate() -> None:
    """Les og kontroller alle selektorfiler (uten nettleser)."""
    from robots.locators import load_system, selector_dir

    for path in sorted(selector_dir().glob("*.yaml")):
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
def selectors_check(
    system: str = typer.Argument(..., help="Systemet, f.eks. hr.", callback=_known_system),
) -> None:
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
    grid = table("Side", "Element", "Status", "Detaljer", "Skjermbilde")
    for r in results:
        grid.add_row(r.page, r.name, labels[r.status], r.detail, str(r.screenshot or ""))
    console.print(grid)
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
    with rpa().db.session() as session:
        add_user(session, username, password, role, cli_actor(), name)
    console.print(f"Brukeren {username} ({role}) er lagt til.")


@users_app.command("token")
def users_token(
    username: str, name: str = typer.Option("api", help="Hva nøkkelen er for.")
) -> None:
    """Lag en API-nøkkel for en bruker (vises bare én gang)."""
    from sqlalchemy import select

    from robots.console.auth import new_token
    from robots.models import User

    with rpa().db.session() as session:
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

    from robots.console.app import console_for

    # proxy headers are the console's to judge (console_trusted_proxies), not uvicorn's
    uvicorn.run(console_for(rpa()), host=host, port=port, log_level="warning", proxy_headers=False)


def load_plugins() -> None:
    """Commands other packages add (entry point group `kommune_rpa.commands`, a function that
    takes the Typer app): the sandbox adds `demo` and `sandbox`, so the engine imports nothing
    from the sandbox."""
    from importlib.metadata import entry_points

    for entry in entry_points(group="kommune_rpa.commands"):
        entry.load()(app)


# What each known failure means for the caller (docs/commands.md: exit codes); matched by
# class name so that this table imports nothing.
EXIT_CODES = {
    "InvalidPayload": 3,
    "ValueError": 3,
    "UnknownTask": 4,
    "DatabaseUnavailable": 5,
    "SchemaOutdated": 6,
    "SettingsError": 7,
    "ScheduleError": 7,
    "SelectorFileError": 7,
    "BrowserNotFound": 11,
    "VaultError": 11,
    "ItemNotFound": 8,
    "NotFound": 8,
    "InvalidTransition": 8,
    "NotAllowed": 8,
    "ScaffoldError": 3,
    "SystemFault": 13,
    "TaskPackageError": 7,
    "AlertConfigError": 7,
    "NotReady": 15,
}


def main() -> int:
    """The `rpa` command (and `python runner.py`): a known failure is one line and its exit
    code; anything else one line and exit 1 (RPA_DEBUG=1 shows the traceback)."""
    import os

    err = Console(stderr=True, highlight=False, soft_wrap=True)  # one line, never folded
    try:
        load_plugins()
        app()
    except Exception as exc:  # map known failures to a message and an exit code
        from rich.markup import escape

        from robots.masking import mask_text

        code = next((c for cls in type(exc).__mro__ if (c := EXIT_CODES.get(cls.__name__))), None)
        if code is None:
            if os.environ.get("RPA_DEBUG"):
                raise
            lines = str(exc).strip().splitlines()
            first = lines[0] if lines else ""
            err.print(
                f"[red]Uventet feil:[/red] {escape(mask_text(f'{type(exc).__name__}: {first}'))}"
                " (RPA_DEBUG=1 viser hele sporingen)",
                markup=True,
            )
            return 1
        err.print(f"[red]Feil:[/red] {escape(mask_text(str(exc)))}", markup=True)
        return code
    return 0
