"""What the written arbeidsavtale says, item by item, as the law asks it.

aml. § 14-6 first paragraph (as amended from 1 July 2024) lists the minimum content by letter;
config/onboarding.yaml (`contract.items`) names each letter, its heading and where its text
comes from: the HR system (per employee), the municipality's standard terms, or a rule computed
here (probation, aml. § 15-6 first paragraph; pauses, aml. § 10-9 first paragraph). The numbers
of those rules live in config with their legal source, so a municipality can correct them.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta

from robots.tasks import BusinessError

MONTHS = [
    "januar",
    "februar",
    "mars",
    "april",
    "mai",
    "juni",
    "juli",
    "august",
    "september",
    "oktober",
    "november",
    "desember",
]


def norwegian_date(day: date) -> str:
    """A date as Norwegian text writes it: 6. januar 2026."""
    return f"{day.day}. {MONTHS[day.month - 1]} {day.year}"


def hours(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".").replace(".", ",")


def probation(start: date, end: date | None, rule: dict[str, Any]) -> str:
    """aml. § 15-6 (1): at most `max_months` months, and for a fixed term at most half its
    length. Stated in whole months, as the law states it: half the employment's whole calendar
    months, rounded down (a term under two months gets none)."""
    limit = int(rule["max_months"])
    months = limit
    if end is not None:  # whole calendar months of the employment, halved, rounded down
        span = relativedelta(end + timedelta(days=1), start)
        months = min(limit, (span.years * 12 + span.months) // 2)
    if months == 0:
        return (
            "Ingen prøvetid (halvparten av ansettelsens varighet er under én måned; "
            f"{rule['source']})"
        )
    last = start + relativedelta(months=months) - timedelta(days=1)
    unit = "måned" if months == 1 else "måneder"
    return f"{months} {unit}, til og med {norwegian_date(last)} ({rule['source']})"


_WEEKLY = re.compile(r"(\d+(?:[.,]\d+)?)\s*timer\s+(?:per|pr\.?|i)\s+uke", re.IGNORECASE)


def pauses(working_time: str, rule: dict[str, Any]) -> str:
    """aml. § 10-9 (1): a pause when the daily working time is more than `pause_over_hours`,
    together at least `long_day_minutes` minutes when it is `long_day_hours` or more. The daily
    time is the weekly time from the HR system over `days_per_week`; the municipality's own
    pause length (`minutes`) applies where the law sets none."""
    found = _WEEKLY.search(working_time)
    over, long_day = float(rule["pause_over_hours"]), float(rule["long_day_hours"])
    law = (
        f"{rule['source']}: pause når den daglige arbeidstiden er over {hours(over)} timer, til "
        f"sammen minst {rule['long_day_minutes']} minutter når den er {hours(long_day)} timer "
        "eller mer"
    )
    if not found:
        return f"Pauser etter arbeidsplanen ({law})"
    daily = float(found.group(1).replace(",", ".")) / float(rule["days_per_week"])
    if daily <= over:
        return f"Ingen rett til pause ved daglig arbeidstid på {hours(daily)} timer ({law})"
    minutes = int(rule["minutes"])
    if daily >= long_day:
        minutes = max(minutes, int(rule["long_day_minutes"]))
    return f"Pause på minst {minutes} minutter per arbeidsdag på {hours(daily)} timer ({law})"


def items(values: dict[str, list[str]], config_items: list[dict[str, str]]) -> list[dict[str, Any]]:
    """The contract's sections in the order of config `contract.items`, each with its legal
    source; an item whose text is missing is a business error (nothing is sent unfinished)."""
    sections = []
    for item in config_items:
        lines = [line for line in values.get(item["felt"], []) if line]
        if not lines:
            raise BusinessError(
                f"Arbeidsavtalen mangler «{item['overskrift']}» ({item['kilde']}); sjekk "
                "personalsystemet og config/onboarding.yaml. Arbeidsavtalen er ikke laget."
            )
        sections.append({**item, "lines": lines})
    return sections
