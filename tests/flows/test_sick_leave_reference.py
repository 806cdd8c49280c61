"""The sick-leave flow against a reference written from the law's text, on random histories.

The reference below knows nothing of tasks/sykefravaer.py: it lays the absences out as a
calendar (day -> sykmeldingsgrad) and reads the rules off it, day by day:

- ftrl. § 8-19: the employer pays the first 16 calendar days of sickness (the
  arbeidsgiverperiode); a new absence fewer than 16 days after the last one continues the same
  period, after 16 days or more at work a new one starts.
- aml. § 4-6 third and fourth ledd, ftrl. §§ 8-8, 8-7 a, 25-2: oppfølgingsplan within 4 weeks,
  dialogmøte 1 within 7 weeks when the employee has been "helt borte fra arbeidet" (100 %),
  aktivitetsplikt at 8 weeks, dialogmøte 2 within 26 weeks and the updated plan a week before.
- ftrl. § 8-11: sykepenger are paid for five days a week; § 8-12 first ledd: the right ends
  when the trygd has paid 248 days "i de siste tre årene" (the employer's 16 days are not paid
  by the trygd). The maksdato is computed as if the leave goes on after its last known day.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from robots.workdays import WorkingDays
from tasks.sykefravaer import (
    Absence,
    config,
    employer_period_end,
    join_periods,
    key_dates,
    milestones,
    read_window,
)

ONE_DAY = timedelta(days=1)
EMPLOYER_DAYS = 16  # ftrl. § 8-19 first ledd
NEW_PERIOD_AFTER = 16  # ftrl. § 8-19: 16 days or more at work start a new arbeidsgiverperiode
PAID_DAYS = 248  # ftrl. § 8-12 first ledd
WEEKS = {  # due "within N weeks" of the first day: the last day is day 7 * N
    "oppfolgingsplan": 4,  # aml. § 4-6 third ledd
    "dialogmote1": 7,  # aml. § 4-6 fourth ledd
    "aktivitetsplikt": 8,  # ftrl. § 8-8
    "oppfolgingsplan_nav": 25,  # ftrl. § 25-2: a week before dialogmøte 2
    "dialogmote2": 26,  # ftrl. § 8-7 a
}

# A fixed profile: the same 300 histories on every run (no example database, no clock).
REFERENCE = settings(
    max_examples=300,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@dataclass(frozen=True)
class History:
    today: date
    absences: list[Absence]


@dataclass(frozen=True)
class Calendar:
    """Sick days as the law reads them: day -> grade; an open absence runs to `horizon`."""

    grade: dict[date, int]
    horizon: date

    @classmethod
    def of(cls, absences: list[Absence], horizon: date) -> Calendar:
        grade: dict[date, int] = {}
        for a in absences:
            day, last = a.first_day, a.end_date or horizon
            while day <= last:
                grade[day] = max(grade.get(day, 0), a.grade)
                day += ONE_DAY
        return cls(grade, horizon)

    def periods(self) -> list[tuple[date, date]]:
        """(first, last sick day) of each period: a run of 16+ days at work separates two."""
        result: list[tuple[date, date]] = []
        for day in sorted(self.grade):
            if result and (day - result[-1][1]).days - 1 < NEW_PERIOD_AFTER:
                result[-1] = (result[-1][0], day)
            else:
                result.append((day, day))
        return result

    def employer_end(self, first: date, last: date) -> date | None:
        """The 16th calendar day of sickness in the period, if it has one."""
        sick = [first + ONE_DAY * n for n in range((last - first).days + 1)]
        sick = [d for d in sick if d in self.grade]
        return sick[EMPLOYER_DAYS - 1] if len(sick) >= EMPLOYER_DAYS else None

    def paid(self, first: date, last: date) -> list[date]:
        """Days the trygd pays in a period: sick Mondays-Fridays after the 16th sick day."""
        end = self.employer_end(first, last)
        if end is None:
            return []
        days = [end + ONE_DAY * n for n in range(1, (last - end).days + 1)]
        return [d for d in days if d in self.grade and d.weekday() < 5]


def three_years_window_start(day: date) -> date:
    """The first day of the three years that end on `day`."""
    if (day.month, day.day) == (2, 29):
        return date(day.year - 3, 3, 1)
    return date(day.year - 3, day.month, day.day) + ONE_DAY


def reference(history: History) -> dict[str, object]:
    """What the law says for this history, as of `today`."""
    open_ended = history.absences[-1].end_date is None
    last_known = max(a.end_date or history.today for a in history.absences)
    known = Calendar.of(history.absences, history.today + timedelta(days=4 * 366))
    periods = known.periods()
    active_first = periods[-1][0]

    def going_on(day: date) -> bool:  # the maksdato assumes the leave goes on
        return day in known.grade or day > last_known

    day, sick_days = active_first, 1
    while sick_days < EMPLOYER_DAYS:
        day += ONE_DAY
        sick_days += going_on(day)
    paid = [d for first, last in periods[:-1] for d in known.paid(first, last)]
    while True:
        day += ONE_DAY
        if day.weekday() < 5 and going_on(day):
            paid.append(day)
            if len(paid) - bisect.bisect_left(paid, three_years_window_start(day)) >= PAID_DAYS:
                break
    away = any(
        known.grade.get(active_first + ONE_DAY * n) == 100 for n in range(7 * WEEKS["dialogmote1"])
    )
    return {
        "periods": [
            (first, None if open_ended and n == len(periods) - 1 else last)
            for n, (first, last) in enumerate(periods)
        ],
        "employer_ends": [known.employer_end(first, last) for first, last in periods[:-1]],
        "milestones": {
            code: active_first + timedelta(days=7 * weeks - 1)
            for code, weeks in WEEKS.items()
            if code != "dialogmote1" or away
        },
        "maksdato": day,
    }


def flow(history: History) -> dict[str, object]:
    """What the flow computes, reading the HR list as the robot does."""

    def read(days: int) -> list[Absence]:
        cutoff = history.today - timedelta(days=days)
        return [a for a in history.absences if a.end_date is None or a.end_date >= cutoff]

    everything = join_periods(list(history.absences), NEW_PERIOD_AFTER)
    seen = join_periods(read_window(read, history.today, 30, NEW_PERIOD_AFTER, 3), 16)
    active = next(p for p in seen if p.end is None or p.end >= history.today)
    earlier = [p for p in seen if p is not active]
    cfg = config()
    return {
        "periods": [(p.start, p.end) for p in everything],
        "employer_ends": [employer_period_end(p) for p in everything[:-1]],
        "milestones": {m.code: m.due for m in milestones(active, WorkingDays([]), cfg)},
        "maksdato": key_dates(active, cfg, earlier).max_date,
    }


@st.composite
def histories(draw: st.DrawFn) -> History:
    """One employee's absences, oldest first, the last one active on `today`: gaps around the
    16-day boundary and long ones (earlier periods within and beyond three years), short and
    long absences, graded or not, the last one open-ended or ending in the future."""
    day = draw(st.dates(date(2019, 1, 1), date(2027, 12, 31)))
    absences = []
    for n in range(draw(st.integers(1, 6))):
        if n:
            gap = draw(st.one_of(st.integers(0, 20), st.integers(14, 17), st.integers(60, 1300)))
            day += timedelta(days=gap + 1)
        length = draw(st.one_of(st.integers(1, 20), st.integers(20, 400)))
        grade = draw(st.sampled_from([100, 100, 50, 20]))
        end = day + timedelta(days=length - 1)
        absences.append(Absence(1, "Kari", "Skole", day, end, grade, "sykmelding", "L", "l@x"))
        day = end
    last = absences[-1]
    assert last.end_date is not None
    today = last.first_day + timedelta(
        days=draw(st.integers(0, (last.end_date - last.first_day).days))
    )
    if draw(st.booleans()):  # open-ended: "til og med" empty in the HR list
        absences[-1] = Absence(
            1, "Kari", "Skole", last.first_day, None, last.grade, "sykmelding", "L", "l@x"
        )
    return History(today, absences)


@REFERENCE
@given(histories())
def test_the_flow_agrees_with_the_law_on_random_histories(history: History) -> None:
    """ftrl. §§ 8-7 a, 8-8, 8-11, 8-12, 8-19, 25-2 and aml. § 4-6: the flow and the reference
    agree on periods, arbeidsgiverperioder, milestones and maksdato (earlier periods within three
    years, future end dates, open-ended leave)."""
    assert flow(history) == reference(history)
