"""The Noark 5 sak/arkiv store (in the style of Elements or Public 360): saksmapper,
journalposter, dokumentbeskrivelser and dokumentobjekter with SHA-256 checksums."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sandbox.archive.odata import where as odata_where
from sandbox.common import local_today

USERS = {"robot": "robot-passord", "arkivar": "arkivar-passord"}
JOURNALPOSTTYPER = {
    "I": "Inngående dokument",
    "U": "Utgående dokument",
    "N": "Organinternt dokument for oppfølging",
    "X": "Organinternt dokument uten oppfølging",
    "S": "Saksframlegg",
}
TILGANGSKODER = {
    "": "Ingen",
    "P": "Personalsak",
    "U": "Unntatt offentlighet",
    "13": "Taushetsplikt",
}
# The standard's code lists for skjerming (Noark 5 tjenestegrensesnitt, vedlegg 4 / kapittel 7:
# SkjermingMetadata M502, SkjermingDokument M503) and korrespondanseparttype (M087).
SKJERMING_METADATA = {
    "KID": "Skjerming klasseID",
    "TKL": "Skjerming tittel klasse",
    "TM1": "Skjerming tittel mappe - unntatt første linje",
    "TMO": "Skjerming tittel mappe - utvalgte ord",
    "NPS": "Skjerming navn part i sak",
    "TR1": "Skjerming tittel registrering - unntatt første linje",
    "TRO": "Skjerming tittel registrering - utvalgte ord",
    "NA": "Skjerming navn avsender",
    "NM": "Skjerming navn mottaker",
    "TD": "Skjerming tittel dokumentbeskrivelse",
    "MT": "Skjerming merknadstekst",
}
SKJERMING_DOKUMENT = {"H": "Skjerming av hele dokumentet", "D": "Skjerming av deler av dokumentet"}
KORRESPONDANSEPARTTYPER = {
    "EA": "Avsender",
    "EM": "Mottaker",
    "EK": "Kopimottaker",
    "GM": "Gruppemottaker",
    "IA": "Intern avsender",
    "IM": "Intern mottaker",
    "IK": "Intern kopimottaker",
    "IS": "Medavsender",
}
# K-koder (KS' classification for municipal case archives; class 2 is økonomi, 4 personal).
KLASSER = {
    "400": "Personalforvaltning",
    "L42": "Byggesak",
    "033": "Arkiv og dokumentasjon",
    "210": "Økonomi",
}

# The arkivdeler of the archive (Noark 5: arkiv -> arkivdel -> klassifikasjonssystem -> klasse).
# Personnel files have their own arkivdel ordered by the person: the klasse is the employee
# number (klassifikasjonstype UO, objektbasert), never the fødselsnummer (PNR), so that no
# class ID, title or URL carries a national identity number.
SAKARKIV, PERSONALMAPPER = "Sakarkiv", "Personalmapper"
ARKIVDELER = {
    SAKARKIV: ("KK", "K-koder"),
    PERSONALMAPPER: ("UO", "Ansattnummer"),
}

SCHEMA = """
CREATE TABLE arkiv (
    id INTEGER PRIMARY KEY, tittel TEXT NOT NULL, arkivstatus TEXT NOT NULL DEFAULT 'O',
    opprettet_dato TEXT NOT NULL
);
CREATE TABLE arkivdel (
    id INTEGER PRIMARY KEY, arkiv_id INTEGER NOT NULL REFERENCES arkiv(id),
    tittel TEXT NOT NULL UNIQUE, klassifikasjonstype TEXT NOT NULL,
    klassifikasjonssystem TEXT NOT NULL, arkivdelstatus TEXT NOT NULL DEFAULT 'A',
    opprettet_dato TEXT NOT NULL
);
CREATE TABLE saksmappe (
    id INTEGER PRIMARY KEY, arkivdel_id INTEGER NOT NULL REFERENCES arkivdel(id),
    saksaar INTEGER NOT NULL, sakssekvensnummer INTEGER NOT NULL,
    tittel TEXT NOT NULL, offentlig_tittel TEXT NOT NULL, klasse TEXT NOT NULL,
    administrativ_enhet TEXT NOT NULL, saksansvarlig TEXT NOT NULL, saksdato TEXT NOT NULL,
    saksstatus TEXT NOT NULL DEFAULT 'B', ekstern_referanse TEXT UNIQUE,
    tilgangsrestriksjon TEXT NOT NULL DEFAULT '', opprettet_av TEXT NOT NULL,
    versjon INTEGER NOT NULL DEFAULT 1,
    UNIQUE (saksaar, sakssekvensnummer)
);
CREATE TABLE journalpost (
    id INTEGER PRIMARY KEY, saksmappe_id INTEGER NOT NULL REFERENCES saksmappe(id),
    dokumentnummer INTEGER NOT NULL, journalaar INTEGER NOT NULL,
    journalsekvensnummer INTEGER NOT NULL, tittel TEXT NOT NULL, offentlig_tittel TEXT NOT NULL,
    journalposttype TEXT NOT NULL, journalstatus TEXT NOT NULL, journaldato TEXT NOT NULL,
    dokumentets_dato TEXT NOT NULL, mottatt_dato TEXT, tilgangsrestriksjon TEXT NOT NULL,
    skjermingshjemmel TEXT NOT NULL, ekstern_referanse TEXT UNIQUE, opprettet_av TEXT NOT NULL,
    skjerming_metadata TEXT NOT NULL DEFAULT '', skjerming_dokument TEXT NOT NULL DEFAULT '',
    skjermingsvarighet INTEGER, versjon INTEGER NOT NULL DEFAULT 1,
    UNIQUE (saksmappe_id, dokumentnummer)
);
CREATE TABLE korrespondansepart (
    id INTEGER PRIMARY KEY, journalpost_id INTEGER NOT NULL REFERENCES journalpost(id),
    korrespondanseparttype TEXT NOT NULL, navn TEXT NOT NULL
);
-- Merknader of a mappe or a registrering (eier: 'saksmappe:<id>' or 'journalpost:<id>').
CREATE TABLE merknad (
    id INTEGER PRIMARY KEY, eier TEXT NOT NULL,
    merknadstekst TEXT NOT NULL, merknadstype TEXT NOT NULL, merknadsdato TEXT NOT NULL,
    merknad_registrert_av TEXT NOT NULL
);
CREATE TABLE dokumentbeskrivelse (
    id INTEGER PRIMARY KEY, journalpost_id INTEGER NOT NULL REFERENCES journalpost(id),
    tilknyttet_som TEXT NOT NULL, dokumentnummer INTEGER NOT NULL, tittel TEXT NOT NULL,
    dokumentstatus TEXT NOT NULL DEFAULT 'F', ekstern_referanse TEXT UNIQUE,
    UNIQUE (journalpost_id, dokumentnummer)
);
CREATE TABLE dokumentobjekt (
    id INTEGER PRIMARY KEY,
    dokumentbeskrivelse_id INTEGER NOT NULL REFERENCES dokumentbeskrivelse(id),
    versjonsnummer INTEGER NOT NULL DEFAULT 1, variantformat TEXT NOT NULL DEFAULT 'P',
    format TEXT, mime_type TEXT, filnavn TEXT, filstoerrelse INTEGER, sjekksum TEXT, path TEXT
);
-- What the web UI shows: one row per stored file, with its description.
CREATE VIEW dokument AS
SELECT o.id, b.journalpost_id, b.tilknyttet_som, b.dokumentnummer, b.tittel, b.ekstern_referanse,
       o.filnavn, o.format, o.mime_type, o.variantformat, o.filstoerrelse, o.sjekksum, o.path,
       o.dokumentbeskrivelse_id
