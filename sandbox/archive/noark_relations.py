"""The standard's relations beyond the basic tree, so that a general Noark 5 client written for
another archive finds what it looks for (kapittel 7: the Relasjonsnøkler of Mappe, Registrering,
Journalpost, Korrespondansepart, Merknad), and updates the standard's way (kapittel 6.1.6
"Oppdatere objekter": PUT to `self`, ETag for optimistic concurrency).

On a saksmappe: `arkivstruktur/mappe` (it is one), `ny-registrering`, `merknad`/`ny-merknad`,
`part`, `kryssreferanse`, `undermappe`. On a journalpost: `arkivstruktur/registrering`,
`korrespondansepart`/`ny-korrespondansepartperson`, `merknad`/`ny-merknad`, `part`,
`kryssreferanse`. The skjerming of a journalpost shows all of kapittel 7 "Skjerming"
(skjermingMetadata, skjermingDokument, skjermingsvarighet, skjermingOpphoererDato).

Simplifications: a registrering made through `ny-registrering` is stored as a journalpost of
type X (this archive keeps only journalposter); part, kryssreferanse and undermappe are listed
(always empty) but cannot be created here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse

from sandbox.archive.data import (
    KORRESPONDANSEPARTTYPER,
    SKJERMING_DOKUMENT,
    SKJERMING_METADATA,
    ArchiveData,
    ArchiveError,
    Screening,
)
from sandbox.archive.odata import ODataError

NOARK = "application/vnd.noark5+json"
REL = "https://rel.arkivverket.no/noark5/v5/api/"
LIST_TEMPLATE = "{?$filter&$orderby&$top&$skip}"
PAGE_SIZE = 100
Renderer = Callable[[Any, Request], dict[str, Any]]

JOURNALSTATUS = {
    "J": "Journalført",
    "F": "Ferdigstilt fra saksbehandler",
    "G": "Godkjent av leder",
    "E": "Ekspedert",
    "A": "Arkivert",
    "U": "Utgår",
    "M": "Midlertidig registrering av innkommet dokument",
    "S": "Saksbehandler har registrert innkommet dokument",
    "R": "Reservert dokument",
}
SAKSSTATUS = {
    "B": "Under behandling",
    "A": "Avsluttet",
    "U": "Utgår",
    "R": "Opprettet av saksbehandler",
    "S": "Avsluttet av saksbehandler",
    "P": "Unntatt prosesstyring",
    "F": "Ferdig fra saksbehandler",
}
MERKNADSTYPE = {
    "MS": "Merknad fra saksbehandler",
    "ML": "Merknad fra leder",
    "MA": "Merknad fra arkivansvarlig",
}
# What a PUT may change (Noark name -> column, allowed codes or None for text).
UPDATABLE: dict[str, dict[str, tuple[str, dict[str, str] | None]]] = {
    "journalpost": {
        "tittel": ("tittel", None),
        "offentligTittel": ("offentlig_tittel", None),
        "journalstatus": ("journalstatus", JOURNALSTATUS),
    },
    "saksmappe": {
        "tittel": ("tittel", None),
        "offentligTittel": ("offentlig_tittel", None),
        "saksstatus": ("saksstatus", SAKSSTATUS),
    },
}
# Screened names (skjermingMetadata NA/NM) by the korrespondansepart's role.
SENDERS = {"EA", "IA", "IS"}


def code(names: dict[str, str], value: str | None) -> dict[str, str] | None:
    return {"kode": value, "kodenavn": names.get(value, "")} if value else None


def kode(value: Any) -> str:
    return str(value.get("kode") or "") if isinstance(value, dict) else str(value or "")


def rel(name: str) -> str:
    return f"{REL}{name}/"


def add_links(body: dict[str, Any], **targets: str | tuple[str, bool]) -> dict[str, Any]:
    """Add relations (`arkivstruktur/merknad` -> href, a tuple marks a list) to `_links`,
    kept sorted by relation key as the standard asks."""
    out = dict(body["_links"])
    for name, target in targets.items():
        href, listed = target if isinstance(target, tuple) else (target, False)
        key = rel(name.replace("__", "/").replace("_", "-"))
        out[key] = {"href": href + LIST_TEMPLATE, "templated": True} if listed else {"href": href}
    body["_links"] = dict(sorted(out.items()))
    return body


def noark(body: dict[str, Any], status: int = 200, etag: str | None = None) -> JSONResponse:
    headers = {"ETag": etag} if etag else None
    return JSONResponse(body, status_code=status, media_type=NOARK, headers=headers)


def etag_of(row: Any) -> str:
    return f'"{row["id"]}-{row["versjon"]}"'


def screened_name(record: Any, kind: str) -> bool:
    """Whether a korrespondansepart's name is screened in the public journal: by NA (sender) or
    NM (receiver) in skjermingMetadata, and always when the record is screened without
    skjermingMetadata (kapittel 7, M502: midlertidig skjerming screens all metadata)."""
    if not record["tilgangsrestriksjon"]:
        return False
    codes = set(record["skjerming_metadata"].split())
    return not codes or ("NA" if kind in SENDERS else "NM") in codes


class Extras:
    """The added relations and routes; `renderers` wraps noark_api's entity renderers."""

    def __init__(self, data: ArchiveData, user: Callable[..., str]) -> None:
        self.data = data
        self.user = user
        self.render: dict[str, Renderer] = {}

    # Entities -------------------------------------------------------------------------------

    def renderers(self, **render: Renderer) -> dict[str, Renderer]:
        extend = {"saksmappe": self._saksmappe, "journalpost": self._journalpost}
        for kind, base in render.items():
            self.render[kind] = self._wrap(base, extend[kind]) if kind in extend else base
        self.render["korrespondansepart"] = self._korrespondansepart
        self.render["merknad"] = self._merknad
        return self.render

    @staticmethod
    def _wrap(base: Renderer, extend: Callable[[Any, dict[str, Any]], dict[str, Any]]) -> Renderer:
        return lambda row, request: extend(row, base(row, request))

    @staticmethod
    def _saksmappe(row: Any, body: dict[str, Any]) -> dict[str, Any]:
        href = body["_links"]["self"]["href"]
        body["saksstatus"] = code(SAKSSTATUS, row["saksstatus"])
        return add_links(
            body,
            arkivstruktur__mappe=href,
            arkivstruktur__ny_registrering=f"{href}/ny-registrering",
            arkivstruktur__merknad=(f"{href}/merknad", True),
            arkivstruktur__ny_merknad=f"{href}/ny-merknad",
            arkivstruktur__part=(f"{href}/part", True),
            arkivstruktur__kryssreferanse=(f"{href}/kryssreferanse", True),
            arkivstruktur__undermappe=(f"{href}/undermappe", True),
        )

    @staticmethod
    def _journalpost(row: Any, body: dict[str, Any]) -> dict[str, Any]:
        href = body["_links"]["self"]["href"]
        body["journalstatus"] = code(JOURNALSTATUS, row["journalstatus"])
        if body.get("skjerming"):
            years = row["skjermingsvarighet"]
            registered = date.fromisoformat(row["journaldato"])
            body["skjerming"] |= {
                "skjermingMetadata": [
                    code(SKJERMING_METADATA, c) for c in row["skjerming_metadata"].split()
                ],
                "skjermingDokument": code(SKJERMING_DOKUMENT, row["skjerming_dokument"]),
                "skjermingsvarighet": years,
                "skjermingOpphoererDato": (
                    registered.replace(year=registered.year + years).isoformat()
                    if years and not (registered.month == 2 and registered.day == 29)
                    else None
                ),
            }
        return add_links(
            body,
            arkivstruktur__registrering=href,
            arkivstruktur__korrespondansepart=(f"{href}/korrespondansepart", True),
            arkivstruktur__ny_korrespondansepartperson=f"{href}/ny-korrespondansepartperson",
            arkivstruktur__merknad=(f"{href}/merknad", True),
            arkivstruktur__ny_merknad=f"{href}/ny-merknad",
            arkivstruktur__part=(f"{href}/part", True),
            arkivstruktur__kryssreferanse=(f"{href}/kryssreferanse", True),
        )

    @staticmethod
    def _api(request: Request) -> str:
        return str(request.base_url).rstrip("/") + "/api"

    def _korrespondansepart(self, row: Any, request: Request) -> dict[str, Any]:
        api = self._api(request)
        href = f"{api}/arkivstruktur/korrespondansepart/{row['id']}"
        body = {
            "systemID": str(row["id"]),
            "korrespondanseparttype": code(KORRESPONDANSEPARTTYPER, row["korrespondanseparttype"]),
            "navn": row["navn"],
            "_links": {"self": {"href": href}},
        }
        return add_links(
            body,
            arkivstruktur__korrespondansepart=href,
            arkivstruktur__korrespondansepartperson=href,
            arkivstruktur__registrering=f"{api}/sakarkiv/journalpost/{row['journalpost_id']}",
        )

    def _merknad(self, row: Any, request: Request) -> dict[str, Any]:
        href = f"{self._api(request)}/arkivstruktur/merknad/{row['id']}"
        body = {
            "systemID": str(row["id"]),
            "merknadstekst": row["merknadstekst"],
            "merknadstype": code(MERKNADSTYPE, row["merknadstype"]),
            "merknadsdato": row["merknadsdato"],
            "merknadRegistrertAv": row["merknad_registrert_av"],
            "_links": {"self": {"href": href}},
        }
        return add_links(body, arkivstruktur__merknad=href)

    @staticmethod
    def screening(skjerming: dict[str, Any]) -> Screening:
        """The skjerming fields of a POSTed journalpost (code values or bare codes)."""
        metadata = skjerming.get("skjermingMetadata") or []
        years = skjerming.get("skjermingsvarighet")
        return Screening(
            tuple(kode(c) for c in (metadata if isinstance(metadata, list) else [metadata])),
            kode(skjerming.get("skjermingDokument")),
            years if isinstance(years, int) and not isinstance(years, bool) else None,
        )

    # Routes ---------------------------------------------------------------------------------

    def router(self) -> APIRouter:
        """Routes included before noark_api's: the GET of a saksmappe or journalpost here
        carries its ETag."""
        router = APIRouter(prefix="/api")
        for entity, path in (
            ("saksmappe", "/sakarkiv/saksmappe/{entity_id}"),
            ("journalpost", "/sakarkiv/journalpost/{entity_id}"),
        ):
            router.add_api_route(path, self._read_route(entity), methods=["GET"])
            router.add_api_route(path, self._update_route(entity), methods=["PUT"])
            router.add_api_route(f"{path}/merknad", self._list_route(entity, "merknad"))
            router.add_api_route(f"{path}/ny-merknad", self._note_template(entity))
            router.add_api_route(
                f"{path}/ny-merknad", self._new_note_route(entity), methods=["POST"]
            )
            for empty in ("part", "kryssreferanse", "undermappe"):
                router.add_api_route(f"{path}/{empty}", self._empty_route(entity))
        journalpost = "/sakarkiv/journalpost/{entity_id}"
        router.add_api_route(
            f"{journalpost}/korrespondansepart",
            self._list_route("journalpost", "korrespondansepart"),
        )
        router.add_api_route(
            f"{journalpost}/ny-korrespondansepartperson",
            self._template(
                "journalpost", {"korrespondanseparttype": code(KORRESPONDANSEPARTTYPER, "EM")}
            ),
        )
        router.add_api_route(
            f"{journalpost}/ny-korrespondansepartperson", self._new_party_route(), methods=["POST"]
        )
        for entity in ("korrespondansepart", "merknad"):
            router.add_api_route(f"/arkivstruktur/{entity}/{{entity_id}}", self._read_route(entity))
        case = "/sakarkiv/saksmappe/{entity_id}"
        router.add_api_route(f"{case}/ny-registrering", self._template("saksmappe", {"tittel": ""}))
        router.add_api_route(f"{case}/ny-registrering", self._new_record_route(), methods=["POST"])
        return router

    def _one(self, entity: str, entity_id: int) -> Any:
        row = self.data.get(entity, entity_id)
        if row is None:
            raise HTTPException(404, f"Fant ikke {entity} {entity_id}")
        return row

    def _read_route(self, entity: str) -> Callable[..., JSONResponse]:
        def route(request: Request, entity_id: int, who: str = Depends(self.user)) -> JSONResponse:
            row = self._one(entity, entity_id)
            versioned = entity in UPDATABLE
            return noark(
                self.render[entity](row, request), etag=etag_of(row) if versioned else None
            )

        return route

    def _update_route(self, entity: str) -> Callable[..., Any]:
        async def route(
            request: Request, entity_id: int, who: str = Depends(self.user)
        ) -> JSONResponse:
            row = self._one(entity, entity_id)
            expected = request.headers.get("if-match")
            if not expected:
                raise HTTPException(428, "Oppdatering krever If-Match med objektets ETag")
            if expected.strip() != etag_of(row):
                raise HTTPException(412, "Objektet er endret siden det ble lest; les det på nytt")
            body = await _json(request)
            changes: dict[str, Any] = {}
            for field, (column, codes) in UPDATABLE[entity].items():
                if field not in body:
                    continue
                value = kode(body[field]) if codes is not None else str(body[field] or "").strip()
                if codes is not None and value not in codes:
                    raise HTTPException(400, {field: f"Ukjent kode {value!r}."})
                if codes is None and not value:
                    raise HTTPException(400, {field: "Må fylles ut."})
                if value != row[column]:
                    changes[column] = value
            if changes and not self.data.update(entity, entity_id, row["versjon"], changes):
                raise HTTPException(412, "Objektet er endret siden det ble lest; les det på nytt")
            fresh = self._one(entity, entity_id)
            return noark(self.render[entity](fresh, request), etag=etag_of(fresh))

        return route

    def _list_route(self, parent: str, entity: str) -> Callable[..., JSONResponse]:
        def route(request: Request, entity_id: int, who: str = Depends(self.user)) -> JSONResponse:
            self._one(parent, entity_id)
            scope = (
                ("registrering/systemID", entity_id)
                if entity == "korrespondansepart"
                else ("eier", f"{parent}:{entity_id}")
            )
            return self._page(request, entity, scope)

        return route

    def _page(self, request: Request, entity: str, scope: tuple[str, Any]) -> JSONResponse:
        params = request.query_params
        try:
            top = min(int(params.get("$top", PAGE_SIZE)), PAGE_SIZE)
            skip = int(params.get("$skip", 0))
            if top < 0 or skip < 0:
                raise ValueError
            rows, total = self.data.find(entity, params.get("$filter", ""), top, skip, scope)
        except (ValueError, ODataError) as exc:
            raise HTTPException(400, str(exc) or "$top og $skip må være heltall ≥ 0") from exc
        body: dict[str, Any] = {"count": total, "_links": {"self": {"href": str(request.url)}}}
        if rows:
            body["results"] = [self.render[entity](r, request) for r in rows]
        if skip + len(rows) < total:
            following = request.url.include_query_params(**{"$top": top, "$skip": skip + top})
            body["_links"]["next"] = {"href": str(following)}
        return noark(body)

    def _empty_route(self, parent: str) -> Callable[..., JSONResponse]:
        def route(request: Request, entity_id: int, who: str = Depends(self.user)) -> JSONResponse:
            self._one(parent, entity_id)
            return noark({"count": 0, "_links": {"self": {"href": str(request.url)}}})

        return route

    def _note_template(self, parent: str) -> Callable[..., JSONResponse]:
        def route(entity_id: int, who: str = Depends(self.user)) -> JSONResponse:
            self._one(parent, entity_id)
            return noark(
                {
                    "merknadstekst": "",
                    "merknadstype": code(MERKNADSTYPE, "MS"),
                    "merknadsdato": self.data.today.isoformat(),
                }
            )

        return route

    def _new_note_route(self, parent: str) -> Callable[..., Any]:
        async def route(
            request: Request, entity_id: int, who: str = Depends(self.user)
        ) -> JSONResponse:
            self._one(parent, entity_id)
            body = await _json(request)
            kind = kode(body.get("merknadstype")) or "MS"
            if kind not in MERKNADSTYPE:
                raise HTTPException(400, {"merknadstype": f"Ukjent kode {kind!r}."})
            try:
                note_id = self.data.add_note(
                    f"{parent}:{entity_id}", str(body.get("merknadstekst") or ""), kind, who
                )
            except ArchiveError as exc:
                raise HTTPException(400, exc.errors) from exc
            return noark(self.render["merknad"](self._one("merknad", note_id), request), 201)

        return route

    def _template(self, parent: str, template: dict[str, Any]) -> Callable[..., JSONResponse]:
        def route(entity_id: int, who: str = Depends(self.user)) -> JSONResponse:
            self._one(parent, entity_id)
            return noark(template)

        return route

    def _new_party_route(self) -> Callable[..., Any]:
        async def route(
            request: Request, entity_id: int, who: str = Depends(self.user)
        ) -> JSONResponse:
            self._one("journalpost", entity_id)
            body = await _json(request)
            try:
                party_id = self.data.add_party(
                    entity_id, kode(body.get("korrespondanseparttype")), str(body.get("navn") or "")
                )
            except ArchiveError as exc:
                raise HTTPException(400, exc.errors) from exc
            row = self._one("korrespondansepart", party_id)
            return noark(self.render["korrespondansepart"](row, request), 201)

        return route

    def create_record(
        self, case_id: int, body: dict[str, Any], who: str, journalposttype: str, dato: str
    ) -> int:
        """A journalpost in the saksmappe from a request body (title, public title and the
        standard's skjerming), for ny-journalpost and ny-registrering alike."""
        skjerming = body.get("skjerming") if isinstance(body.get("skjerming"), dict) else {}
        return self.data.create_record(
            case_id,
            tittel=str(body.get("tittel") or ""),
            offentlig_tittel=str(body.get("offentligTittel") or ""),
            journalposttype=journalposttype,
            dokumentets_dato=dato,
            tilgangsrestriksjon=kode(skjerming.get("tilgangsrestriksjon")),
            skjermingshjemmel=str(skjerming.get("skjermingshjemmel") or ""),
            skjerming=self.screening(skjerming),
            ekstern_referanse="",
            user=who,
            hoveddokument=None,
            vedlegg=[],
            documents_required=False,
        )

    def _new_record_route(self) -> Callable[..., Any]:
        async def route(
            request: Request, entity_id: int, who: str = Depends(self.user)
        ) -> JSONResponse:
            self._one("saksmappe", entity_id)
            body = await _json(request)
            try:
                record_id = self.create_record(
                    entity_id, body, who, "X", self.data.today.isoformat()
                )
            except ArchiveError as exc:
                raise HTTPException(400, exc.errors) from exc
            row = self._one("journalpost", record_id)
            return noark(self.render["journalpost"](row, request), 201)

        return route


async def _json(request: Request) -> dict[str, Any]:
    try:
        value = await request.json()
    except ValueError as exc:
        raise HTTPException(400, "Forespørselen må være JSON") from exc
    if not isinstance(value, dict):
        raise HTTPException(400, "Forespørselen må være et JSON-objekt")
    return value
