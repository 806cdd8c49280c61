"""Sykefravær follow-up: every working day, remind managers of the legal milestones ahead.

Reads every active absence (and recently ended ones, to join periods), computes the milestones
from config/sykefravaer.yaml, and for each milestone inside the reminder window sends one e-mail
to the manager: name, milestone, due date, what to do; never the fødselsnummer. The outbox key
(employee, period, milestone) makes a second reminder impossible. An Excel overview goes to HR.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

from robots.context import RunContext
from robots.runtime import SystemSession
from robots.settings import ROOT
from robots.tasks import task
from robots.workdays import WorkingDays


@lru_cache(maxsize=1)
def config() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "config" / "sykefravaer.yaml").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Absence:
    employee_id: int
    name: str
    unit: str
    first_day: date
    end_date: date | None
    grade: int
    kind: str
    manager: str
    manager_email: str


@dataclass(frozen=True)
class Period:
    """Absences joined into one sick-leave period (the clock does not restart)."""

    employee_id: int
    start: date
    end: date | None
    grade: int  # of the latest absence
    absences: tuple[Absence, ...]


@dataclass(frozen=True)
class Milestone:
    code: str
    name: str
    due: date
    remind_from: date
    todo: str


def join_periods(absences: list[Absence], gap_days: int) -> list[Period]:
    """Join an employee's absences that start within `gap_days` days of returning."""
    periods: list[Period] = []
    by_employee: dict[int, list[Absence]] = {}
    for absence in absences:
        by_employee.setdefault(absence.employee_id, []).append(absence)
    for employee_id, items in by_employee.items():
        items.sort(key=lambda a: a.first_day)
        group = [items[0]]
        for absence in items[1:]:
            previous_end = group[-1].end_date
            back_at_work = None if previous_end is None else previous_end + timedelta(days=1)
            if back_at_work is None or (absence.first_day - back_at_work).days <= gap_days:
                group.append(absence)
            else:
                periods.append(_period(employee_id, group))
                group = [absence]
        periods.append(_period(employee_id, group))
    return periods


def _period(employee_id: int, group: list[Absence]) -> Period:
    ends = [a.end_date for a in group]
    return Period(
        employee_id,
        group[0].first_day,
        None if None in ends else max(ends),  # type: ignore[type-var]
        group[-1].grade,
        tuple(group),
    )


def milestones(period: Period, calendar: WorkingDays, cfg: dict[str, Any]) -> list[Milestone]:
    """The period's milestones: due date = first day + (day - 1); reminder on the working day
    at or before `reminder_days_before` calendar days ahead."""
    result = []
    for rule in cfg["milestones"]:
        if rule.get("full_leave_only") and period.grade < 100:
            continue
        due = period.start + timedelta(days=int(rule["due_day"]) - 1)
        remind = calendar.on_or_before(due - timedelta(days=int(cfg["reminder_days_before"])))
        result.append(Milestone(rule["code"], rule["name"], due, remind, rule["todo"].strip()))
    return result


def due_reminders(
    period: Period, today: date, calendar: WorkingDays, cfg: dict[str, Any]
) -> list[Milestone]:
    """Milestones whose reminder window [remind_from, due] contains today, for active periods."""
    if period.end is not None and period.end < today:
        return []
    return [m for m in milestones(period, calendar, cfg) if m.remind_from <= today <= m.due]


class RemindersInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dato: date | None = None  # "as of" date; empty: today in Europe/Oslo


