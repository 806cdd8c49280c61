"""Golden dates for sykefravær milestones and reminder days (config/sykefravaer.yaml)."""

from __future__ import annotations

from datetime import date

import pytest

from robots.workdays import WorkingDays
from tasks.sykefravaer import (
    Absence,
    config,
    due_reminders,
    employer_period_end,
    join_periods,
    key_dates,
    max_date,
    milestones,
    read_window,
    reminder_text,
)

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


@pytest.mark.parametrize(
    ("days_at_work", "joined"),
    [(10, True), (15, True), (16, False), (20, False)],
)
def test_fewer_than_16_days_at_work_join_16_or_more_start_a_new_period(
    days_at_work: int, joined: bool
) -> None:
    """ftrl. § 8-19: back at work 16 days or more starts a new arbeidsgiverperiode."""
    first = absence("2026-01-05", "2026-01-20")  # back at work from 2026-01-21
    # 2026-01-21 + days_at_work days: 10 -> 01-31, 15 -> 02-05, 16 -> 02-06, 20 -> 02-10
    starts = {10: "2026-01-31", 15: "2026-02-05", 16: "2026-02-06", 20: "2026-02-10"}
    second = absence(starts[days_at_work])
    periods = join_periods([second, first], 16)
    if joined:
        (period,) = periods
        assert period.start == date(2026, 1, 5) and period.end is None
    else:
        assert sorted(p.start for p in periods) == [
            date(2026, 1, 5),
            date.fromisoformat(starts[days_at_work]),
        ]
    other = absence("2026-01-25", None, employee=2)  # another employee never joins
    assert len(join_periods([first, other], 16)) == 2


# Arbeidsgiverperiode end and the sykepenger maximum date, computed by hand (and checked with
# a plain loop over the calendar, independent of the code): the 16th sick day, and the 248th
# weekday (Monday-Friday, holidays count) after it.
@pytest.mark.parametrize(
    ("absences", "employer_end", "maximum"),
    [
        # Monday start: day 16 = Tue 2026-01-20; 245 weekdays = 49 weeks from Wed 01-21 end
        # Tue 2026-12-29; +3 weekdays: Wed 30, Thu 31, Fri 2027-01-01 (a holiday, still counted).
        ([("2026-01-05", None)], "2026-01-20", "2027-01-01"),
        # Sunday 2026-12-20: day 16 = Mon 2027-01-04; the 248th weekday after it Thu 2027-12-16.
        ([("2026-12-20", None)], "2027-01-04", "2027-12-16"),
        # Just before Easter 2027 (Wed 03-24): day 16 = Thu 2027-04-08 (skjærtorsdag was 03-25).
        ([("2027-03-24", None)], "2027-04-08", "2028-03-21"),
        # Joined period: 8 sick days (01-05..01-12), 10 days at work, sick again from 01-23:
        # sick day 9 = 01-23, sick day 16 = 01-30; then 248 weekdays from Mon 02-02: 2027-01-13.
        ([("2026-01-05", "2026-01-12"), ("2026-01-23", None)], "2026-01-30", "2027-01-13"),
        # A period that ends before day 16 has no arbeidsgiverperiode end; the maximum is the
        # one it would have if the leave went on (issue 25: computed for every period).
        ([("2026-01-05", "2026-01-10")], None, "2027-01-01"),
    ],
)
def test_employer_period_end_and_maximum_date(
    absences: list[tuple[str, str | None]], employer_end: str | None, maximum: str
) -> None:
    (period,) = join_periods([absence(first, end) for first, end in absences], 16)
    end = employer_period_end(period)
    assert (end.isoformat() if end else None) == employer_end
    top = max_date(period)
    assert top.isoformat() == maximum
    dates = key_dates(period, config())
    assert dates.employer_period_end == end and dates.max_date == top


