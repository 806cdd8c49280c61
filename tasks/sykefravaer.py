"""Sykefravær follow-up: every working day, remind managers of the legal milestones ahead.

Reads every active absence (and recently ended ones, to join periods), computes the milestones
from config/sykefravaer.yaml, and for each milestone inside the reminder window sends one e-mail
to the manager: name, milestone, due date, what to do; never the fødselsnummer. The outbox key
(employee, period, milestone) makes a second reminder impossible. An Excel overview goes to HR.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from robots.config import load_yaml
from robots.context import RunContext
from robots.tasks import Processing, task
from robots.workdays import WorkingDays
from tasks import sykefravaersprosent

if TYPE_CHECKING:  # the browser stack is imported when a robot runs, not before
    from robots.runtime import SystemSession


def config() -> dict[str, Any]:
    """config/sykefravaer.yaml (the setting `config_dir`), read again when it changes."""
    return load_yaml("sykefravaer.yaml")


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
    due_day: int = 0
    hjemmel: str = ""

    def rule(self, period: Period) -> str:
        """The rule in words, for the run's "rules applied" (why this reminder, this date)."""
        return (
            f"{self.name}: dag {self.due_day} fra {period.start.isoformat()}"
            f"{', ' + self.hjemmel if self.hjemmel else ''}; frist {self.due.isoformat()}, "
            f"påminnelse fra {self.remind_from.isoformat()}"
        )


def join_periods(absences: list[Absence], new_period_after_days_at_work: int) -> list[Period]:
    """Join each employee's absences into periods: a new absence after fewer than
    `new_period_after_days_at_work` days back at work joins the period (ftrl. § 8-19)."""
    periods: list[Period] = []
    by_employee: dict[int, list[Absence]] = {}
    for absence in absences:
        by_employee.setdefault(absence.employee_id, []).append(absence)
    for employee_id, items in by_employee.items():
        items.sort(key=lambda a: a.first_day)
        group = [items[0]]
        for absence in items[1:]:
            ends = [a.end_date for a in group]
            if None in ends or days_at_work(max(ends), absence.first_day) < (  # type: ignore[type-var]
                new_period_after_days_at_work
            ):
                group.append(absence)
            else:
                periods.append(_period(employee_id, group))
                group = [absence]
        periods.append(_period(employee_id, group))
    return periods


def days_at_work(previous_end: date, next_first_day: date) -> int:
    """Days between two absences (both excluded): back at work the day after the end."""
    return max(0, (next_first_day - previous_end).days - 1)


def _period(employee_id: int, group: list[Absence]) -> Period:
    ends = [a.end_date for a in group]
    return Period(
        employee_id,
        group[0].first_day,
        None if None in ends else max(ends),  # type: ignore[type-var]
        group[-1].grade,
        tuple(group),
    )


def _sick(period: Period, day: date) -> bool:
    return any(
        a.first_day <= day and (a.end_date is None or day <= a.end_date) for a in period.absences
    )


def employer_period_end(
    period: Period, days: int = 16, sick: Callable[[date], bool] | None = None
) -> date | None:
    """The last day of the arbeidsgiverperiode: the `days`-th sick day of the period, counting
    calendar days but only sick ones. None if the period ended before it was reached."""
    is_sick = sick or (lambda day: _sick(period, day))
    counted = 0
    day = period.start
    last = period.end
    while last is None or day <= last:
        if is_sick(day):
            counted += 1
            if counted == days:
                return day
        day += timedelta(days=1)
    return None


def max_date(
    period: Period,
    benefit_days: int = 248,
    earlier: Sequence[Period] = (),
    employer_days: int = 16,
    lookback_years: int = 3,
) -> date:
    """The day the sykepenger run out if the leave goes on (from its last known day, also when
    that is in the future): the day on which the sykepengedager in the `lookback_years` years up
    to and including it reach `benefit_days` (ftrl. § 8-12 first ledd). Sykepengedager are sick
    weekdays after each period's arbeidsgiverperiode (§ 8-11: five a week, holidays count);
    `earlier` periods add theirs."""
    last = period.end

    def sick(day: date) -> bool:
        return _sick(period, day) or (last is not None and day > last)

    start = employer_period_end(replace(period, end=None), employer_days, sick)
    assert start is not None  # the leave goes on, so its 16th sick day comes
    window: deque[date] = deque(sorted(d for p in earlier for d in paid_days(p, employer_days)))
    day = start
    while True:
        day += timedelta(days=1)
        if day.weekday() >= 5 or not sick(day):
            continue
        while window and window[0] <= years_before(day, lookback_years):
            window.popleft()
        window.append(day)
        if len(window) >= benefit_days:
            return day


