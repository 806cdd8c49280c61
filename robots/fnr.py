"""Norwegian fødselsnummer (national identity number): validation and masking.

Rules from Skatteetaten (see ../shared/domain.md §4): two mod-11 control digits, where from 2032
k1 may also be 12, 13 or 14 minus the remainder (so the weighted sum including k1 leaves remainder
0-3). D-numbers add 4 to the first digit, H-numbers add 40 to the month, synthetic test numbers add
40 (NAV) or 80 (Skatteetaten) to the month.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any, Literal

MaskForm = Literal["hash", "birth_date"]

_K1_WEIGHTS = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_K2_WEIGHTS = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)

# The ways people write a fødselsnummer: 11 digits; the birth date optionally with one
# separator between day, month and year (15.07.65, 15 07 65, 15-07-65, 15/07/65); between date
# and personal number nothing or up to three separators: space, no-break space, tab, line break,
# hyphen, dot, plus, or their URL encodings (%20, +, %2B, %2D, %09, %C2%A0). Invisible characters
# (zero-width space and joiners, word joiner, BOM, soft hyphen) may sit between any two digits:
# they survive a copy-paste and hide the number from a plain digit search. Never part of a
# longer digit run.
_INVISIBLE = "[\u200b\u200c\u200d\u2060\ufeff\u00ad]"
_GAP = f"{_INVISIBLE}*"
# URL escapes, with the invisible characters allowed inside them too (between their digits).
_ESCAPES = "|".join(
    _GAP.join(parts) for parts in (("%", "2", "0"), ("%", "2", "[bB]"), ("%", "2", "[dD]"),
                                   ("%", "0", "9"), ("%", "[cC]", "2", "%", "[aA]", "0"))
)
_SEPARATOR = rf"(?:[ \t\r\n\u00a0\u202f\u2007.+\-]|{_INVISIBLE}|{_ESCAPES})"


def _run(count: int) -> str:
    """`count` digits with invisible characters allowed between them."""
    return _GAP.join([r"\d"] * count)


_CANDIDATE = re.compile(
    rf"(?<!\d)(?P<date>{_run(2)}(?P<ds>[ ./\-]?){_GAP}{_run(2)}(?P=ds){_GAP}{_run(2)})"
    rf"(?P<sep>{_SEPARATOR}{{0,3}})(?P<tail>{_run(5)})(?!{_GAP}\d)"
)
# A number written as a float in scientific notation (a spreadsheet's or a JSON encoder's
# 1.5076500565e10): the mantissa's digits with the point moved.
_SCIENTIFIC = re.compile(r"(?<![\d.])\d\.\d{1,10}[eE]\+?10(?![\d.])")
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


def _digits(match: re.Match[str]) -> str:
    return re.sub(r"\D", "", _ESCAPE.sub("", match.group("date") + match.group("tail")))


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
    born = _birth_date(digits)
    if born is None:
        return "de seks første sifrene er ikke en gyldig dato"
    if born > date.today():  # not assigned yet (15076575077 would be born in 2065)
        return "fødselsdatoen er fram i tid"
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


# How a number is shown. "hash" (the default) hides it whole behind a short keyed hash, so an
# auditor can tell two numbers apart and nobody can read a birth date; "birth_date" keeps the
# date (010190*****). The key comes from the installation (robots.sealing) and never leaves the
# process; until it is installed a random one is used, so a tag is never an unkeyed hash.
_tag_key: bytes = secrets.token_bytes(32)
_form: MaskForm = "hash"
TAG_PREFIX = "fnr#"


def use_masking(tag_key: bytes, form: MaskForm) -> None:
    """Install the installation's tag key and mask form in this process."""
    global _tag_key, _form
    _tag_key, _form = tag_key, form


def tag(digits: str, length: int = 6) -> str:
    """The keyed hash of a number (11 digits): `fnr#3f9a12`; longer tags name it uniquely."""
    return TAG_PREFIX + hmac.new(_tag_key, digits.encode(), hashlib.sha256).hexdigest()[:length]


def mask_number(number: str) -> str:
    """The number as people may see it: `fnr#3f9a12`, or with the birth-date form 010190*****."""
    digits = re.sub(r"\D", "", number)
    if _form == "birth_date":
        return digits[:6] + "*" * max(0, len(digits) - 6)
    return tag(digits)