def test_graded_leave_counts_whole_days_and_has_no_mandatory_dialogmote1() -> None:
    (period,) = join_periods([absence("2026-01-05", grade=50)], 16)
    assert employer_period_end(period) == date(2026, 1, 20)
    assert max_date(period) == date(2027, 1, 1)
    assert "dialogmote1" not in plan("2026-01-05", grade=50)


@pytest.mark.parametrize(
    ("first", "expected"),
    [
        # Start on Sunday 2026-12-20: every due date falls on a Saturday and every reminder
        # (7 days before, also a Saturday) moves back to the Friday.
        (
            "2026-12-20",
            {
                "oppfolgingsplan": ("2027-01-16", "2027-01-08"),
                "dialogmote1": ("2027-02-06", "2027-01-29"),
                "aktivitetsplikt": ("2027-02-13", "2027-02-05"),
                "oppfolgingsplan_nav": ("2027-06-12", "2027-06-04"),
                "dialogmote2": ("2027-06-19", "2027-06-11"),
            },
        ),
        # Reminder on skjærtorsdag: day 28 from Fri 2027-03-05 is Thu 2027-04-01; 7 days
        # before is skjærtorsdag 2027-03-25, moved back to Wed 2027-03-24.
        (
            "2027-03-05",
            {
                "oppfolgingsplan": ("2027-04-01", "2027-03-24"),
                "dialogmote1": ("2027-04-22", "2027-04-15"),
                "aktivitetsplikt": ("2027-04-29", "2027-04-22"),
                "oppfolgingsplan_nav": ("2027-08-26", "2027-08-19"),
                "dialogmote2": ("2027-09-02", "2027-08-26"),
            },
        ),
        # Start just before Easter 2027 (Wed 03-24): calendar days run through the holidays.
        (
            "2027-03-24",
            {
                "oppfolgingsplan": ("2027-04-20", "2027-04-13"),
                "dialogmote1": ("2027-05-11", "2027-05-04"),
                "aktivitetsplikt": ("2027-05-18", "2027-05-11"),
                "oppfolgingsplan_nav": ("2027-09-14", "2027-09-07"),
                "dialogmote2": ("2027-09-21", "2027-09-14"),
            },
        ),
    ],
)
def test_more_golden_milestones(first: str, expected: dict[str, tuple[str, str]]) -> None:
    assert plan(first) == expected


def test_a_joined_period_keeps_its_true_start_however_far_back() -> None:
    """The reproduction from issue 16: 2026-01-05..01-20, back at work, sick again from 01-30.
    On 2026-02-20 the first absence ended 31 days ago, outside a 30-day window. The robot must
    still see one period from 01-05, with the same outbox key and the real due dates."""
    history = [
        absence("2025-11-01", "2025-11-20"),  # 16+ days at work before 01-05: its own period
        absence("2026-01-05", "2026-01-20"),
        absence("2026-01-30"),
    ]
    reads: list[int] = []
    today = date(2026, 2, 20)

    def read(days: int) -> list[Absence]:  # what the HR system lists for "ended within days"
        reads.append(days)
        cutoff = date.fromordinal(today.toordinal() - days)
        return [a for a in history if a.end_date is None or a.end_date >= cutoff]

    absences = read_window(read, today, 30, 16)
    assert reads[0] == 30 and len(reads) > 1  # it had to read further back
    periods = [p for p in join_periods(absences, 16) if p.end is None]
    (period,) = periods
    assert period.start == date(2026, 1, 5)
    due = {m.code: m.due for m in milestones(period, CAL, config())}
    assert due["aktivitetsplikt"] == date(2026, 3, 1)  # day 56 from 01-05, not from 01-30
    # dialogmøte 1 (due 02-22) and aktivitetsplikt (due 03-01, reminder from Fri 02-20)
    assert [m.code for m in due_reminders(period, today, CAL, config())] == [
        "dialogmote1",
        "aktivitetsplikt",
    ]
    assert [m.code for m in due_reminders(period, date(2026, 2, 27), CAL, config())] == [
        "aktivitetsplikt"
    ]


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


