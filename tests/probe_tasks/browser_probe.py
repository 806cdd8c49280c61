"""A browser task for the runtime tests: reads an employee in the HR sandbox."""

from __future__ import annotations

import os
import signal

from pydantic import BaseModel, ConfigDict

from robots.context import RunContext
from robots.tasks import BusinessError, task


class LookupInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    employee_id: int
    fail: str = "none"  # none | system | business
    kill_browser_on_first_attempt: bool = False


@task("hr_lookup", input=LookupInput, systems=("hr",), max_attempts=3)
def hr_lookup(ctx: RunContext, data: LookupInput) -> dict[str, object]:
    """Opens an employee, reads name and fødselsnummer (masked in the run log)."""
    hr = ctx.open("hr")

    def read() -> tuple[str, str]:
        hr.goto(f"/ansatte/{data.employee_id}")
        return hr.text("employee.name"), hr.text("employee.fnr")

    name, number = ctx.run_step("Åpne ansatt", read, retries=3, delay_seconds=0.1)
    ctx.log.info(f"Fant {name} med fødselsnummer {number}")
    if data.kill_browser_on_first_attempt and ctx.attempt == 1:
        os.kill(ctx.browsers.pid, signal.SIGKILL)  # type: ignore[union-attr]
    manager = ctx.run_step(
        "Les leder", lambda: reread_manager(hr, data.employee_id), retries=3, delay_seconds=0.1
    )
    if data.fail == "system":
        raise RuntimeError(f"Simulert feil etter å ha lest {number}")
    if data.fail == "business":
        raise BusinessError("Den ansatte har sluttet")
    return {"name": name, "manager": manager}


def reread_manager(hr, employee_id: int) -> str:  # type: ignore[no-untyped-def]
    """A step that can be repeated: opens the page again, then reads."""
    hr.goto(f"/ansatte/{employee_id}")
    return hr.text("employee.manager")


class RegisterInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str


@task("hr_register_once", input=RegisterInput, systems=("hr",), max_attempts=1)
def hr_register_once(ctx: RunContext, data: RegisterInput) -> dict[str, object]:
    """Look before you act: search the employee list for the name, and register the person
    (here: a follow-up item, the side effect) only when the search finds no one."""
    hr = ctx.open("hr")
    hr.goto("/ansatte")
    hr.fill("list.search", data.name)
    hr.click("list.search_button")
    if hr.exists("list.rows"):
        return {"registered": False}
    ctx.submit("probe", f"registrert:{data.name}", {"note": data.name})
    ctx.record_side_effect(f"registrerte {data.name}")
    return {"registered": True}