FROM dokumentobjekt o JOIN dokumentbeskrivelse b ON b.id = o.dokumentbeskrivelse_id
WHERE o.path IS NOT NULL;
"""


def archive_format(content: bytes) -> tuple[str, str]:
    """(variantformat, PRONOM code) of an uploaded PDF, as an archive system decides it: PDF/A
    (by the XMP identification pdfaid:part/conformance) is arkivformat "A"; any other PDF is
    produksjonsformat "P" (fmt/276, PDF 1.7)."""
    import io
    import re

    import pypdf

    pronom = {("1", "A"): "fmt/95", ("1", "B"): "fmt/354", ("2", "A"): "fmt/476",
              ("2", "B"): "fmt/477", ("2", "U"): "fmt/478"}  # fmt: skip
    try:
        metadata = pypdf.PdfReader(io.BytesIO(content)).trailer["/Root"].get("/Metadata")
        xmp = metadata.get_object().get_data() if metadata is not None else b""
    except Exception:  # noqa: BLE001
        xmp = b""
    part = re.search(rb"pdfaid:part(?:=\"|>)\s*(\d)", xmp)
    level = re.search(rb"pdfaid:conformance(?:=\"|>)\s*([ABUabu])", xmp)
    if part and level:
        key = (part.group(1).decode(), level.group(1).decode().upper())
        if key in pronom:
            return "A", pronom[key]
    return "P", "fmt/276"


def _upload_errors(content: bytes, content_type: str) -> dict[str, str]:
    if content.startswith(b"%PDF") and content_type == "application/pdf":
        return {}
    return {"mimeType": "Arkivet tar bare imot PDF (application/pdf)."}


@dataclass(frozen=True)
class Screening:
    """The standard's skjerming beyond tilgangsrestriksjon and hjemmel (kapittel 7, Skjerming:
    M502 skjermingMetadata, M503 skjermingDokument, M504 skjermingsvarighet)."""

    metadata: tuple[str, ...] = ()
    dokument: str = ""
    varighet: int | None = None

    @classmethod
    def parse(cls, metadata: str, dokument: str, varighet: str) -> Screening:
        """From the web form: codes separated by spaces or commas; years as digits."""
        codes = tuple(c for c in metadata.replace(",", " ").upper().split() if c)
        years = int(varighet) if varighet.strip().isdigit() else (-1 if varighet.strip() else None)
        return cls(codes, dokument.strip().upper(), years)

    def errors(self, tilgangsrestriksjon: str) -> dict[str, str]:
        errors = {}
        unknown = [c for c in self.metadata if c not in SKJERMING_METADATA]
        if unknown:
            errors["skjermingMetadata"] = f"Ukjent kode for skjerming av metadata: {unknown[0]}."
        if self.dokument and self.dokument not in SKJERMING_DOKUMENT:
            errors["skjermingDokument"] = "Skjerming av dokument må være H eller D."
        if self.varighet is not None and not 0 < self.varighet <= 200:
            errors["skjermingsvarighet"] = "Skjermingsvarighet må være et antall år (1-200)."
        if not tilgangsrestriksjon and (self.metadata or self.dokument or self.varighet):
            errors["tilgangsrestriksjon"] = "Skjerming krever en tilgangskode."
        return errors


class ArchiveError(ValueError):
    """A registration the archive refuses, with the message it shows (Norwegian)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass(frozen=True)
