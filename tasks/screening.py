"""Public titles (offentlig tittel) that never reveal a screened person.

The offentlig journal is published. A screened record or case (tilgangsrestriksjon set, e.g. P
personalsak, offentleglova § 13) never gets its title as public title: the public title is the
one given, or one made from a configured template per access code, with every fødselsnummer and
every screened word (the person's name) replaced by `*****` (Noark practice). Whatever the source,
every text for a public field is checked before it leaves the robot: a fødselsnummer, D-number or
screened word in it is a business error, and nothing is filed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from robots import fnr
from robots.tasks import BusinessError

SCREENED = "*****"


def screen(text: str, words: Iterable[str]) -> str:
    """`text` with every fødselsnummer-like number and every screened word replaced."""
    for number in fnr.find(text):
        text = text.replace(number, SCREENED)
    for word in sorted({w.strip() for w in words if w and w.strip()}, key=len, reverse=True):
        text = re.sub(re.escape(word), SCREENED, text, flags=re.IGNORECASE)
        for part in word.split():  # "Kari Nordmann" also as "Nordmann" or "Kari"
            if len(part) >= 3:
                text = re.sub(rf"\b{re.escape(part)}\b", SCREENED, text, flags=re.IGNORECASE)
    return re.sub(r"\*{5}(?:[\s,.-]+\*{5})+", SCREENED, text).strip()


def check_public(text: str, words: Iterable[str], field: str = "offentlig tittel") -> str:
    """Refuse a public text that holds a fødselsnummer, D-number or screened word."""
    if fnr.find(text):
        raise BusinessError(
            f"Den {field}en inneholder et fødselsnummer eller D-nummer; "
            "den publiseres i offentlig journal. Ingenting er arkivert."
        )
    lowered = text.casefold()
    for word in words:
        parts = [word.strip(), *(p for p in word.split() if len(p) >= 3)]
        if any(p and re.search(rf"\b{re.escape(p.casefold())}\b", lowered) for p in parts):
            raise BusinessError(
                f"Den {field}en inneholder navnet på personen saken gjelder; den publiseres i "
                "offentlig journal. Ingenting er arkivert."
            )
    return text


def public_title(
    title: str,
    *,
    given: str,
    restriction: str,
    words: Iterable[str],
    templates: Mapping[str, str],
) -> str:
    """The public title for a record or case (see the module docstring)."""
    words = [w for w in words if w and w.strip()]
    if given.strip():
        return check_public(given.strip(), words)
    if not restriction:
        return check_public(
            title, words, field="tittel (offentlig fordi dokumentet ikke er skjermet)"
        )
    template = templates.get(restriction, templates.get("default", ""))
    if not template:
        raise BusinessError(
            f"Det finnes ingen mal for offentlig tittel for tilgangskode {restriction}; "
            "oppgi offentlig_tittel. Ingenting er arkivert."
        )
    if "{skjermet_tittel}" in template and not words:
        raise BusinessError(
            "Dokumentet er skjermet, men roboten vet ikke hvilke ord i tittelen som avslører "
            "personen: oppgi offentlig_tittel eller skjermede_ord i sidefilen. Ingenting er "
            "arkivert."
        )
    made = template.format(skjermet_tittel=screen(title, words)).strip()
    return check_public(made, words)
