"""A probe task that leaves a trace of every execution, so tests can count executions."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from robots.context import RunContext
from robots.fnr import Fodselsnummer
from robots.tasks import BusinessError, task


class ProbeInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sleep_s: float = 0
    fail: str = "none"  # none | business | system
    secret_note: str = ""
    note: str = Field("", description="Fritekst som logges")  # logged as it is
    side_effect: str = ""  # recorded as done before the failure asked for
    helper_s: float = 0  # a helper process that runs this long, as a task's browser would


def executions_file(ctx: RunContext) -> Path:
    return ctx.settings.data_path / "executions.log"


@task("probe", input=ProbeInput, max_attempts=3, roles=("caseworker",))
def probe(ctx: RunContext, data: ProbeInput) -> dict[str, object]:
    """Appends one line per execution, then sleeps or fails as asked."""
    path = executions_file(ctx)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{ctx.reference} {ctx.claim.run_id} {os.getpid()}\n".encode())
    finally:
        os.close(fd)
    with ctx.step("Sov"):
        ctx.log.info(f"Behandler {data.secret_note}")
        if data.note:
            ctx.log.info(f"Notat: {data.note}")
        time.sleep(data.sleep_s)
        if data.helper_s:
            import subprocess

            subprocess.run(["sleep", str(data.helper_s)], check=True)
    if data.side_effect:
        ctx.record_side_effect(data.side_effect)
    if data.fail == "business":
        raise BusinessError("Ansatt finnes ikke i HR-systemet")
    if data.fail == "system":
        raise TimeoutError("Målsystemet svarte ikke innen 30 s")
    return {"pid": os.getpid()}


@task("limited", input=ProbeInput, systems=("archive",), max_attempts=1)
def limited(ctx: RunContext, data: ProbeInput) -> dict[str, object]:
    """Holds an 'archive' session for a while (per-system limit tests)."""
    time.sleep(data.sleep_s)
    return {}


class ExplainedInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule: str


@task("explained", input=ExplainedInput, max_attempts=1)
def explained(ctx: RunContext, data: ExplainedInput) -> dict[str, object]:
    """Records the rule it is given as applied, and reads one config file."""
    from robots.config import config_path

    ctx.rule(data.rule)
    config_path("sykefravaer.yaml").read_text(encoding="utf-8")
    return {}


class Approval(BaseModel):
    """A person's decision for the asking probe."""

    model_config = ConfigDict(extra="forbid")

    godkjent: bool = Field(description="Godkjent?")
    kommentar: str = Field(default="", max_length=200, description="Kommentar")


class AskingInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hand_over: bool = False


@task("asking", input=AskingInput, max_attempts=2, roles=("caseworker",))
def asking(ctx: RunContext, data: AskingInput) -> dict[str, object]:
    """Does a side effect once (kept across the wait), asks a person, then finishes with the
    answer; or hands the item over to people."""

    def side_effect() -> str:
        path = ctx.settings.data_path / "asking-effects.log"
        with path.open("a", encoding="utf-8") as handle:
            handle.write(f"{ctx.reference}\n")
        return "registrert 2026/1-1"

    done = ctx.remember("registrering", side_effect)
    if data.hand_over:
        ctx.hand_over("Saken trenger en vurdering roboten ikke kan gjøre", team="caseworker")
    answer = ctx.ask(
        Approval,
        text="Skal søknaden godkjennes?",
        evidence={"Søker": "Kari Nordmann 15076500565", "Beløp": "12 000 kr"},
    )
    ctx.log.info(f"Svar: godkjent={answer.godkjent}")
    return {"registrering": done, "godkjent": answer.godkjent, "kommentar": answer.kommentar}


class PersonalInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fnr: Fodselsnummer
    name: str = Field("", json_schema_extra={"sensitive": True})
    note: str = ""


@task("personal", input=PersonalInput, max_attempts=1, roles=("caseworker",))
def personal(ctx: RunContext, data: PersonalInput) -> dict[str, object]:
    """Proves it got the clear values, writing none of them anywhere: their SHA-256."""
    return {
        "fnr_sha256": hashlib.sha256(data.fnr.digits.encode()).hexdigest(),
        "name_sha256": hashlib.sha256(data.name.encode()).hexdigest(),
        "note_sha256": hashlib.sha256(data.note.encode()).hexdigest(),
    }
