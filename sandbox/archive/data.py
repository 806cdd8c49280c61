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
KLASSER = {
    "221": "Personalmappe",
    "400": "Personalforvaltning",
    "L42": "Byggesak",
    "033": "Arkiv og dokumentasjon",
    "210": "Økonomi",
}

SCHEMA = """
CREATE TABLE saksmappe (
    id INTEGER PRIMARY KEY, saksaar INTEGER NOT NULL, sakssekvensnummer INTEGER NOT NULL,
    tittel TEXT NOT NULL, offentlig_tittel TEXT NOT NULL, klasse TEXT NOT NULL,
    administrativ_enhet TEXT NOT NULL, saksansvarlig TEXT NOT NULL, saksdato TEXT NOT NULL,
    saksstatus TEXT NOT NULL DEFAULT 'B', ekstern_referanse TEXT UNIQUE,
    tilgangsrestriksjon TEXT NOT NULL DEFAULT '', opprettet_av TEXT NOT NULL,
    UNIQUE (saksaar, sakssekvensnummer)
);
CREATE TABLE journalpost (
    id INTEGER PRIMARY KEY, saksmappe_id INTEGER NOT NULL REFERENCES saksmappe(id),
    dokumentnummer INTEGER NOT NULL, journalaar INTEGER NOT NULL,
    journalsekvensnummer INTEGER NOT NULL, tittel TEXT NOT NULL, offentlig_tittel TEXT NOT NULL,
    journalposttype TEXT NOT NULL, journalstatus TEXT NOT NULL, journaldato TEXT NOT NULL,
    dokumentets_dato TEXT NOT NULL, mottatt_dato TEXT, tilgangsrestriksjon TEXT NOT NULL,
    skjermingshjemmel TEXT NOT NULL, ekstern_referanse TEXT UNIQUE, opprettet_av TEXT NOT NULL,
    UNIQUE (saksmappe_id, dokumentnummer)
);
CREATE TABLE dokument (
    id INTEGER PRIMARY KEY, journalpost_id INTEGER NOT NULL REFERENCES journalpost(id),
    tilknyttet_som TEXT NOT NULL, dokumentnummer INTEGER NOT NULL, tittel TEXT NOT NULL,
    filnavn TEXT NOT NULL, format TEXT NOT NULL, mime_type TEXT NOT NULL,
    variantformat TEXT NOT NULL DEFAULT 'P',
    filstoerrelse INTEGER NOT NULL, sjekksum TEXT NOT NULL, path TEXT NOT NULL
);
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
        for tittel, klasse, ekstern in (
            ("Byggesak – Storgata 1, tilbygg", "L42", "BYGG-2026-001"),
            ("Byggesak – Fjordveien 12, garasje", "L42", "BYGG-2026-002"),
            ("Innkjøp av skoleutstyr 2026", "210", "INNKJOP-2026-17"),
            ("Arkivplan – revisjon", "033", "ARKIV-2026-1"),
        ):
            self.create_case(tittel, klasse, "Servicetorget", "arkivar", ekstern, tittel, "")

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
    ) -> int:
        errors = {}
        if not tittel.strip():
            errors["tittel"] = "Tittel må fylles ut."
        if klasse not in KLASSER:
            errors["klasse"] = "Velg en gyldig klasse."
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
                "INSERT INTO saksmappe (saksaar, sakssekvensnummer, tittel, offentlig_tittel, "
                "klasse, administrativ_enhet, saksansvarlig, saksdato, ekstern_referanse, "
                "tilgangsrestriksjon, opprettet_av) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
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
    ) -> int:
        errors: dict[str, str] = {}
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
        if hoveddokument is None or not hoveddokument.content:
            errors["hoveddokument"] = "Hoveddokument må lastes opp."
        else:
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
            assert hoveddokument is not None
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
                "skjermingshjemmel, ekstern_referanse, opprettet_av) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
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
                ),
            )
            record_id = int(cursor.lastrowid or 0)
            for n, (role, upload) in enumerate(
                [("H", hoveddokument)] + [("V", v) for v in vedlegg], start=1
            ):
                self._store(record_id, role, n, upload)
            self.conn.commit()
            return record_id

    def _store(self, record_id: int, role: str, number: int, upload: Upload) -> None:
        digest = hashlib.sha256(upload.content).hexdigest()
        path = self.files / f"{record_id}-{number}-{digest[:12]}.pdf"
        path.write_bytes(upload.content)
        variant, pronom = archive_format(upload.content)
        self.conn.execute(
            "INSERT INTO dokument (journalpost_id, tilknyttet_som, dokumentnummer, tittel, "
            "filnavn, format, mime_type, filstoerrelse, sjekksum, path, variantformat) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                record_id,
                role,
                number,
                Path(upload.filename).stem,
                upload.filename,
                pronom,
                "application/pdf",
                len(upload.content),
                digest,
                str(path),
                variant,
            ),
        )

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

    def documents(self, record_id: int) -> list[sqlite3.Row]:
        return self.query(
            "SELECT * FROM dokument WHERE journalpost_id = ? ORDER BY dokumentnummer", (record_id,)
        )

    def document(self, document_id: int) -> sqlite3.Row | None:
        rows = self.query("SELECT * FROM dokument WHERE id = ?", (document_id,))
        return rows[0] if rows else None


def case_number(row: Any) -> str:
    return f"{row['saksaar']}/{row['sakssekvensnummer']}"


def record_number(row: Any) -> str:
    return f"{row['saksaar']}/{row['sakssekvensnummer']}-{row['dokumentnummer']}"


def now_iso() -> str:
    return datetime.now().isoformat(timespec="seconds")
