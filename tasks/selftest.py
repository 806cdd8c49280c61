"""Self-test task: exercises the engine without touching any system.

Used by the demo, the benchmarks and operators checking a new installation ("does a worker pick
up work and log it?"). It can be told to fail, to show how each kind of error looks.
"""

from __future__ import annotations

import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from robots.context import RunContext
from robots.tasks import BusinessError, task


class SelftestInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sleep_ms: int = Field(default=0, ge=0, le=600_000, description="Hvor lenge steget varer")
    fail: Literal["none", "business", "system", "system_once"] = Field(
        default="none", description="Feil som skal simuleres"
    )
    note: str = Field(default="", max_length=500, description="Fritekst som logges")


@task("selftest", input=SelftestInput, max_attempts=3, title="Selvtest av installasjonen")
def selftest(ctx: RunContext, data: SelftestInput) -> dict[str, object]:
    """Kontrollerer at arbeidere henter, kjører og logger arbeid."""
    with ctx.step("Vent"):
        if data.sleep_ms:
            time.sleep(data.sleep_ms / 1000)
        if data.note:
            ctx.log.info(f"Notat: {data.note}")
    if data.fail == "business":
        raise BusinessError("Simulert forretningsfeil: inndata avvist etter regelverket")
    if data.fail == "system" or (data.fail == "system_once" and ctx.attempt == 1):
        raise RuntimeError("Simulert systemfeil (målsystemet svarte ikke)")
    return {"slept_ms": data.sleep_ms, "attempt": ctx.attempt}
