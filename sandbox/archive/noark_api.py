"""The archive's Noark 5 tjenestegrensesnitt (v1.1 for Noark 5 v5): what a generic client that
knows only the standard finds here.

- Discovery from the root (`GET /api`, no login needed) through `_links` keyed by relation URIs
  (https://rel.arkivverket.no/noark5/v5/api/...); every href is followed, never built.
- Login: OpenID Connect, OAuth 2.0 client credentials and Basic, announced at the root
  (sandbox/archive/noark_auth.py).
- Media type application/vnd.noark5+json; lists as {"count", "results", "_links"} with OData
  `$filter`, `$top`, `$skip` and a `next` link; an empty list has count 0 and no `results`.
- Code values as {"kode", "kodenavn"}; sjekksumAlgoritme "SHA-256"; format as a PRONOM code.
- Creation through `ny-*` relations (GET gives a template, POST creates, 201):
  arkivdel -> ny-saksmappe, saksmappe -> ny-journalpost, registrering -> ny-dokumentbeskrivelse,
  dokumentbeskrivelse -> ny-dokumentobjekt, dokumentobjekt/dokumentbeskrivelse -> fil (upload).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse

from sandbox.archive.data import (
    JOURNALPOSTTYPER,
    KLASSER,
    PERSONALMAPPER,
    TILGANGSKODER,
    ArchiveData,
    ArchiveError,
    case_number,
    record_number,
)
from sandbox.archive.noark_relations import Extras
from sandbox.archive.odata import ODataError

NOARK = "application/vnd.noark5+json"
REL = "https://rel.arkivverket.no/noark5/v5/api/"
LIST_TEMPLATE = "{?$filter&$orderby&$top&$skip}"
PAGE_SIZE = 100

KODENAVN = {
    "arkivstatus": {"O": "Opprettet"},
    "arkivdelstatus": {"A": "Aktiv periode"},
    "saksstatus": {"B": "Under behandling", "A": "Avsluttet"},
    "journalstatus": {"J": "Journalført"},
    "journalposttype": JOURNALPOSTTYPER,
    "dokumentstatus": {"F": "Dokumentet er ferdigstilt", "B": "Dokumentet er under redigering"},
    "tilknyttetRegistreringSom": {"H": "Hoveddokument", "V": "Vedlegg"},
    "variantformat": {"A": "Arkivformat", "P": "Produksjonsformat"},
    "tilgangsrestriksjon": TILGANGSKODER,
    "klassifikasjonstype": {"KK": "K-koder", "UO": "Objektbasert"},
    "format": {
        "fmt/95": "PDF/A 1a - ISO 19005-1:2005",
        "fmt/354": "PDF/A 1b - ISO 19005-1:2005",
        "fmt/476": "PDF/A 2a - ISO 19005-2:2011",
        "fmt/477": "PDF/A 2b - ISO 19005-2:2011",
        "fmt/478": "PDF/A 2u - ISO 19005-2:2011",
        "fmt/276": "PDF 1.7 - ISO 32000-1:2008",
    },
}


# Where each entity is listed and read, and the lists of one parent's children.
ENTITY_ROUTES = [
    ("arkiv", ["/arkivstruktur/arkiv"], "/arkivstruktur/arkiv/{entity_id}"),
    ("arkivdel", ["/arkivstruktur/arkivdel"], "/arkivstruktur/arkivdel/{entity_id}"),
    (
        "saksmappe",
        ["/arkivstruktur/mappe", "/sakarkiv/saksmappe"],
        "/sakarkiv/saksmappe/{entity_id}",
    ),
    (
        "journalpost",
        ["/arkivstruktur/registrering", "/sakarkiv/journalpost"],
        "/sakarkiv/journalpost/{entity_id}",
    ),
    (
        "dokumentbeskrivelse",
        ["/arkivstruktur/dokumentbeskrivelse"],
        "/arkivstruktur/dokumentbeskrivelse/{entity_id}",
    ),
    (
        "dokumentobjekt",
        ["/arkivstruktur/dokumentobjekt"],
        "/arkivstruktur/dokumentobjekt/{entity_id}",
    ),
]
CHILD_LISTS = [
    ("/arkivstruktur/arkiv/{entity_id}/arkivdel", "arkiv", "arkivdel", "arkiv/systemID"),
    ("/arkivstruktur/arkivdel/{entity_id}/mappe", "arkivdel", "saksmappe", "arkivdel/systemID"),
    ("/sakarkiv/saksmappe/{entity_id}/journalpost", "saksmappe", "journalpost", "mappe/systemID"),
    (
        "/arkivstruktur/registrering/{entity_id}/dokumentbeskrivelse",
        "journalpost",
        "dokumentbeskrivelse",
        "registrering/systemID",
    ),
    (
        "/arkivstruktur/dokumentbeskrivelse/{entity_id}/dokumentobjekt",
        "dokumentbeskrivelse",
        "dokumentobjekt",
        "dokumentbeskrivelse/systemID",
    ),
]


def code(kind: str, value: str | None) -> dict[str, str] | None:
    """A Noark 5 code value: {"kode": ..., "kodenavn": ...}."""
    if not value:
        return None
    return {"kode": value, "kodenavn": KODENAVN[kind].get(value, "")}


def kode(value: Any) -> str:
    """The code of a code value a client sent: {"kode": ...} or, leniently, a bare string."""
    if isinstance(value, dict):
        return str(value.get("kode") or "")
    return str(value or "")


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def noark(body: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=NOARK)


def links(**rels: str | tuple[str, bool]) -> dict[str, Any]:
    """`_links`: keyword `self` or relation paths (`arkivstruktur/arkiv`) to hrefs; a tuple
    (href, True) is a templated list link. Sorted by rel, as the standard asks."""
    out: dict[str, Any] = {}
    for name, target in rels.items():
        href, templated = target if isinstance(target, tuple) else (target, False)
        rel = name if name == "self" else f"{REL}{name.replace('__', '/').replace('_', '-')}/"
        out[rel] = {"href": href + (LIST_TEMPLATE if templated else "")}
        if templated:
            out[rel]["templated"] = True
    return dict(sorted(out.items()))


def noark_api(data: ArchiveData, user: Callable[..., str], extra: Extras) -> APIRouter:
    """The `/api` routes; `user` is the login dependency (sandbox/archive/noark_auth.py) and
    `extra` adds the relations and routes of sandbox/archive/noark_relations.py."""
    router = APIRouter(prefix="/api")

    def urls(request: Request) -> tuple[str, str, str]:
        root = str(request.base_url).rstrip("/") + "/api"
        return root, f"{root}/arkivstruktur", f"{root}/sakarkiv"

    def fail(exc: ArchiveError | ODataError) -> HTTPException:
        detail = exc.errors if isinstance(exc, ArchiveError) else str(exc)
        return HTTPException(400, detail)

    # Entities -----------------------------------------------------------------------------------

    def arkiv(r: Any, request: Request) -> dict[str, Any]:
        _, a, _ = urls(request)
        href = f"{a}/arkiv/{r['id']}"
        return {
            "systemID": str(r["id"]),
            "tittel": r["tittel"],
            "arkivstatus": code("arkivstatus", r["arkivstatus"]),
            "opprettetDato": r["opprettet_dato"],
            "_links": links(
                self=href,
                arkivstruktur__arkiv=href,
                arkivstruktur__arkivdel=(f"{href}/arkivdel", True),
            ),
        }

    def arkivdel(r: Any, request: Request) -> dict[str, Any]:
        _, a, _ = urls(request)
        href = f"{a}/arkivdel/{r['id']}"
        return {
            "systemID": str(r["id"]),
            "tittel": r["tittel"],
            "arkivdelstatus": code("arkivdelstatus", r["arkivdelstatus"]),
            "opprettetDato": r["opprettet_dato"],
            "klassifikasjonssystem": {
                "tittel": r["klassifikasjonssystem"],
                "klassifikasjonstype": code("klassifikasjonstype", r["klassifikasjonstype"]),
            },
            "_links": links(
                self=href,
                arkivstruktur__arkiv=f"{a}/arkiv/{r['arkiv_id']}",
                arkivstruktur__arkivdel=href,
                arkivstruktur__mappe=(f"{href}/mappe", True),
                sakarkiv__ny_saksmappe=f"{href}/ny-saksmappe",
            ),
        }

    def saksmappe(r: Any, request: Request) -> dict[str, Any]:
        _, a, s = urls(request)
        href = f"{s}/saksmappe/{r['id']}"
        return {
            "systemID": str(r["id"]),
            "mappeID": case_number(r),
            "saksaar": r["saksaar"],
            "sakssekvensnummer": r["sakssekvensnummer"],
            "tittel": r["tittel"],
            "offentligTittel": r["offentlig_tittel"],
            "saksdato": r["saksdato"],
            "administrativEnhet": r["administrativ_enhet"],
            "saksansvarlig": r["saksansvarlig"],
            "saksstatus": code("saksstatus", r["saksstatus"]),
            "skjerming": (
                {"tilgangsrestriksjon": code("tilgangsrestriksjon", r["tilgangsrestriksjon"])}
                if r["tilgangsrestriksjon"]
                else None
            ),
            # The class the folder is ordered by (a K-kode, or an employee number in
            # Personalmapper), shown as the standard's klasse fields.
            "klasse": {
                "klasseID": r["klasse"],
                "tittel": (
                    f"Ansatt {r['klasse']}"
                    if r["arkivdel_tittel"] == PERSONALMAPPER
                    else KLASSER.get(r["klasse"], r["klasse"])
                ),
            },
            "virksomhetsspesifikkeMetadata": {"eksternReferanse": r["ekstern_referanse"]},
            "_links": links(
                self=href,
                arkivstruktur__arkivdel=f"{a}/arkivdel/{r['arkivdel_id']}",
                arkivstruktur__registrering=(f"{href}/journalpost", True),
                sakarkiv__journalpost=(f"{href}/journalpost", True),
                sakarkiv__ny_journalpost=f"{href}/ny-journalpost",
                sakarkiv__saksmappe=href,
            ),
        }

    def journalpost(r: Any, request: Request) -> dict[str, Any]:
        _, a, s = urls(request)
        href = f"{s}/journalpost/{r['id']}"
        return {
            "systemID": str(r["id"]),
            "registreringsID": record_number(r),
            "journalaar": r["journalaar"],
            "journalsekvensnummer": r["journalsekvensnummer"],
            "journalpostnummer": r["dokumentnummer"],
            "tittel": r["tittel"],
            "offentligTittel": r["offentlig_tittel"],
            "journalposttype": code("journalposttype", r["journalposttype"]),
            "journalstatus": code("journalstatus", r["journalstatus"]),
            "journaldato": r["journaldato"],
            "dokumentetsDato": r["dokumentets_dato"],
            "mottattDato": r["mottatt_dato"],
            "skjerming": (
                {
                    "tilgangsrestriksjon": code("tilgangsrestriksjon", r["tilgangsrestriksjon"]),
                    "skjermingshjemmel": r["skjermingshjemmel"],
                }
                if r["tilgangsrestriksjon"]
                else None
            ),
            "_links": links(
                self=href,
                arkivstruktur__dokumentbeskrivelse=(
                    f"{a}/registrering/{r['id']}/dokumentbeskrivelse",
                    True,
                ),
                arkivstruktur__mappe=f"{s}/saksmappe/{r['saksmappe_id']}",
                arkivstruktur__ny_dokumentbeskrivelse=f"{a}/registrering/{r['id']}/ny-dokumentbeskrivelse",
                sakarkiv__journalpost=href,
                sakarkiv__saksmappe=f"{s}/saksmappe/{r['saksmappe_id']}",
            ),
        }

    def dokumentbeskrivelse(r: Any, request: Request) -> dict[str, Any]:
        _, a, s = urls(request)
        href = f"{a}/dokumentbeskrivelse/{r['id']}"
        return {
            "systemID": str(r["id"]),
            "dokumentnummer": r["dokumentnummer"],
            "tittel": r["tittel"],
            "tilknyttetRegistreringSom": code("tilknyttetRegistreringSom", r["tilknyttet_som"]),
            "dokumentstatus": code("dokumentstatus", r["dokumentstatus"]),
            "eksternReferanse": r["ekstern_referanse"],
            "_links": links(
                self=href,
                arkivstruktur__dokumentbeskrivelse=href,
                arkivstruktur__dokumentobjekt=(f"{href}/dokumentobjekt", True),
                arkivstruktur__fil=f"{href}/fil",
                arkivstruktur__ny_dokumentobjekt=f"{href}/ny-dokumentobjekt",
                arkivstruktur__registrering=f"{s}/journalpost/{r['journalpost_id']}",
            ),
        }

    def dokumentobjekt(r: Any, request: Request) -> dict[str, Any]:
        _, a, _ = urls(request)
        href = f"{a}/dokumentobjekt/{r['id']}"
        body: dict[str, Any] = {
            "systemID": str(r["id"]),
            "versjonsnummer": r["versjonsnummer"],
            "variantformat": code("variantformat", r["variantformat"]),
            "format": code("format", r["format"]),
            "mimeType": r["mime_type"],
            "filnavn": r["filnavn"],
            "filstoerrelse": r["filstoerrelse"],
            "sjekksum": r["sjekksum"],
            "sjekksumAlgoritme": "SHA-256" if r["sjekksum"] else None,
        }
        rels: dict[str, Any] = {
            "self": href,
            "arkivstruktur__dokumentbeskrivelse": (
                f"{a}/dokumentbeskrivelse/{r['dokumentbeskrivelse_id']}"
            ),
            "arkivstruktur__dokumentobjekt": href,
            "arkivstruktur__fil": f"{href}/referanseFil",
        }
        if r["path"]:
            body["referanseDokumentfil"] = f"{href}/referanseFil"
        body["_links"] = links(**rels)
        return body

    render = extra.renderers(
        arkiv=arkiv,
        arkivdel=arkivdel,
        saksmappe=saksmappe,
        journalpost=journalpost,
        dokumentbeskrivelse=dokumentbeskrivelse,
        dokumentobjekt=dokumentobjekt,
    )

    def listing(
        request: Request,
        entity: str,
        scope: tuple[str, Any] | None = None,
    ) -> JSONResponse:
        params = request.query_params
        try:
            top = min(int(params.get("$top", PAGE_SIZE)), PAGE_SIZE)
            skip = int(params.get("$skip", 0))
        except ValueError as exc:
            raise HTTPException(400, "$top og $skip må være heltall") from exc
        if top < 0 or skip < 0:
            raise HTTPException(400, "$top og $skip kan ikke være negative")
        try:
            rows, total = data.find(entity, params.get("$filter", ""), top, skip, scope)
        except ODataError as exc:
            raise fail(exc) from exc
        self_href = str(request.url)
        body: dict[str, Any] = {"count": total, "_links": {"self": {"href": self_href}}}
        if rows:
            body["results"] = [render[entity](r, request) for r in rows]
        if skip + len(rows) < total:
            following = request.url.include_query_params(**{"$top": top, "$skip": skip + top})
            body["_links"]["next"] = {"href": str(following)}
        return noark(body)

    def one(entity: str, entity_id: int) -> Any:
        row = data.get(entity, entity_id)
        if row is None:
            raise HTTPException(404, f"Fant ikke {entity} {entity_id}")
        return row

    # Root, login, system -------------------------------------------------------------------------

    @router.get("/admin/system")
    def system(who: str = Depends(user)) -> JSONResponse:
        return noark(
            {
                "leverandoer": "Sandkassen",
                "produkt": "Sak og arkiv (sandbox)",
                "versjon": "1.0",
                "versjonsdato": "2026-11-29",
                "protokollversjon": "1.1",
                "bulkgrense": 0,
            }
        )

    @router.get("/arkivstruktur")
    def arkivstruktur(request: Request, who: str = Depends(user)) -> JSONResponse:
        _, a, _ = urls(request)
        return noark(
            {
                "_links": links(
                    arkivstruktur__arkiv=(f"{a}/arkiv", True),
                    arkivstruktur__arkivdel=(f"{a}/arkivdel", True),
                    arkivstruktur__dokumentbeskrivelse=(f"{a}/dokumentbeskrivelse", True),
                    arkivstruktur__dokumentobjekt=(f"{a}/dokumentobjekt", True),
                    arkivstruktur__mappe=(f"{a}/mappe", True),
                    arkivstruktur__registrering=(f"{a}/registrering", True),
                )
            }
        )

    @router.get("/sakarkiv")
    def sakarkiv(request: Request, who: str = Depends(user)) -> JSONResponse:
        _, _, s = urls(request)
        return noark(
            {
                "_links": links(
                    sakarkiv__journalpost=(f"{s}/journalpost", True),
                    sakarkiv__saksmappe=(f"{s}/saksmappe", True),
                )
            }
        )

    # Lists and entities --------------------------------------------------------------------------

    def list_route(entity: str) -> Callable[..., JSONResponse]:
        def route(request: Request, who: str = Depends(user)) -> JSONResponse:
            return listing(request, entity)

        return route

    def entity_route(entity: str) -> Callable[..., JSONResponse]:
        def route(request: Request, entity_id: int, who: str = Depends(user)) -> JSONResponse:
            return noark(render[entity](one(entity, entity_id), request))

        return route

    def child_route(parent: str, entity: str, scope: str) -> Callable[..., JSONResponse]:
        def route(request: Request, entity_id: int, who: str = Depends(user)) -> JSONResponse:
            one(parent, entity_id)
            return listing(request, entity, (scope, entity_id))

        return route

    for entity, lists, item in ENTITY_ROUTES:
        for path in lists:
            router.add_api_route(path, list_route(entity), methods=["GET"])
        router.add_api_route(item, entity_route(entity), methods=["GET"])
    for path, parent, entity, scope in CHILD_LISTS:
        router.add_api_route(path, child_route(parent, entity, scope), methods=["GET"])

    @router.get("/arkivstruktur/dokumentobjekt/{entity_id}/referanseFil")
    def download(request: Request, entity_id: int, who: str = Depends(user)) -> FileResponse:
        row = one("dokumentobjekt", entity_id)
        if not row["path"]:
            raise HTTPException(404, "Dokumentobjektet har ingen fil ennå")
        accept = request.headers.get("accept", "*/*")
        if "*/*" not in accept and row["mime_type"] not in accept:
            raise HTTPException(406, f"Filen er {row['mime_type']}")
        return FileResponse(row["path"], media_type=row["mime_type"], filename=row["filnavn"])

    # Creation (ny-*) ---------------------------------------------------------------------------

    async def body(request: Request) -> dict[str, Any]:
        try:
            value = await request.json()
        except ValueError as exc:
            raise HTTPException(400, "Forespørselen må være JSON") from exc
        if not isinstance(value, dict):
            raise HTTPException(400, "Forespørselen må være et JSON-objekt")
        return value

    @router.get("/arkivstruktur/arkivdel/{entity_id}/ny-saksmappe")
    def new_case_template(entity_id: int, who: str = Depends(user)) -> JSONResponse:
        part = one("arkivdel", entity_id)
        default = "" if part["tittel"] == PERSONALMAPPER else "033"
        return noark({"tittel": "", "klasse": {"klasseID": default}, "administrativEnhet": ""})

    @router.post("/arkivstruktur/arkivdel/{entity_id}/ny-saksmappe")
    async def new_case(request: Request, entity_id: int, who: str = Depends(user)) -> JSONResponse:
        part = one("arkivdel", entity_id)
        b = await body(request)
        klasse = b.get("klasse") if isinstance(b.get("klasse"), dict) else {}
        extra = b.get("virksomhetsspesifikkeMetadata")
        extra = extra if isinstance(extra, dict) else {}
        screening = b.get("skjerming") if isinstance(b.get("skjerming"), dict) else {}
        try:
            case_id = data.create_case(
                str(b.get("tittel") or ""),
                str(klasse.get("klasseID") or ""),
                str(b.get("administrativEnhet") or ""),
                who,
                str(extra.get("eksternReferanse") or "") or None,
                str(b.get("offentligTittel") or ""),
                kode(screening.get("tilgangsrestriksjon")),
                arkivdel=part["tittel"],
            )
        except ArchiveError as exc:
            raise fail(exc) from exc
        return noark(render["saksmappe"](one("saksmappe", case_id), request), 201)

    @router.get("/sakarkiv/saksmappe/{entity_id}/ny-journalpost")
    def new_record_template(entity_id: int, who: str = Depends(user)) -> JSONResponse:
        one("saksmappe", entity_id)
        return noark(
            {
                "tittel": "",
                "journalposttype": code("journalposttype", "X"),
                "journalstatus": code("journalstatus", "J"),
                "dokumentetsDato": data.today.isoformat(),
            }
        )

    @router.post("/sakarkiv/saksmappe/{entity_id}/ny-journalpost")
    async def new_record(
        request: Request, entity_id: int, who: str = Depends(user)
    ) -> JSONResponse:
        one("saksmappe", entity_id)
        b = await body(request)
        try:
            record_id = extra.create_record(
                entity_id,
                b,
                who,
                kode(b.get("journalposttype")),
                str(b.get("dokumentetsDato") or data.today.isoformat()),
            )
        except ArchiveError as exc:
            raise fail(exc) from exc
        return noark(render["journalpost"](one("journalpost", record_id), request), 201)

    @router.get("/arkivstruktur/registrering/{entity_id}/ny-dokumentbeskrivelse")
    def new_description_template(entity_id: int, who: str = Depends(user)) -> JSONResponse:
        one("journalpost", entity_id)
        return noark(
            {
                "tittel": "",
                "tilknyttetRegistreringSom": code("tilknyttetRegistreringSom", "H"),
                "dokumentstatus": code("dokumentstatus", "F"),
            }
        )

    @router.post("/arkivstruktur/registrering/{entity_id}/ny-dokumentbeskrivelse")
    async def new_description(
        request: Request, entity_id: int, who: str = Depends(user)
    ) -> JSONResponse:
        one("journalpost", entity_id)
        b = await body(request)
        try:
            description_id = data.new_description(
                entity_id,
                kode(b.get("tilknyttetRegistreringSom")) or "H",
                str(b.get("tittel") or ""),
                str(b.get("eksternReferanse") or "") or None,
            )
        except ArchiveError as exc:
            raise fail(exc) from exc
        row = one("dokumentbeskrivelse", description_id)
        return noark(render["dokumentbeskrivelse"](row, request), 201)

    @router.get("/arkivstruktur/dokumentbeskrivelse/{entity_id}/ny-dokumentobjekt")
    def new_object_template(entity_id: int, who: str = Depends(user)) -> JSONResponse:
        one("dokumentbeskrivelse", entity_id)
        return noark({"versjonsnummer": 1, "variantformat": code("variantformat", "A")})

    @router.post("/arkivstruktur/dokumentbeskrivelse/{entity_id}/ny-dokumentobjekt")
    async def new_object(
        request: Request, entity_id: int, who: str = Depends(user)
    ) -> JSONResponse:
        one("dokumentbeskrivelse", entity_id)
        b = await body(request)
        algorithm = b.get("sjekksumAlgoritme")
        if b.get("sjekksum") and algorithm not in ("SHA-256", None):
            raise HTTPException(400, {"sjekksumAlgoritme": "Arkivet bruker SHA-256."})
        size = b.get("filstoerrelse")
        try:
            version = int(b.get("versjonsnummer") or 1)
            size = int(size) if size is not None else None
        except (TypeError, ValueError) as exc:
            raise HTTPException(400, "versjonsnummer og filstoerrelse må være heltall") from exc
        object_id = data.new_object(
            entity_id,
            versjonsnummer=version,
            variantformat=kode(b.get("variantformat")) or "P",
            format=kode(b.get("format")) or None,
            mime_type=_text(b.get("mimeType")),
            filnavn=_text(b.get("filnavn")),
            filstoerrelse=size,
            sjekksum=_text(b.get("sjekksum")),
        )
        return noark(render["dokumentobjekt"](one("dokumentobjekt", object_id), request), 201)

    async def upload(request: Request, store: Callable[[bytes, str], int]) -> JSONResponse:
        """A file upload (the body, with its MIME type); `store` gives the dokumentobjekt."""
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        try:
            object_id = store(await request.body(), content_type)
        except ArchiveError as exc:
            raise fail(exc) from exc
        return noark(render["dokumentobjekt"](one("dokumentobjekt", object_id), request), 201)

    def into_object(object_id: int) -> Callable[[bytes, str], int]:
        def store(content: bytes, content_type: str) -> int:
            data.upload(object_id, content, content_type)
            return object_id

        return store

    @router.post("/arkivstruktur/dokumentobjekt/{entity_id}/referanseFil")
    async def upload_to_object(
        request: Request, entity_id: int, who: str = Depends(user)
    ) -> JSONResponse:
        one("dokumentobjekt", entity_id)
        return await upload(request, into_object(entity_id))

    @router.post("/arkivstruktur/dokumentbeskrivelse/{entity_id}/fil")
    async def upload_to_description(
        request: Request,
        entity_id: int,
        who: str = Depends(user),
        filnavn: str = Query("dokument.pdf", max_length=200),
    ) -> JSONResponse:
        one("dokumentbeskrivelse", entity_id)
        return await upload(
            request, lambda content, kind: data.upload_new(entity_id, filnavn, content, kind)
        )

    return router
