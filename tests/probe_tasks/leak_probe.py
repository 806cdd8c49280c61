"""A browser task that puts personal data and the password everywhere evidence could catch it:
a login POST, a search URL with a fødselsnummer, a form post with one, and a page listing 50
numbers in a table and in free text; then it fails, so the runtime keeps its evidence."""

from __future__ import annotations

from datetime import date, timedelta

from pydantic import BaseModel, ConfigDict

from robots import fnr
from robots.context import RunContext
from robots.tasks import task

SEPARATORS = ["", " ", "-", ".", "\u00a0", "  ", "+"]


def numbers(count: int = 50) -> list[str]:
    found: list[str] = []
    birth = date(1960, 1, 3)
    individ = 100
    while len(found) < count:
        number = fnr.generate(birth, individ)
        if number:
            found.append(number)
        birth += timedelta(days=97)
        individ = (individ + 37) % 500
    return found


def list_page(values: list[str]) -> str:
    """25 numbers in a table column, 25 in running text, written in different ways."""
    rows = "".join(
        f"<tr><td>Ansatt {i}</td><td class='nr'>{n}</td><td>Enhet {i % 4}</td></tr>"
        for i, n in enumerate(values[:25])
    )
    text = " ".join(
        f"Sak {i} gjelder {n[:6]}{SEPARATORS[i % len(SEPARATORS)]}{n[6:]} og er åpen."
        for i, n in enumerate(values[25:])
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><style>"
        "body{font:16px sans-serif;margin:20px} td{padding:2px 12px}</style></head><body>"
        f"<h1>Liste</h1><table>{rows}</table><p id='fritekst'>{text}</p></body></html>"
    )


class LeakInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fnr: str


@task("leak_probe", input=LeakInput, systems=("hr",), max_attempts=1)
def leak_probe(ctx: RunContext, data: LeakInput) -> None:
    """Logs in, searches and posts with a fødselsnummer, shows a list of 50, then fails."""
    hr = ctx.open("hr")
    with ctx.step("Søk"):
        hr.goto(f"/ansatte?q={data.fnr}")
    with ctx.step("Send skjema"):
        hr.page.evaluate(
            """(nr) => fetch('/ansatte/1/it-tilgang', {method: 'POST',
                 headers: {'content-type': 'application/x-www-form-urlencoded'},
                 body: 'fodselsnummer=' + nr + '&systemer=epost'})""",
            data.fnr,
        )
    with ctx.step("Vis liste"):
        hr.page.set_content(list_page(numbers()))
        raise RuntimeError("Simulert feil på listesiden")
