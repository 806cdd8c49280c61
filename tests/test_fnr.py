"""Fødselsnummer validation and masking (domain.md §4)."""

from __future__ import annotations

from datetime import date

import pytest

from robots import fnr
from robots.masking import mask, mask_text, register_secret


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
    assert number not in str(caught.value) and f"{number[:6]}*****" in str(caught.value)


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
    assert number not in masked and masked.count("010190*****") == 2
    assert "99999999999" in masked  # not a date: not personal data
    register_secret("hemmelig-passord-42")
    data = {"note": "pw hemmelig-passord-42", "password": "abc", "nested": [number, int(number)]}
    shown = mask(data)
    assert shown == {"note": "pw ***", "password": "***", "nested": ["010190*****", "010190*****"]}
    assert mask_text("postgresql://rpa:topsecret@db/rpa") == "postgresql://rpa:***@db/rpa"
    assert mask_text("token=abcdef123") == "token=***"
