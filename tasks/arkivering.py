"""Archive filing: documents in the inbox folder become journalposter in the Noark 5 archive.

`arkivering.scan_inbox` enqueues one item per file (reference: the file's SHA-256, so the same
document is never filed twice, whatever its name), unless an item for that checksum exists
already (a file a caseworker submitted through the console, under a reference of their own).
`arkivering` finds the saksmappe (from a side file or the file name), converts to PDF where
needed, files the journalpost, checks the stored checksum through the archive's API, and moves
the source to done/. A file that cannot be read, carries active content, or has no case is a
business error with its reason and goes to rejected/.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import shutil
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from robots.artifacts import sha256_file
from robots.config import ROOT, load_yaml
from robots.context import RunContext
from robots.settings import Settings
from robots.tasks import BusinessError, FileUpload, Processing, task
from tasks.documents import MAX_HTML_BYTES, html_to_pdfa, pdf_kind
from tasks.noark import (
    ArchiveApi,
    Registration,
    file_record,
    find_or_create_case,
    stable_document,
)
from tasks.pdf_active import active_content
from tasks.screening import public_title


def config() -> dict[str, Any]:
    """config/arkivering.yaml (the setting `config_dir`), read again when it changes."""
    return load_yaml("arkivering.yaml")


def inbox(settings: Settings) -> Path:
    """The inbox folder; `var/...` in the config means inside the data directory."""
    configured = Path(config()["inbox"])
    if configured.is_absolute():
        return configured
    if configured.parts[:1] == ("var",):
        return settings.data_path.joinpath(*configured.parts[1:])
    return ROOT / configured


def store_upload(settings: Settings, filename: str, content: bytes) -> dict[str, str]:
    """A file a caseworker attaches in the console goes into the inbox under a name of its
    own: a prefix from its checksum, then the user's file name made safe. Two uploads with the
    same name can never replace each other, and a name like `..` or `/etc/x` cannot leave the
    inbox. Returns the item's payload (file name and SHA-256)."""
    digest = hashlib.sha256(content).hexdigest()
    folder = inbox(settings)
    folder.mkdir(parents=True, exist_ok=True)
    base = re.sub(r"[^\w.\-æøåÆØÅ ]", "_", Path(filename.replace("\\", "/")).name).strip(". ")
    name = f"u{digest[:16]}-{fit_name(base or 'vedlegg', MAX_NAME_BYTES - 18)}"
    path = folder / name
    try:
        with path.open("xb") as handle:  # never overwrite
            handle.write(content)
    except FileExistsError:
        if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise FileExistsError("En annen fil med samme navn venter allerede") from None
    return {"filnavn": name, "sha256": digest}


# File names in the inbox, with room for the reason file beside a rejected one (".grunn.txt"),
# within the 255 bytes most file systems allow.
MAX_NAME_BYTES = 255 - len(".grunn.txt")


def fit_name(name: str, limit: int) -> str:
    """`name` cut to `limit` UTF-8 bytes (æøå are two), its suffix (such as .pdf) kept: the
    suffix decides how the document is filed."""
    if len(name.encode("utf-8")) <= limit:
        return name
    stem, suffix = Path(name).stem, Path(name).suffix
    if len(suffix.encode("utf-8")) > 16:  # not a file type: cut it like the rest
        stem, suffix = name, ""
    room = limit - len(suffix.encode("utf-8"))
    return stem.encode("utf-8")[:room].decode("utf-8", "ignore").rstrip(". ") + suffix


class Metadata(BaseModel):
    """What the archive needs to know; from `<file>.json` or the file name."""

    model_config = ConfigDict(extra="forbid")

    saksreferanse: str = Field(min_length=1)
    tittel: str = Field(min_length=1)
    offentlig_tittel: str = ""
    journalposttype: str = Field(default="I", pattern=r"^[IUNXS]$")
    dokumentets_dato: date
    tilgangsrestriksjon: str = ""
    skjermingshjemmel: str = ""
    skjermede_ord: list[str] = Field(default_factory=list)  # words that reveal the person
    ny_sak: dict[str, str] | None = None  # tittel, arkivdel, klasse, enhet: create if missing


class Unidentified(BusinessError):
    """Neither the file name nor a side file says which case a document belongs to."""


