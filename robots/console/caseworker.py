"""The caseworker's pages: the catalogue of robots they may start, "Mine saker" (own items,
searched and paged, live), the submit form generated from the task's input model, and the item
page (live status, result, attempts, a plain reason) with retry and cancel."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel
from starlette.datastructures import UploadFile

from robots.console import actions
from robots.console.auth import Principal
from robots.console.deps import (
    Console,
    RowId,
    console,
    csrf_form,
    flash,
    page_at,
    permission,
    principal,
    visible_submitters,
)
from robots.labels import value_text
from robots.models import ItemStatus
from robots.paging import At
from robots.tasks import InvalidPayload, Task
from robots.views import ItemFilter

router = APIRouter(include_in_schema=False)


def own_filter(who: Principal, q: str, status: str) -> ItemFilter:
    return ItemFilter(status=status, text=q, submitters=visible_submitters(who))


@router.get("/ny", response_class=HTMLResponse)
def catalogue(
    request: Request,
    c: Console = Depends(console),
    who: Principal = Depends(permission("submit")),
) -> HTMLResponse:
    """The robots this person may start, by their plain names, with what each one does."""
    return c.page(request, "ny.html", who, tasks=c.startable(who))


@router.get("/mine", response_class=HTMLResponse)
def my_items(
    request: Request,
    c: Console = Depends(console),
    who: Principal = Depends(permission("own_items")),
    q: str = Query("", max_length=200),
    status: str = Query("", max_length=20),
    under: At = Depends(page_at),
) -> HTMLResponse:
    found = c.rpa.views.items(own_filter(who, q, status), under)
    return c.page(
        request,
        "mine.html",
        who,
        items=found.rows,
        found=found.page,
        params={"q": q, "status": status},
        statuses=list(ItemStatus),
        reason=lambda item: actions.reason(who, item),
        live=f"/hendelser/mine?{request.url.query}",
    )


@router.get("/ny/{task_name}", response_class=HTMLResponse)
def submit_form(
    request: Request,
    task_name: str,
    c: Console = Depends(console),
    who: Principal = Depends(permission("submit")),
) -> HTMLResponse:
    task = c.task(task_name)
    c.require_start(who, task)
    return _form(c, request, who, task, {}, {}, "")


@router.post("/ny/{task_name}")
async def submit_post(
    request: Request,
    task_name: str,
    c: Console = Depends(console),
    who: Principal = Depends(permission("submit")),
) -> Response:
    task = c.task(task_name)
    c.require_start(who, task)
    form = await csrf_form(request)
    reference = str(form.pop("reference", "")).strip()
    form.pop("csrf", None)
    upload = form.pop("fil", None)
    values = {k: v for k, v in form.items() if isinstance(v, str) and v != ""}
    errors: dict[str, str] = {}
    # Starlette's UploadFile: what request.form() hands over (FastAPI's is a subclass of it)
    if isinstance(upload, UploadFile) and upload.filename:
        content = await upload.read()
        values.update(actions.store_upload(c, task, upload.filename, content))
        reference = reference or f"fil:{values['sha256'][:32]}"
    if not reference:
        errors["reference"] = "Referanse må fylles ut"
    try:
        if not errors:
            submitted = actions.submit(c, who, task, reference, values, 0)
            if not submitted.created:
                flash(
                    request,
                    f"Referansen {reference!r} finnes allerede for denne roboten: her er "
                    "elementet som ble sendt inn med den. Ingenting nytt er lagt i kø.",
                )
            return RedirectResponse(f"/elementer/{submitted.item.id}", status_code=303)
    except InvalidPayload as exc:
        errors.update(dict(exc.errors))
    except ValueError as exc:
        errors["reference"] = str(exc)
    response = _form(c, request, who, task, values, errors, reference)
    response.status_code = 400
    return response


def _form(
    c: Console,
    request: Request,
    who: Principal,
    task: Task,
    values: dict[str, Any],
    errors: dict[str, str],
    reference: str,
) -> HTMLResponse:
    return c.page(
        request,
        "form.html",
        who,
        task=task,
        fields=form_fields(task),
        values=values,
        errors=errors,
        reference=reference,
    )


@router.get("/elementer/{item_id}", response_class=HTMLResponse)
def item_page(
    request: Request,
    item_id: RowId,
    c: Console = Depends(console),
    who: Principal = Depends(principal),
) -> HTMLResponse:
    item = actions.visible_item(c, who, item_id)
    return c.page(
        request,
        "item.html",
        who,
        inputs=inputs(c, item.task, actions.shown_input(c, who, item)),
        **actions.item_context(c, who, item),
    )


def inputs(c: Console, task_name: str, payload: Any) -> list[tuple[str, str]]:
    """An item's inputs as (label, text): the task model's field descriptions, values in
    words (a person reads "Ansattnummer: 4711", not JSON)."""
    if not isinstance(payload, dict):
        return [("Inndata", value_text(payload))] if payload else []
    task = c.rpa.registry.get(task_name)
    fields = task.input_model.model_fields if task is not None else {}
    rows = []
    for name, value in payload.items():
        info = fields.get(name)
        rows.append(((info.description if info else None) or name, value_text(value)))
    return rows


@router.post("/elementer/{item_id}/{action}")
async def item_action(
    request: Request,
    item_id: RowId,
    action: str,
    c: Console = Depends(console),
    who: Principal = Depends(principal),
) -> Response:
    await csrf_form(request)
    actions.act(c, who, item_id, action)
    done = {"retry": "er lagt i kø på nytt", "cancel": "er avbrutt"}[action]
    flash(request, f"Element {item_id} {done}.")
    return RedirectResponse(f"/elementer/{item_id}", status_code=303)


def form_fields(task: Task) -> list[dict[str, Any]]:
    """Form fields generated from the task's input model (the fields a file upload fills in
    are left to the upload)."""
    skip = task.upload.fields if task.upload is not None else ()
    return fields_of(task.input_model, skip)


def fields_of(model: type[BaseModel], skip: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Form fields generated from a pydantic model (a task's input, a robot's question)."""
    fields = []
    for name, info in model.model_fields.items():
        if name in skip:
            continue
        annotation = str(info.annotation)
        kind = (
            "number"
            if "int" in annotation or "float" in annotation
            else "date"
            if "date" in annotation
            else "text"
        )
        choices = list(getattr(info.annotation, "__args__", ())) if "Literal" in annotation else []
        fields.append(
            {
                "name": name,
                "label": info.description or name,
                "kind": kind,
                "required": info.is_required(),
                "choices": [str(c) for c in choices],
                "default": "" if info.is_required() or info.default is None else str(info.default),
            }
        )
    return fields
