"""Sick-leave figures as leaders steer by them: stored per month by the sykefravær robot (which
computes them, tasks/sykefravaersprosent.py), read here for the console and the Excel sheet.

sykefraværsprosent = tapte dagsverk / avtalte dagsverk x 100 (SSB and NAV). A quarter or twelve
months is the ratio of the summed dagsverk, never a mean of monthly percentages. Only groups
with enough employees are ever stored, so nothing read here describes a person.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from robots.models import SickLeaveFigure, utcnow


@dataclass(frozen=True)
class Tally:
    """Dagsverk of one group over some period: agreed, and lost with and without a doctor."""

    agreed: float = 0.0
    lost_certified: float = 0.0  # legemeldt
    lost_self: float = 0.0  # egenmeldt

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            self.agreed + other.agreed,
            self.lost_certified + other.lost_certified,
            self.lost_self + other.lost_self,
        )

    @property
    def lost(self) -> float:
        return self.lost_certified + self.lost_self

    def percent(self, lost: float | None = None) -> float | None:
        """Lost dagsverk (all, or the part given) in percent of agreed; None without any."""
        if self.agreed <= 0:
            return None
        return 100 * (self.lost if lost is None else lost) / self.agreed


@dataclass(frozen=True)
class Figure:
    """One month of one group, as the robot stores it (area "" is the whole municipality,
    unit "" the whole tjenesteområde)."""

    month: date
    area: str
    unit: str
    tally: Tally
    employees: int
    target: float | None = None
    target_source: str = ""


@dataclass(frozen=True)
class Row:
    """One group on the page and in the sheet: last month, last quarter, twelve months."""

    area: str
    unit: str
    target: float | None
    target_source: str
    month: Tally
    quarter: Tally
    year: Tally
    trend: list[float | None] = field(default_factory=list)  # one value per month, oldest first


@dataclass(frozen=True)
class Overview:
    months: list[date]  # the twelve (or fewer) months, oldest first
    quarter: list[date]  # the last complete quarter's months
    rows: list[Row]
    computed_at: datetime | None

    @property
    def quarter_name(self) -> str:
        return f"{(self.quarter[0].month - 1) // 3 + 1}. kvartal {self.quarter[0].year}"


def store(session: Session, figures: Iterable[Figure]) -> int:
    """Replace every stored figure with these (the robot recomputes its whole window)."""
    now = utcnow()
    session.execute(delete(SickLeaveFigure))
    rows = [
        SickLeaveFigure(
            month=f.month,
            area=f.area,
            unit=f.unit,
            agreed=f.tally.agreed,
            lost_certified=f.tally.lost_certified,
            lost_self=f.tally.lost_self,
            employees=f.employees,
            target=f.target,
            target_source=f.target_source,
            computed_at=now,
        )
        for f in figures
    ]
    session.add_all(rows)
    return len(rows)


def load(session: Session) -> list[Figure]:
    return [
        Figure(
            r.month,
            r.area,
            r.unit,
            Tally(r.agreed, r.lost_certified, r.lost_self),
            r.employees,
            r.target,
            r.target_source,
        )
        for r in session.scalars(select(SickLeaveFigure).order_by(SickLeaveFigure.month))
    ]


def last_quarter(months: list[date]) -> list[date]:
    """The months of the last complete calendar quarter among `months`."""
    for last in reversed(months):
        if last.month % 3 == 0:
            first = date(last.year, last.month - 2, 1)
            return [m for m in months if first <= m <= last]
    return []


def overview(figures: list[Figure], computed_at: datetime | None = None) -> Overview:
    """Municipality first, then each tjenesteområde followed by its units."""
    months = sorted({f.month for f in figures})[-12:]
    quarter = last_quarter(months)
    groups: dict[tuple[str, str], dict[date, Figure]] = {}
    for f in figures:
        if f.month in months:
            groups.setdefault((f.area, f.unit), {})[f.month] = f
    rows = []
    for (area, unit), by_month in sorted(groups.items(), key=lambda g: (g[0][0] != "", g[0])):
        newest = by_month[max(by_month)]

        def total(chosen: list[date], by_month: dict[date, Figure] = by_month) -> Tally:
            return sum((by_month[m].tally for m in chosen if m in by_month), Tally())

        rows.append(
            Row(
                area,
                unit,
                newest.target,
                newest.target_source,
                total(months[-1:]),
                total(quarter),
                total(months),
                [by_month[m].tally.percent() if m in by_month else None for m in months],
            )
        )
    return Overview(months, quarter, rows, computed_at)


def read_overview(session: Session) -> Overview:
    computed = session.scalar(select(SickLeaveFigure.computed_at).limit(1))
    return overview(load(session), computed)
