"""Public titles of screened records (issue 16 §2): the leaking example, the rules, the checks."""

from __future__ import annotations

import pytest

from robots.tasks import BusinessError
from tasks.screening import check_public, public_title, screen

TEMPLATES = {"P": "Personalsak", "default": "{skjermet_tittel}"}
LEAK = "Legeerklæring Kari Nordmann 150765 00565"


def test_the_leaking_example_gets_a_neutral_public_title() -> None:
    title = public_title(LEAK, given="", restriction="P", words=[], templates=TEMPLATES)
    assert title == "Personalsak"


def test_screened_words_and_numbers_are_replaced_in_a_template_title() -> None:
    made = public_title(
        "Klage fra Ola Hansen (150765-00565) på vedtak",
        given="",
        restriction="U",
        words=["Ola Hansen"],
        templates=TEMPLATES,
    )
    assert made == "Klage fra ***** (*****) på vedtak"
    assert screen("Hansen, Ola: 15.07.65 00565", ["Ola Hansen"]) == "*****: *****"


def test_no_safe_public_title_is_a_business_error() -> None:
    with pytest.raises(BusinessError, match="skjermede_ord"):
        public_title(LEAK, given="", restriction="U", words=[], templates=TEMPLATES)
    with pytest.raises(BusinessError, match="ingen mal"):
        public_title(LEAK, given="", restriction="X", words=[], templates={"P": "Personalsak"})


@pytest.mark.parametrize(
    "given",
    [
        "Legeerklæring 150765 00565",
        "Legeerklæring 15076500565",
        "Legeerklæring for Kari Nordmann",
        "Legeerklæring for nordmann",
        "Legeerklæring 550765 00565",  # a D-number shape
    ],
)
def test_a_given_public_title_that_reveals_the_person_is_refused(given: str) -> None:
    with pytest.raises(BusinessError, match="offentlig journal"):
        public_title(
            LEAK, given=given, restriction="P", words=["Kari Nordmann"], templates=TEMPLATES
        )


def test_an_unscreened_title_is_checked_too() -> None:
    with pytest.raises(BusinessError, match="fødselsnummer"):
        public_title(LEAK, given="", restriction="", words=[], templates=TEMPLATES)
    assert public_title("Søknad om garasje", given="", restriction="", words=[], templates={}) == (
        "Søknad om garasje"
    )
    assert check_public("Arbeidsavtale", ["Kari Nordmann"]) == "Arbeidsavtale"
