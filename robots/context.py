"""What a task function gets: its claim, a run-bound logger and logged steps."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from loguru import logger

from robots.queue import Claim
from robots.settings import Settings


@dataclass
class RunContext:
    claim: Claim
    settings: Settings
    log: Any = field(init=False)  # loguru Logger bound to this run
    current_step: str | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.log = logger.bind(run_id=self.claim.run_id, component=self.claim.task)

    @property
    def reference(self) -> str:
        return self.claim.reference

    @property
    def attempt(self) -> int:
        return self.claim.attempt

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Log the start, the end and the duration of one step; a failure names the step."""
        outer, self.current_step = self.current_step, name
        log = self.log.bind(step=name)
        log.info(f"Start: {name}")
        started = time.perf_counter()
        try:
            yield
        except BaseException as exc:
            elapsed = (time.perf_counter() - started) * 1000
            log.bind(duration_ms=elapsed).warning(
                f"Feilet: {name} etter {elapsed:.0f} ms ({type(exc).__name__}: {exc})"
            )
            raise
        else:
            elapsed = (time.perf_counter() - started) * 1000
            log.bind(duration_ms=elapsed).info(f"Ferdig: {name} ({elapsed:.0f} ms)")
        finally:
            self.current_step = outer
