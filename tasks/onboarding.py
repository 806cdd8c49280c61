"""Onboarding (nyansatt): find new hires, then for each: arbeidsavtale as PDF filed in the
personnel case (screened), IT access ordered, checklist ticked, manager told what is still open.

Every action looks before it acts, keyed by the employee, so a re-run after a crash at any step
files nothing twice and mails nothing twice.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, StrictUndefined
from pydantic import BaseModel, ConfigDict, Field

from robots import fnr
from robots.config import config_path, load_yaml
from robots.context import RunContext
from robots.tasks import BusinessError, Processing, task
from tasks import arbeidsavtale as avtale
from tasks.documents import html_to_pdfa
from tasks.noark import (
    ArchiveApi,
    Registration,
    file_record,
    find_or_create_case,
    stable_document,
)
from tasks.screening import check_public

if TYPE_CHECKING:  # the browser stack is imported when a robot runs, not before
    from robots.runtime import SystemSession


def config() -> dict[str, Any]:
    """config/onboarding.yaml (the setting `config_dir`), read again when it changes."""
    return load_yaml("onboarding.yaml")


class FindNewHiresInput(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OnboardingInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    employee_id: int = Field(ge=1, le=999_999_999, description="Ansattnummer i personalsystemet")


@task(
    "onboarding.find_new_hires",
    input=FindNewHiresInput,
    systems=("hr",),
    max_attempts=3,
    title="Finn nyansatte",
)
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


@task(
    "onboarding",
    input=OnboardingInput,
    systems=("hr", "archive"),
    max_attempts=4,
    roles=("caseworker", "operator", "admin"),
    title="Nyansatt: arbeidsavtale, IT-tilgang og sjekkliste",
    processing=Processing(
        purpose="Gjennomføre onboarding av en nyansatt: arbeidsavtale, IT-tilgang, sjekkliste "
        "og varsel til leder",
        personal_data=(
            "navn og ansattnummer",
            "fødselsnummer (kontrollert, aldri i logger eller e-post)",
            "stilling, arbeidssted og lønns- og arbeidsvilkår",
            "leders navn og e-post",
        ),
        legal_basis="GDPR art. 6 nr. 1 b og c; aml. §§ 14-5 og 14-6 (skriftlig arbeidsavtale)",
        recipients=("arkivet (personalmappe, skjermet)", "IT (tilgang)", "nærmeste leder"),
        retention="Arbeidsavtalen etter arkivplanen (personalmappe); kjøreloggen i "
        "retention_days (90 dager)",
    ),
    config=("onboarding.yaml", "templates/arbeidsavtale.html"),
    preload=("weasyprint", "pypdf", "httpx"),
)
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
    terms = contract_terms(employee, cfg["contract"])  # missing fields: a business error
    ctx.rule(
        "Skriftlig arbeidsavtale "
        + (
            "straks: ansettelse på høyst én måned (aml. § 14-5)"
            if terms["skriftlig_innen_dager"] == 0
            else f"innen {terms['skriftlig_innen_dager']} dager (aml. § 14-5)"
        )
    )
    ctx.rule(f"Prøvetid: {terms['provetid']}")
    ctx.rule(f"Pauser: {terms['pauser']}")

    with ctx.step("Lag arbeidsavtale (PDF)"):
        contract = stable_document(
            ctx,
            f"arbeidsavtale-{data.employee_id}.pdf",
            lambda path: render_contract(ctx, employee, terms, path),
        )

    archive = ctx.open("archive")
    api = ArchiveApi(ctx, archive)
    try:
        a = cfg["archive"]
        # The personalmappe is found by the person, as the archive orders it: in the
        # arkivdel for personnel files, by the employee number as klasse.
        employee_number = str(data.employee_id)
        case = find_or_create_case(
            ctx,
            archive,
            lambda: api.case_in(a["arkivdel"], employee_number),
            ekstern_referanse=f"ansatt:{data.employee_id}",
            tittel=a["personalmappe_tittel"].format(name=employee["name"]),
            offentlig_tittel=check_public(a["personalmappe_offentlig_tittel"], [employee["name"]]),
            arkivdel=a["arkivdel"],
            klasse=employee_number,
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
                offentlig_tittel=contract_public_title(a, employee["name"]),
                journalposttype=a["journalposttype"],
                dokumentets_dato=datetime.now(ctx.settings.zone).date().isoformat(),
                tilgangsrestriksjon=a["tilgangsrestriksjon"],
                skjermingshjemmel=a["arbeidsavtale_skjermingshjemmel"],
                skjerming_metadata=tuple(a.get("skjerming_metadata", ())),
                skjerming_dokument=a.get("skjerming_dokument", ""),
                skjermingsvarighet=a.get("skjermingsvarighet"),
                # The employee is the arbeidsavtale's mottaker (an outgoing journalpost).
                korrespondansepart=("EM", employee["name"]),
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
    # The robot made and filed a draft; the contract is not signed yet. So the item is marked
    # "sendt til signering", and ticking it done ("signert") is left to a person.
    if "arbeidsavtale" in employee["checklist"]:
        ctx.run_step(
            "Merk arbeidsavtalen sendt til signering",
            lambda: mark_sent_for_signing(hr, data.employee_id),
            retries=3,
        )
    if "it_tilgang" in employee["checklist"]:
        ctx.run_step(
            "Kryss av it_tilgang", lambda: tick(hr, data.employee_id, "it_tilgang"), retries=3
        )

    employee = ctx.run_step(
        "Les sjekkliste", lambda: read_employee(hr, data.employee_id), retries=3
    )
    open_items = open_checklist(employee, cfg["checklist"], terms)
    mail = "ingen åpne punkter"
    if open_items:
        mail = ctx.send_mail(
            f"onboarding:{data.employee_id}:apne-punkter",
            employee["manager_email"],
            f"Nyansatt {employee['name']}: {len(open_items)} punkter gjenstår",
            manager_mail(employee, open_items),
        )
    if "arbeidsavtale" in employee["checklist"] and cfg.get("confirm_signed_contract", True):
        # Signing is a person's act: a follow-up item asks HR to confirm that the signed
        # contract has come back, and only then ticks "signert" (this item is done now).
        ctx.submit(
            "onboarding.signert",
            f"ansatt-{data.employee_id}:signert",  # one per employee, however often run
            {"employee_id": data.employee_id, "name": employee["name"]},
        )
    return {"journalpost": record["registreringsID"], "open_items": len(open_items), "mail": mail}


class SignedInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    employee_id: int = Field(ge=1, le=999_999_999)
    name: str = Field(default="", max_length=200)


class SignedContract(BaseModel):
    """HR's answer: has the signed arbeidsavtale come back?"""

    model_config = ConfigDict(extra="forbid")

    mottatt: bool = Field(description="Signert arbeidsavtale er mottatt")
    dato: date | None = Field(default=None, description="Dato den kom (tom: i dag)")


