"""The archive as the robots see it: the web UI (where registrations are made, as a person
would) and the Noark 5 REST API (where the robot looks before it acts and checks what it filed).

No task lives here; onboarding and arkivering share it.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from robots.artifacts import sha256_file
from robots.context import RunContext
from robots.faults import CredentialsRejected, SystemFault, Unreachable
from robots.tasks import BusinessError
from robots.vault import Vault
from tasks.documents import pdf_kind
from tasks.noark5 import Noark5Client, NoarkError, code_of, quoted

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
    # The standard's skjerming beyond the code and hjemmel (Noark 5 M502-M504).
    skjerming_metadata: tuple[str, ...] = ()
    skjerming_dokument: str = ""
    skjermingsvarighet: int | None = None
    korrespondansepart: tuple[str, str] | None = None  # (korrespondanseparttype, navn)


@dataclass(frozen=True)
class Filed:
    """A journalpost as the archive holds it, with the dokumentobjekt of its hoveddokument."""

    journalpost: dict[str, Any]
    hoveddokument: dict[str, Any]


class ArchiveApi:
    """The archive's Noark 5 tjenestegrensesnitt with the robot's credentials (tasks/noark5.py,
    a client that knows only the standard); errors become system faults (retried)."""

    def __init__(self, ctx: RunContext, session: SystemSession) -> None:
        creds = Vault(ctx.settings).get("archive")
        url = f"{session.base_url}/api"
        if ctx.settings.reuse_logins:
            self.client = kept_client(url, creds.username, creds.password)
        else:
            self.client = Noark5Client(url, creds.username, creds.password)
        self.kept = ctx.settings.reuse_logins
        self._arkivdeler: dict[str, dict[str, Any]] = {}

    def _call(self, what: Callable[[], Any]) -> Any:
        try:
            return what()
        except NoarkError as exc:
            self.kept = False  # the next item starts over: new connection, login, discovery
            if exc.kind == "unreachable":
                raise Unreachable("archive", f"archive kan ikke nås: {exc}") from exc
            if exc.kind == "rejected":
                raise CredentialsRejected(
                    "archive", f"archive: {exc}; ingen nye forsøk før innloggingen er fornyet"
                ) from exc
            raise SystemFault(f"archive: {exc}") from exc

    def arkivdel(self, tittel: str) -> dict[str, Any]:
        """The arkivdel by its title, looked up once per client (a filing asks up to 3 times)."""
        if tittel in self._arkivdeler:
            return self._arkivdeler[tittel]
        found = self._call(
            lambda: self.client.first(
                self.client.href(self.client.follow("arkivstruktur"), "arkivstruktur/arkivdel"),
                f"tittel eq {quoted(tittel)}",
            )
        )
        if found is None:
            raise SystemFault(f"archive: fant ikke arkivdelen {tittel}")
        self._arkivdeler[tittel] = dict(found)
        return self._arkivdeler[tittel]

    def case_in(self, arkivdel: str, klasse: str) -> dict[str, Any] | None:
        """The mappe of an arkivdel ordered by this class (in Personalmapper: the person's
        employee number)."""
        part = self.arkivdel(arkivdel)
        return self._call(
            lambda: self.client.first(
                self.client.href(part, "arkivstruktur/mappe"),
                f"klasse/klasseID eq {quoted(klasse)}",
            )
        )

    def case_by_reference(self, reference: str) -> dict[str, Any] | None:
        """The saksmappe a fagsystem knows by this reference (kept in the archive's
        virksomhetsspesifikkeMetadata, the standard's place for such fields)."""
        return self._call(
            lambda: self.client.first(
                self.client.href(self.client.follow("sakarkiv"), "sakarkiv/saksmappe"),
                f"virksomhetsspesifikkeMetadata/eksternReferanse eq {quoted(reference)}",
            )
        )

    def record_by_reference(self, reference: str) -> Filed | None:
        """The journalpost whose hoveddokument carries this eksternReferanse (the standard's
        field on dokumentbeskrivelse), with that document's stored object."""

        def look() -> Filed | None:
            client = self.client
            structure = client.follow("arkivstruktur")
            description = client.first(
                client.href(structure, "arkivstruktur/dokumentbeskrivelse"),
                f"eksternReferanse eq {quoted(reference)}",
            )
            if description is None:
                return None
            record = client.get(client.href(description, "arkivstruktur/registrering"))
            objects = client.list(description, "arkivstruktur/dokumentobjekt")
            if not objects:
                raise NoarkError(f"journalposten {record['registreringsID']} har ingen fil")
            return Filed(record, objects[-1])

        result: Filed | None = self._call(look)
        return result

    def parties(self, journalpost: dict[str, Any]) -> list[tuple[str, str]]:
        """The korrespondanseparter of a journalpost as (korrespondanseparttype, navn)."""
        parties = self._call(
            lambda: self.client.list(journalpost, "arkivstruktur/korrespondansepart")
        )
        return [(code_of(p.get("korrespondanseparttype")), str(p.get("navn"))) for p in parties]

    def close(self) -> None:
        """Hand the client back for this thread's next item, or close it after an error."""
        if not self.kept:
            forget_client(self.client)
            self.client.close()


_KEPT = threading.local()  # per worker thread (a slot thread has its own)
KEEP_IDLE_SECONDS = 30.0  # an idle keep-alive connection may have been closed by the server


def kept_client(url: str, username: str, password: str) -> Noark5Client:
    """This thread's client for the archive and account, kept from item to item as the
    browser's logins are (`reuse_logins`): its connection, login and the relations it has
    discovered are reused instead of being made again for every item."""
    clients: dict[tuple[str, str, str], tuple[Noark5Client, float]] = _KEPT.__dict__.setdefault(
        "clients", {}
    )
    key = (url, username, hashlib.sha256(password.encode()).hexdigest())
    now = time.monotonic()
    kept = clients.get(key)
    if kept is not None and now - kept[1] > KEEP_IDLE_SECONDS:
        kept[0].close()
        kept = None
    client = kept[0] if kept is not None else Noark5Client(url, username, password)
    clients[key] = (client, now)
    return client


def forget_client(client: Noark5Client) -> None:
    clients = _KEPT.__dict__.get("clients", {})
    for key in [k for k, (c, _) in clients.items() if c is client]:
        del clients[key]


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
    arkivdel: str,
    klasse: str,
    enhet: str,
    ekstern_referanse: str,
    tilgangsrestriksjon: str,
) -> None:
    archive.goto("/saker/ny")
    archive.fill("new_case.title", tittel)
    archive.fill("new_case.public_title", offentlig_tittel)
    archive.select("new_case.arkivdel", arkivdel)
    archive.fill("new_case.klasse", klasse)
    archive.fill("new_case.unit", enhet)
    archive.fill("new_case.external", ekstern_referanse)
    archive.select("new_case.access", tilgangsrestriksjon)
    archive.click("new_case.save")
    archive.locate("case.number")