def paid_days(period: Period, employer_days: int = 16) -> list[date]:
    """The sykepengedager of an ended period: its sick weekdays after the arbeidsgiverperiode
    (the employer's 16 days are not sykepenger from the trygd, ftrl. § 8-12 first ledd)."""
    end = employer_period_end(period, employer_days)
    if end is None or period.end is None:
        return []
    days = (end + timedelta(days=n) for n in range(1, (period.end - end).days + 1))
    return [d for d in days if d.weekday() < 5 and _sick(period, d)]


def years_before(day: date, years: int) -> date:
    """The same date `years` years earlier (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def read_window(
    read: Callable[[int], list[Absence]],
    today: date,
    first_window: int,
    new_period_after_days_at_work: int,
    lookback_years: int = 0,
    history_days: int | None = None,
) -> list[Absence]:
    """Absences read with a growing window (`read(days)`: active absences and those ended within
    `days` days) until it reaches back to where every active period could have started (an
    absence that ended fewer than `new_period_after_days_at_work` days before a period's first
    day joins it, and so on back, however long ago), and `lookback_years` before that, to the
    start of every earlier period with sykepengedager in those years (ftrl. § 8-12). An HR
    system that keeps absences for `history_days` days only is read no further than that."""
    window = min(first_window, history_days or first_window)
    while True:
        absences = read(window)
        periods = join_periods(absences, new_period_after_days_at_work)
        active = [p.start for p in periods if p.end is None or p.end >= today]
        if not active:
            return absences
        since = years_before(min(active), lookback_years)
        starts = [p.start for p in periods if p.end is None or p.end > since]
        needed = (today - min(starts)).days + new_period_after_days_at_work
        needed = max(needed, (today - since).days)
        if history_days is not None:
            needed = min(needed, history_days)
        if window >= needed:
            return absences
        window = needed


def milestones(period: Period, calendar: WorkingDays, cfg: dict[str, Any]) -> list[Milestone]:
    """The period's milestones: due date = first day + (day - 1); reminder on the working day
    at or before `reminder_days_before` calendar days ahead."""
    result = []
    for rule in cfg["milestones"]:
        due = period.start + timedelta(days=int(rule["due_day"]) - 1)
        if rule.get("full_leave_only") and not away_in_full(period, due):
            continue
        remind = calendar.on_or_before(due - timedelta(days=int(cfg["reminder_days_before"])))
        result.append(
            Milestone(
                rule["code"],
                rule["name"],
                due,
                remind,
                rule["todo"].strip(),
                int(rule["due_day"]),
                str(rule.get("hjemmel", "")),
            )
        )
    return result


def away_in_full(period: Period, by: date) -> bool:
    """Whether the employee was 100 % away on some day of the period up to `by` (aml. § 4-6
    fourth ledd: "helt borte fra arbeidet"), whatever the grade of the latest sykmelding."""
    return any(a.grade >= 100 and a.first_day <= by for a in period.absences)


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


@task(
    "sykefravaer.reminders",
    input=RemindersInput,
    systems=("hr",),
    max_attempts=3,
    title="Påminnelser om sykefraværsoppfølging",
    processing=Processing(
        purpose="Minne ledere på lovpålagte frister i sykefraværsoppfølgingen",
        personal_data=(
            "navn og ansattnummer",
            "sykefraværsperioder og sykmeldingsgrad (helseopplysninger, GDPR art. 9)",
            "leders e-post",
            "stillingsprosent og enhet (bare til sykefraværsprosent for grupper på minst fem)",
        ),
        legal_basis="GDPR art. 6 nr. 1 c og art. 9 nr. 2 b; aml. § 4-6; ftrl. §§ 8-7 a, 8-8, "
        "8-19 og 25-2",
        recipients=(
            "nærmeste leder (påminnelse)",
            "HR (Excel-oversikt)",
            "HR og ledere (sykefraværsprosent, uten personer)",
        ),
        retention="Påminnelser i utboksen og kjøreloggen i retention_days (90 dager)",
    ),
    config=("sykefravaer.yaml",),
    preload=("RPA.Excel.Files", "holidays"),
)
def reminders(ctx: RunContext, data: RemindersInput) -> dict[str, Any]:
    """Sender påminnelser om oppfølgingsfrister til ledere og lager oversikt i Excel."""
    cfg = config()
    today = data.dato or datetime.now(ctx.settings.zone).date()
    calendar = WorkingDays(ctx.settings.closed_days)
    hr = ctx.open("hr")
    new_period_after = int(cfg["new_period_after_days_at_work"])
    lookback = int(cfg["max_sickness_benefit_lookback_years"])
    history_days = cfg.get("hr_history_days")
    # The sandbox and a real HR system count "ended within N days" from their own today;
    # reading from the later of the two days keeps the window wide enough for both.
    reference_day = max(today, datetime.now(ctx.settings.zone).date())
    absences = ctx.run_step(
        "Les sykefravær",
        lambda: read_window(
            lambda days: logged(ctx, days, read_absences(hr, days)),
            reference_day,
            int(cfg["recent_days"]),
            new_period_after,
            lookback,
            int(history_days) if history_days else None,
        ),
        retries=3,
    )
    periods = join_periods(absences, new_period_after)
    history_from = reference_day - timedelta(days=int(history_days)) if history_days else None
    ctx.rule(
        f"Fravær med færre enn {new_period_after} dager i arbeid imellom regnes som samme "
        "periode; dag 1 er periodens første fraværsdag (ftrl. § 8-19)"
    )
    ctx.rule(
        f"Maksdato: {cfg['max_sickness_benefit_days']} sykepengedager (mandag-fredag) etter "
        f"arbeidsgiverperioden, medregnet dager i tidligere perioder de siste {lookback} årene "
        "(ftrl. §§ 8-11 og 8-12 første ledd)"
    )
    by_id = {a.employee_id: a for a in absences}
    sent = skipped = 0
    overview = []
    with ctx.step("Send påminnelser"):
        for period in periods:
            if period.end is not None and period.end < today:
                continue
            person = by_id[period.employee_id]
            earlier = [p for p in periods if p.employee_id == period.employee_id]
            dates = key_dates(period, cfg, earlier, history_from)
            for milestone in due_reminders(period, today, calendar, cfg):
                base = (
                    f"sykefravaer:{period.employee_id}:{period.start.isoformat()}:{milestone.code}"
                )
                key = reminder_key(base, ctx.acknowledgement(base), today)
                if key is None:
                    ctx.rule(f"{milestone.name}: lederen har kvittert; ingen ny påminnelse")
                    continue
                ctx.rule(milestone.rule(period), ansatt=period.employee_id)
                link = ctx.acknowledgement_link(
                    base, milestone.name, milestone.due, person.manager_email
                )
                status = ctx.send_mail(
                    key,
                    person.manager_email,
                    f"Påminnelse: {milestone.name} for {person.name} "
                    f"innen {milestone.due:%d.%m.%Y}",
                    reminder_text(person, period, milestone, dates, link),
                )
                sent += status == "sent"
                skipped += status != "sent"
            for milestone in milestones(period, calendar, cfg):
                if today <= milestone.due <= today + timedelta(days=60):
                    overview.append((person, period, milestone, dates))
    with ctx.step("Lag Excel-oversikt"):
        path = write_overview(ctx, today, overview)
    with ctx.step("Mål sykefraværsprosenten"):
        statistics = sykefravaersprosent.publish(ctx, hr, today, cfg, path)
    ctx.add_artifact("document", path)
    ctx.log.info(f"{len(periods)} perioder, {sent} påminnelser sendt, {skipped} sendt før")
    return {
        "absences": len(absences),
        "periods": len(periods),
        "sent": sent,
        "already_sent": skipped,
        "overview": str(path),
        "statistics": statistics,
    }


def logged(ctx: RunContext, days: int, absences: list[Absence]) -> list[Absence]:
    ctx.log.info(f"Leste {len(absences)} fravær (aktive og avsluttet siste {days} dager)")
    return absences


def absence_from_cells(c: list[str]) -> Absence:
    """One row of the HR portal's absence list, its cells in the list's column order."""
    return Absence(
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


def read_absences(hr: SystemSession, recent_days: int) -> list[Absence]:
    """Every page of the absence list (each page retried on its own through faults); an empty
    list is a fact only when the list's table is there (its rows' `trust`)."""
    cells = hr.read_pages(
        lambda page: f"/sykefravaer?avsluttet_siste={recent_days}&side={page}",
        "absences.rows",
        "absences.next_page",
    )
    return [absence_from_cells(row) for row in cells]


@dataclass(frozen=True)
class KeyDates:
    """What HR asks about first: when the employer stops paying, when sykepenger run out, and
    whether the HR system's history reaches back far enough to trust the second."""

    employer_period_end: date | None
    max_date: date | None
    history_from: date | None = None  # the first day the HR system lists absences from
    history_complete: bool = True


