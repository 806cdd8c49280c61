"""Golden dates for sykefravær milestones and reminder days (config/sykefravaer.yaml)."""

from __future__ import annotations

from datetime import date

import pytest

from robots.workdays import WorkingDays
from tasks.sykefravaer import Absence, config, due_reminders, join_periods, milestones

CAL = WorkingDays(["12-24", "12-31"])


def absence(first: str, end: str | None = None, grade: int = 100, employee: int = 1) -> Absence:
    return Absence(
        employee,
        "Kari Nordmann",
        "Skole",
        date.fromisoformat(first),
        date.fromisoformat(end) if end else None,
        grade,
        "sykmelding",
        "Leder",
        "leder@kommune.example",
    )


def plan(first: str, grade: int = 100) -> dict[str, tuple[str, str]]:
    (period,) = join_periods([absence(first, grade=grade)], 16)
    return {
        m.code: (m.due.isoformat(), m.remind_from.isoformat())
        for m in milestones(period, CAL, config())
    }


@pytest.mark.parametrize(
    ("first", "grade", "expected"),
    [
        # A plain case: Monday 2026-01-05. Day 28 = 2026-02-01 (Sunday); remind 7 days before,
        # on Sunday 2026-01-25 -> back to Friday 2026-01-23.
        (
            "2026-01-05",
            100,
            {
                "oppfolgingsplan": ("2026-02-01", "2026-01-23"),
                "dialogmote1": ("2026-02-22", "2026-02-13"),
                "aktivitetsplikt": ("2026-03-01", "2026-02-20"),
                "oppfolgingsplan_nav": ("2026-06-28", "2026-06-19"),
                "dialogmote2": ("2026-07-05", "2026-06-26"),
            },
        ),
        # Easter 2026: skjærtorsdag 2 April, langfredag 3 April, 2. påskedag 6 April.
        # Day 28 from 2026-03-13 is 2026-04-09; 7 days before = 2. påskedag 6 April -> Wed 1 April.
        (
            "2026-03-13",
            100,
            {
                "oppfolgingsplan": ("2026-04-09", "2026-04-01"),
                "dialogmote1": ("2026-04-30", "2026-04-23"),
                "aktivitetsplikt": ("2026-05-07", "2026-04-30"),
                "oppfolgingsplan_nav": ("2026-09-03", "2026-08-27"),
                "dialogmote2": ("2026-09-10", "2026-09-03"),
            },
        ),
        # 17. mai 2027 is a Monday: day 28 from 2027-04-27 is 2027-05-24 (2. pinsedag!);
        # reminder 2027-05-17 (17. mai) -> Friday 14 May.
        (
            "2027-04-27",
            100,
            {
                "oppfolgingsplan": ("2027-05-24", "2027-05-14"),
                "dialogmote1": ("2027-06-14", "2027-06-07"),
                "aktivitetsplikt": ("2027-06-21", "2027-06-14"),
                "oppfolgingsplan_nav": ("2027-10-18", "2027-10-11"),
                "dialogmote2": ("2027-10-25", "2027-10-18"),
            },
        ),
        # Christmas: day 28 from 2026-12-04 is 2026-12-31; reminder 24 Dec (closed) ->
        # 23 Dec. Graded leave (50 %): no mandatory dialogmøte 1.
        (
            "2026-12-04",
            50,
            {
                "oppfolgingsplan": ("2026-12-31", "2026-12-23"),
                "aktivitetsplikt": ("2027-01-28", "2027-01-21"),
                "oppfolgingsplan_nav": ("2027-05-27", "2027-05-20"),
                "dialogmote2": ("2027-06-03", "2027-05-27"),
            },
        ),
    ],
)
def test_milestones_and_reminder_days(
    first: str, grade: int, expected: dict[str, tuple[str, str]]
) -> None:
    assert plan(first, grade) == expected


def test_absences_within_16_days_join_the_same_period() -> None:
    first = absence("2026-01-05", "2026-01-20")
    # back at work 2026-01-21; new absence 16 days later (2026-02-06) joins
    joined = absence("2026-02-06", None)
    (period,) = join_periods([joined, first], 16)
    assert period.start == date(2026, 1, 5) and period.end is None
    assert plan("2026-01-05")["oppfolgingsplan"][0] == "2026-02-01"
    # 17 days later starts a new period: the clock restarts
    separate = absence("2026-02-07", None)
    periods = join_periods([first, separate], 16)
    assert sorted(p.start for p in periods) == [date(2026, 1, 5), date(2026, 2, 7)]
    # another employee never joins
    other = absence("2026-01-25", None, employee=2)
    assert len(join_periods([first, other], 16)) == 2


def test_due_reminders_window() -> None:
    (period,) = join_periods([absence("2026-01-05")], 16)

    def codes(today: str) -> list[str]:
        return [m.code for m in due_reminders(period, date.fromisoformat(today), CAL, config())]

    assert codes("2026-01-22") == []
    assert codes("2026-01-23") == ["oppfolgingsplan"]  # first working day of the window
    assert codes("2026-02-01") == ["oppfolgingsplan"]  # the due date itself
    assert codes("2026-02-02") == []  # passed
    assert codes("2026-02-16") == ["dialogmote1"]
    (ended,) = join_periods([absence("2026-01-05", "2026-01-20")], 16)
    assert due_reminders(ended, date(2026, 1, 23), CAL, config()) == []
