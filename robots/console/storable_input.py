"""The console's one door check for characters no database can store (NUL, lone surrogates;
see robots.storable): every query, path, form and JSON string of every request, before any
route runs. PostgreSQL refuses NUL in text, so a search for "%00" that reached a query was a
server error; here it is a 422 that names the field."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from fastapi import HTTPException, Request

from robots.storable import refused_in, unstorable

# Routes that make the stored text safe themselves: a login with such a name is an attempt to
# audit (robots.console.auth.authenticate), not a request to refuse unseen.
OWN_CHECK = frozenset({"/login"})


async def storable_input(request: Request) -> None:
    """A FastAPI dependency for the whole app: 422 for the first field that cannot be stored."""
    if request.url.path in OWN_CHECK:
        return
    problems = _pairs(request.query_params.multi_items())
    problems += _pairs(request.path_params.items())
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()  # kept on the request: the route reads the same form
        problems += _pairs(
            (key, value if isinstance(value, str) else value.filename or "")  # an upload's name
            for key, value in form.multi_items()
        )
    elif "json" in content_type:
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None  # not JSON: the route's own validation answers
        problems += unstorable(body)
    if problems:
        where, reason = problems[0]
        raise HTTPException(422, f"{where}: {reason}")


def _pairs(pairs: Iterable[tuple[Any, Any]]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for key, value in pairs:
        if refused_in(str(key)):
            problems.append(("(feltnavn)", "et feltnavn inneholder tegn som ikke kan lagres"))
        problems.extend(unstorable(value, str(key)) if isinstance(value, str) else [])
    return problems
