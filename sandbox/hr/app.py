"""Personalportalen: a server-rendered HR system for the robots (bokmål UI).

Login with a session cookie and idle timeout; employee register with search and pagination; new
hires; onboarding checklists; IT-access requests; the sick-leave register. `/_sandbox/*` is the
test harness's back door (fault injection, read-back of what the robots did).
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from sandbox.common import Faults, Site
from sandbox.hr.data import USERS, HRData

# The system's own templates first, then those every sandbox system shares (login.html).
TEMPLATES = Jinja2Templates(
    directory=[Path(__file__).parent / "templates", Path(__file__).parent.parent / "templates"]
)

IDS = {
    False: dict(
        main="innhold",
        popup="ny-versjon",
        login_form="login-form",
        username="username",
        password="password",
        login_button="login-button",
        search="sok",
        count="antall",
        table="resultater",
        name="ansatt-navn",
        employee_id="ansattnr",
        fnr="fnr",
        unit="enhet",
        title="stilling",
        start_date="startdato",
        manager="leder",
        manager_email="leder-epost",
        politiattest="politiattest",
        checklist="sjekkliste",
        it_form="it-skjema",
        it_systems="it-systemer",
        it_reference="it-referanse",
    ),
    True: dict(
        main="content-v2",
        popup="release-note",
        login_form="frm-auth",
        username="user-name-field",
        password="pwd",
        login_button="btn-signin",
        search="q-field",
        count="hits",
        table="grid-main",
        name="emp-heading",
        employee_id="emp-no",
        fnr="natid",
        unit="org-unit",
        title="position",
        start_date="from-date",
        manager="mgr",
        manager_email="mgr-mail",
        politiattest="police-cert",
        checklist="onb-list",
        it_form="frm-it",
        it_systems="it-sys",
        it_reference="it-ref",
    ),
}
CLASSES = {
    False: dict(
        body="hr",
        backdrop="modal-backdrop",
        modal="modal",
        error="feil",
        ok="melding",
        input="felt",
        button="knapp",
        table="tabell",
        row="rad",
        pager="sider",
        details="detaljer",
        pii="personnummer",
    ),
    True: dict(
        body="hr-v2",
        backdrop="overlay-v2",
        modal="dialog-v2",
        error="alert-danger",
        ok="alert-success",
        input="form-control",
        button="btn btn-primary",
        table="grid",
        row="grid-row",
        pager="pagination",
        details="dl-v2",
        pii="sensitive",
    ),
}
PER_PAGE_NEW_HIRES = 5
PER_PAGE = 25
PER_PAGE_POSITIONS = 100


# Intermediate states of a checklist item before it is done (shown as text on the page).
CHECKLIST_STATES = {"sendt_til_signering": "Sendt til signering"}


def create_app(
    data_dir: Path,
    *,
    today: date | None = None,
    faults: Faults | None = None,
    session_timeout: float = 900,
) -> FastAPI:
    app = FastAPI(title="Personalportalen (sandbox)", docs_url=None, redoc_url=None)
    data = HRData(data_dir / "hr.db", today=today)
    site = Site(
        app,
        cookie="hr_session",
        session_timeout=session_timeout,
        faults=faults,
        templates=TEMPLATES,
        ids=IDS,
        classes=CLASSES,
        users=USERS,
    )
    app.state.data = data
    render, login_required = site.render, site.user

    @app.get("/")
    def home(request: Request) -> Response:
        login_required(request)
        return RedirectResponse("/nyansatte", status_code=303)

    @app.get("/ansatte", response_class=HTMLResponse)
    def employees(request: Request, q: str = "", side: int = Query(1, ge=1)) -> HTMLResponse:
        user = login_required(request)
        rows, total = data.search(q, side, PER_PAGE)
        return render(
            request,
            "list.html",
            user,
            heading="Ansatte",
            rows=rows,
            total=total,
            q=q,
            page=side,
            pages=max(1, math.ceil(total / PER_PAGE)),
        )

    @app.get("/nyansatte", response_class=HTMLResponse)
    def new_hires(request: Request, q: str = "", side: int = Query(1, ge=1)) -> HTMLResponse:
        user = login_required(request)
        rows, total = data.new_hires(q, side, PER_PAGE_NEW_HIRES)
        return render(
            request,
            "list.html",
            user,
            heading="Nyansatte",
            rows=rows,
            total=total,
            q=q,
            page=side,
            pages=max(1, math.ceil(total / PER_PAGE_NEW_HIRES)),
        )

    def employee_page(
        request: Request, user: str, employee_id: int, status: int = 200, **extra: Any
    ) -> HTMLResponse:
        employee = data.employee(employee_id)
        if employee is None:
            return render(
                request,
                "list.html",
                user,
                status=404,
                heading=f"Fant ikke ansatt {employee_id}",
                rows=[],
                total=0,
                q="",
                page=1,
                pages=1,
            )
        return render(
            request,
            "employee.html",
            user,
            status=status,
            e=employee,
            job=data.employment(employee_id),
            checklist=data.checklist(employee_id),
            it_requests=data.it_requests(employee_id),
            **extra,
        )

    @app.get("/ansatte/{employee_id}", response_class=HTMLResponse)
    def employee(request: Request, employee_id: int, melding: str = "") -> HTMLResponse:
        user = login_required(request)
        return employee_page(request, user, employee_id, message=melding)

    @app.post("/ansatte/{employee_id}/sjekkliste/{code}")
    def tick(
        request: Request,
        employee_id: int,
        code: str,
        note: str = Form(""),
        status: str = Form("utfort"),
    ) -> Response:
        user = login_required(request)
        if not any(item["code"] == code for item in data.checklist(employee_id)):
            raise HTTPException(404, "Ukjent sjekklistepunkt")
        if status == "utfort":
            data.tick(employee_id, code, user, note)
        elif status in CHECKLIST_STATES:
            data.set_status(employee_id, code, status, user)
        else:
            raise HTTPException(422, "Ukjent status")
        return RedirectResponse(
            f"/ansatte/{employee_id}?melding=Punktet+er+registrert", status_code=303
        )

    @app.post("/ansatte/{employee_id}/it-tilgang")
    def it_access(
        request: Request, employee_id: int, systems: str = Form(""), reference: str = Form("")
    ) -> Response:
        user = login_required(request)
        if not systems.strip() or not reference.strip():
            return employee_page(
                request,
                user,
                employee_id,
                status=400,
                error="Systemer og bestillingsreferanse må fylles ut.",
            )
        if not data.request_it(employee_id, systems.strip(), user, reference.strip()):
            return employee_page(
                request,
                user,
                employee_id,
                status=409,
                error=f"Bestillingen {reference} finnes allerede.",
            )
        return RedirectResponse(
            f"/ansatte/{employee_id}?melding=IT-tilgang+bestilt", status_code=303
        )

    @app.get("/sykefravaer", response_class=HTMLResponse)
    def absences(
        request: Request,
        side: int = Query(1, ge=1),
        avsluttet_siste: int = Query(0, ge=0, le=36_500),
    ) -> HTMLResponse:
        user = login_required(request)
        rows, total = data.absences(side, PER_PAGE, avsluttet_siste)
        return render(
            request,
            "absences.html",
            user,
            rows=rows,
            total=total,
            page=side,
            pages=max(1, math.ceil(total / PER_PAGE)),
            recent=avsluttet_siste,
        )

    @app.get("/oppslag", response_class=HTMLResponse)
    def board(request: Request) -> HTMLResponse:
        """Open to anonymous visitors; a logged-in user also sees the internal notice and the
        form. Option labels follow the browser's language (Accept-Language), values do not."""
        norwegian = request.headers.get("accept-language", "").lower().startswith(("nb", "no"))
        labels = ("Haster", "Vanlig") if norwegian else ("Urgent", "Normal")
        return render(
            request,
            "board.html",
            site.sessions.user(request),
            priorities=list(zip(("urgent", "normal"), labels, strict=True)),
        )

    @app.get("/stillinger", response_class=HTMLResponse)
    def positions(request: Request, side: int = Query(1, ge=1)) -> HTMLResponse:
        user = login_required(request)
        rows, total = data.positions(side, PER_PAGE_POSITIONS)
        return render(
            request,
            "positions.html",
            user,
            rows=rows,
            total=total,
            page=side,
            pages=max(1, math.ceil(total / PER_PAGE_POSITIONS)),
        )

    # Test harness read-back ------------------------------------------------------------------

    @app.get("/_sandbox/employees/{employee_id}")
    def read_employee(employee_id: int) -> dict[str, Any]:
        employee = data.employee(employee_id)
        if employee is None:
            raise HTTPException(404)
        return {
            "employee": dict(employee),
            "checklist": [dict(r) for r in data.checklist(employee_id)],
            "employment": dict(job) if (job := data.employment(employee_id)) else None,
            "it_requests": [dict(r) for r in data.it_requests(employee_id)],
            "absences": [dict(r) for r in data.absence_history(employee_id)],
            "positions": [
                dict(r)
                for r in data.query("SELECT * FROM position WHERE employee_id = ?", (employee_id,))
            ],
        }

    @app.get("/_sandbox/new-hires")
    def read_new_hires() -> list[int]:
        return list(data.new_hire_ids)

    @app.get("/_sandbox/absences")
    def read_absences() -> list[dict[str, Any]]:
        rows, _ = data.absences(1, 10_000)
        return [dict(r) for r in rows]

    return app
