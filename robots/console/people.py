"""People in the loop, in the console: the questions robots ask (a form made from the
question's model, with the values the robot read), and the teams' queues of items in manual
handling ("Ta saken", then record what was done). The JSON API offers the same (a scripted
answer in the demo goes through it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from robots import people
from robots.console import actions
from robots.console.auth import Principal, can
from robots.console.caseworker import fields_of
from robots.console.deps import (
    Console,
    Forbidden,
    RowId,
    console,
    csrf_form,
    flash,
    permission,
    principal,
    require,
    visible_submitters,
)
from robots.models import AcknowledgementLink, ItemStatus
from robots.queue import InvalidTransition, ItemNotFound
from robots.views import (
    Audience,
    ItemFilter,
    NotFound,
    QuestionView,
    question,
    questions,
)

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["saksbehandler"])


def audience(c: Console, who: Principal) -> Audience | None:
    """Who sees which questions (robots.console.actions.audience)."""
    return actions.audience(c, who)


def _visible(c: Console, who: Principal, question_id: int) -> QuestionView:
    """The question if this person may see it; 404 otherwise, the same as for none."""
    try:
        return question(c.rpa.views, question_id, audience(c, who))
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None


def _answer(c: Console, who: Principal, question_id: int, values: dict[str, Any]) -> None:
    require(who, "answer")
    _visible(c, who, question_id)
    people.answer(c.rpa.db, question_id, values, who.actor)


def item_link(c: Console, who: Principal) -> Callable[[QuestionView], bool]:
    """Whether the question's item page is one this person may open (a team member who did
    not submit the item may not)."""
    submitters = visible_submitters(who)
    return lambda q: submitters is None or q.submitted_by in submitters


@router.get("/sporsmal", response_class=HTMLResponse)
def question_list(
    request: Request,
    c: Console = Depends(console),
    who: Principal = Depends(permission("answer")),
) -> HTMLResponse:
    found = questions(c.rpa.views, audience=audience(c, who))
    return c.page(request, "questions.html", who, questions=found, item_link=item_link(c, who))


@router.get("/sporsmal/{question_id}", response_class=HTMLResponse)
def question_page(
    request: Request,
    question_id: RowId,
    c: Console = Depends(console),
    who: Principal = Depends(permission("answer")),
) -> HTMLResponse:
    found = _visible(c, who, question_id)
    return _form(c, request, who, found, {}, {})


def _form(
    c: Console,
    request: Request,
    who: Principal,
    found: QuestionView,
    values: dict[str, Any],
    errors: dict[str, str],
) -> HTMLResponse:
    fields = fields_of(people.load_model(found.model))
    return c.page(
        request,
        "question.html",
        who,
        q=found,
        fields=fields,
        values=values,
        errors=errors,
        item_link=item_link(c, who),
    )


@router.post("/sporsmal/{question_id}")
async def question_post(
    request: Request,
    question_id: RowId,
    c: Console = Depends(console),
    who: Principal = Depends(permission("answer")),
) -> Response:
    form = await csrf_form(request)
    form.pop("csrf", None)
    values = {k: v for k, v in form.items() if isinstance(v, str) and v != ""}
    try:
        _answer(c, who, question_id, values)
    except people.AnswerRefused as exc:
        found = _visible(c, who, question_id)
        errors = dict(exc.errors) or {"svar": str(exc)}
        response = _form(c, request, who, found, values, errors)
        response.status_code = 400 if exc.errors else exc.status
        return response
    found = _visible(c, who, question_id)
    flash(request, f"Takk. Svaret er lagret, og element {found.item_id} fortsetter.")
    # To the list of questions: the item's page is not every answerer's to see.
    return RedirectResponse("/sporsmal", status_code=303)


@router.get("/manuell", response_class=HTMLResponse)
def manual_queue(
    request: Request,
    c: Console = Depends(console),
    who: Principal = Depends(permission("manual")),
) -> HTMLResponse:
    seen = audience(c, who)  # their teams' items and their own; operators' and admins': all
    found = c.rpa.views.items(ItemFilter(status=ItemStatus.MANUAL, audience=seen), size=200)
    teams = None if seen is None else seen.teams
    return c.page(request, "manual.html", who, items=found.rows, teams=teams)


@router.post("/manuell/{item_id}/{action}")
async def manual_action(
    request: Request,
    item_id: RowId,
    action: str,
    c: Console = Depends(console),
    who: Principal = Depends(principal),
) -> Response:
    form = await csrf_form(request)
    queue = c.rpa.queue
    if action in ("ta", "fullfor"):
        require(who, "manual")
        if not actions.in_manual_queue(c, who, actions.visible_item(c, who, item_id)):
            raise HTTPException(409, f"Element {item_id} er ikke i din kø for manuell behandling")
    try:
        if action == "ta":
            require(who, "manual")
            queue.take(item_id, who.actor)
            flash(request, f"Du har tatt element {item_id}.")
        elif action == "fullfor":
            require(who, "manual")
            outcome = str(form.get("utfall", "")).strip()
            if not outcome:
                raise HTTPException(422, "Skriv hva som ble gjort")
            queue.complete_manually(item_id, outcome, who.actor)
            flash(request, f"Element {item_id} er fullført manuelt.")
        elif action == "send":
            if not can(who.role, "cancel"):  # operators decide that the robots stop trying
                raise Forbidden()
            reason = str(form.get("grunn", "")).strip() or "Sendt til manuell behandling"
            queue.hand_over(item_id, reason, str(form.get("team", "caseworker")), who.actor)
            flash(request, f"Element {item_id} er sendt til manuell behandling.")
        else:
            raise HTTPException(404, "Ukjent handling")
    except InvalidTransition as exc:
        raise HTTPException(409, str(exc)) from None
    except ItemNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    return RedirectResponse(f"/elementer/{item_id}", status_code=303)


@api.get("/questions")
def api_questions(
    c: Console = Depends(console), who: Principal = Depends(permission("answer"))
) -> list[dict[str, Any]]:
    """Open questions this person may answer: on items they submitted, to their teams
    (setting question_teams); an operator's or admin's: all."""
    return [q.as_json() for q in questions(c.rpa.views, audience=audience(c, who))]


@api.post("/questions/{question_id}/answer")
def api_answer(
    question_id: RowId,
    body: dict[str, Any],
    c: Console = Depends(console),
    who: Principal = Depends(principal),
) -> JSONResponse:
    """Answer a question (validated like a submission); the item resumes."""
    try:
        _answer(c, who, question_id, body)
    except people.AnswerRefused as exc:
        status = 422 if exc.errors else exc.status
        return JSONResponse({"detail": str(exc), "errors": dict(exc.errors)}, status_code=status)
    return JSONResponse(_visible(c, who, question_id).as_json())


# Acknowledgements from a reminder's link -------------------------------------------------------
# No login: the link's random token is the permission, and the page shows nothing the e-mail
# did not already say about the employee: the milestone, its date and a neutral reference
# (robots/links.py). An unknown token is a plain 404.


def _link(c: Console, token: str) -> AcknowledgementLink:
    from robots.links import BadLink, find

    try:
        return find(c.rpa.db, token)
    except BadLink:
        raise HTTPException(404) from None


def _show(
    request: Request, c: Console, link: AcknowledgementLink, token: str, error: str = ""
) -> HTMLResponse:
    from robots.links import LinkRefused, check_open

    closed = ""
    try:
        check_open(link)
    except LinkRefused as exc:
        closed = str(exc)
    found = people.acknowledgement(c.rpa.db, link.key)
    response = c.page(
        request,
        "acknowledge.html",
        None,
        link=link,
        reference=f"P-{link.id:06d}",
        found=found,
        token=token,
        closed=closed,
        error=error,
    )
    if error:
        response.status_code = 422
    elif closed and link.used_at is None:
        response.status_code = 410  # expired (a used link shows what was registered)
    return response


@router.get("/kvittering/{token}", response_class=HTMLResponse)
def acknowledgement_page(
    request: Request, token: str, c: Console = Depends(console)
) -> HTMLResponse:
    return _show(request, c, _link(c, token), token)


@router.post("/kvittering/{token}")
async def acknowledgement_post(
    request: Request, token: str, c: Console = Depends(console)
) -> Response:
    from datetime import date

    from robots.links import LinkRefused, answer

    link = _link(c, token)
    form = await csrf_form(request)
    status = str(form.get("status", ""))
    until_text = str(form.get("til", "")).strip()
    try:
        until = date.fromisoformat(until_text) if status == "utsatt" and until_text else None
    except ValueError:
        return _show(request, c, link, token, "Datoen må skrives som åååå-mm-dd.")
    try:
        answer(c.rpa.db, c.rpa.settings, link, status, until)
    except (LinkRefused, people.AnswerRefused) as exc:
        return _show(request, c, link, token, str(exc))
    flash(request, "Takk, det er registrert.")
    return RedirectResponse(f"/kvittering/{token}", status_code=303)