def looks_like_number(digits: str) -> bool:
    """True for 11 digits that are, or look like, a fødselsnummer: a plausible birth date
    (D-, H- and synthetic numbers included; a mistyped number is still personal data), or an
    FH-number (first digit 8 or 9, no date, valid check digits)."""
    if len(digits) != 11 or not digits.isdigit():
        return False
    if digits[0] in "89":
        return _check_digits_hold(digits)
    return _birth_date(digits) is not None


def _check_digits_hold(digits: str) -> bool:
    k1_sum = _weighted(digits[:9], _K1_WEIGHTS) + int(digits[9])
    k2 = (11 - _weighted(digits[:10], _K2_WEIGHTS) % 11) % 11
    return k1_sum % 11 in (0, 1, 2, 3) and k2 != 10 and k2 == int(digits[10])


def mask_text(text: str) -> str:
    """Mask every fødselsnummer-like number however it is written (see _CANDIDATE) or as a
    float in scientific notation: the whole match becomes its tag, or with the birth-date form
    the date part stays as written and the personal number becomes *****."""

    def shown(match: re.Match[str], digits: str) -> str:
        if _form == "birth_date" and "date" in match.groupdict():
            return match.group("date") + match.group("sep") + "*****"
        return mask_number(digits)

    return _replace_numbers(text, shown)


def tag_numbers(text: str, length: int) -> str:
    """Every fødselsnummer-like number replaced by its keyed tag of `length` hex digits,
    whatever the mask form (a stored reference: the same number, the same text)."""
    return _replace_numbers(text, lambda match, digits: tag(digits, length))


def _replace_numbers(text: str, how: Callable[[re.Match[str], str], str]) -> str:
    def candidate(match: re.Match[str]) -> str:
        digits = _digits(match)
        return how(match, digits) if looks_like_number(digits) else match.group(0)

    def scientific(match: re.Match[str]) -> str:
        digits = str(int(Decimal(match.group(0))))
        return how(match, digits) if looks_like_number(digits) else match.group(0)

    return _SCIENTIFIC.sub(scientific, _CANDIDATE.sub(candidate, text))


def find(text: str) -> list[str]:
    """The fødselsnummer-like numbers in a text, as written (for checks of public fields)."""
    return [m.group(0) for m in _CANDIDATE.finditer(text) if looks_like_number(_digits(m))]


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


class Fodselsnummer(str):
    """A validated fødselsnummer or D-number for a task's input model, shown masked.

    `class Input(BaseModel): fnr: Fodselsnummer` accepts 11 digits (spaces, dots and hyphens
    removed), refuses a wrong number with a masked reason, and refuses a number that came as a
    number (an Excel cell): its leading zero may be lost. `repr()` and `str()` in f-strings of
    the model show the masked form (a keyed hash such as `fnr#3f9a12`, or `010190*****` with
    `fnr_mask_form = "birth_date"`); `.digits` is the number itself, for the one place it is
    needed (a search in the target system)."""

    @property
    def digits(self) -> str:
        return str.__str__(self)

    def __repr__(self) -> str:
        return f"Fodselsnummer('{mask_number(self.digits)}')"

    def __str__(self) -> str:
        return mask_number(self.digits)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        return core_schema.no_info_plain_validator_function(
            cls._validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda v: v.digits if isinstance(v, Fodselsnummer) else v
            ),
            json_schema_input_schema=core_schema.str_schema(min_length=11, max_length=14),
        )

    @classmethod
    def _validate(cls, value: Any) -> Fodselsnummer:
        if isinstance(value, Fodselsnummer):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError(
                "kom som et tall, ikke tekst: formater kolonnen som tekst i Excel "
                "(et tall mister ledende null)"
            )
        if not isinstance(value, str):
            raise ValueError("må være tekst (11 siffer)")
        digits = re.sub(r"[\s.\-]", "", value)
        reason = check_reason(digits)
        if reason:
            raise ValueError(f"ugyldig fødselsnummer {mask_number(digits)}: {reason}")
        return cls(digits)