class Upload:
    filename: str
    content: bytes


class ArchiveData:
    def __init__(self, data_dir: Path, today: date | None = None) -> None:
        self.dir = data_dir / "archive"
        self.files = self.dir / "dokumenter"
        self.files.mkdir(parents=True, exist_ok=True)
        self.today = today or local_today()
        path = self.dir / "archive.db"
        if path.exists():
            path.unlink()
        self.conn = sqlite3.connect(path, check_same_thread=False)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.executescript(SCHEMA)
        self.lock = threading.RLock()
        self._seed()

    def _seed(self) -> None:
        today = self.today.isoformat()
        self.conn.execute(
            "INSERT INTO arkiv (tittel, opprettet_dato) VALUES (?, ?)", ("Kommunens arkiv", today)
        )
        for tittel, (kind, system) in ARKIVDELER.items():
            self.conn.execute(
                "INSERT INTO arkivdel (arkiv_id, tittel, klassifikasjonstype, "
                "klassifikasjonssystem, opprettet_dato) VALUES (1, ?, ?, ?, ?)",
                (tittel, kind, system, today),
            )
        for tittel, klasse, ekstern in (
            ("Byggesak – Storgata 1, tilbygg", "L42", "BYGG-2026-001"),
            ("Byggesak – Fjordveien 12, garasje", "L42", "BYGG-2026-002"),
            ("Innkjøp av skoleutstyr 2026", "210", "INNKJOP-2026-17"),
            ("Arkivplan – revisjon", "033", "ARKIV-2026-1"),
        ):
            self.create_case(tittel, klasse, "Servicetorget", "arkivar", ekstern, tittel, "")

    def arkivdel_id(self, tittel: str) -> int | None:
        rows = self.query("SELECT id FROM arkivdel WHERE tittel = ?", (tittel,))
        return int(rows[0]["id"]) if rows else None

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self.lock:
            return self.conn.execute(sql, args).fetchall()

    # Saksmappe --------------------------------------------------------------------------------

    def create_case(
        self,
        tittel: str,
        klasse: str,
        enhet: str,
        ansvarlig: str,
        ekstern_referanse: str | None,
        offentlig_tittel: str,
        tilgangsrestriksjon: str,
        arkivdel: str = SAKARKIV,
    ) -> int:
        errors = {}
        if not tittel.strip():
            errors["tittel"] = "Tittel må fylles ut."
        arkivdel_id = self.arkivdel_id(arkivdel)
        klasse = klasse.strip()
        if arkivdel_id is None:
            errors["arkivdel"] = "Velg en arkivdel."
        elif arkivdel == PERSONALMAPPER:
            if not klasse.isdigit() or len(klasse) > 9:
                errors["klasse"] = "Personalmapper ordnes etter ansattnummer (kun siffer)."
            elif self.query(
                "SELECT 1 FROM saksmappe WHERE arkivdel_id = ? AND klasse = ?",
                (arkivdel_id, klasse),
            ):
                errors["klasse"] = f"Det finnes allerede en personalmappe for ansatt {klasse}."
        elif klasse not in KLASSER:
            errors["klasse"] = "Velg en gyldig klasse (K-kode)."
        if not enhet.strip():
            errors["administrativEnhet"] = "Administrativ enhet må fylles ut."
        if tilgangsrestriksjon and not offentlig_tittel.strip():
            # A screened case never gets its title as public title (offentlig journal).
            errors["offentligTittel"] = "Offentlig tittel må fylles ut når tilgangskode er satt."
        with self.lock:
            if ekstern_referanse and self.query(
                "SELECT 1 FROM saksmappe WHERE ekstern_referanse = ?", (ekstern_referanse,)
            ):
                errors["eksternReferanse"] = (
                    f"Det finnes allerede en sak med ekstern referanse {ekstern_referanse}."
                )
            if errors:
                raise ArchiveError(errors)
            year = self.today.year
            seq = self.conn.execute(
                "SELECT coalesce(max(sakssekvensnummer), 0) + 1 FROM saksmappe WHERE saksaar = ?",
                (year,),
            ).fetchone()[0]
            cursor = self.conn.execute(
                "INSERT INTO saksmappe (arkivdel_id, saksaar, sakssekvensnummer, tittel, "
                "offentlig_tittel, klasse, administrativ_enhet, saksansvarlig, saksdato, "
                "ekstern_referanse, tilgangsrestriksjon, opprettet_av) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    arkivdel_id,
                    year,
                    seq,
                    tittel.strip(),
                    (offentlig_tittel or tittel).strip(),
                    klasse,
                    enhet.strip(),
                    ansvarlig,
                    self.today.isoformat(),
                    ekstern_referanse or None,
                    tilgangsrestriksjon,
                    ansvarlig,
                ),
            )
            self.conn.commit()
            return int(cursor.lastrowid or 0)

    def search_cases(
        self, tittel: str = "", klasse: str = "", aar: str = "", ekstern: str = ""
    ) -> list[sqlite3.Row]:
        where, args = [], []
        if tittel:
            where.append("tittel LIKE ?")
            args.append(f"%{tittel}%")
        if klasse:
            where.append("klasse = ?")
            args.append(klasse)
        if aar:
            where.append("CAST(saksaar AS TEXT) = ?")
            args.append(aar)
        if ekstern:
            where.append("ekstern_referanse = ?")
            args.append(ekstern)
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        return self.query(
            f"SELECT * FROM saksmappe {clause} ORDER BY saksaar DESC, "
            "sakssekvensnummer DESC LIMIT 200",
            tuple(args),
        )

    def case(self, case_id: int) -> sqlite3.Row | None:
        rows = self.query("SELECT * FROM saksmappe WHERE id = ?", (case_id,))
        return rows[0] if rows else None

    # Journalpost ------------------------------------------------------------------------------

    def create_record(
        self,
        case_id: int,
        *,
        tittel: str,
        offentlig_tittel: str,
        journalposttype: str,
        dokumentets_dato: str,
        tilgangsrestriksjon: str,
        skjermingshjemmel: str,
        ekstern_referanse: str,
        user: str,
        hoveddokument: Upload | None,
        vedlegg: list[Upload],
        documents_required: bool = True,
        skjerming: Screening | None = None,
        korrespondanseparter: tuple[tuple[str, str], ...] = (),
    ) -> int:
        """A journalpost with its documents (web UI); through the API (documents_required
        False) the documents follow as dokumentbeskrivelse/dokumentobjekt/fil."""
        screening = skjerming or Screening()
        errors: dict[str, str] = screening.errors(tilgangsrestriksjon)
        for kind, name in korrespondanseparter:
            if kind not in KORRESPONDANSEPARTTYPER or not name.strip():
                errors["korrespondansepart"] = "Korrespondansepart må ha type og navn."
        if self.case(case_id) is None:
            raise ArchiveError({"saksmappe": f"Fant ikke saksmappe {case_id}."})
        if not tittel.strip():
            errors["tittel"] = "Tittel må fylles ut."
        if journalposttype not in JOURNALPOSTTYPER:
            errors["journalposttype"] = "Velg journalposttype (I, U, N, X eller S)."
        try:
            parsed = date.fromisoformat(dokumentets_dato)
            if parsed > self.today:
                errors["dokumentetsDato"] = "Dokumentets dato kan ikke være fram i tid."
        except ValueError:
            errors["dokumentetsDato"] = "Dokumentets dato må være en gyldig dato (ÅÅÅÅ-MM-DD)."
        if tilgangsrestriksjon not in TILGANGSKODER:
            errors["tilgangsrestriksjon"] = "Ukjent tilgangskode."
        elif tilgangsrestriksjon and not skjermingshjemmel.strip():
            errors["skjermingshjemmel"] = "Skjermingshjemmel må fylles ut når tilgangskode er satt."
        if tilgangsrestriksjon and not offentlig_tittel.strip():
            errors["offentligTittel"] = "Offentlig tittel må fylles ut når tilgangskode er satt."
        if documents_required and (hoveddokument is None or not hoveddokument.content):
            errors["hoveddokument"] = "Hoveddokument må lastes opp."
        elif hoveddokument is not None:
            for upload in [hoveddokument, *vedlegg]:
                if not upload.content.startswith(b"%PDF"):
                    errors["hoveddokument" if upload is hoveddokument else "vedlegg"] = (
                        f"{upload.filename} er ikke en PDF-fil."
                    )
        with self.lock:
            if ekstern_referanse:
                existing = self.query(
                    "SELECT j.*, s.saksaar, s.sakssekvensnummer FROM journalpost j "
                    "JOIN saksmappe s ON s.id = j.saksmappe_id WHERE j.ekstern_referanse = ?",
                    (ekstern_referanse,),
                )
                if existing:
                    e = existing[0]
                    errors["eksternReferanse"] = (
                        "Journalposten finnes allerede: "
                        f"{e['saksaar']}/{e['sakssekvensnummer']}-{e['dokumentnummer']}."
                    )
            if errors:
                raise ArchiveError(errors)
            year = self.today.year
            number = self.conn.execute(
                "SELECT coalesce(max(dokumentnummer), 0) + 1 FROM "
                "journalpost WHERE saksmappe_id = ?",
                (case_id,),
            ).fetchone()[0]
            seq = self.conn.execute(
                "SELECT coalesce(max(journalsekvensnummer), 0) + 1 FROM "
                "journalpost WHERE journalaar = ?",
                (year,),
            ).fetchone()[0]
            cursor = self.conn.execute(
                "INSERT INTO journalpost (saksmappe_id, dokumentnummer, journalaar, "
                "journalsekvensnummer, tittel, offentlig_tittel, journalposttype, journalstatus, "
                "journaldato, dokumentets_dato, mottatt_dato, tilgangsrestriksjon, "
                "skjermingshjemmel, ekstern_referanse, opprettet_av, skjerming_metadata, "
                "skjerming_dokument, skjermingsvarighet) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    case_id,
                    number,
                    year,
                    seq,
                    tittel.strip(),
                    (offentlig_tittel or tittel).strip(),
                    journalposttype,
                    "J",
                    self.today.isoformat(),
                    dokumentets_dato,
                    self.today.isoformat() if journalposttype == "I" else None,
                    tilgangsrestriksjon,
                    skjermingshjemmel.strip(),
                    ekstern_referanse or None,
                    user,
                    " ".join(screening.metadata),
                    screening.dokument,
                    screening.varighet,
                ),
            )
            record_id = int(cursor.lastrowid or 0)
            for kind, name in korrespondanseparter:
                self._add_party(record_id, kind, name)
            uploads = [("H", hoveddokument)] if hoveddokument else []
            for role, upload in [*uploads, *[("V", v) for v in vedlegg]]:
                description = self._describe(
                    record_id,
                    role,
                    Path(upload.filename).stem,
                    # The hoveddokument carries the external reference (the field the Noark 5
                    # tjenestegrensesnitt defines on dokumentbeskrivelse, searchable by $filter).
                    ekstern_referanse if role == "H" and ekstern_referanse else None,
                )
                self._store(self._new_object(description), upload.filename, upload.content)
            self.conn.commit()
            return record_id

    def _add_party(self, record_id: int, kind: str, name: str) -> int:
        cursor = self.conn.execute(
            "INSERT INTO korrespondansepart (journalpost_id, korrespondanseparttype, navn) "
            "VALUES (?,?,?)",
            (record_id, kind, name.strip()),
        )
        return int(cursor.lastrowid or 0)

    def add_party(self, record_id: int, kind: str, name: str) -> int:
        if kind not in KORRESPONDANSEPARTTYPER or not name.strip():
            raise ArchiveError({"korrespondansepart": "Korrespondansepart må ha type og navn."})
        with self.lock:
            party_id = self._add_party(record_id, kind, name)
            self.conn.commit()
            return party_id

    def add_note(self, owner: str, tekst: str, kind: str, user: str) -> int:
        if not tekst.strip():
            raise ArchiveError({"merknadstekst": "Merknadstekst må fylles ut."})
        with self.lock:
            cursor = self.conn.execute(
                "INSERT INTO merknad (eier, merknadstekst, merknadstype, merknadsdato, "
                "merknad_registrert_av) VALUES (?,?,?,?,?)",
                (owner, tekst.strip(), kind or "B", self.today.isoformat(), user),
            )
            self.conn.commit()
            return int(cursor.lastrowid or 0)

    def update(self, entity: str, entity_id: int, version: int, fields: dict[str, Any]) -> bool:
        """Change fields of a saksmappe or journalpost if it is still at `version` (the ETag the
        client read); False when someone changed it since (the API answers 412)."""
        columns = ", ".join(f"{column} = ?" for column in fields)
        with self.lock:
            cursor = self.conn.execute(
                f"UPDATE {entity} SET {columns}, versjon = versjon + 1 "  # noqa: S608 (names are ours)
                "WHERE id = ? AND versjon = ?",
                (*fields.values(), entity_id, version),
            )
            self.conn.commit()
            return cursor.rowcount == 1

    def _describe(
        self, record_id: int, role: str, tittel: str, ekstern_referanse: str | None
    ) -> int:
        number = self.conn.execute(
            "SELECT coalesce(max(dokumentnummer), 0) + 1 FROM dokumentbeskrivelse "
            "WHERE journalpost_id = ?",
            (record_id,),
        ).fetchone()[0]
        cursor = self.conn.execute(
            "INSERT INTO dokumentbeskrivelse (journalpost_id, tilknyttet_som, dokumentnummer, "
            "tittel, ekstern_referanse) VALUES (?,?,?,?,?)",
            (record_id, role, number, tittel, ekstern_referanse),
        )
        return int(cursor.lastrowid or 0)

    def _new_object(self, description_id: int, **prefilled: Any) -> int:
        cursor = self.conn.execute(
            "INSERT INTO dokumentobjekt (dokumentbeskrivelse_id, versjonsnummer, variantformat, "
            "format, mime_type, filnavn, filstoerrelse, sjekksum) VALUES (?,?,?,?,?,?,?,?)",
            (
                description_id,
                prefilled.get("versjonsnummer", 1),
                prefilled.get("variantformat") or "P",
                prefilled.get("format"),
                prefilled.get("mime_type"),
                prefilled.get("filnavn"),
                prefilled.get("filstoerrelse"),
                prefilled.get("sjekksum"),
            ),
        )
        return int(cursor.lastrowid or 0)

    def _store(self, object_id: int, filnavn: str, content: bytes) -> None:
        digest = hashlib.sha256(content).hexdigest()
        path = self.files / f"{object_id}-{digest[:12]}.pdf"
        path.write_bytes(content)
        variant, pronom = archive_format(content)
        self.conn.execute(
            "UPDATE dokumentobjekt SET filnavn = ?, format = ?, mime_type = ?, "
            "filstoerrelse = ?, sjekksum = ?, path = ?, variantformat = ? WHERE id = ?",
            (
                filnavn,
                pronom,
                "application/pdf",
                len(content),
                digest,
                str(path),
                variant,
                object_id,
            ),
        )

    # Through the API: dokumentbeskrivelse -> dokumentobjekt -> fil --------------------------------

    def new_description(
        self, record_id: int, role: str, tittel: str, ekstern_referanse: str | None
    ) -> int:
        errors = {}
        if role not in ("H", "V"):
            errors["tilknyttetRegistreringSom"] = "Må være H (hoveddokument) eller V (vedlegg)."
        if not tittel.strip():
            errors["tittel"] = "Tittel må fylles ut."
        with self.lock:
            if ekstern_referanse and self.query(
                "SELECT 1 FROM dokumentbeskrivelse WHERE ekstern_referanse = ?",
                (ekstern_referanse,),
            ):
                errors["eksternReferanse"] = (
                    f"Det finnes allerede et dokument med ekstern referanse {ekstern_referanse}."
                )
            if errors:
                raise ArchiveError(errors)
            description_id = self._describe(record_id, role, tittel.strip(), ekstern_referanse)
            self.conn.commit()
            return description_id

    def new_object(self, description_id: int, **prefilled: Any) -> int:
        with self.lock:
            object_id = self._new_object(description_id, **prefilled)
            self.conn.commit()
            return object_id

    def upload(self, object_id: int, content: bytes, content_type: str) -> None:
        """Store the file of a dokumentobjekt, checking the values given when it was created
        (the standard: mimeType, filstoerrelse and sjekksum must match, else 400); a file is
        never replaced (a new dokumentobjekt is needed)."""
        with self.lock:
            row = self.query("SELECT * FROM dokumentobjekt WHERE id = ?", (object_id,))[0]
            errors = _upload_errors(content, content_type)
            if row["path"]:
                errors["fil"] = "Dokumentobjektet har allerede en fil; opprett et nytt."
            if row["filstoerrelse"] is not None and row["filstoerrelse"] != len(content):
                errors["filstoerrelse"] = "Filstørrelsen stemmer ikke med dokumentobjektet."
            digest = hashlib.sha256(content).hexdigest()
            if row["sjekksum"] and row["sjekksum"].lower() != digest:
                errors["sjekksum"] = "Sjekksummen stemmer ikke med den opplastede filen."
            if errors:
                raise ArchiveError(errors)
            self._store(object_id, row["filnavn"] or f"dokument-{object_id}.pdf", content)
            self.conn.commit()

    def upload_new(
        self, description_id: int, filnavn: str, content: bytes, content_type: str
    ) -> int:
        """Upload straight to a dokumentbeskrivelse: its dokumentobjekt is made with the file,
        or not at all."""
        with self.lock:
            errors = _upload_errors(content, content_type)
            if errors:
                raise ArchiveError(errors)
            object_id = self._new_object(description_id, filnavn=filnavn)
            self._store(object_id, filnavn, content)
            self.conn.commit()
            return object_id

    def record(self, record_id: int) -> sqlite3.Row | None:
        rows = self.query(
            "SELECT j.*, s.saksaar, s.sakssekvensnummer, s.tittel AS sakstittel "
            "FROM journalpost j JOIN saksmappe s ON s.id = j.saksmappe_id "
            "WHERE j.id = ?",
            (record_id,),
        )
        return rows[0] if rows else None

    def records(self, case_id: int | None = None, ekstern: str = "") -> list[sqlite3.Row]:
        where, args = [], []
        if case_id is not None:
            where.append("j.saksmappe_id = ?")
            args.append(case_id)
        if ekstern:
            where.append("j.ekstern_referanse = ?")
            args.append(ekstern)
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        return self.query(
            "SELECT j.*, s.saksaar, s.sakssekvensnummer FROM journalpost j JOIN "
            f"saksmappe s ON s.id = j.saksmappe_id {clause} ORDER BY j.id",
            tuple(args),
        )

    def find(
        self,
        entity: str,
        odata_filter: str = "",
        top: int = 100,
        skip: int = 0,
        scope: tuple[str, Any] | None = None,
    ) -> tuple[list[sqlite3.Row], int]:
        """One page of an entity list and the total count, filtered by an OData `$filter`
        (raises ODataError) and optionally scoped to a parent (field path, value)."""
        listing = LISTINGS[entity]
        conditions, params = [], []
        if scope is not None:
            conditions.append(f"{listing.fields[scope[0]]} = ?")
            params.append(scope[1])
        if odata_filter.strip():
            condition, values = odata_where(odata_filter, listing.fields)
            conditions.append(condition)
            params.extend(values)
        clause = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        total = self.query(f"SELECT count(*) FROM ({listing.sql}{clause})", tuple(params))[0][0]
        rows = self.query(
            f"{listing.sql}{clause} ORDER BY {listing.order} LIMIT ? OFFSET ?",
            (*params, top, skip),
        )
        return rows, int(total)

    def get(self, entity: str, entity_id: int) -> sqlite3.Row | None:
        rows, _ = self.find(entity, top=1, scope=("systemID", entity_id))
        return rows[0] if rows else None

    def documents(self, record_id: int) -> list[sqlite3.Row]:
        return self.query(
            "SELECT * FROM dokument WHERE journalpost_id = ? ORDER BY dokumentnummer", (record_id,)
        )

    def document(self, document_id: int) -> sqlite3.Row | None:
        rows = self.query("SELECT * FROM dokument WHERE id = ?", (document_id,))
        return rows[0] if rows else None


