"""Norwegian working days: weekdays that are not public holidays (`holidays`, country NO) and
not a day the municipality has configured as closed (e.g. 12-24)."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import holidays


class WorkingDays:
    def __init__(self, closed_days: list[str] | tuple[str, ...] = ()) -> None:
        self.closed_days = tuple(closed_days)

    @cached_property
    def _holidays(self) -> holidays.HolidayBase:
        import holidays  # on first use: the command line need not load the calendars

        return holidays.country_holidays("NO")

    def __getstate__(self) -> dict[str, object]:  # picklable for the scheduler's job store
        return {"closed_days": self.closed_days}

    def __setstate__(self, state: dict[str, object]) -> None:
        days = state["closed_days"]
        self.closed_days = tuple(days) if isinstance(days, tuple | list) else ()

    def holiday_name(self, day: date) -> str | None:
        return self._holidays.get(day)

    def is_working_day(self, day: date) -> bool:
        if day.weekday() >= 5 or day in self._holidays:
            return False
        return f"{day.month:02d}-{day.day:02d}" not in self.closed_days

    def on_or_before(self, day: date) -> date:
        """The latest working day not after `day` (a reminder due on a holiday goes out earlier)."""
        while not self.is_working_day(day):
            day -= timedelta(days=1)
        return day

    def on_or_after(self, day: date) -> date:
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def add(self, day: date, working_days: int) -> date:
        """`day` moved by a number of working days (negative: backwards)."""
        step = 1 if working_days >= 0 else -1
        remaining = abs(working_days)
        while remaining:
            day += timedelta(days=step)
            if self.is_working_day(day):
                remaining -= 1
        return day