class CaseChoice(BaseModel):
    """What a caseworker tells the robot about a document it could not place."""

    model_config = ConfigDict(extra="forbid")

    saksreferanse: str = Field(min_length=1, max_length=100, description="Saksreferanse")
    tittel: str = Field(min_length=1, max_length=300, description="Tittel på journalposten")
    journalposttype: Literal["I", "U", "N", "X", "S"] = Field(
        default="I", description="Journalposttype (I inngående, U utgående, N notat)"
    )
    dokumentets_dato: date = Field(description="Dokumentets dato")


def ask_for_case(ctx: RunContext, source: Path, reason: str) -> Metadata:
    """Ask a caseworker which case the document belongs to (config: ask_when_unidentified),
    showing what the robot can see of it; the answer places it."""
    preview = ""
    if source.suffix.lower() in config()["convert_to_pdf"]:
        preview = source.read_text(encoding="utf-8", errors="replace")[:300]
    choice = ctx.ask(
        CaseChoice,
        text=f"Hvilken sak hører dokumentet {source.name} til? ({reason})",
        to="caseworker",
        evidence={"Fil": source.name, "Begynnelsen av dokumentet": preview or "(ikke tekst)"},
    )
    ctx.rule(
        f"Saken {choice.saksreferanse} er valgt av en saksbehandler "
        "(dokumentet sa ikke selv hvilken sak det hører til)"
    )
    return Metadata(
        saksreferanse=choice.saksreferanse,
        tittel=choice.tittel,
        journalposttype=choice.journalposttype,
        dokumentets_dato=choice.dokumentets_dato,
    )


