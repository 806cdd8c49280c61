"""The archive as the robots see it: the web UI (where registrations are made, as a person
would) and the Noark 5 REST API (where the robot looks before it acts and checks what it filed).

No task lives here; onboarding and arkivering share it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from robots.artifacts import sha256_file
from robots.context import RunContext
from robots.faults import SystemFault
from robots.tasks import BusinessError
from robots.vault import Vault
from tasks.documents import pdf_kind

NOARK = "application/vnd.noark5+json"

if TYPE_CHECKING:  # the browser stack is imported when a robot runs, not before
    from robots.runtime import SystemSession


@dataclass(frozen=True)
class Registration:
    """What to file: one journalpost with its main document."""

    tittel: str
    offentlig_tittel: str
    journalposttype: str
    dokumentets_dato: str
    tilgangsrestriksjon: str
    skjermingshjemmel: str
    ekstern_referanse: str  # the idempotency key of this filing
    document: Path


class ArchiveApi:
    """Read side of the archive (Noark 5 tjenestegrensesnitt), with the robot's credentials."""

    def __init__(self, ctx: RunContext, session: SystemSession) -> None:
        creds = Vault(ctx.settings).get("archive")
        self.client = self.client_for(session.base_url, creds.username, creds.password)

    @staticmethod
    def client_for(base_url: str, username: str, password: str) -> httpx.Client:
        return httpx.Client(
            base_url=base_url, auth=(username, password), headers={"Accept": NOARK}, timeout=30
        )

    # A read is safe to repeat: transient failures (transport errors, HTTP 5xx) are retried
    # here with a short backoff before the step gives up (measured: at 15 % HTTP 500, four
    # item attempts were not enough without this).
    RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0)

    def _get(self, path: str, **params: str) -> dict[str, Any]:
        fault: SystemFault | None = None
        for delay in (*self.RETRY_DELAYS, None):
            try:
                response = self.client.get(f"/api/arkivstruktur/{path}", params=params)
            except httpx.HTTPError as exc:
                fault = SystemFault(f"archive: API-et svarer ikke: {exc}")
            else:
                if response.status_code < 500:
                    response.raise_for_status()
                    return response.json()
                fault = SystemFault(f"archive: API-et svarte HTTP {response.status_code}")
            if delay is None:
                break
            time.sleep(delay)
        assert fault is not None
        raise fault

    def case_by_reference(self, reference: str) -> dict[str, Any] | None:
        results = self._get("saksmappe", eksternReferanse=reference)["results"]
        return results[0] if results else None

    def record_by_reference(self, reference: str) -> dict[str, Any] | None:
        results = self._get("journalpost", eksternReferanse=reference)["results"]
        return results[0] if results else None

    def close(self) -> None:
        self.client.close()


def stable_document(ctx: RunContext, name: str, produce: Any) -> Path:
    """A generated document that stays the same across retries: made once (written to a
    temporary name, then renamed), reused after. A re-run after a crash then files and checks
    the very bytes it filed before, not a regenerated copy with a new timestamp."""
    path = ctx.settings.data_path / "documents" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{ctx.claim.run_id}.tmp")
        produce(partial)
        partial.replace(path)
    ctx.add_artifact("document", path)
    return path


def create_case(
    archive: SystemSession,
    *,
    tittel: str,
    offentlig_tittel: str,
    klasse: str,
    enhet: str,
    ekstern_referanse: str,
    tilgangsrestriksjon: str,
) -> None:
    archive.goto("/saker/ny")
    archive.fill("new_case.title", tittel)
    archive.fill("new_case.public_title", offentlig_tittel)
    archive.select("new_case.klasse", klasse)
    archive.fill("new_case.unit", enhet)
    archive.fill("new_case.external", ekstern_referanse)
    archive.select("new_case.access", tilgangsrestriksjon)
    archive.click("new_case.save")
    archive.locate("case.number")


