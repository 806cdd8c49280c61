"""The offentlig journal (offl. § 10): what anyone may read without login. A screened record
shows its offentligTittel, and a korrespondansepart's name is replaced by "*****" where the
record's skjerming says so (sandbox/archive/noark_relations.py `screened_name`)."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from sandbox.archive.data import KORRESPONDANSEPARTTYPER, ArchiveData, record_number
from sandbox.archive.noark_relations import screened_name

SCREENED = "*****"


def public_journal(data: ArchiveData) -> APIRouter:
    router = APIRouter()

    @router.get("/offentlig-journal", response_class=HTMLResponse)
    def journal() -> HTMLResponse:
        rows = []
        for record in data.records():
            parties = data.query(
                "SELECT * FROM korrespondansepart WHERE journalpost_id = ? ORDER BY id",
                (record["id"],),
            )
            names = ", ".join(
                f"{KORRESPONDANSEPARTTYPER[p['korrespondanseparttype']]}: "
                + (SCREENED if screened_name(record, p["korrespondanseparttype"]) else p["navn"])
                for p in parties
            )
            access = record["tilgangsrestriksjon"]
            rows.append(
                f"<tr><td>{escape(record_number(record))}</td><td>{record['journaldato']}</td>"
                f"<td>{escape(record['journalposttype'])}</td>"
                f"<td>{escape(record['offentlig_tittel'])}</td><td>{escape(names)}</td>"
                f"<td>{escape(access and f'{access} ' + record['skjermingshjemmel'])}</td></tr>"
            )
        return HTMLResponse(
            '<!doctype html><html lang="nb"><head><meta charset="utf-8">'
            "<title>Offentlig journal</title></head><body><h1>Offentlig journal</h1>"
            '<table aria-label="Offentlig journal"><thead><tr><th>Journalpost</th>'
            "<th>Journaldato</th><th>Type</th><th>Tittel</th><th>Avsender/mottaker</th>"
            "<th>Skjerming</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table></body>"
            "</html>"
        )

    return router