def key_dates(
    period: Period,
    cfg: dict[str, Any],
    earlier: Sequence[Period] = (),
    history_from: date | None = None,
) -> KeyDates:
    """The period's key dates; `earlier` are the employee's ended periods before it (their
    sykepengedager of the last three years shorten the right, ftrl. § 8-12 first ledd)."""
    days = int(cfg["employer_period_days"])
    years = int(cfg.get("max_sickness_benefit_lookback_years", 3))
    end = employer_period_end(period, days)
    earlier = [p for p in earlier if p.end is not None and p.end < period.start]
    top = max_date(period, int(cfg["max_sickness_benefit_days"]), earlier, days, years)
    needed = years_before(top, years) + timedelta(days=1)
    complete = history_from is None or history_from <= needed
    return KeyDates(end, top, history_from, complete)


def _day(value: date | None, missing: str = "-") -> str:
    return f"{value:%d.%m.%Y}" if value else missing


def reminder_key(
    base: str, acknowledged: tuple[str, date | None] | None, today: date
) -> str | None:
    """The outbox key of the reminder to send today, or None: a manager who has acknowledged
    the milestone as done gets no more; one who postponed it gets one more on that date."""
    if acknowledged is None:
        return base
    status, until = acknowledged
    if status == "utsatt" and until is not None and today >= until:
        return f"{base}:utsatt:{until.isoformat()}"
    return None


