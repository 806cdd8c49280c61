"""Fødselsnummer validation and masking (domain.md §4)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import date

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from robots import fnr
from robots.masking import mask, mask_text, register_secret


@contextmanager
def birth_date_form() -> Iterator[None]:
    """The optional form that keeps the birth date (010190*****) instead of the keyed hash."""
    before = fnr._form
    fnr._form = "birth_date"
    try:
        yield
    finally:
        fnr._form = before


def make(birth: date, individ: int, *, synthetic: bool = False) -> str:
    """The first valid number at or after an individnummer (some have no valid check digit)."""
    for candidate in range(individ, individ + 20):
        number = fnr.generate(birth, candidate, synthetic=synthetic)
        if number:
            return number
    raise AssertionError("no valid number")


def test_generated_numbers_validate_and_one_digit_off_does_not() -> None:
    number = make(date(1990, 1, 1), 123)
    assert number is not None and fnr.is_valid(number)
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert fnr.check_reason(wrong) == "feil kontrollsiffer"
    with pytest.raises(fnr.InvalidFodselsnummer) as caught:
        fnr.validate(wrong)
    # shown fully masked (no birth date), as the keyed hash of the number given
    assert number[:6] not in str(caught.value) and fnr.tag(wrong) in str(caught.value)


def test_synthetic_number() -> None:
    # Skatteetaten synthetic number (month + 80) built by the generator
    synthetic = make(date(1985, 6, 15), 400, synthetic=True)
    assert synthetic and synthetic[2:4] == "86" and fnr.is_valid(synthetic)


def test_d_number_and_h_number() -> None:
    d_numbers = [_with_check_digits(f"450370{i:03d}") for i in range(250, 280)]
    h_numbers = [_with_check_digits(f"054370{i:03d}") for i in range(250, 280)]
    d_number = next(n for n in d_numbers if n)
    h_number = next(n for n in h_numbers if n)
    assert fnr.is_valid(d_number) and fnr.is_valid(h_number)
    assert fnr.check_reason(f"720370{d_number[6:]}") is not None  # day 32 is no date
    assert mask_text(f"D-nummer {d_number}") == f"D-nummer {fnr.tag(d_number)}"
    with birth_date_form():
        assert mask_text(f"D-nummer {d_number}") == "D-nummer 450370*****"


def _with_check_digits(nine: str) -> str | None:
    w1, w2 = (3, 7, 6, 1, 8, 9, 4, 5, 2), (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
    k1 = (11 - sum(int(d) * w for d, w in zip(nine, w1, strict=False)) % 11) % 11
    if k1 == 10:
        return None
    ten = nine + str(k1)
    k2 = (11 - sum(int(d) * w for d, w in zip(ten, w2, strict=False)) % 11) % 11
    return None if k2 == 10 else ten + str(k2)


def test_2032_rule_accepts_k1_with_remainder_up_to_3() -> None:
    nine = "010190123"
    w1, w2 = (3, 7, 6, 1, 8, 9, 4, 5, 2), (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
    found = []
    for k1 in range(10):
        remainder = (sum(int(d) * w for d, w in zip(nine, w1, strict=False)) + k1) % 11
        ten = nine + str(k1)
        k2 = (11 - sum(int(d) * w for d, w in zip(ten, w2, strict=False)) % 11) % 11
        if k2 == 10:
            continue
        found.append((remainder, fnr.is_valid(ten + str(k2))))
    assert all(valid == (remainder in (0, 1, 2, 3)) for remainder, valid in found)
    assert any(valid and remainder > 0 for remainder, valid in found)  # a 2032-only number


def test_masking_in_text_structures_and_secrets() -> None:
    number = make(date(1990, 1, 1), 123)
    text = f"Ansatt {number} og {number[:6]} {number[6:]}, ordre 99999999999, tlf 12345678901234"
    masked = mask_text(text)
    assert number[:6] not in masked and masked.count(fnr.tag(number)) == 2
    assert "99999999999" in masked  # not a date: not personal data
    with birth_date_form():
        masked = mask_text(text)
        assert number not in masked and masked.count("010190*****") == 1
        assert masked.count("010190 *****") == 1  # the separator stays as written
    register_secret("hemmelig-passord-42")
    data = {"note": "pw hemmelig-passord-42", "password": "abc", "nested": [number, int(number)]}
    shown = mask(data)
    # int(number) lost its leading zero: 10 digits are not a fødselsnummer and stay an int
    assert shown == {"note": "pw ***", "password": "***", "nested": [fnr.tag(number), int(number)]}
    assert mask_text("postgresql://rpa:topsecret@db/rpa") == "postgresql://rpa:***@db/rpa"
    assert mask_text("token=abcdef123") == "token=***"


# Property-based: every kind of number, written every way people write it, is masked.

WEIGHTS_1, WEIGHTS_2 = (3, 7, 6, 1, 8, 9, 4, 5, 2), (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
SEPARATORS = ["", " ", "  ", "\u00a0", "\t", "-", ".", "+", "%20", "%2B", " - "]


def _complete(nine: str, *, rule_2032: bool = False) -> str | None:
    """Add the control digits, computed here independently of robots.fnr."""
    total = sum(int(d) * w for d, w in zip(nine, WEIGHTS_1, strict=True))
    k1 = (11 - total % 11) % 11
    if rule_2032:  # 2032: k1 may leave remainder 1, 2 or 3 as well (Skatteetaten)
        options = [k for k in range(10) if (total + k) % 11 in (1, 2, 3)]
        if not options:
            return None
        k1 = options[0]
    elif k1 == 10:
        return None
    ten = nine + str(k1)
    k2 = (11 - sum(int(d) * w for d, w in zip(ten, WEIGHTS_2, strict=True)) % 11) % 11
    return None if k2 == 10 else ten + str(k2)


@st.composite
def numbers(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["fnr", "d", "h", "nav", "skatt", "fh", "2032"]))
    if kind == "fh":
        nine = draw(st.sampled_from("89")) + draw(st.from_regex(r"\A[0-9]{8}\Z"))
    else:
        birth = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(2039, 12, 31)))
        day, month = birth.day, birth.month
        day += 40 if kind == "d" else 0
        month += {"h": 40, "nav": 40, "skatt": 80}.get(kind, 0)
        individ = draw(st.integers(0, 999))
        nine = f"{day:02d}{month:02d}{birth.year % 100:02d}{individ:03d}"
    number = _complete(nine, rule_2032=kind == "2032")
    assume(number is not None)
    assert number is not None
    return number


@settings(max_examples=400, deadline=None)
@given(number=numbers(), separator=st.sampled_from(SEPARATORS), dotted=st.booleans())
def test_every_kind_and_every_way_of_writing_is_masked(
    number: str, separator: str, dotted: bool
) -> None:
    written_date = f"{number[:2]}.{number[2:4]}.{number[4:6]}" if dotted else number[:6]
    written = f"{written_date}{separator}{number[6:]}"
    for form, hidden in (
        ("hash", fnr.tag(number)),
        ("birth_date", f"{written_date}{separator}*****"),
    ):
        with birth_date_form() if form == "birth_date" else nullcontext():
            for text in (f"Ansatt {written} er syk", f"{written}", f"q={written}&x=1"):
                assert mask_text(text) == text.replace(written, hidden)
            assert mask({written: 1}) == {hidden: 1}  # as a key
            assert mask(f"fnr={written}".encode()) == f"fnr={hidden}".encode()  # inside bytes
            if number[0] != "0":  # as an 11-digit integer
                assert mask(int(number)) == (
                    fnr.tag(number) if form == "hash" else f"{number[:6]}*****"
                )


@settings(max_examples=200, deadline=None)
@given(value=st.integers(min_value=10**9, max_value=10**10 - 1))
def test_ten_digit_numbers_stay_numbers(value: int) -> None:
    assert mask(value) == value and isinstance(mask(value), int)
    assert mask({"ordre": value}) == {"ordre": value}


def test_fodselsnummer_type_for_task_inputs() -> None:
    from pydantic import BaseModel

    from robots.fnr import Fodselsnummer
    from robots.tasks import InvalidPayload, Task

    class Input(BaseModel):
        fnr: Fodselsnummer

    number = make(date(1965, 7, 15), 5)
    task = Task("t", lambda ctx, data: None, Input)
    given = task.validate({"fnr": f"{number[:6]} {number[6:]}"})
    assert given.fnr.digits == number  # type: ignore[attr-defined]
    assert number not in repr(given) and number not in f"{given.fnr}"
    assert given.model_dump(mode="json") == {"fnr": number}  # stored as the number
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    with pytest.raises(InvalidPayload) as refused:
        task.validate({"fnr": wrong})
    assert wrong not in str(refused.value) and "feil kontrollsiffer" in str(refused.value)
    with pytest.raises(InvalidPayload, match="formater kolonnen som tekst"):
        task.validate({"fnr": int(number)})
