"""What a task function gets: its claim, a run-bound logger, logged steps, and browser sessions
on the systems the task declared."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loguru import logger

from robots.queue import Claim
from robots.settings import Settings

if TYPE_CHECKING:
    from robots.runtime import BrowserHost, SystemSession


@dataclass
class RunContext:
    claim: Claim
    settings: Settings
    systems: tuple[str, ...] = ()
    browsers: BrowserHost | None = None
    services: Any = None  # robots.worker.Services: queue and outbox of the worker
    log: Any = field(init=False)  # loguru Logger bound to this run
    current_step: str | None = field(default=None, init=False)
    sessions: dict[str, SystemSession] = field(default_factory=dict, init=False)
    artifacts: list[tuple[str, Path]] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.log = logger.bind(run_id=self.claim.run_id, component=self.claim.task)

    @property
    def reference(self) -> str:
        return self.claim.reference

    @property
    def attempt(self) -> int:
        return self.claim.attempt

    @property
    def artifact_dir(self) -> Path:
        return self.settings.artifacts_path / f"run-{self.claim.run_id}"

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

    def run_step(
        self, name: str, action: Callable[[], Any], *, retries: int = 1, delay_seconds: float = 1.0
    ) -> Any:
        """A step retried on transient faults (HTTP 5xx, session expiry, timeouts)."""
        from robots.runtime import run_step

        return run_step(self, name, action, retries=retries, delay_seconds=delay_seconds)

    def open(self, system: str) -> SystemSession:
        """A browser session on `system` (one of the task's declared systems), fresh per item."""
        if system not in self.systems:
            raise ValueError(
                f"Oppgaven {self.claim.task} har ikke oppgitt systemet {system!r} "
                f"(systems={list(self.systems)})"
            )
        if system not in self.sessions:
            from robots.runtime import BrowserHost, open_system

            if self.browsers is None:
                self.browsers = BrowserHost(self.settings)
            self.sessions[system] = open_system(
                self.browsers, system, self.settings, self.log, self.attempt
            )
        return self.sessions[system]

    def submit(
        self, task: str, reference: str, payload: dict[str, Any], *, priority: int = 0
    ) -> bool:
        """Enqueue follow-up work (e.g. one item per new hire); True if it was new."""
        submitted = self.services.queue.submit(
            task,
            reference,
            payload,
            priority=priority,
            submitted_by=f"oppgave:{self.claim.task}:{self.claim.item_id}",
        )
        return submitted.created

    def send_mail(self, key: str, to: str, subject: str, body: str) -> str:
        """Send an e-mail at most once per key (outbox); returns sent, already_sent or
        uncertain."""
        delivery = self.services.outbox.send(
            key, to, subject, body, item_id=self.claim.item_id, run_id=self.claim.run_id
        )
        self.log.info(f"E-post {key} til {to}: {delivery.status}")
        return delivery.status

    def add_artifact(self, kind: str, path: Path) -> None:
        """Keep a file the run produced (a generated document) with its checksum."""
        self.artifacts.append((kind, path))

    def capture_failure(self) -> None:
        for session in self.sessions.values():
            self.artifacts.extend(session.capture_failure(self.artifact_dir))

    def close(self) -> None:
        for session in self.sessions.values():
            session.close()
        self.sessions.clear()