def reminder_text(
    person: Absence,
    period: Period,
    milestone: Milestone,
    dates: KeyDates | None = None,
    link: str = "",
) -> str:
    facts = ""
    if dates is not None:
        facts = (
            f"Arbeidsgiverperioden slutter: {_day(dates.employer_period_end, 'ikke nådd')}.\n"
            f"Sykepenger til og med (beregnet, om fraværet fortsetter): "
            f"{_day(dates.max_date, 'ikke beregnet')}.\n"
        )
        if not dates.history_complete:
            facts += (
                f"Merk: HR-systemet viser fravær bare fra {_day(dates.history_from)}; "
                "sykepengedager fra før det i de siste tre årene (ftrl. § 8-12) er ikke trukket "
                "fra, så datoen kan være for sen.\n"
            )
        facts += "\n"
    return (
        f"Hei {person.manager},\n\n{person.name} ({person.unit}) har vært sykmeldt siden "
        f"{period.start:%d.%m.%Y} (nå {period.grade} %).\n\nFrist: {milestone.name} innen "
        f"{milestone.due:%d.%m.%Y}.\nHva du skal gjøre: {milestone.todo}\n\n{facts}"
        + (
            f"Kvitter når det er gjort, eller utsett påminnelsen: {link}\n\n"
            if link
            else "Denne påminnelsen sendes én gang. "
        )
        + "Hilsen RPA-roboten"
    )


def write_overview(
    ctx: RunContext, today: date, rows: list[tuple[Absence, Period, Milestone, KeyDates]]
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
                "Arbeidsgiverperioden slutter": d.employer_period_end.isoformat()
                if d.employer_period_end
                else "",
                "Maksdato sykepenger (beregnet)": d.max_date.isoformat() if d.max_date else "",
            }
            for a, p, m, d in sorted(rows, key=lambda r: r[2].due)
        ]
        or [{"Ansattnr": "", "Navn": "Ingen frister de neste 60 dagene"}],
        header=True,
    )
    excel.save_workbook()
    excel.close_workbook()
    return path
