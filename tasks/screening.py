"""Public titles (offentlig tittel) that never reveal a screened person.

The offentlig journal is published. A screened record or case (tilgangsrestriksjon set, e.g. P
personalsak, offentleglova § 13) never gets its title as public title: the public title is the
one given, or one made from a configured template per access code, with every fødselsnummer and
every screened word (the person's name) replaced by `*****` (Noark practice). Whatever the source,
every text for a public field is checked before it leaves the robot: a fødselsnummer, D-number or
screened word in it is a business error, and nothing is filed.

A name is matched as whole words, part by part ("Anne-Lise Berg": Anne, Lise, Berg), in the
genitive too (Nordmanns, Karis, Hans') and in any spelling of æ, ø, å (ae, o/oe, a/aa): "Berg"
screens "Bergs" but never "Bergen". Initials (one letter) are not matched. For a screened record
whose file names no skjermede_ord, a given public title is checked against the proper nouns of
the (non-public) title.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

from robots import fnr
from robots.tasks import BusinessError

SCREENED = "*****"
# A word as the screening sees it: letters and digits (æøå included), with a genitive
# apostrophe ("Nordmann's", "Hans'") taken along so it is screened with the name.
_WORD = re.compile(r"[^\W_]+(?:['’]s?)?")
_GENITIVE = re.compile(r"(?:['’]s?|s)$")


def fold(word: str) -> str:
    """One spelling for the ways a Norwegian name is written: case, accents and the
    transliterations of æ, ø and å (ae, o/oe, a/aa) fall together."""
    text = word.casefold().replace("æ", "ae").replace("ø", "o").replace("å", "a")
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return text.replace("aa", "a").replace("oe", "o")


def name_parts(words: Iterable[str]) -> set[str]:
    """The folded parts of the screened words: "Anne-Lise Berg" gives anne, lise and berg.
    A single letter (an initial) is left out: it names no one, and "å", "i" are words."""
    parts = set()
    for word in words:
        for part in _WORD.findall(word or ""):
            part = part.rstrip("'’")
            if len(part) >= 2:
                parts.add(fold(part))
    return parts


def _is_name(token: str, parts: set[str]) -> bool:
    """Whole words only: the part itself or its genitive (Nordmanns, Karis, Hans')."""
    folded = fold(token.rstrip("'’"))
    if folded in parts:
        return True
    bare = _GENITIVE.sub("", token)
    return bare != token and len(bare) >= 2 and fold(bare) in parts


def screen(text: str, words: Iterable[str]) -> str:
    """`text` with every fødselsnummer-like number and every screened word replaced."""
    for number in fnr.find(text):
        text = text.replace(number, SCREENED)
    parts = name_parts(words)
    text = _WORD.sub(lambda m: SCREENED if _is_name(m.group(), parts) else m.group(), text)
    return re.sub(r"\*{5}(?:[\s,.-]+\*{5})+", SCREENED, text).strip()


def names_in(text: str, words: Iterable[str]) -> bool:
    """Whether `text` holds a screened word, as a whole word in any of its forms."""
    parts = name_parts(words)
    return any(_is_name(m.group(), parts) for m in _WORD.finditer(text))


def proper_nouns(title: str) -> list[str]:
    """The words of a title that may be a person's name, for a screened record whose file
    says nothing about which words reveal the person: every capitalised word after the first
    (the first is capitalised anyway), not an abbreviation in capitals such as NAV."""
    words = [w.rstrip("'’") for w in _WORD.findall(title)]
    return [w for w in words[1:] if w[:1].isupper() and not w.isupper()]


def check_public(text: str, words: Iterable[str], field: str = "offentlig tittel") -> str:
    """Refuse a public text that holds a fødselsnummer, D-number or screened word."""
    if fnr.find(text):
        raise BusinessError(
            f"Den {field}en inneholder et fødselsnummer eller D-nummer; "
            "den publiseres i offentlig journal. Ingenting er arkivert."
        )
    if names_in(text, words):
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
        # Without skjermede_ord, the name is looked for among the title's proper nouns.
        return check_public(given.strip(), words or (proper_nouns(title) if restriction else []))
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
