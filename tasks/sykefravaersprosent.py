"""The sick-leave percentage the municipality steers by, as SSB and NAV define it.

sykefraværsprosent = tapte dagsverk / avtalte dagsverk x 100. Avtalte dagsverk: Monday to Friday
except public holidays, times the position's percentage, while the position lasts. Tapte
dagsverk: those days lost to sickness, times the sykmeldingsgrad (a 50 % sykmelding in an 80 %
position loses 0.4 dagsverk a day); a person with two positions is sick in both (SSB). Split
into legemeldt (sykmelding) and egenmeldt (egenmelding), per unit, tjenesteområde and the whole
municipality, per month. A group with fewer than `min_employees` employees is never stored on its
own (SSB's and NAV's small-number suppression): it shows only inside its tjenesteområde.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from robots.context import RunContext
from robots.models import utcnow
from robots.sickleave import Figure, Overview, Tally, overview
from robots.workdays import WorkingDays

if TYPE_CHECKING:
    from robots.runtime import SystemSession

# What the HR system can show: the absences registered there. Vacation is not known to the
# robot, so it counts as agreed days (as SSB's register statistics do).


@dataclass(frozen=True)
class Position:
    """A position (stilling) as the HR system lists it."""

    employee_id: int
    area: str  # tjenesteområde
    unit: str  # enhet
    percent: float
    start: date
    end: date | None


@dataclass(frozen=True)
class Leave:
    employee_id: int
    first_day: date
    end: date | None  # None: goes on
    grade: int  # sykmeldingsgrad, percent
    certified: bool  # legemeldt (sykmelding); False: egenmelding


@dataclass(frozen=True)
class Targets:
    """The overall target and one per tjenesteområde, each with where it comes from."""

    overall: float
    overall_source: str
    areas: dict[str, tuple[float, str]]

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> Targets:
        overall = cfg["target"]
        return cls(
            float(overall["percent"]),
            str(overall["source"]),
            {
                str(area): (float(t["percent"]), str(t["source"]))
                for area, t in (cfg.get("area_targets") or {}).items()
            },
        )


def months_before(today: date, count: int = 12) -> list[date]:
    """The `count` complete months before today's month, oldest first."""
    first = today.replace(day=1)
    months = []
    for _ in range(count):
        first = (first - timedelta(days=1)).replace(day=1)
        months.append(first)
    return months[::-1]


def _days(month: date, workdays: WorkingDays) -> list[date]:
    last = calendar.monthrange(month.year, month.month)[1]
    every = (month.replace(day=d) for d in range(1, last + 1))
    return [d for d in every if workdays.is_working_day(d)]


def _lost(leaves: list[Leave], day: date) -> tuple[float, bool] | None:
    """The day's sickness as (grade, legemeldt), the highest grade of any leave covering it."""
    found = [
        (min(100, leave.grade) / 100, leave.certified)
        for leave in leaves
        if leave.first_day <= day and (leave.end is None or day <= leave.end)
    ]
    return max(found) if found else None


Tallies = dict[tuple[date, str, str], tuple[Tally, set[int]]]


def tally_months(
    positions: Iterable[Position], leaves: Iterable[Leave], months: list[date]
) -> Tallies:
    """Dagsverk and the employees counted, per (month, tjenesteområde, unit)."""
    workdays = WorkingDays()  # public holidays only: a municipality's own closed days are not
    by_employee: dict[int, list[Leave]] = {}
    for leave in leaves:
        by_employee.setdefault(leave.employee_id, []).append(leave)
    result: Tallies = {}
    for month in months:
        days = _days(month, workdays)
        for p in positions:
            share = p.percent / 100
            agreed = certified = self_certified = 0.0
            for day in days:
                if day < p.start or (p.end is not None and day > p.end):
                    continue
                agreed += share
                sick = _lost(by_employee.get(p.employee_id, []), day)
                if sick is not None:
                    if sick[1]:
                        certified += share * sick[0]
                    else:
                        self_certified += share * sick[0]
            if agreed == 0:
                continue
            key = (month, p.area, p.unit)
            tally, employees = result.get(key, (Tally(), set()))
            employees.add(p.employee_id)
            result[key] = (tally + Tally(agreed, certified, self_certified), employees)
    return result


def hidden(headcounts: dict[str, int], minimum: int) -> set[str]:
    """The groups not to show: every one under `minimum`, and, while those hidden add up to
    fewer than `minimum`, the next smallest too, so the rest of the total subtracted from it
    (total minus the groups shown) never describes fewer than `minimum` people."""
    result = {g for g, n in headcounts.items() if n < minimum}
    shown = sorted((n, g) for g, n in headcounts.items() if g not in result)
    while result and sum(headcounts[g] for g in result) < minimum and shown:
        result.add(shown.pop(0)[1])
    return result