@task("sykefravaer.reminders", input=RemindersInput, systems=("hr",), max_attempts=3)
def reminders(ctx: RunContext, data: RemindersInput) -> dict[str, Any]:
    """Sender påminnelser om oppfølgingsfrister til ledere og lager oversikt i Excel."""
    cfg = config()
    today = data.dato or datetime.now(ctx.settings.zone).date()
    calendar = WorkingDays(ctx.settings.closed_days)
    hr = ctx.open("hr")
    absences = ctx.run_step(
        "Les sykefravær", lambda: read_absences(hr, cfg["recent_days"]), retries=3
    )
    periods = join_periods(absences, int(cfg["join_gap_days"]))
    by_id = {a.employee_id: a for a in absences}
    sent = skipped = 0
    overview = []
    with ctx.step("Send påminnelser"):
        for period in periods:
            if period.end is not None and period.end < today:
                continue
            person = by_id[period.employee_id]
            for milestone in due_reminders(period, today, calendar, cfg):
                key = (
                    f"sykefravaer:{period.employee_id}:{period.start.isoformat()}:{milestone.code}"
                )
                status = ctx.send_mail(
                    key,
                    person.manager_email,
                    f"Påminnelse: {milestone.name} for {person.name} "
                    f"innen {milestone.due:%d.%m.%Y}",
                    reminder_text(person, period, milestone),
                )
                sent += status == "sent"
                skipped += status != "sent"
            for milestone in milestones(period, calendar, cfg):
                if today <= milestone.due <= today + timedelta(days=60):
                    overview.append((person, period, milestone))
    with ctx.step("Lag Excel-oversikt"):
        path = write_overview(ctx, today, overview)
        ctx.add_artifact("document", path)
    ctx.log.info(f"{len(periods)} perioder, {sent} påminnelser sendt, {skipped} sendt før")
    return {
        "absences": len(absences),
        "periods": len(periods),
        "sent": sent,
        "already_sent": skipped,
        "overview": str(path),
    }


def read_absences(hr: SystemSession, recent_days: int) -> list[Absence]:
    hr.goto(f"/sykefravaer?avsluttet_siste={recent_days}")
    absences = []
    while True:
        for row in hr.all("absences.rows").all():
            c = row.locator("td").all_inner_texts()
            absences.append(
                Absence(
                    employee_id=int(c[1]),
                    name=c[2],
                    unit=c[3],
                    first_day=date.fromisoformat(c[4]),
                    grade=int(c[5].rstrip(" %")),
                    kind=c[6],
                    end_date=date.fromisoformat(c[7]) if c[7].strip() else None,
                    manager=c[8],
                    manager_email=c[9],
                )
            )
        if not hr.exists("absences.next_page"):
            return absences
        hr.click("absences.next_page")
        hr.locate("absences.rows")


def reminder_text(person: Absence, period: Period, milestone: Milestone) -> str:
    return (
        f"Hei {person.manager},\n\n{person.name} ({person.unit}) har vært sykmeldt siden "
        f"{period.start:%d.%m.%Y} (nå {period.grade} %).\n\nFrist: {milestone.name} innen "
        f"{milestone.due:%d.%m.%Y}.\nHva du skal gjøre: {milestone.todo}\n\n"
        "Denne påminnelsen sendes én gang. Hilsen RPA-roboten"
    )


def write_overview(
    ctx: RunContext, today: date, rows: list[tuple[Absence, Period, Milestone]]
) -> Any:
    """Upcoming deadlines for HR (rpaframework Excel); names but never fødselsnumre."""
    from RPA.Excel.Files import Files

    path = ctx.settings.data_path / "exports" / f"sykefravaer-frister-{today.isoformat()}.xlsx"
    path.parent.mkdir(parents=True, exist_ok=True)
    excel = Files()
    excel.create_workbook(str(path), fmt="xlsx", sheet_name="Frister")
    excel.append_rows_to_worksheet(
        [
            {
                "Ansattnr": p.employee_id,
                "Navn": a.name,
                "Enhet": a.unit,
                "Leder": a.manager,
                "Første fraværsdag": p.start.isoformat(),
                "Grad %": p.grade,
                "Frist": m.name,
                "Dato": m.due.isoformat(),
                "Påminnelse fra": m.remind_from.isoformat(),
            }
            for a, p, m in sorted(rows, key=lambda r: r[2].due)
        ]
        or [{"Ansattnr": "", "Navn": "Ingen frister de neste 60 dagene"}],
        header=True,
    )
    excel.save_workbook()
    excel.close_workbook()
    return path
