"""The archive's OData $filter against Python's own string semantics (Hypothesis): whatever a
client searches for, quoted as the standard says, finds exactly what str methods find."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.archive.odata import ODataError, where
from tasks.noark5 import quoted

TITLES = ["Byggesak – Storgata 1", "byggesak 100%", "A_b\\c", "O'Neil's sak", "Ærlig ÅØ", ""]
FIELDS = {"tittel": "t.tittel", "klasse/klasseID": "t.klasse"}


@pytest.fixture(scope="module")
def db() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, tittel TEXT, klasse TEXT)")
    conn.executemany("INSERT INTO t (tittel, klasse) VALUES (?, ?)", [(x, x[:3]) for x in TITLES])
    return conn


def found(db: sqlite3.Connection, text: str) -> set[str]:
    condition, params = where(text, FIELDS)
    return {r[0] for r in db.execute(f"SELECT tittel FROM t WHERE {condition}", params)}


words = st.text(alphabet=st.sampled_from("Bbyg sak%_\\'ÆØÅæøå1–"), max_size=6)


@settings(max_examples=200, deadline=None)
@given(needle=words)
def test_text_functions_match_python(db: sqlite3.Connection, needle: str) -> None:
    literal = quoted(needle)
    assert found(db, f"startswith(tittel, {literal})") == {
        t for t in TITLES if t.startswith(needle)
    }
    assert found(db, f"endswith(tittel, {literal})") == {t for t in TITLES if t.endswith(needle)}
    assert found(db, f"contains(tittel, {literal})") == {t for t in TITLES if needle in t}
    assert found(db, f"tittel eq {literal}") == {t for t in TITLES if t == needle}
    assert found(db, f"not (tittel eq {literal})") == {t for t in TITLES if t != needle}


def test_unknown_fields_and_bad_syntax_are_refused_with_a_reason() -> None:
    with pytest.raises(ODataError, match="Kan ikke filtrere på passord"):
        where("passord eq 'x'", FIELDS)
    with pytest.raises(ODataError, match="Ugyldig"):
        where("tittel eq", FIELDS)