def find_or_create_case(
    ctx: RunContext,
    archive: SystemSession,
    lookup: Callable[[], dict[str, Any] | None],
    **new_case: str,
) -> dict[str, Any]:
    """The saksmappe `lookup` finds through the API, created through the UI if missing."""
    case = lookup()
    if case is None:
        ctx.run_step(
            "Opprett saksmappe",
            lambda: None if lookup() is not None else create_case(archive, **new_case),
            retries=2,
        )
        case = lookup()
        if case is None:
            raise SystemFault(f"archive: saksmappen «{new_case['tittel']}» ble ikke opprettet")
        ctx.record_side_effect(f"saksmappe {case['mappeID']} opprettet")
    return case


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
    filed = api.record_by_reference(reg.ekstern_referanse)
    if filed is not None:
        ctx.log.info(
            f"Journalpost {filed.journalpost['registreringsID']} finnes allerede; "
            "arkiverer ikke på nytt"
        )
    else:
        tries = 0  # the step's first try follows the lookup just made: no second look

        def register() -> None:
            nonlocal tries
            tries += 1
            _register_once(archive, api, case, reg, retried=tries > 1)

        ctx.run_step("Journalfør", register, retries=2)
        filed = api.record_by_reference(reg.ekstern_referanse)
        if filed is None:
            raise SystemFault(f"archive: journalposten {reg.ekstern_referanse} ble ikke lagret")
        ctx.record_side_effect(f"arkivert som journalpost {filed.journalpost['registreringsID']}")
    number = filed.journalpost["registreringsID"]
    with ctx.step("Kontroller sjekksum"):
        stored = filed.hoveddokument
        if stored.get("sjekksumAlgoritme") != "SHA-256" or stored.get("sjekksum") != expected:
            raise SystemFault(
                f"archive: sjekksummen i arkivet ({str(stored.get('sjekksum'))[:12]}…, "
                f"{stored.get('sjekksumAlgoritme')}) er ikke lik dokumentets SHA-256 "
                f"({expected[:12]}…) for {number}"
            )
        kind = pdf_kind(reg.document)
        registered = (code_of(stored.get("variantformat")), code_of(stored.get("format")))
        if registered != (kind.variantformat, kind.format):
            raise SystemFault(
                f"archive: arkivet registrerte {registered[0]}/{registered[1]} for {number}, "
                f"dokumentet er {kind.variantformat}/{kind.format}"
            )
        ctx.log.info(
            f"Journalpost {number} lagret med riktig SHA-256 "
            f"(variantformat {kind.variantformat}, {kind.conformance or 'PDF'} {kind.format})"
        )
    with ctx.step("Kontroller skjerming og korrespondansepart"):
        problems = screening_problems(filed.journalpost, reg)
        if reg.korrespondansepart is not None:
            parties = api.parties(filed.journalpost)
            if reg.korrespondansepart not in parties:
                problems.append(f"korrespondansepart ({reg.korrespondansepart[0]}) mangler")
        if problems:
            raise SystemFault(f"archive: journalpost {number}: " + "; ".join(problems))
    return filed.journalpost