@task(
    "onboarding.signert",
    input=SignedInput,
    systems=("hr",),
    max_attempts=3,
    title="Nyansatt: bekreft signert arbeidsavtale",
    processing=Processing(
        purpose="Merke arbeidsavtalen signert når HR bekrefter at den er mottatt i retur",
        personal_data=("navn og ansattnummer",),
        legal_basis="GDPR art. 6 nr. 1 b og c; aml. § 14-5",
        recipients=("personalsystemet (sjekklisten)",),
        retention="Kjøreloggen i retention_days (90 dager)",
    ),
)
def signed(ctx: RunContext, data: SignedInput) -> dict[str, Any]:
    """Spør HR om signert arbeidsavtale er mottatt, og krysser av «signert» først da."""
    answer = ctx.ask(
        SignedContract,
        text=f"Er signert arbeidsavtale mottatt fra {data.name or data.employee_id}?",
        to="caseworker",
        evidence={"Ansattnummer": str(data.employee_id), "Navn": data.name},
    )
    if not answer.mottatt:
        ctx.hand_over("Signert arbeidsavtale er ikke mottatt; følg opp med leder og den ansatte")
    hr = ctx.open("hr")
    ctx.run_step(
        "Kryss av signert arbeidsavtale",
        lambda: tick(hr, data.employee_id, "arbeidsavtale"),
        retries=3,
    )
    ctx.rule("Arbeidsavtalen er merket signert etter at HR bekreftet at den er mottatt i retur")
    return {
        "signert": True,
        "dato": (answer.dato or datetime.now(ctx.settings.zone).date()).isoformat(),
    }


