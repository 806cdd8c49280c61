"""The benchmark flow through the framework: log in, search, read the hit count."""

from __future__ import annotations

from pydantic import BaseModel

from robots.context import RunContext
from robots.tasks import task


class SearchInput(BaseModel):
    query: str


@task("bench_search", input=SearchInput, systems=("hr",), max_attempts=1)
def bench_search(ctx: RunContext, data: SearchInput) -> dict[str, str]:
    hr = ctx.open("hr")
    with ctx.step("Søk"):
        hr.goto("/ansatte")
        hr.fill("list.search", data.query)
        hr.click("list.search_button")
        count = hr.text("list.count")
    return {"count": count}