class ScanInput(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FileInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filnavn: str = Field(min_length=1, max_length=255, description="Filen i innboksen")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")

    @field_validator("filnavn")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        """A bare file name in the inbox: no folders, no way out of the inbox."""
        if (
            value in (".", "..")
            or "/" in value
            or "\\" in value
            or any(ord(c) < 32 for c in value)
            or value.startswith(".")
        ):
            raise ValueError(
                "må være et filnavn i innboksen (uten mapper, «..» eller kontrolltegn)"
            )
        return value


@task("arkivering.scan_inbox", input=ScanInput, max_attempts=3, title="Les arkivinnboksen")
def scan_inbox(ctx: RunContext, data: ScanInput) -> dict[str, Any]:
    """Legger én arkiveringsjobb per fil i innboksen i kø."""
    folder = inbox(ctx.settings)
    folder.mkdir(parents=True, exist_ok=True)
    queued = found = 0
    with ctx.step("Les innboksen"):
        for path in sorted(folder.iterdir()):
            if not path.is_file() or path.suffix == ".json" or path.name.startswith("."):
                continue
            found += 1
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            queued += ctx.submit(  # not a file a person already submitted (console upload)
                "arkivering",
                f"fil:{digest[:32]}",
                {"filnavn": path.name, "sha256": digest},
                unique_on="sha256",
            )
    ctx.log.info(f"{found} filer i innboksen, {queued} nye elementer")
    return {"found": found, "queued": queued}


@task(
    "arkivering",
    input=FileInput,
    systems=("archive",),
    max_attempts=4,
    roles=("caseworker", "operator", "admin"),
    upload=FileUpload(store_upload, ("filnavn", "sha256"), "Fil som skal arkiveres"),
    title="Arkiver et dokument",
    processing=Processing(
        purpose="Journalføre innkomne dokumenter i sak- og arkivsystemet",
        personal_data=("det dokumentet inneholder; skjermes etter offl. § 13 når det er merket",),
        legal_basis="Arkivlova § 6 og arkivforskrifta; offl. § 13 (skjerming); GDPR art. 6 nr. 1 "
        "c og e",
        recipients=("sak- og arkivsystemet (offentlig journal får aldri skjermet tittel)",),
        retention="Etter arkivplan og bevaringsvedtak; kjøreloggen i retention_days",
    ),
    config=("arkivering.yaml",),
    preload=("weasyprint", "pypdf", "httpx"),
)
def arkivering(ctx: RunContext, data: FileInput) -> dict[str, Any]:
    """Arkiverer en fil fra innboksen som journalpost i riktig saksmappe."""
    folder = inbox(ctx.settings)
    source = contained(folder, data.filnavn)
    if not source.is_file():
        done = contained(folder / "done", data.filnavn)
        if done.is_file() and sha256_file(done) == data.sha256:
            return {"status": "allerede arkivert", "fil": str(done)}
        raise BusinessError(f"Filen {data.filnavn} finnes ikke i innboksen")
    with ctx.step("Kontroller filens sjekksum"):
        if sha256_file(source) != data.sha256:  # not the file this item was made for: leave it
            raise BusinessError(
                f"Filen {data.filnavn} i innboksen har ikke sjekksummen elementet ble lagt inn "
                "med (filen er byttet ut eller endret); ingenting er arkivert eller flyttet"
            )
    try:
        try:
            with ctx.step("Les metadata"):
                meta = read_metadata(source)
        except Unidentified as exc:
            if not config().get("ask_when_unidentified", True):
                raise
            meta = ask_for_case(ctx, source, str(exc))
        with ctx.step("Skjerming og offentlig tittel"):
            public = public_title(
                meta.tittel,
                given=meta.offentlig_tittel,
                restriction=meta.tilgangsrestriksjon,
                words=meta.skjermede_ord,
                templates=config()["public_title"],
            )
            if meta.tilgangsrestriksjon:
                ctx.rule(
                    f"Skjermet ({meta.tilgangsrestriksjon}): tittelen er ikke offentlig; "
                    f"offentlig tittel «{public}» (offl. § 13, Noark 5 skjerming)"
                )
        with ctx.step("Lag PDF"):
            pdf = as_pdf(ctx, source)
        archive = ctx.open("archive")
        api = ArchiveApi(ctx, archive)
        try:
            case = api.case_by_reference(meta.saksreferanse)
            if case is None and not meta.ny_sak:
                raise BusinessError(
                    f"Fant ingen sak med referanse {meta.saksreferanse} for {data.filnavn}"
                )
            if case is None:
                assert meta.ny_sak is not None
                case_title = meta.ny_sak.get("tittel", meta.tittel)
                reference = meta.saksreferanse
                case = find_or_create_case(
                    ctx,
                    archive,
                    lambda: api.case_by_reference(reference),
                    ekstern_referanse=reference,
                    tittel=case_title,
                    offentlig_tittel=public_title(
                        case_title,
                        given=meta.ny_sak.get("offentlig_tittel", ""),
                        restriction=meta.tilgangsrestriksjon,
                        words=meta.skjermede_ord,
                        templates=config()["public_title"],
                    ),
                    arkivdel=meta.ny_sak.get("arkivdel", "Sakarkiv"),
                    klasse=meta.ny_sak.get("klasse", "033"),
                    enhet=meta.ny_sak.get("enhet", "Servicetorget"),
                    tilgangsrestriksjon=meta.tilgangsrestriksjon,
                )
            record = file_record(
                ctx,
                archive,
                api,
                case,
                Registration(
                    tittel=meta.tittel,
                    offentlig_tittel=public,
                    journalposttype=meta.journalposttype,
                    dokumentets_dato=meta.dokumentets_dato.isoformat(),
                    tilgangsrestriksjon=meta.tilgangsrestriksjon,
                    skjermingshjemmel=meta.skjermingshjemmel,
                    ekstern_referanse=f"arkiv:{data.sha256}",
                    document=pdf,
                ),
            )
        finally:
            api.close()
    except BusinessError as exc:
        move(source, folder / "rejected", reason=str(exc))
        raise
    with ctx.step("Flytt til done/"):
        move(source, folder / "done")
    return {"journalpost": record["registreringsID"], "sak": case["mappeID"]}


def contained(folder: Path, name: str) -> Path:
    """`folder/name`, refused unless it resolves (symlinks included) to a file directly in it."""
    base = folder.resolve()
    path = (folder / name).resolve()
    if path.parent != base:
        raise BusinessError(f"Filnavnet {name[:80]!r} peker ut av innboksen; ingenting er flyttet")
    return folder / name


def read_metadata(source: Path) -> Metadata:
    side = source.with_name(source.name + ".json")
    try:
        if side.exists():
            raw = json.loads(side.read_text(encoding="utf-8"))
        else:
            # An upload from the console carries a prefix of its own (u<16 hex>-) before the
            # user's file name: the metadata is in the user's part.
            parts = re.sub(r"^u[0-9a-f]{16}-", "", source.stem).split("__")
            if len(parts) not in (4, 5):
                raise Unidentified(
                    f"Filnavnet {source.name} følger ikke mønsteret "
                    "<saksreferanse>__<tittel>__<journalposttype>__<dato>[__<tilgangskode>], "
                    f"og det finnes ingen {side.name}"
                )
            names = ("saksreferanse", "tittel", "journalposttype", "dokumentets_dato")
            raw = dict(zip(names, parts[:4], strict=True))
            if len(parts) == 5:
                code = parts[4]
                hjemmel = config().get("skjermingshjemmel", {}).get(code)
                if not hjemmel:
                    raise BusinessError(
                        f"Filnavnet {source.name} har tilgangskoden {code!r}, som det ikke er "
                        "oppgitt noen skjermingshjemmel for (config/arkivering.yaml)"
                    )
                raw.update(tilgangsrestriksjon=code, skjermingshjemmel=hjemmel)
        return Metadata.model_validate(raw)
    except json.JSONDecodeError as exc:
        raise BusinessError(f"{side.name} er ikke gyldig JSON: {exc.msg}") from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise BusinessError(f"Ugyldige metadata for {source.name}: {problems}") from None


def as_pdf(ctx: RunContext, source: Path) -> Path:
    """The document as PDF: PDFs as they are (checked, active content refused), text and
    HTML converted (nothing outside the document is fetched or embedded: tasks/pdf_fetch.py)."""
    cfg = config()
    suffix = source.suffix.lower()
    if suffix in cfg["accepted"]:
        if not source.read_bytes()[:5].startswith(b"%PDF"):
            raise BusinessError(f"{source.name} er ikke en lesbar PDF-fil")
        active = active_content(source)
        if active:  # refused, not cleaned: the archive keeps a document as it came
            raise BusinessError(
                f"{source.name} har aktivt innhold ({', '.join(active)}), som et arkivdokument "
                "ikke kan ha (PDF/A forbyr det); ingenting er arkivert. Lagre dokumentet som "
                "PDF/A uten dette og legg det inn på nytt"
            )
        kind = pdf_kind(source)
        if kind.variantformat != "A":
            if cfg.get("pdf_not_pdfa") != "produksjonsformat":
                raise BusinessError(
                    f"{source.name} er ikke PDF/A (arkivformat), og konfigurasjonen tillater "
                    "ikke å arkivere den i produksjonsformat"
                )
            ctx.log.info(f"{source.name} er ikke PDF/A; arkiveres i produksjonsformat (P)")
        return source
    if suffix not in cfg["convert_to_pdf"]:
        raise BusinessError(
            f"{source.name}: filtypen {suffix or '(ingen)'} kan ikke arkiveres "
            f"(godtas: {', '.join(cfg['accepted'] + cfg['convert_to_pdf'])})"
        )
    limit = int(cfg.get("max_convert_bytes", MAX_HTML_BYTES))
    size = source.stat().st_size
    if size > limit:
        raise BusinessError(
            f"Filen er for stor til å gjøres om til PDF ({size:_} byte; grensen er "
            f"{limit:_} byte)".replace("_", " ")
            + f": {source.name}"
        )
    try:
        text = source.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BusinessError(f"{source.name} kan ikke leses som tekst (UTF-8)") from None
    body = (
        text
        if suffix in (".html", ".htm")
        else f"<pre style='white-space:pre-wrap'>{html.escape(text)}</pre>"
    )
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    return stable_document(
        ctx,
        f"arkiv-{digest[:32]}.pdf",
        lambda path: html_to_pdfa(
            body,
            path,
            title=source.stem,
            log=ctx.log,
            max_bytes=6 * limit,  # escaped: &quot;
        ),
    )


def move(source: Path, folder: Path, reason: str = "") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for path in (source, source.with_name(source.name + ".json")):
        if path.exists():
            shutil.move(str(path), folder / path.name)
    if reason:
        (folder / f"{source.name}.grunn.txt").write_text(reason + "\n", encoding="utf-8")
