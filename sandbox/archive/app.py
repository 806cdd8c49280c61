"""Sak og arkiv: a Noark 5 style web UI (where caseworkers and robots register) and the Noark 5
tjenestegrensesnitt under /api (sandbox/archive/noark_api.py)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from sandbox.archive.data import (
    ARKIVDELER,
    JOURNALPOSTTYPER,
    KLASSER,
    KORRESPONDANSEPARTTYPER,
    SAKARKIV,
    SKJERMING_DOKUMENT,
    TILGANGSKODER,
    USERS,
    ArchiveData,
    ArchiveError,
    Screening,
    Upload,
    record_number,
)
from sandbox.archive.noark_api import noark_api
from sandbox.archive.noark_auth import LOGINS, NoarkAuth, auth_router
from sandbox.archive.noark_relations import Extras
from sandbox.archive.public_journal import public_journal
from sandbox.common import Faults, Site

# The system's own templates first, then those every sandbox system shares (login.html).
TEMPLATES = Jinja2Templates(
    directory=[Path(__file__).parent / "templates", Path(__file__).parent.parent / "templates"]
)
NOARK = "application/vnd.noark5+json"

_FIELDS = [
    "main",
    "popup",
    "login_form",
    "username",
    "password",
    "login_button",
    "search_form",
    "q_tittel",
    "q_klasse",
    "q_aar",
    "q_ekstern",
    "count",
    "table",
    "case_form",
    "tittel",
    "offentlig_tittel",
    "klasse",
    "enhet",
    "ekstern",
    "tilgang",
    "save",
    "saksnr",
    "case_ekstern",
    "records",
    "record_form",
    "jp_type",
    "dato",
    "hjemmel",
    "hoveddokument",
    "vedlegg",
    "dokumentnr",
    "vis_tittel",
    "vis_offentlig",
    "arkivdel",
    "skj_meta",
    "skj_dok",
    "skj_var",
    "kp_type",
    "kp_navn",
]
IDS = {
    False: {f: f.replace("_", "-") for f in _FIELDS},
    True: {f: f"x{i:02d}-{f[:3]}" for i, f in enumerate(_FIELDS)},
}
IDS[False].update(username="username", password="password", login_button="login-button")
CLASSES = {
    False: dict(
        body="arkiv",
        backdrop="modal-backdrop",
        modal="modal",
        error="feil",
        ok="melding",
        input="felt",
        button="knapp",
        row="rad",
    ),
    True: dict(
        body="arkiv-v2",
        backdrop="overlay-v2",
        modal="dialog-v2",
        error="alert-danger",
        ok="alert-success",
        input="form-control",
        button="btn btn-primary",
        row="grid-row",
    ),
}


def create_app(
    data_dir: Path,
    *,
    today: date | None = None,
    faults: Faults | None = None,
    session_timeout: float = 900,
    api_logins: tuple[str, ...] = LOGINS,
) -> FastAPI:
    """`api_logins`: the login mechanisms the API root announces (sandbox/archive/noark_auth.py)."""
    app = FastAPI(title="Sak og arkiv (sandbox)", docs_url=None, redoc_url=None)
    data = ArchiveData(data_dir, today=today)
    site = Site(
        app,
        cookie="arkiv_session",
        session_timeout=session_timeout,
        faults=faults,
        templates=TEMPLATES,
        ids=IDS,
        classes=CLASSES,
        users=USERS,
        context={
            "arkivdeler": ARKIVDELER,
            "klasser": KLASSER,
            "koder": TILGANGSKODER,
            "typer": JOURNALPOSTTYPER,
            "skjerming_dokument": SKJERMING_DOKUMENT,
            "parttyper": KORRESPONDANSEPARTTYPER,
        },
    )
    app.state.data = data
    render, login_required = site.render, site.user

    # Web UI -----------------------------------------------------------------------------------

    @app.get("/")
    def home(request: Request) -> Response:
        login_required(request)
        return RedirectResponse("/saker", status_code=303)

    @app.get("/saker", response_class=HTMLResponse)
    def cases(
        request: Request, tittel: str = "", klasse: str = "", aar: str = "", ekstern: str = ""
    ) -> HTMLResponse:
        user = login_required(request)
        q = {"tittel": tittel, "klasse": klasse, "aar": aar, "ekstern": ekstern}
        return render(request, "cases.html", user, q=q, rows=data.search_cases(**q))

    empty_case = {
        "tittel": "",
        "offentlig_tittel": "",
        "arkivdel": SAKARKIV,
        "klasse": "",
        "administrativ_enhet": "",
        "ekstern_referanse": "",
        "tilgangsrestriksjon": "",
    }

    @app.get("/saker/ny", response_class=HTMLResponse)
    def new_case_page(request: Request) -> HTMLResponse:
        user = login_required(request)
        return render(request, "case_new.html", user, f=empty_case, errors={})

    @app.post("/saker/ny")
    def new_case(
        request: Request,
        tittel: str = Form(""),
        offentlig_tittel: str = Form(""),
        arkivdel: str = Form(SAKARKIV),
        klasse: str = Form(""),
        administrativ_enhet: str = Form(""),
        ekstern_referanse: str = Form(""),
        tilgangsrestriksjon: str = Form(""),
    ) -> Response:
        user = login_required(request)
        form = dict(
            tittel=tittel,
            offentlig_tittel=offentlig_tittel,
            arkivdel=arkivdel,
            klasse=klasse,
            administrativ_enhet=administrativ_enhet,
            ekstern_referanse=ekstern_referanse,
            tilgangsrestriksjon=tilgangsrestriksjon,
        )
        try:
            case_id = data.create_case(
                tittel,
                klasse,
                administrativ_enhet,
                user,
                ekstern_referanse.strip() or None,
                offentlig_tittel,
                tilgangsrestriksjon,
                arkivdel=arkivdel,
            )
        except ArchiveError as exc:
            return render(request, "case_new.html", user, status=400, f=form, errors=exc.errors)
        return RedirectResponse(f"/saker/{case_id}?melding=Saken+er+opprettet", status_code=303)

    @app.get("/saker/{case_id}", response_class=HTMLResponse)
    def case(request: Request, case_id: int, melding: str = "") -> HTMLResponse:
        user = login_required(request)
        row = data.case(case_id)
        if row is None:
            raise HTTPException(404, "Fant ikke saken")
        return render(
            request, "case.html", user, s=row, records=data.records(case_id), message=melding
        )

    @app.get("/saker/{case_id}/journalpost/ny", response_class=HTMLResponse)
    def new_record_page(request: Request, case_id: int) -> HTMLResponse:
        user = login_required(request)
        row = data.case(case_id)
        if row is None:
            raise HTTPException(404, "Fant ikke saken")
        form = {
            "tittel": "",
            "offentlig_tittel": "",
            "journalposttype": "",
            "dokumentets_dato": "",
            "tilgangsrestriksjon": "",
            "skjermingshjemmel": "",
            "skjerming_metadata": "",
            "skjerming_dokument": "",
            "skjermingsvarighet": "",
            "korrespondanseparttype": "",
            "korrespondansepart_navn": "",
            "ekstern_referanse": "",
        }
        return render(request, "record_new.html", user, s=row, f=form, errors={})

    @app.post("/saker/{case_id}/journalpost/ny")
    async def new_record(
        request: Request,
        case_id: int,
        tittel: str = Form(""),
        offentlig_tittel: str = Form(""),
        journalposttype: str = Form(""),
        dokumentets_dato: str = Form(""),
        tilgangsrestriksjon: str = Form(""),
        skjermingshjemmel: str = Form(""),
        skjerming_metadata: str = Form(""),
        skjerming_dokument: str = Form(""),
        skjermingsvarighet: str = Form(""),
        korrespondanseparttype: str = Form(""),
        korrespondansepart_navn: str = Form(""),
        ekstern_referanse: str = Form(""),
        hoveddokument: UploadFile | None = File(None),
        vedlegg: list[UploadFile] | None = File(None),
    ) -> Response:
        user = login_required(request)
        row = data.case(case_id)
        if row is None:
            raise HTTPException(404, "Fant ikke saken")
        main = await _upload(hoveddokument)
        attachments = [u for u in [await _upload(v) for v in vedlegg or []] if u]
        form = dict(
            tittel=tittel,
            offentlig_tittel=offentlig_tittel,
            journalposttype=journalposttype,
            dokumentets_dato=dokumentets_dato,
            tilgangsrestriksjon=tilgangsrestriksjon,
            skjermingshjemmel=skjermingshjemmel,
            skjerming_metadata=skjerming_metadata,
            skjerming_dokument=skjerming_dokument,
            skjermingsvarighet=skjermingsvarighet,
            korrespondanseparttype=korrespondanseparttype,
            korrespondansepart_navn=korrespondansepart_navn,
            ekstern_referanse=ekstern_referanse,
        )
        party = (korrespondanseparttype, korrespondansepart_navn.strip())
        try:
            record_id = data.create_record(
                case_id,
                tittel=tittel,
                offentlig_tittel=offentlig_tittel,
                journalposttype=journalposttype,
                dokumentets_dato=dokumentets_dato,
                tilgangsrestriksjon=tilgangsrestriksjon,
                skjermingshjemmel=skjermingshjemmel,
                skjerming=Screening.parse(
                    skjerming_metadata, skjerming_dokument, skjermingsvarighet
                ),
                korrespondanseparter=(party,) if any(party) else (),
                ekstern_referanse=ekstern_referanse.strip(),
                user=user,
                hoveddokument=main,
                vedlegg=attachments,
            )
        except ArchiveError as exc:
            return render(
                request, "record_new.html", user, status=400, s=row, f=form, errors=exc.errors
            )
        return RedirectResponse(
            f"/journalposter/{record_id}?melding=Journalposten+er+lagret", status_code=303
        )

    @app.get("/journalposter/{record_id}", response_class=HTMLResponse)
    def record(request: Request, record_id: int, melding: str = "") -> HTMLResponse:
        user = login_required(request)
        row = data.record(record_id)
        if row is None:
            raise HTTPException(404, "Fant ikke journalposten")
        return render(
            request,
            "record.html",
            user,
            j=row,
            number=record_number(row),
            docs=data.documents(record_id),
            message=melding,
        )

    @app.get("/dokumenter/{document_id}")
    def document(request: Request, document_id: int) -> FileResponse:
        login_required(request)
        return _file(document_id)

    def _file(document_id: int) -> FileResponse:
        row = data.document(document_id)
        if row is None:
            raise HTTPException(404, "Fant ikke dokumentet")
        return FileResponse(row["path"], media_type=row["mime_type"], filename=row["filnavn"])

    auth = NoarkAuth(USERS, api_logins)
    extras = Extras(data, auth.dependency())
    app.include_router(auth_router(auth))
    app.include_router(extras.router())  # before noark_api: its entity GETs carry the ETag
    app.include_router(noark_api(data, auth.dependency(), extras))
    app.include_router(public_journal(data))

    return app


async def _upload(file: UploadFile | None) -> Upload | None:
    if file is None or not file.filename:
        return None
    return Upload(file.filename, await file.read())