def find_or_create_case(
    ctx: RunContext,
    archive: SystemSession,
    api: ArchiveApi,
    *,
    ekstern_referanse: str,
    **new_case: str,
) -> dict[str, Any]:
    """The saksmappe with this external reference, created through the UI if missing."""
    case = api.case_by_reference(ekstern_referanse)
    if case is None:
        ctx.run_step(
            "Opprett saksmappe",
            lambda: _create_once(archive, api, ekstern_referanse, new_case),
            retries=2,
        )
        case = api.case_by_reference(ekstern_referanse)
        if case is None:
            raise SystemFault(f"archive: saksmappen {ekstern_referanse} ble ikke opprettet")
        ctx.record_side_effect(f"saksmappe {case['mappeID']} opprettet")
    return case


def _create_once(
    archive: SystemSession, api: ArchiveApi, reference: str, new_case: dict[str, str]
) -> None:
    if api.case_by_reference(reference) is None:  # a retried step may find it made
        create_case(archive, ekstern_referanse=reference, **new_case)


def file_record(
    ctx: RunContext,
    archive: SystemSession,
    api: ArchiveApi,
    case: dict[str, Any],
    reg: Registration,
) -> dict[str, Any]:
    """Create the journalpost unless it exists (looked up by its external reference), then
    check through the API that the stored document has the same SHA-256."""
    expected = sha256_file(reg.document)
    record = api.record_by_reference(reg.ekstern_referanse)
    if record is not None:
        ctx.log.info(
            f"Journalpost {record['registreringsID']} finnes allerede; arkiverer ikke på nytt"
        )
    else:
        ctx.run_step("Journalfør", lambda: _register_once(archive, api, case, reg), retries=2)
        record = api.record_by_reference(reg.ekstern_referanse)
        if record is None:
            raise SystemFault(f"archive: journalposten {reg.ekstern_referanse} ble ikke lagret")
        ctx.record_side_effect(f"arkivert som journalpost {record['registreringsID']}")
    with ctx.step("Kontroller sjekksum"):
        main = next(
            d for d in record["dokumentbeskrivelse"] if d["tilknyttetRegistreringSom"] == "H"
        )["dokumentobjekt"][0]
        if main["sjekksum"] != expected:
            raise SystemFault(
                f"archive: sjekksummen i arkivet ({main['sjekksum'][:12]}…) er ikke lik "
                f"dokumentets ({expected[:12]}…) for {record['registreringsID']}"
            )
        kind = pdf_kind(reg.document)
        if (main.get("variantformat"), main.get("format")) != (kind.variantformat, kind.format):
            raise SystemFault(
                f"archive: arkivet registrerte {main.get('variantformat')}/{main.get('format')} "
                f"for {record['registreringsID']}, dokumentet er {kind.variantformat}/{kind.format}"
            )
        ctx.log.info(
            f"Journalpost {record['registreringsID']} lagret med riktig SHA-256 "
            f"(variantformat {kind.variantformat}, {kind.conformance or 'PDF'} {kind.format})"
        )
    return record


def _register_once(
    archive: SystemSession, api: ArchiveApi, case: dict[str, Any], reg: Registration
) -> None:
    if api.record_by_reference(reg.ekstern_referanse) is not None:
        return  # a retried step: the first attempt got through
    archive.goto(f"/saker/{case['systemID']}/journalpost/ny")
    archive.fill("new_record.title", reg.tittel)
    archive.fill("new_record.public_title", reg.offentlig_tittel)
    archive.select("new_record.type", reg.journalposttype)
    archive.fill("new_record.document_date", reg.dokumentets_dato)
    archive.select("new_record.access", reg.tilgangsrestriksjon)
    archive.fill("new_record.legal_basis", reg.skjermingshjemmel)
    archive.fill("new_record.external", reg.ekstern_referanse)
    archive.upload("new_record.main_document", reg.document)
    archive.click("new_record.save")
    if archive.exists("new_record.errors"):
        message = archive.text("new_record.errors")
        if "finnes allerede" in message:
            return
        raise BusinessError(f"Arkivet avviste journalposten: {' '.join(message.split())}")
    archive.locate("record.number")