def figures(
    positions: Iterable[Position],
    leaves: Iterable[Leave],
    months: list[date],
    targets: Targets,
    min_employees: int = 5,
) -> list[Figure]:
    """What the console and the sheet may show: the municipality, each tjenesteområde and each
    unit that has at least `min_employees` employees in every month (as a whole: a group is
    shown for all months or none)."""
    tallies = tally_months(positions, leaves, months)
    unit_employees: dict[tuple[str, str], dict[date, set[int]]] = {}
    for (month, area, unit), (_, people) in tallies.items():
        unit_employees.setdefault((area, unit), {})[month] = people

    def fewest(sets: Iterable[dict[date, set[int]]]) -> int:
        merged: dict[date, set[int]] = {}
        for per_month in sets:
            for m, people in per_month.items():
                merged.setdefault(m, set()).update(people)
        return min((len(merged.get(m, set())) for m in months), default=0)

    areas = sorted({a for a, _ in unit_employees})
    area_size = {a: fewest(v for (x, _), v in unit_employees.items() if x == a) for a in areas}
    hidden_areas = hidden(area_size, min_employees)
    shown_units: set[tuple[str, str]] = set()
    for area in areas:
        if area in hidden_areas:
            continue
        sizes = {u: fewest([v]) for (a, u), v in unit_employees.items() if a == area}
        shown_units |= {(area, u) for u in sizes.keys() - hidden(sizes, min_employees)}

    result = []
    for month in months:
        groups: dict[tuple[str, str], tuple[Tally, set[int]]] = {}
        for (m, area, unit), (tally, people) in tallies.items():
            if m != month:
                continue
            keys = [("", ""), (area, "")] + ([(area, unit)] if (area, unit) in shown_units else [])
            for key in keys:
                if key[0] in hidden_areas:
                    continue
                total, everyone = groups.get(key, (Tally(), set()))
                groups[key] = (total + tally, everyone | people)
        for (area, unit), (tally, people) in sorted(groups.items()):
            target, source = (
                (targets.overall, targets.overall_source)
                if area == ""
                else targets.areas.get(area, (None, ""))
                if unit == ""
                else (None, "")
            )
            result.append(Figure(month, area, unit, tally, len(people), target, source))
    return result


# Reading the HR portal --------------------------------------------------------------------------


def position_from_cells(c: list[str]) -> Position:
    """One row of the HR portal's position list, its cells in the list's column order
    (ansattnr, tjenesteområde, enhet, stillingsprosent, fra, til)."""
    return Position(
        employee_id=int(c[0]),
        area=c[1].strip(),
        unit=c[2].strip(),
        percent=float(c[3].rstrip(" %").replace(",", ".")),
        start=date.fromisoformat(c[4].strip()),
        end=date.fromisoformat(c[5].strip()) if c[5].strip() else None,
    )


def read_positions(hr: SystemSession) -> list[Position]:
    """Every page of the HR system's positions (each page retried on its own through faults)."""
    cells = hr.read_pages(
        lambda page: f"/stillinger?side={page}", "positions.rows", "positions.next_page"
    )
    return [position_from_cells(row) for row in cells]


def leaves_since(hr: SystemSession, since: date, today: date) -> list[Leave]:
    """Every absence that lasted into the months measured, through the sykefravær robot's
    reader (tasks/sykefravaer.py); egenmelding is egenmeldt, anything else legemeldt."""
    from tasks.sykefravaer import read_absences

    return [
        Leave(a.employee_id, a.first_day, a.end_date, a.grade, a.kind != "egenmelding")
        for a in read_absences(hr, max(0, (today - since).days))
    ]


def measure(hr: SystemSession, today: date, cfg: dict[str, Any]) -> list[Figure]:
    """The last twelve complete months' figures, from the HR portal's positions and absences."""
    settings = cfg["statistikk"]
    months = months_before(today, 12)
    return figures(
        read_positions(hr),
        leaves_since(hr, months[0], today),
        months,
        Targets.from_config(settings),
        int(settings.get("min_employees", 5)),
    )


# The Excel sheet ------------------------------------------------------------------------------


def _pct(value: float | None) -> float | str:
    return round(value, 1) if value is not None else ""


def write_sheet(path: Path, view: Overview) -> None:
    """A sheet "Sykefraværsprosent" in the workbook HR gets: the same groups as the console's
    page (never a person), last month, last quarter and twelve months against each target."""
    from openpyxl import load_workbook

    book = load_workbook(path)
    sheet = book.create_sheet("Sykefraværsprosent")
    last = f"{view.months[-1]:%m.%Y}" if view.months else ""
    sheet.append(
        [
            "Tjenesteområde",
            "Enhet",
            f"Siste måned ({last}) %",
            f"{view.quarter_name if view.quarter else 'Kvartal'} %",
            "Siste 12 måneder %",
            "Legemeldt 12 mnd. %",
            "Egenmeldt 12 mnd. %",
            "Mål %",
            "Kilde for målet",
        ]
    )
    for row in view.rows:
        sheet.append(
            [
                row.area or "Hele kommunen",
                row.unit,
                _pct(row.month.percent()),
                _pct(row.quarter.percent()),
                _pct(row.year.percent()),
                _pct(row.year.percent(row.year.lost_certified)),
                _pct(row.year.percent(row.year.lost_self)),
                "" if row.target is None else row.target,
                row.target_source,
            ]
        )
    if not view.rows:
        sheet.append(["Ingen tall: HR-systemet hadde ingen stillinger for perioden"])
    book.save(path)


def publish(
    ctx: RunContext, hr: SystemSession, today: date, cfg: dict[str, Any], path: Path
) -> int:
    """Measure, store for the console's leader page, and add the sheet to the Excel overview.
    Returns the number of figures stored."""
    found = measure(hr, today, cfg)
    ctx.rule(
        "Sykefraværsprosent = tapte dagsverk / avtalte dagsverk × 100 (SSB og NAV); enheter "
        f"med færre enn {cfg['statistikk'].get('min_employees', 5)} ansatte vises bare i "
        "tjenesteområdet"
    )
    stored = ctx.publish_sick_leave(found)
    write_sheet(path, overview(found, utcnow()))
    ctx.log.info(f"Sykefraværsprosent: {stored} tall for {len(months_before(today))} måneder")
    return stored
