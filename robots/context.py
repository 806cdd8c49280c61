"""What a task function gets: its claim, a run-bound logger, logged steps, and browser sessions
on the systems the task declared."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from loguru import logger
from pydantic import BaseModel

from robots import tracing
from robots.queue import Claim
from robots.settings import Settings

if TYPE_CHECKING:
    from robots.outbox import Outbox
    from robots.queue import Queue
    from robots.runtime import BrowserHost, SystemSession
    from robots.sickleave import Figure


M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Services:
    """What tasks may use of the worker: the queue (follow-up work) and the outbox (e-mail)."""

    queue: Queue
    outbox: Outbox
    # Asked before every login (robots.systems.Systems.check_login): raises while the system's
    # credentials are marked rejected, so no worker tries them again.
    login_gate: Callable[[str], None] | None = None


@dataclass
class RunContext:
    """What a task function gets for one attempt of one item: `ctx.log` (the run log, masked),
    `ctx.step(...)` and `ctx.run_step(...)` (logged, timed steps), `ctx.open(system)` (a
    browser page object), `ctx.submit(...)` (follow-up work), `ctx.send_mail(...)` (at most
    once per key), `ctx.record_side_effect(...)` and `ctx.add_artifact(...)`."""

    claim: Claim
    settings: Settings
    systems: tuple[str, ...] = ()
    browsers: BrowserHost | None = None
    services: Services | None = None  # the worker's queue and outbox
    log: Any = field(init=False)  # loguru Logger bound to this run
    current_step: str | None = field(default=None, init=False)
    failed_step: str | None = field(default=None, init=False)  # innermost step that raised
    side_effects: list[str] = field(default_factory=list, init=False)
    sessions: dict[str, SystemSession] = field(default_factory=dict, init=False)
    artifacts: list[tuple[str, Path]] = field(default_factory=list, init=False)
    _asked: int = field(default=0, init=False)  # questions asked so far in this run

    def __post_init__(self) -> None:
        self.log = logger.bind(run_id=self.claim.run_id, component=self.claim.task)

    @property
    def _services(self) -> Services:
        if self.services is None:
            raise RuntimeError("this context has no worker services (queue, outbox)")
        return self.services

    @property
    def reference(self) -> str:
        """The item's reference (its idempotency key): use it as the key of what you create."""
        return self.claim.reference

    @property
    def attempt(self) -> int:
        """1 for the first attempt, 2 for the first retry, ..."""
        return self.claim.attempt

    @property
    def artifact_dir(self) -> Path:
        """Where this run's evidence files go."""
        return self.settings.artifacts_path / f"run-{self.claim.run_id}"

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Log the start, the end and the duration of one step; a failure names the step."""
        outer, self.current_step = self.current_step, name
        log = self.log.bind(step=name)
        log.info(f"Start: {name}")
        started = time.perf_counter()
        try:
            with tracing.span(f"steg {name}", {"rpa.step": name, "rpa.run_id": self.claim.run_id}):
                yield
        except BaseException as exc:
            if getattr(exc, "_rpa_step", None) is None:
                self.failed_step = name
                with suppress(AttributeError):
                    setattr(exc, "_rpa_step", name)  # noqa: B010 - our own mark on it
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

    def ask(
        self,
        model: type[M],
        *,
        text: str,
        to: str = "caseworker",
        deadline: datetime | None = None,
        on_deadline: str = "escalate",
        evidence: dict[str, Any] | None = None,
        key: str | None = None,
    ) -> M:
        """Ask a person and wait: returns the answer as `model` once someone has given it.
        It is shown to the item's submitter, the team `to` (members in the setting
        `question_teams`) and operators. Until then the item waits (venter på
        saksbehandler), holding no worker and no browser; the console shows the question
        with a form made from `model` and the `evidence` (values the robot read). When it
        is answered the item runs again from the top: what went through `ctx.remember` and
        earlier questions is given back, the rest runs again (see robots.people).
        `deadline` passed: `on_deadline="escalate"` tells the operators (alerts) and the
        question stays answerable; "business_error" ends the item as one."""
        from robots.people import ask

        self._asked += 1
        answer, by = ask(
            self._services.queue.db,
            self.claim.item_id,
            self.claim.run_id,
            key or f"spørsmål-{self._asked}",
            model,
            text=text,
            to=to,
            deadline=deadline,
            on_deadline=on_deadline,
            evidence=evidence,
        )
        self.log.info(f"Svar fra {by} på «{text}»: {answer.model_dump_json()}")  # masked
        return answer

    def remember(self, key: str, action: Callable[[], Any]) -> Any:
        """A step whose result is kept for this item: on a resumed run (after a question) it
        is given back instead of running `action` again. The result must be JSON-safe."""
        from robots.people import remember

        return remember(self._services.queue.db, self.claim.item_id, self.claim.run_id, key, action)

    def hand_over(self, reason: str, team: str = "caseworker") -> NoReturn:
        """Give the item to people (manuell behandling): it lands in `team`'s queue in the
        console with `reason`, the robot's evidence and the run log."""
        from robots.people import HandOver

        raise HandOver(reason, team)

    def acknowledgement(self, key: str) -> tuple[str, date | None] | None:
        """A person's answer to the reminder sent with outbox key `key` (from the link in
        it): ("gjennomfort", None), ("utsatt", date), or None."""
        from robots.people import acknowledgement

        return acknowledgement(self._services.queue.db, key)

    def publish_sick_leave(self, figures: Iterable[Figure]) -> int:
        """Replace the sick-leave figures the console's leader page reads (robots.sickleave);
        only groups large enough to show may be given."""
        from robots.sickleave import store

        with self._services.queue.db.session() as session:
            return store(session, figures)

    def acknowledgement_link(self, key: str, milestone: str, due: date, recipient: str) -> str:
        """A link for `recipient` to acknowledge the reminder with outbox key `key` (used once,
        until some days after `due`; robots/links.py), or "" when console_url is not set. The
        URL carries a random token only: nothing about the employee."""
        if not self.settings.console_url:
            return ""
        from robots.links import issue

        token = issue(self._services.queue.db, self.settings, key, milestone, due, recipient)
        return f"{self.settings.console_url.rstrip('/')}/kvittering/{token}"

    def rule(self, text: str, **facts: Any) -> None:
        """Record a rule the task applied, in words a caseworker can give a citizen or an
        employee who asks why ("dialogmøte 1: dag 49 fra 2026-02-02, aml. § 4-6 fjerde ledd").
        The run log keeps it (masked) and the run report lists it under "Regler brukt"."""
        self.log.bind(rule=text, facts=facts or None).info(f"Regel: {text}")

    def run_step(
        self, name: str, action: Callable[[], Any], *, retries: int = 1, delay_seconds: float = 1.0
    ) -> Any:
        """A step retried on transient faults (HTTP 5xx, session expiry, timeouts)."""
        from robots.runtime import run_step

        return run_step(self, name, action, retries=retries, delay_seconds=delay_seconds)

    def open(self, system: str, *, login: bool = True) -> SystemSession:
        """A browser session on `system` (one of the task's declared systems), fresh per item.

        A system with a login block is logged in at once (the worker's kept login where it has
        one), so the first look-up never runs as an anonymous visitor; `login=False` opens it
        without logging in (pages goto still logs in for when the system asks)."""
        if system not in self.systems:
            raise ValueError(
                f"Oppgaven {self.claim.task} har ikke oppgitt systemet {system!r} "
                f"(systems={list(self.systems)})"
            )
        if system not in self.sessions:
            from robots.runtime import BrowserHost, open_system

            if self.browsers is None:
                self.browsers = BrowserHost(self.settings)
            if self.services is not None:
                self.browsers.login_gate = self.services.login_gate
            self.sessions[system] = open_system(
                self.browsers, system, self.settings, self.log, self.attempt
            )
            if login:
                self.sessions[system].start_logged_in()
        return self.sessions[system]

    def submit(
        self,
        task: str,
        reference: str,
        payload: dict[str, Any],
        *,
        priority: int = 0,
        unique_on: str | None = None,
    ) -> bool:
        """Enqueue follow-up work (e.g. one item per new hire); True if it was new.
        `unique_on`: a payload field that identifies the work whatever its reference (e.g. a
        file's checksum): not queued when an item of `task` already has that value there."""
        submitted = self._services.queue.submit(
            task,
            reference,
            payload,
            priority=priority,
            submitted_by=f"oppgave:{self.claim.task}:{self.claim.item_id}",
            unique_on=unique_on,
        )
        return submitted.created

    def send_mail(self, key: str, to: str, subject: str, body: str) -> str:
        """Send an e-mail at most once per key (outbox); returns sent, already_sent or
        uncertain."""
        delivery = self._services.outbox.send(
            key, to, subject, body, item_id=self.claim.item_id, run_id=self.claim.run_id
        )
        self.log.info(f"E-post {key} til {to}: {delivery.status}")
        return delivery.status

    def record_side_effect(self, what: str) -> None:
        """Say what this run changed in a target system (e.g. "arkivert som journalpost
        2026/12-3") as soon as it is done. If the run fails later for another reason, the
        item's error and result still say it, so nobody thinks nothing happened."""
        self.side_effects.append(what)
        self.log.info(f"Utført: {what}")

    def add_artifact(self, kind: str, path: Path) -> None:
        """Keep a file the run produced (a generated document) with its checksum."""
        self.artifacts.append((kind, path))

    def capture_failure(self) -> None:
        """Keep masked evidence (screenshot, HTML, trace) from every open system; the worker
        calls it on a failure."""
        for session in self.sessions.values():
            self.artifacts.extend(session.capture_failure(self.artifact_dir))

    def close(self, *, keep: bool = False) -> None:
        """Close every browser session of this run (the worker calls it); `keep`: the run
        ended well, so the worker's next item may take over its contexts and pages."""
        for session in self.sessions.values():
            session.close(keep=keep)
        self.sessions.clear()
