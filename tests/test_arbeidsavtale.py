"""The arbeidsavtale against the law's text (issue 25, points 4 to 7).

aml. § 14-6 (1) lists what the written agreement must say; § 10-9 (1) the pauses; § 15-6 (1)
the probation. Each test quotes the rule it checks.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import pypdf
import pytest
from pypdf.generic import DictionaryObject, NameObject, TextStringObject

from tasks import arbeidsavtale as avtale
from tasks.documents import html_to_pdfa
from tasks.onboarding import config, contract_html, contract_sections, contract_terms
from tests.pdfa_check import pdfa_2b_problems

HR_TERMS = {
    "arbeidssted": "Eksempel skole, Skoleveien 2, 4001 Eksempel",
    "arbeidstid": "37,5 timer per uke",
    "lonn": "Lønnstrinn 45, kr 520 000 per år",
}


def employee(**terms: str) -> dict[str, Any]:
    return {
        "id": 7,
        "name": "Kari Nordmann",
        "fnr": "15076500565",
        "unit": "Eksempel skole",
        "title": "Lærer",
        "start_date": "2026-01-06",
        "terms": {**HR_TERMS, **terms},
    }


def sections(**terms: str) -> dict[str, str]:
    cfg = config()["contract"]
    person = employee(**terms)
    made = contract_sections(person, contract_terms(person, cfg), cfg)
    return {s["kilde"]: " ".join(s["lines"]) for s in made}


# aml. § 14-6 (1) as amended from 1 July 2024, letter by letter: what each must at least say.
LETTERS = {
    "a": ["Eksempel kommune", "organisasjonsnummer", "Rådhusgata 1", "Kari Nordmann"],
    "b": ["Skoleveien 2"],  # arbeidsplassen
    "c": ["Lærer"],  # stilling
    "d": ["6. januar 2026"],  # tidspunktet for arbeidsforholdets begynnelse
    "e": ["Fast ansettelse"],
    "f": ["bemanningsforetak"],  # innleievirksomhetene
    "g": ["6 måneder"],  # prøvetid
    "h": ["ferie", "permisjon med lønn"],  # ferie, and annet fravær betalt av arbeidsgiver
    "i": ["Oppsigelsesfrist", "Oppsigelse skal være skriftlig"],  # frister og fremgangsmåte
    "j": ["kr 520 000", "Tillegg", "Utbetaling"],  # lønn, tillegg, utbetaling, angitt særskilt
    "k": ["37,5 timer per uke"],  # arbeidstid
    "l": ["Vaktendringer", "overtidstillegg"],  # vaktendringer, arbeid utover avtalt tid, betaling
    "m": ["30 minutter"],  # lengde av pauser
    "n": ["særlig arbeidstidsordning"],  # aml. § 10-2 andre til fjerde ledd
    "o": ["opplæring"],  # kompetanseutvikling
    "p": ["KLP"],  # ytelser til sosial trygghet, institusjoner som mottar innbetalinger
    "q": ["Hovedtariffavtalen", "tariffpartene"],  # tariffavtaler og hvem tariffpartene er
}


def test_the_contract_says_everything_aml_14_6_first_paragraph_asks() -> None:
    made = sections()
    assert list(made) == [f"aml. § 14-6 første ledd bokstav {x}" for x in LETTERS]
    for letter, needed in LETTERS.items():
        text = made[f"aml. § 14-6 første ledd bokstav {letter}"]
        for word in needed:
            assert word in text, (letter, word, text)


def test_a_fixed_term_contract_gives_its_end_and_ground() -> None:
    # § 14-6 (1) e: «forventet varighet dersom arbeidsforholdet er midlertidig, samt grunnlaget»
    made = sections(sluttdato="2026-06-30", midlertidig_grunnlag="Vikariat")
    text = made["aml. § 14-6 første ledd bokstav e"]
    assert "30. juni 2026" in text and "Vikariat" in text


RULE_10_9 = config()["contract"]["pause"]


@pytest.mark.parametrize(
    ("working_time", "expected"),
    [
        # aml. § 10-9 (1): «Arbeidstakeren skal ha minst en pause dersom den daglige
        # arbeidstiden overstiger 5,5 timer. Pausene skal til sammen være minst 30 minutter
        # dersom den daglige arbeidstiden er minst 8 timer.»
        ("37,5 timer per uke", "Pause på minst 30 minutter per arbeidsdag på 7,5 timer"),
        ("28,1 timer per uke (75 %)", "Pause på minst 30 minutter per arbeidsdag på 5,62"),
        ("40 timer per uke", "Pause på minst 30 minutter per arbeidsdag på 8 timer"),
        ("27,5 timer per uke", "Ingen rett til pause ved daglig arbeidstid på 5,5 timer"),
    ],
)
def test_pauses_follow_aml_10_9_first_paragraph(working_time: str, expected: str) -> None:
    assert avtale.pauses(working_time, RULE_10_9).startswith(expected)


def test_a_long_day_gets_30_minutes_even_when_the_municipality_gives_less() -> None:
    rule = {**RULE_10_9, "minutes": 20}
    assert avtale.pauses("37,5 timer per uke", rule).startswith("Pause på minst 20 minutter")
    assert avtale.pauses("40 timer per uke", rule).startswith("Pause på minst 30 minutter")


RULE_15_6 = config()["contract"]["probation"]


@pytest.mark.parametrize(
    ("end", "expected"),
    [
        # aml. § 15-6 (1): «Prøvetiden kan ikke overstige seks måneder. Ved midlertidig
        # ansettelse kan prøvetiden ikke overstige halvparten av ansettelsens varighet.»
        (None, "6 måneder, til og med 31. januar 2027"),
        ("2027-07-31", "6 måneder"),  # a year: half is six months
        ("2027-01-30", "2 måneder, til og med 30. september 2026"),  # 182 days: half is 91
        ("2026-09-30", "1 måned, til og med 31. august 2026"),
        ("2026-08-20", "Ingen prøvetid"),  # 20 days: half is under a month
    ],
)
def test_probation_follows_aml_15_6_first_paragraph(end: str | None, expected: str) -> None:
    start = date(2026, 8, 1)
    made = avtale.probation(start, date.fromisoformat(end) if end else None, RULE_15_6)
    assert made.startswith(expected)
    if end and "til og med" in made:  # the probation ends within the employment
        printed = made.split("til og med ")[1].split(" (")[0]
        day, month, year = printed.split(" ")
        last = date(int(year), avtale.MONTHS.index(month) + 1, int(day.rstrip(".")))
        assert start < last < date.fromisoformat(end)


def test_the_document_hr_sends_is_pdfa_signed_by_both_and_dated_in_norwegian(
    tmp_path: Path,
) -> None:
    person = employee()
    terms = contract_terms(person, config()["contract"])
    html = contract_html(person, terms, date(2026, 1, 6))
    path = tmp_path / "arbeidsavtale.pdf"
    html_to_pdfa(html, path, title="Arbeidsavtale")
    assert pdfa_2b_problems(path) == []
    text = " ".join(p.extract_text() for p in pypdf.PdfReader(str(path)).pages)
    text = re.sub(r"\s+", " ", text)
    assert "Eksempel, 6. januar 2026" in text
    assert "For arbeidsgiver, Eksempel kommune" in text and "Arbeidstaker, Kari Nordmann" in text
    assert text.count("____") >= 2  # a line for each party's signature
    assert not re.search(r"\d{2}\.\d{2}\.\d{4}|\d{4}-\d{2}-\d{2}", text)  # no other date forms
    assert "robot" not in text.casefold() and "Generert" not in text


def test_the_pdfa_check_finds_what_is_wrong(tmp_path: Path) -> None:
    # A check that cannot fail proves nothing: a plain PDF fails it for the right reasons.
    path = tmp_path / "plain.pdf"
    writer = pypdf.PdfWriter()
    writer.add_blank_page(100, 100)
    js = DictionaryObject(
        {NameObject("/S"): NameObject("/JavaScript"), NameObject("/JS"): TextStringObject("1")}
    )
    writer._root_object[NameObject("/OpenAction")] = js
    writer.encrypt("", "owner")
    with path.open("wb") as out:
        writer.write(out)
    problems = " | ".join(pdfa_2b_problems(path))
    for expected in ("encrypted", "pdfaid:part", "GTS_PDFA1"):
        assert expected in problems


def test_the_contracts_public_title_screens_only_what_the_law_requires() -> None:
    # fvl. § 13 (2): «Som personlige forhold regnes ikke opplysninger om ... yrke ... og
    # arbeidssted»: that a named person is employed is no ground under offl. § 13 to hide it.
    from robots.tasks import BusinessError
    from tasks.onboarding import contract_public_title

    archive = config()["archive"]
    # The shipped config chooses a neutral title (the law would allow the name): the name is
    # refused in it, like any screened word.
    assert contract_public_title(archive, "Kari Nordmann") == "Arbeidsavtale"
    assert archive["arbeidsavtale_skjermingshjemmel"].startswith("Offl. § 26 femte ledd")
    named = {
        **archive,
        "arbeidsavtale_navn_offentlig": True,
        "arbeidsavtale_offentlig_tittel": "Arbeidsavtale – {name}",
    }
    assert contract_public_title(named, "Kari Nordmann") == "Arbeidsavtale – Kari Nordmann"
    with pytest.raises(BusinessError, match="fødselsnummer"):  # never a number, whatever
        contract_public_title(named, "Kari 15076500565")
    neutral = {**archive, "arbeidsavtale_offentlig_tittel": "Arbeidsavtale – {name}"}
    with pytest.raises(BusinessError, match="navnet"):
        contract_public_title(neutral, "Kari Nordmann")
    neutral["arbeidsavtale_offentlig_tittel"] = "Arbeidsavtale"
    assert contract_public_title(neutral, "Kari Nordmann") == "Arbeidsavtale"