def contract_public_title(archive: dict[str, Any], name: str) -> str:
    """The arbeidsavtale's public title: with the name where config says the name is public
    (fvl. § 13 second paragraph: occupation and workplace are not personlige forhold), else a
    neutral one the name is refused in. A fødselsnummer is refused either way."""
    public = bool(archive.get("arbeidsavtale_navn_offentlig", False))
    title = archive["arbeidsavtale_offentlig_tittel"].format(name=name)
    return check_public(title, [] if public else [name])


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
                "state": cells[1].strip(),
            }
    terms = {}
    if hr.exists("employee.terms"):
        for field in hr.all("employee.terms").all():
            terms[field.get_attribute("data-felt") or ""] = field.inner_text().strip()
    return {
        "id": employee_id,
        "terms": terms,
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


# What aml. § 14-6 (1) asks of a written arbeidsavtale, by field, and who provides it: the HR
# system (per employee) or config/onboarding.yaml (the municipality's standard terms).
FIELD_NAMES = {
    "arbeidssted": "arbeidssted (§ 14-6 første ledd b)",
    "arbeidstid": "arbeidstid (§ 14-6 første ledd k)",
    "lonn": "lønn (§ 14-6 første ledd j)",
    "midlertidig_grunnlag": "grunnlag for midlertidig ansettelse (§ 14-6 første ledd e)",
}


def contract_terms(employee: dict[str, Any], cfg: dict[str, Any]) -> dict[str, Any]:
    """The contract's terms: the HR system's per-employee fields (each required one present,
    else a business error naming them), the standard terms from config, the probation (aml.
    § 15-6 first paragraph, in months), the pauses (aml. § 10-9 first paragraph) and the
    deadline for the written agreement (aml. § 14-5: at once for at most one month, else
    within `written_within_days` days)."""
    given = {k: v for k, v in employee.get("terms", {}).items() if v}
    start = date.fromisoformat(employee["start_date"])
    end_text = given.get("sluttdato", "")
    end = date.fromisoformat(end_text) if end_text[:4].isdigit() else None
    required = list(cfg["required_from_hr"]) + (["midlertidig_grunnlag"] if end else [])
    missing = [FIELD_NAMES.get(f, f) for f in required if not given.get(f)]
    if missing:
        raise BusinessError(
            f"Personalsystemet mangler opplysninger arbeidsavtalen må ha (aml. § 14-6) for "
            f"ansatt {employee['id']}: {', '.join(missing)}. Arbeidsavtalen er ikke laget."
        )
    duration = (end - start).days + 1 if end else None
    short = duration is not None and duration <= int(cfg["short_employment_days"])
    return {
        **cfg["standard"],
        **given,
        "sluttdato": end.isoformat() if end else "",
        "varighet_dager": duration,
        "provetid": avtale.probation(start, end, cfg["probation"]),
        "pauser": avtale.pauses(given.get("arbeidstid", ""), cfg["pause"]),
        "skriftlig_innen_dager": 0 if short else int(cfg["written_within_days"]),
    }


def contract_sections(
    employee: dict[str, Any], terms: dict[str, Any], cfg: dict[str, Any]
) -> list[dict[str, Any]]:
    """The text of each § 14-6 (1) item (config `contract.items`), from HR, standard terms and
    the computed rules."""
    employer = cfg["employer"]
    start = date.fromisoformat(employee["start_date"])
    end = terms["sluttdato"]
    values = {
        **{key: [str(text)] for key, text in terms.items() if isinstance(text, str)},
        "parter": [
            f"Arbeidsgiver: {employer['navn']}, organisasjonsnummer "
            f"{employer['organisasjonsnummer']}, {employer['adresse']}",
            f"Arbeidstaker: {employee['name']}, fødselsnummer {employee['fnr']}, "
            f"ansattnummer {employee['id']}",
        ],
        "stilling": [f"{employee['title']}, {employee['unit']}"],
        "tiltredelse": [avtale.norwegian_date(start)],
        "varighet": (
            [
                "Midlertidig ansettelse til og med "
                + avtale.norwegian_date(date.fromisoformat(end)),
                f"Grunnlag: {terms.get('midlertidig_grunnlag', '')}",
            ]
            if end
            else ["Fast ansettelse"]
        ),
        "ferie": [terms.get("ferie", ""), terms.get("annet_fravaer", "")],
        "oppsigelse": [terms.get("oppsigelse", ""), terms.get("opphor", "")],
        "lonn": [
            f"Lønn: {terms.get('lonn', '')}",
            f"Tillegg og andre godtgjøringer: {terms.get('tillegg', '')}",
            f"Utbetaling: {terms.get('utbetaling', '')}",
        ],
        "arbeidstid": [terms.get("arbeidstid", ""), terms.get("arbeidsplan", "")],
        "vaktendringer": [terms.get("vaktendringer", ""), terms.get("overtid", "")],
    }
    return avtale.items(values, cfg["items"])


def contract_html(employee: dict[str, Any], terms: dict[str, Any], today: date) -> str:
    """The arbeidsavtale as HTML from the configured template: what HR sends for signing."""
    cfg = config()
    template = config_path(cfg["template"]).read_text(encoding="utf-8")
    return (
        Environment(autoescape=True, undefined=StrictUndefined)
        .from_string(template)
        .render(
            employer=cfg["contract"]["employer"],
            name=employee["name"],
            sections=contract_sections(employee, terms, cfg["contract"]),
            dated=avtale.norwegian_date(today),
        )
    )


def render_contract(
    ctx: RunContext, employee: dict[str, Any], terms: dict[str, Any], path: Path
) -> None:
    """The arbeidsavtale as PDF/A-2b (archive format)."""
    html = contract_html(employee, terms, datetime.now(ctx.settings.zone).date())
    path.parent.mkdir(parents=True, exist_ok=True)
    html_to_pdfa(html, path, title="Arbeidsavtale", log=ctx.log)


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


def mark_sent_for_signing(hr: SystemSession, employee_id: int) -> None:
    """Look, then act: only an item that is neither done nor already sent gets the state."""
    hr.goto(f"/ansatte/{employee_id}")
    row = hr.page.locator("tr[data-punkt='arbeidsavtale']")
    if row.get_attribute("data-status") in ("sendt_til_signering", "utfort"):
        return
    row.locator("button[value=sendt_til_signering]").click()
    hr.check_page()
    hr.locate("employee.status_message")


def tick(hr: SystemSession, employee_id: int, code: str) -> None:
    hr.goto(f"/ansatte/{employee_id}")
    button = hr.page.locator(f"tr[data-punkt='{code}'] button[value=utfort]")
    if button.count() == 0:
        return  # already ticked
    button.click()
    hr.check_page()
    hr.locate("employee.status_message")


def open_checklist(
    employee: dict[str, Any],
    deadlines: dict[str, dict[str, Any]],
    terms: dict[str, Any] | None = None,
) -> list[tuple[str, date]]:
    start = date.fromisoformat(employee["start_date"])
    items = []
    for code, state in employee["checklist"].items():
        if state["done"]:
            continue
        rule = dict(deadlines.get(code, {"deadline_days": 0, "text": state["label"]}))
        if code == "arbeidsavtale" and terms is not None:  # aml. § 14-5, by duration
            rule["deadline_days"] = terms["skriftlig_innen_dager"]
        text = rule.get("text", state["label"])
        if state.get("state") == "Sendt til signering":
            text += " (sendt til signering, venter på signatur)"
        items.append((text, start + timedelta(days=int(rule["deadline_days"]))))
    return sorted(items, key=lambda item: item[1])


def manager_mail(employee: dict[str, Any], open_items: list[tuple[str, date]]) -> str:
    lines = "\n".join(f"- {text}: frist {due.strftime('%d.%m.%Y')}" for text, due in open_items)
    return (
        f"Hei {employee['manager']},\n\n{employee['name']} ({employee['title']}, "
        f"{employee['unit']}) starter {date.fromisoformat(employee['start_date']):%d.%m.%Y}."
        f"\nArbeidsavtalen er arkivert og IT-tilgang er bestilt. Dette gjenstår:\n\n{lines}"
        "\n\nHilsen RPA-roboten"
    )