# Issue 25: maksdato for every active period, earlier sykepengedager, dialogmøte 1 ------------


def test_maksdato_is_computed_when_the_period_has_a_future_end_date() -> None:
    """ftrl. § 8-12 first ledd: the right ends after 248 sykepengedager; § 8-11: five a week.
    A sykmelding with a known end date in the future is still an active period, and HR needs
    the day the sykepenger would run out if it is extended: the same day as open-ended leave."""
    (open_ended,) = join_periods([absence("2026-01-05")], 16)
    (until_march,) = join_periods([absence("2026-01-05", "2026-03-31")], 16)
    (until_day_10,) = join_periods([absence("2026-01-05", "2026-01-14")], 16)  # before day 16
    assert key_dates(open_ended, config()).max_date == date(2027, 1, 1)
    assert key_dates(until_march, config()).max_date == date(2027, 1, 1)
    dates = key_dates(until_day_10, config())
    assert dates.employer_period_end is None  # not reached, if it ends as planned
    assert dates.max_date == date(2027, 1, 1)  # if it goes on


def test_maksdato_counts_sykepengedager_from_the_last_three_years() -> None:
    """ftrl. § 8-12 first ledd: the right ends when the member has had sykepenger from the
    trygd for 248 days "i de siste tre årene". An earlier period 2025-01-06..2025-02-28 had its
    arbeidsgiverperiode to 2025-01-21 (§ 8-19, not sykepenger from the trygd) and 28 paid
    weekdays after it; so the new period has 220 left: the 220th weekday after 2026-01-20 is
    2026-11-24, not 2027-01-01. A period in 2022 is more than three years back: not counted."""
    history = [
        absence("2022-06-01", "2022-09-30"),
        absence("2025-01-06", "2025-02-28"),
        absence("2026-01-05"),
    ]
    periods = join_periods(history, 16)
    current = next(p for p in periods if p.end is None)
    earlier = [p for p in periods if p is not current]
    assert key_dates(current, config()).max_date == date(2027, 1, 1)  # nothing known before
    assert key_dates(current, config(), earlier).max_date == date(2026, 11, 24)
    assert key_dates(current, config(), earlier[1:]).max_date == date(2026, 11, 24)


def test_the_robot_reads_back_three_years_for_earlier_sykepengedager() -> None:
    """ftrl. § 8-12 first ledd: the HR list is read back to three years before the active
    period, so the 2025 period above (ended long before any 30-day window) is counted."""
    history = [absence("2025-01-06", "2025-02-28"), absence("2026-01-05")]
    today = date(2026, 2, 20)
    reads: list[int] = []

    def read(days: int) -> list[Absence]:
        reads.append(days)
        cutoff = date.fromordinal(today.toordinal() - days)
        return [a for a in history if a.end_date is None or a.end_date >= cutoff]

    absences = read_window(read, today, 30, 16, lookback_years=3)
    assert len(absences) == 2 and reads[0] == 30
    (current,) = [p for p in join_periods(absences, 16) if p.end is None]
    earlier = [p for p in join_periods(absences, 16) if p.end is not None]
    assert key_dates(current, config(), earlier).max_date == date(2026, 11, 24)
    # An HR system that keeps absences for 300 days only (from 2025-04-26): the robot reads no
    # further, and says that the maksdato may be too late.
    reads.clear()
    absences = read_window(read, today, 30, 16, lookback_years=3, history_days=300)
    assert max(reads) == 300 and len(absences) == 1
    (current,) = join_periods(absences, 16)
    dates = key_dates(current, config(), history_from=date(2025, 4, 26))
    assert dates.max_date == date(2027, 1, 1) and not dates.history_complete
    (milestone, *_) = milestones(current, CAL, config())
    text = reminder_text(absences[0], current, milestone, dates)
    assert "Merk: HR-systemet viser fravær bare fra 26.04.2025" in text
    assert "ftrl. § 8-12" in text
    complete = key_dates(current, config(), history_from=date(2023, 1, 1))
    assert complete.history_complete
    assert "Merk" not in reminder_text(absences[0], current, milestone, complete)


