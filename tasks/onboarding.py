"""Onboarding (nyansatt): find new hires, then for each: arbeidsavtale as PDF filed in the
personnel case (screened), IT access ordered, checklist ticked, manager told what is still open.

Every action looks before it acts, keyed by the employee, so a re-run after a crash at any step
files nothing twice and mails nothing twice.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, StrictUndefined
from pydantic import BaseModel, ConfigDict, Field

from robots import fnr
from robots.context import RunContext
from robots.runtime import SystemSession
from robots.settings import ROOT
from robots.tasks import BusinessError, task
from tasks.noark import (
    ArchiveApi,
    Registration,
    file_record,
    find_or_create_case,
    stable_document,
)


@lru_cache(maxsize=1)
def config() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "config" / "onboarding.yaml").read_text(encoding="utf-8"))


class FindNewHiresInput(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OnboardingInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    employee_id: int = Field(ge=1, description="Ansattnummer i personalsystemet")


@task("onboarding.find_new_hires", input=FindNewHiresInput, systems=("hr",), max_attempts=3)
def find_new_hires(ctx: RunContext, data: FindNewHiresInput) -> dict[str, Any]:
    """Leser listen over nyansatte (alle sider) og legger ett element per ansatt i kø."""
    hr = ctx.open("hr")
    ids: list[int] = []

    def read_all_pages() -> None:
        ids.clear()
        hr.goto("/nyansatte")
        while True:
            for row in hr.all("list.rows").all():
                ids.append(
                    int(row.get_attribute("data-ansattnr") or row.locator("td").first.inner_text())
                )
            if not hr.exists("list.next_page"):
                return
            hr.click("list.next_page")
            hr.locate("list.rows")

    ctx.run_step("Les nyansatte", read_all_pages, retries=3)
    created = sum(
        ctx.submit("onboarding", str(employee_id), {"employee_id": employee_id})
        for employee_id in ids
    )
    ctx.log.info(f"{len(ids)} nyansatte funnet, {created} nye elementer lagt i kø")
    return {"found": len(ids), "queued": created}


@task("onboarding", input=OnboardingInput, systems=("hr", "archive"), max_attempts=4)
def onboarding(ctx: RunContext, data: OnboardingInput) -> dict[str, Any]:
    """Arbeidsavtale arkiveres, IT-tilgang bestilles, sjekklisten oppdateres, leder varsles."""
    cfg = config()
    hr = ctx.open("hr")
    employee = ctx.run_step("Les ansatt", lambda: read_employee(hr, data.employee_id), retries=3)
    if not employee["checklist"]:
        raise BusinessError(
            f"Ansatt {data.employee_id} har ingen sjekkliste for nyansatte i personalsystemet"
        )
    fnr.validate(employee["fnr"])  # a wrong number is a business error for HR to fix

    with ctx.step("Lag arbeidsavtale (PDF)"):
        contract = stable_document(
            ctx,
            f"arbeidsavtale-{data.employee_id}.pdf",
            lambda path: render_contract(ctx, employee, path),
        )

    archive = ctx.open("archive")
    api = ArchiveApi(ctx, archive)
    try:
        a = cfg["archive"]
        case = find_or_create_case(
            ctx,
            archive,
            api,
            ekstern_referanse=f"ansatt:{data.employee_id}",
            tittel=a["personalmappe_tittel"].format(name=employee["name"]),
            offentlig_tittel=a["personalmappe_offentlig_tittel"],
            klasse=a["klasse"],
            enhet=a["administrativ_enhet"],
            tilgangsrestriksjon=a["tilgangsrestriksjon"],
        )
        record = file_record(
            ctx,
            archive,
            api,
            case,
            Registration(
                tittel=a["arbeidsavtale_tittel"].format(name=employee["name"]),
                offentlig_tittel=a["arbeidsavtale_offentlig_tittel"],
                journalposttype=a["journalposttype"],
                dokumentets_dato=date.today().isoformat(),
                tilgangsrestriksjon=a["tilgangsrestriksjon"],
                skjermingshjemmel=a["skjermingshjemmel"],
                ekstern_referanse=f"onboarding:{data.employee_id}:arbeidsavtale",
                document=contract,
            ),
        )
    finally:
        api.close()

    it_reference = f"onboarding:{data.employee_id}:it"
    ctx.run_step(
        "Bestill IT-tilgang",
        lambda: order_it_access(hr, data.employee_id, cfg["it_systems"], it_reference),
        retries=3,
    )
    for code in ("arbeidsavtale", "it_tilgang"):
        if code in employee["checklist"]:
            ctx.run_step(
                f"Kryss av {code}", lambda c=code: tick(hr, data.employee_id, c), retries=3
            )

    employee = ctx.run_step(
        "Les sjekkliste", lambda: read_employee(hr, data.employee_id), retries=3
    )
    open_items = open_checklist(employee, cfg["checklist"])
    mail = "ingen åpne punkter"
    if open_items:
        mail = ctx.send_mail(
            f"onboarding:{data.employee_id}:apne-punkter",
            employee["manager_email"],
            f"Nyansatt {employee['name']}: {len(open_items)} punkter gjenstår",
            manager_mail(employee, open_items),
        )
    return {"journalpost": record["registreringsID"], "open_items": len(open_items), "mail": mail}


def read_employee(hr: SystemSession, employee_id: int) -> dict[str, Any]:
    hr.goto(f"/ansatte/{employee_id}")
    if hr.exists("employee.not_found"):
        raise BusinessError(f"Fant ikke ansatt {employee_id} i personalsystemet")
    checklist = {}
    if hr.exists("employee.checklist_rows"):
        for row in hr.all("employee.checklist_rows").all():
            cells = row.locator("td").all_inner_texts()
            checklist[row.get_attribute("data-punkt") or cells[0]] = {
                "label": cells[0],
                "done": cells[1].strip() == "Utført",
            }
    return {
        "id": employee_id,
        "name": hr.text("employee.name"),
        "fnr": hr.text("employee.fnr"),
        "unit": hr.text("employee.unit"),
        "title": hr.text("employee.title"),
        "start_date": hr.text("employee.start_date"),
        "manager": hr.text("employee.manager"),
        "manager_email": hr.text("employee.manager_email"),
        "politiattest": hr.text("employee.politiattest") == "Ja",
        "checklist": checklist,
    }


def render_contract(ctx: RunContext, employee: dict[str, Any], path: Path) -> None:
    """The arbeidsavtale from the configured template, as PDF (rpaframework PDF)."""
    from RPA.PDF import PDF

    template = (ROOT / config()["template"]).read_text(encoding="utf-8")
    html = (
        Environment(autoescape=True, undefined=StrictUndefined)
        .from_string(template)
        .render(
            kommune="Eksempel kommune",
            employee_id=employee["id"],
            name=employee["name"],
            fnr=employee["fnr"],
            unit=employee["unit"],
            title=employee["title"],
            start_date=employee["start_date"],
            manager=employee["manager"],
            generated=datetime.now(ctx.settings.zone).strftime("%d.%m.%Y %H:%M"),
            robot="RPA-roboten",
        )
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    PDF().html_to_pdf(html, str(path))


def order_it_access(hr: SystemSession, employee_id: int, systems: str, reference: str) -> None:
    hr.goto(f"/ansatte/{employee_id}")
    if f"(ref. {reference})" in hr.page.content():
        return  # ordered before (a re-run): look before you act
    hr.fill("employee.it_systems", systems)
    hr.fill("employee.it_reference", reference)
    hr.click("employee.it_submit")
    if hr.exists("employee.error") and "finnes allerede" not in hr.text("employee.error"):
        raise BusinessError(
            f"Personalsystemet avviste IT-bestillingen: {hr.text('employee.error')}"
        )


def tick(hr: SystemSession, employee_id: int, code: str) -> None:
    hr.goto(f"/ansatte/{employee_id}")
    button = hr.page.locator(f"tr[data-punkt='{code}'] button")
    if button.count() == 0:
        return  # already ticked
    button.click()
    hr.check_page()
    hr.locate("employee.status_message")


def open_checklist(
    employee: dict[str, Any], deadlines: dict[str, dict[str, Any]]
) -> list[tuple[str, date]]:
    start = date.fromisoformat(employee["start_date"])
    items = []
    for code, state in employee["checklist"].items():
        if state["done"]:
            continue
        rule = deadlines.get(code, {"deadline_days": 0, "text": state["label"]})
        items.append(
            (rule.get("text", state["label"]), start + timedelta(days=int(rule["deadline_days"])))
        )
    return sorted(items, key=lambda item: item[1])


def manager_mail(employee: dict[str, Any], open_items: list[tuple[str, date]]) -> str:
    lines = "\n".join(f"- {text}: frist {due.strftime('%d.%m.%Y')}" for text, due in open_items)
    return (
        f"Hei {employee['manager']},\n\n{employee['name']} ({employee['title']}, "
        f"{employee['unit']}) starter {date.fromisoformat(employee['start_date']):%d.%m.%Y}."
        f"\nArbeidsavtalen er arkivert og IT-tilgang er bestilt. Dette gjenstår:\n\n{lines}"
        "\n\nHilsen RPA-roboten"
    )
