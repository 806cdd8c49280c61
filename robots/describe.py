"""The documented legal content of a task, as forvaltningsloven § 13 asks for automated case
handling, and the record of processing activities (behandlingsprotokoll, GDPR art. 30) for
every task: made from the tasks' own declarations and their config files, so the documentation
is the code that runs."""

from __future__ import annotations

import csv
import inspect
import io

from robots.config import config_path
from robots.provenance import code_version, file_hash, task_module_hash
from robots.settings import Settings
from robots.tasks import Task

NONE = "ingen personopplysninger"


def describe(task: Task, settings: Settings) -> str:
    """Markdown: what the task does (its docstring), its inputs, the systems it touches, who
    may start it, what it does with personal data, and the rules it applies, as written in its
    config files (with their sources), with the hashes that identify this version."""
    lines = [f"# {task.display_title} (`{task.name}`)", ""]
    lines += [inspect.cleandoc(task.func.__doc__ or task.description or "(ingen beskrivelse)"), ""]
    lines += ["## Inndata", ""]
    for name, field in task.input_model.model_fields.items():
        need = "påkrevd" if field.is_required() else f"valgfri (standard {field.default!r})"
        kind = getattr(field.annotation, "__name__", str(field.annotation))
        lines.append(f"- `{name}` ({kind}, {need}): {field.description or ''}".rstrip(": "))
    lines += ["", "## Systemer og tilgang", ""]
    lines.append(f"- Systemer: {', '.join(task.systems) or 'ingen'}")
    roles = settings.task_roles.get(task.name, list(task.roles))
    others = [r for r in roles if r != "admin"]
    lines.append(f"- Kan startes av: {', '.join(others) + ' og ' if others else ''}admin")
    lines.append(f"- Forsøk: {task.max_attempts or settings.default_max_attempts}")
    p = task.processing
    lines += ["", "## Behandling av personopplysninger", ""]
    if p is None:
        lines.append(f"- {NONE} (intern oppgave)")
    else:
        lines.append(f"- Formål: {p.purpose}")
        lines.append(f"- Personopplysninger: {'; '.join(p.personal_data) or NONE}")
        lines.append(f"- Rettslig grunnlag: {p.legal_basis}")
        lines.append(f"- Mottakere: {'; '.join(p.recipients)}")
        lines.append(f"- Lagringstid: {p.retention}")
    version = code_version()
    lines += ["", "## Versjon", ""]
    lines.append(
        f"- Program: {version['package']}"
        + (f" (git {version['git']})" if "git" in version else "")
    )
    lines.append(f"- Oppgavens kode: SHA-256 {task_module_hash(task.func)}")
    for name in task.config:
        path = config_path(name, settings)
        lines += ["", f"## Regler: {name}", "", f"SHA-256 {file_hash(path)}", "", "```"]
        lines += [path.read_text(encoding="utf-8").rstrip(), "```"]
    return "\n".join(lines) + "\n"


COLUMNS = [
    "oppgave",
    "navn",
    "formål",
    "personopplysninger",
    "rettslig grunnlag",
    "mottakere",
    "lagringstid",
    "systemer",
]


def protocol_rows(tasks: list[Task]) -> list[list[str]]:
    rows = []
    for task in sorted(tasks, key=lambda t: t.name):
        p = task.processing
        rows.append(
            [
                task.name,
                task.display_title,
                p.purpose if p else task.description,
                "; ".join(p.personal_data) if p else NONE,
                p.legal_basis if p else "",
                "; ".join(p.recipients) if p else "",
                p.retention if p else "",
                ", ".join(task.systems),
            ]
        )
    return rows


def protocol(tasks: list[Task], form: str) -> str:
    """The record of processing activities as CSV (semicolons, UTF-8 with BOM for Excel) or
    Markdown."""
    rows = protocol_rows(tasks)
    if form == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=";")
        writer.writerow(COLUMNS)
        writer.writerows(rows)
        return "\ufeff" + buffer.getvalue()
    head = "| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS) + "\n"
    return head + "".join(
        "| " + " | ".join(c.replace("|", "\\|") for c in row) + " |\n" for row in rows
    )