@pytest.mark.parametrize(
    ("absences", "dialogmote1"),
    [
        # The case: 100 % for six weeks (days 1-42), then 50 % from day 43. The
        # employee has been "helt borte fra arbeidet": the meeting is mandatory by day 49.
        ([("2026-01-05", "2026-02-15", 100), ("2026-02-16", None, 50)], "2026-02-22"),
        # 100 % only on day 49 itself still makes the meeting mandatory by day 49.
        ([("2026-01-05", "2026-02-21", 50), ("2026-02-22", None, 100)], "2026-02-22"),
        # Graded all along: only if someone asks (aml. § 4-6 fjerde ledd), no reminder.
        ([("2026-01-05", None, 50)], None),
        # Graded for eight weeks, 100 % from day 57: not away in full within the seven weeks.
        ([("2026-01-05", "2026-03-01", 50), ("2026-03-02", None, 100)], None),
    ],
)
def test_dialogmote1_is_decided_on_the_period_not_the_latest_grade(
    absences: list[tuple[str, str | None, int]], dialogmote1: str | None
) -> None:
    """aml. § 4-6 fjerde ledd: the employer calls a dialogmøte "senest innen sju uker" when the
    employee has been "helt borte fra arbeidet"; NAV: at graded leave only when asked. Decided
    on the whole period up to day 49, not on the grade of the latest sykmelding."""
    (period,) = join_periods([absence(f, e, grade=g) for f, e, g in absences], 16)
    due = {m.code: m.due.isoformat() for m in milestones(period, CAL, config())}
    assert due.get("dialogmote1") == dialogmote1
    assert due["oppfolgingsplan"] == "2026-02-01"  # every other milestone stays


# Arbeidsavtale (aml. §§ 14-5, 14-6, 15-6) ---------------------------------------------------


def _hire(**terms: str) -> dict[str, object]:
    return {"id": 7, "start_date": "2026-08-01", "terms": terms}


def test_contract_terms_name_missing_fields_and_follow_the_law() -> None:
    from robots.tasks import BusinessError
    from tasks.onboarding import config as onboarding_config
    from tasks.onboarding import contract_terms

    cfg = onboarding_config()["contract"]
    base = {"arbeidssted": "Skole", "lonn": "kr 500 000", "arbeidstid": "37,5 t"}
    with pytest.raises(BusinessError) as missing:
        contract_terms(_hire(arbeidssted="Skole"), cfg)
    assert "lønn (§ 14-6 første ledd j)" in str(missing.value)
    assert "arbeidstid (§ 14-6 første ledd k)" in str(missing.value)
    with pytest.raises(BusinessError, match="grunnlag for midlertidig"):
        contract_terms(_hire(**base, sluttdato="2026-12-31"), cfg)
    permanent = contract_terms(_hire(**base), cfg)
    assert permanent["provetid"].startswith("6 måneder") and permanent["skriftlig_innen_dager"] == 7
    assert permanent["tariffavtale"] and permanent["sosial_trygghet"] and permanent["oppsigelse"]
    # A 20-day summer job: written agreement at once (§ 14-5), probation at most half (§ 15-6).
    summer = contract_terms(_hire(**base, sluttdato="2026-08-20", midlertidig_grunnlag="x"), cfg)
    assert summer["skriftlig_innen_dager"] == 0 and summer["provetid"].startswith("Ingen prøvetid")
    # 182 days (2026-08-01..2027-01-30, five whole months): probation two months, not six.
    half = contract_terms(_hire(**base, sluttdato="2027-01-30", midlertidig_grunnlag="x"), cfg)
    assert half["provetid"].startswith("2 måneder") and half["skriftlig_innen_dager"] == 7
