"""Norwegian fødselsnummer (national identity number): validation and masking.

Rules from Skatteetaten (see ../shared/domain.md §4): two mod-11 control digits, where from 2032
k1 may also be 12, 13 or 14 minus the remainder (so the weighted sum including k1 leaves remainder
0-3). D-numbers add 4 to the first digit, H-numbers add 40 to the month, synthetic test numbers add
40 (NAV) or 80 (Skatteetaten) to the month.
"""

from __future__ import annotations

import re
from datetime import date

_K1_WEIGHTS = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_K2_WEIGHTS = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)

# 11 digits, optionally written as 6 + space + 5, not part of a longer digit run.
_CANDIDATE = re.compile(r"(?<!\d)(\d{6})[ ]?(\d{5})(?!\d)")


class InvalidFodselsnummer(ValueError):
    """Raised with a plain reason when a number is not a valid fødselsnummer."""


def _birth_date(digits: str) -> date | None:
    """The birth date encoded in the first six digits, allowing D/H/synthetic offsets."""
    day, month, year = int(digits[0:2]), int(digits[2:4]), int(digits[4:6])
    if day > 40:  # D-nummer
        day -= 40
    if month > 80:  # Skatteetaten synthetic
        month -= 80
    elif month > 40:  # H-nummer or NAV synthetic
        month -= 40
    individ = int(digits[6:9])
    # Century from the individnummer ranges; for a plausibility check any valid century will do.
    for century in _centuries(individ, year):
        try:
            return date(century + year, month, day)
        except ValueError:
            continue
    return None


def _centuries(individ: int, year: int) -> list[int]:
    if individ <= 499:
        return [1900]
    if individ <= 749 and year >= 54:
        return [1800]
    if individ >= 900 and year >= 40:
        return [1900]
    return [2000]


def _weighted(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=False))


def check_reason(number: str) -> str | None:
    """None if `number` is a valid fødselsnummer or D-number, else the reason in Norwegian."""
    digits = number.replace(" ", "")
    if not digits.isdigit() or len(digits) != 11:
        return "må være 11 siffer"
    if _birth_date(digits) is None:
        return "de seks første sifrene er ikke en gyldig dato"
    # k1: old rule (remainder of the sum including k1 is 0) or the 2032 rule (remainder 0..3).
    k1_sum = _weighted(digits[:9], _K1_WEIGHTS) + int(digits[9])
    if k1_sum % 11 not in (0, 1, 2, 3):
        return "feil kontrollsiffer"
    k2 = (11 - _weighted(digits[:10], _K2_WEIGHTS) % 11) % 11
    if k2 == 10 or k2 != int(digits[10]):
        return "feil kontrollsiffer"
    return None


def is_valid(number: str) -> bool:
    return check_reason(number) is None


def validate(number: str) -> str:
    """Return the 11 digits of a valid number, or raise InvalidFodselsnummer (message masked)."""
    reason = check_reason(number)
    if reason:
        raise InvalidFodselsnummer(f"Ugyldig fødselsnummer {mask_number(number)}: {reason}")
    return number.replace(" ", "")


def mask_number(number: str) -> str:
    """Keep the birth date, hide the personal part: 010190*****."""
    digits = re.sub(r"\D", "", number)
    return digits[:6] + "*" * max(0, len(digits) - 6)


def mask_text(text: str) -> str:
    """Mask every 11-digit run that is, or looks like, a fødselsnummer.

    Valid numbers are masked, and so are numbers that only fail the check digits but carry a
    plausible birth date: a mistyped fødselsnummer is still personal data.
    """

    def replace(match: re.Match[str]) -> str:
        digits = match.group(1) + match.group(2)
        if _birth_date(digits) is None:
            return match.group(0)
        return match.group(1) + "*****"

    return _CANDIDATE.sub(replace, text)


def generate(birth: date, individ: int, *, synthetic: bool = False) -> str | None:
    """A valid number (old rule) for a birth date and individnummer, or None if none exists.

    Used by the sandbox to seed deterministic fake employees; synthetic numbers add 80 to the month.
    """
    month = birth.month + (80 if synthetic else 0)
    base = f"{birth.day:02d}{month:02d}{birth.year % 100:02d}{individ:03d}"
    k1 = (11 - _weighted(base, _K1_WEIGHTS) % 11) % 11
    if k1 == 10:
        return None
    base += str(k1)
    k2 = (11 - _weighted(base, _K2_WEIGHTS) % 11) % 11
    if k2 == 10:
        return None
    return base + str(k2)