# What the API lists, with the fields a `$filter` may name (Noark 5 names -> columns) and the
# column a sub-list (e.g. the mapper of one arkivdel) is scoped by.
@dataclass(frozen=True)
class Listing:
    sql: str
    fields: dict[str, str]
    order: str


_CASE_ID = "s.saksaar || '/' || s.sakssekvensnummer"
LISTINGS = {
    "arkiv": Listing(
        "SELECT a.* FROM arkiv a",
        {"systemID": "a.id", "tittel": "a.tittel", "arkivstatus/kode": "a.arkivstatus"},
        "a.id",
    ),
    "arkivdel": Listing(
        "SELECT d.* FROM arkivdel d",
        {
            "systemID": "d.id",
            "tittel": "d.tittel",
            "arkivdelstatus/kode": "d.arkivdelstatus",
            "arkiv/systemID": "d.arkiv_id",
        },
        "d.id",
    ),
    "saksmappe": Listing(
        "SELECT s.*, d.tittel AS arkivdel_tittel FROM saksmappe s "
        "JOIN arkivdel d ON d.id = s.arkivdel_id",
        {
            "systemID": "s.id",
            "mappeID": _CASE_ID,
            "tittel": "s.tittel",
            "offentligTittel": "s.offentlig_tittel",
            "saksaar": "s.saksaar",
            "sakssekvensnummer": "s.sakssekvensnummer",
            "saksdato": "s.saksdato",
            "administrativEnhet": "s.administrativ_enhet",
            "saksansvarlig": "s.saksansvarlig",
            "saksstatus/kode": "s.saksstatus",
            "klasse/klasseID": "s.klasse",
            "arkivdel/systemID": "s.arkivdel_id",
            "virksomhetsspesifikkeMetadata/eksternReferanse": "s.ekstern_referanse",
        },
        "s.id",
    ),
    "journalpost": Listing(
        "SELECT j.*, s.saksaar, s.sakssekvensnummer FROM journalpost j "
        "JOIN saksmappe s ON s.id = j.saksmappe_id",
        {
            "systemID": "j.id",
            "tittel": "j.tittel",
            "offentligTittel": "j.offentlig_tittel",
            "journalaar": "j.journalaar",
            "journalsekvensnummer": "j.journalsekvensnummer",
            "journalpostnummer": "j.dokumentnummer",
            "journalposttype/kode": "j.journalposttype",
            "journalstatus/kode": "j.journalstatus",
            "journaldato": "j.journaldato",
            "dokumentetsDato": "j.dokumentets_dato",
            "mappe/systemID": "j.saksmappe_id",
        },
        "j.id",
    ),
    "korrespondansepart": Listing(
        "SELECT k.* FROM korrespondansepart k",
        {
            "systemID": "k.id",
            "navn": "k.navn",
            "korrespondanseparttype/kode": "k.korrespondanseparttype",
            "registrering/systemID": "k.journalpost_id",
        },
        "k.id",
    ),
    "merknad": Listing(
        "SELECT m.* FROM merknad m",
        {
            "systemID": "m.id",
            "merknadstekst": "m.merknadstekst",
            "merknadstype/kode": "m.merknadstype",
            "merknadsdato": "m.merknadsdato",
            "eier": "m.eier",
        },
        "m.id",
    ),
    "dokumentbeskrivelse": Listing(
        "SELECT b.* FROM dokumentbeskrivelse b",
        {
            "systemID": "b.id",
            "tittel": "b.tittel",
            "dokumentnummer": "b.dokumentnummer",
            "eksternReferanse": "b.ekstern_referanse",
            "tilknyttetRegistreringSom/kode": "b.tilknyttet_som",
            "dokumentstatus/kode": "b.dokumentstatus",
            "registrering/systemID": "b.journalpost_id",
        },
        "b.id",
    ),
    "dokumentobjekt": Listing(
        "SELECT o.* FROM dokumentobjekt o",
        {
            "systemID": "o.id",
            "filnavn": "o.filnavn",
            "sjekksum": "o.sjekksum",
            "mimeType": "o.mime_type",
            "format/kode": "o.format",
            "variantformat/kode": "o.variantformat",
            "dokumentbeskrivelse/systemID": "o.dokumentbeskrivelse_id",
        },
        "o.id",
    ),
}


def case_number(row: Any) -> str:
    return f"{row['saksaar']}/{row['sakssekvensnummer']}"


def record_number(row: Any) -> str:
    return f"{row['saksaar']}/{row['sakssekvensnummer']}-{row['dokumentnummer']}"


def now_iso() -> str:
    return datetime.now().isoformat(timespec="seconds")