def screening_problems(journalpost: dict[str, Any], reg: Registration) -> list[str]:
    """How the archive's skjerming of a filed journalpost differs from what was asked (the
    codes only: never a title or a name, which may be what is screened)."""
    skjerming = journalpost.get("skjerming") or {}
    found = {
        "tilgangsrestriksjon": code_of(skjerming.get("tilgangsrestriksjon")),
        "skjermingMetadata": " ".join(
            sorted(code_of(c) for c in skjerming.get("skjermingMetadata") or [])
        ),
        "skjermingDokument": code_of(skjerming.get("skjermingDokument")),
        "skjermingsvarighet": str(skjerming.get("skjermingsvarighet") or ""),
    }
    wanted = {
        "tilgangsrestriksjon": reg.tilgangsrestriksjon,
        "skjermingMetadata": " ".join(sorted(reg.skjerming_metadata)),
        "skjermingDokument": reg.skjerming_dokument,
        "skjermingsvarighet": str(reg.skjermingsvarighet or ""),
    }
    return [
        f"{field} er «{found[field] or '-'}», skulle vært «{wanted[field] or '-'}»"
        for field in wanted
        if found[field] != wanted[field]
    ]


def _register_once(
    archive: SystemSession,
    api: ArchiveApi,
    case: dict[str, Any],
    reg: Registration,
    *,
    retried: bool,
) -> None:
    if retried and api.record_by_reference(reg.ekstern_referanse) is not None:
        return  # a retried step: the first attempt got through
    archive.goto(f"/saker/{case['systemID']}/journalpost/ny")
    archive.fill("new_record.title", reg.tittel)
    archive.fill("new_record.public_title", reg.offentlig_tittel)
    archive.select("new_record.type", reg.journalposttype)
    archive.fill("new_record.document_date", reg.dokumentets_dato)
    archive.select("new_record.access", reg.tilgangsrestriksjon)
    archive.fill("new_record.legal_basis", reg.skjermingshjemmel)
    if reg.skjerming_metadata or reg.skjerming_dokument or reg.skjermingsvarighet:
        archive.fill("new_record.screen_metadata", " ".join(reg.skjerming_metadata))
        archive.select("new_record.screen_document", reg.skjerming_dokument)
        archive.fill("new_record.screen_years", str(reg.skjermingsvarighet or ""))
    if reg.korrespondansepart is not None:
        archive.select("new_record.party_type", reg.korrespondansepart[0])
        archive.fill("new_record.party_name", reg.korrespondansepart[1])
    archive.fill("new_record.external", reg.ekstern_referanse)
    archive.upload("new_record.main_document", reg.document)
    archive.click("new_record.save")
    if archive.exists("new_record.errors"):
        message = archive.text("new_record.errors")
        if "finnes allerede" in message:
            return
        raise BusinessError(f"Arkivet avviste journalposten: {' '.join(message.split())}")
    archive.locate("record.number")
