"""Worker processes: claim, run, heartbeat, finish; and the supervisor that keeps N of them.

A worker finishes every item it claims as done, business error or system error. On SIGTERM or
SIGINT it lets the current item run for `shutdown_grace_seconds`, then releases it back to the
queue; a worker killed outright loses its lease and the item is reclaimed after expiry.
"""

from __future__ import annotations

import importlib
import json
import multiprocessing as mp
import os
import secrets
import signal
import socket
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loguru import logger
from sqlalchemy import update

from robots import provenance, sealing, tracing
from robots.app import RpaApp
from robots.browser import SharedChromium
from robots.context import RunContext, Services
from robots.db import Database, check_schema
from robots.faults import CredentialsRejected, SystemStateFault
from robots.masking import mask_text
from robots.models import RunOutcome, Worker, utcnow
from robots.people import HandOver, WaitingForPerson
from robots.queue import Claim, WorkerIdentity
from robots.runlog import RunLog, close_run, configure_logging, open_run
from robots.settings import Settings, use_settings
from robots.systems import Systems
from robots.tasks import BusinessError, InvalidPayload, Task
from robots.wakeup import Idle

if TYPE_CHECKING:
    from robots.runtime import BrowserHost


KEEP_PAGES_AFTER = frozenset(
    {RunOutcome.DONE, RunOutcome.BUSINESS_ERROR, RunOutcome.WAITING, RunOutcome.HANDED_OVER}
)
# Outcomes that show the item's systems answered: their streak of "cannot reach" ends.
REACHED = KEEP_PAGES_AFTER


SECOND_SIGNAL_AFTER = 1.0  # seconds: a stop signal sooner than this after the first is the same


class Released(BaseException):
    """Raised into a running task when shutdown grace has run out: hand the item back.

    A BaseException so that a task's broad `except Exception` does not swallow it.
    """


def new_identity() -> WorkerIdentity:
    host = socket.gethostname()
    pid = os.getpid()
    return WorkerIdentity(f"{host}:{pid}:{secrets.token_hex(3)}", host, pid)


@dataclass
class _Current:
    claim: Claim
    run_log: RunLog
    lost: bool = False


@dataclass
class Slot:
    """Where one item runs at a time: the worker's main thread, or one of its
    `worker_concurrency` slot threads (each with its own Playwright, all on one Chromium)."""

    current: _Current | None = None
    browsers: BrowserHost | None = None  # created when a task first opens a system
    in_task: bool = False  # Released may only be raised while the task function runs
    thread_id: int | None = None
    # In a slot thread, held while in_task changes and while a release is raised into it, so
    # that a release never lands after the task function has returned.
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def threaded(self) -> bool:
        return self.thread_id != threading.main_thread().ident


def raise_in(thread_id: int, exc: type[BaseException] | None) -> None:
    """Raise `exc` in another thread at its next bytecode (how a slot's item is released when
    the shutdown grace has run out; the main thread gets it from the signal handler). None
    withdraws one not yet raised."""
    import ctypes

    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc is not None else None
    )


class WorkerProcess:
    """One worker: runs items one at a time in the main thread, heartbeats in another."""

    FINISH_RETRY_DELAYS: tuple[float, ...] = (0.2, 1, 3, 5)  # seconds between finish attempts

    def __init__(
        self,
        settings: Settings,
        registry: dict[str, Task] | None = None,
        *,
        tasks: list[str] | None = None,
        supervised: bool = False,
    ) -> None:
        self.settings = settings
        self.app = RpaApp.build(settings, check=False, registry=registry)
        self.db = self.app.db
        self.registry = self.app.registry
        self.tasks = tasks or list(self.registry)
        self.queue = self.app.queue
        self.systems = Systems(self.db, settings)
        self.services = Services(self.queue, self.app.outbox, self.systems.check_login)
        self._next_probe = 0.0  # monotonic time of the next look for a due probe
        self.identity = new_identity()
        self.stopping = threading.Event()
        self.idle = Idle(settings, self.db.url, self.stopping)
        self._idles = [self.idle]
        self.slots = [Slot(thread_id=threading.main_thread().ident)]
        self._lock = threading.Lock()
        self._parent = os.getppid() if supervised else None
        self.processed = 0
        self._stop_asked_at: float | None = None  # monotonic time of the first stop signal
        # Called with the context after a failure, before the browser closes (`run --pause-on-
        # error` lets the developer look at the page); None in a normal worker.
        self.on_failure: Callable[[RunContext], None] | None = None

    # The main slot (a worker with one slot runs its items in the main thread).
    @property
    def current(self) -> _Current | None:
        return self.slots[0].current

    @property
    def browsers(self) -> BrowserHost | None:
        return self.slots[0].browsers

    @browsers.setter
    def browsers(self, host: BrowserHost | None) -> None:
        self.slots[0].browsers = host

    # Lifecycle ------------------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self._on_stop_signal)
        signal.signal(signal.SIGINT, self._on_stop_signal)
        signal.signal(signal.SIGALRM, self._on_grace_expired)

    def _on_stop_signal(self, signum: int, _frame: Any) -> None:
        busy = [slot for slot in self.slots if slot.in_task and slot.current is not None]
        now = time.monotonic()
        if self.stopping.is_set() and busy:
            # A second signal releases now, if it is a second request: systemd's SIGTERM to
            # the whole control group and the supervisor's forwarded one arrive together (or
            # coalesce, by chance), and must not decide between grace and release.
            if self._stop_asked_at is None or now - self._stop_asked_at >= SECOND_SIGNAL_AFTER:
                self._release(busy)
            return
        self._stop_asked_at = now
        self.stop()
        if busy:
            items = ", ".join(str(slot.current.claim.item_id) for slot in busy if slot.current)
            logger.info(
                f"Stoppsignal: lar element {items} kjøre ferdig i inntil "
                f"{self.settings.shutdown_grace_seconds:.0f} s"
            )
            signal.setitimer(signal.ITIMER_REAL, max(0.01, self.settings.shutdown_grace_seconds))

    def _on_grace_expired(self, _signum: int, _frame: Any) -> None:
        self._release([slot for slot in self.slots if slot.in_task])

    def _release(self, slots: list[Slot]) -> None:
        """Hand the slots' items back: Released raised into each running task (the main
        thread's last, since raising it here ends this handler)."""
        for slot in slots:
            if slot.threaded and slot.thread_id is not None:
                with slot.lock:
                    if slot.in_task:
                        raise_in(slot.thread_id, Released)
        if any(not slot.threaded for slot in slots):
            raise Released()

    def stop(self) -> None:
        """Stop after the current item (safe from a signal handler: ends an idle wait too)."""
        self.stopping.set()
        for idle in self._idles:
            idle.wake()

    def run(self, *, max_items: int | None = None, exit_when_idle: bool = False) -> int:
        """Process items until stopped (or `max_items`, or an empty queue if asked): one at a
        time in this thread, or `worker_concurrency` at a time in slot threads sharing one
        Chromium."""
        self._register()
        self._warm_up()
        beat = threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True)
        beat.start()
        logger.info(f"Arbeider {self.identity.id} startet; oppgaver: {', '.join(self.tasks)}")
        shared: SharedChromium | None = None
        try:
            if self.settings.worker_concurrency > 1:
                shared = SharedChromium(self.settings.browser_path, self.settings.headless)
                self._run_slots(shared, max_items, exit_when_idle)
            else:
                self.slots[0].thread_id = threading.get_ident()
                self._loop(self.slots[0], self.idle, max_items, exit_when_idle)
        finally:
            self.stopping.set()
            beat.join(timeout=5)
            self._set_worker(status="stopped", current_item_id=None)
            for idle in self._idles:
                idle.close()
            if self.browsers is not None:
                self.browsers.close()
            if shared is not None:
                shared.close()
            self.db.dispose()
            logger.info(f"Arbeider {self.identity.id} stoppet etter {self.processed} elementer")
        return self.processed

    def _warm_up(self) -> None:
        """Pay the first item's one-off costs before claiming it: the browser runtime's
        imports, the selector files of the systems this worker's tasks use (parsed and checked
        once), and the modules the tasks name in `preload` (WeasyPrint, the Excel library).
        A caseworker waits for the first item; nobody waits for a worker to start. Nothing
        here fails the worker: an item that needs a broken part fails with its own message."""
        chosen = [self.registry[name] for name in self.tasks if name in self.registry]
        systems = sorted({system for task in chosen for system in task.systems})
        modules = list(dict.fromkeys(module for task in chosen for module in task.preload))
        started = time.perf_counter()
        if systems:
            from robots.runtime import system_spec

            for system in systems:
                try:
                    system_spec(system)
                except Exception as exc:  # noqa: BLE001 - reported again by the item using it
                    reason = mask_text(str(exc))
                    logger.warning(f"Velgerfilen for {system} kan ikke leses: {reason}")
        for module in modules:
            try:
                importlib.import_module(module)
            except Exception as exc:  # noqa: BLE001 - the task's own import will say it again
                logger.warning(f"Kunne ikke laste {module} på forhånd: {mask_text(str(exc))}")
        logger.debug(
            f"Forvarmet {len(systems)} systemer og {len(modules)} moduler på "
            f"{time.perf_counter() - started:.2f} s"
        )

    def _run_slots(
        self, shared: SharedChromium, max_items: int | None, exit_when_idle: bool
    ) -> None:
        """`worker_concurrency` slot threads, each with its own idle wait and Playwright (on
        the one Chromium); this thread waits for them and takes the signals."""
        from robots.runtime import BrowserHost

        count = self.settings.worker_concurrency
        self.slots = [Slot(browsers=BrowserHost(self.settings, shared)) for _ in range(count)]
        self._idles = [self.idle] + [
            Idle(self.settings, self.db.url, self.stopping) for _ in range(count - 1)
        ]

        def slot_main(slot: Slot, idle: Idle) -> None:
            slot.thread_id = threading.get_ident()
            try:
                self._loop(slot, idle, max_items, exit_when_idle)
            except Released:
                pass  # released between items: nothing to hand back
            finally:
                if slot.browsers is not None:
                    slot.browsers.close()  # in its own thread: Playwright objects are per thread
                    slot.browsers = None

        threads = [
            threading.Thread(target=slot_main, args=(slot, idle), name=f"plass-{n + 1}")
            for n, (slot, idle) in enumerate(zip(self.slots, self._idles, strict=True))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(timeout=0.5)  # signals reach this thread between the waits

    def _loop(self, slot: Slot, idle: Idle, max_items: int | None, exit_when_idle: bool) -> None:
        backoff = DatabaseBackoff()
        while not self.stopping.is_set():
            if max_items is not None and self.processed >= max_items:
                break
            try:
                claim = self.queue.claim(self.identity, self.tasks)
            except Exception as exc:  # noqa: BLE001 - the database may be away for a while
                delay = backoff.next()
                logger.error(
                    f"Databasefeil ved henting av neste element ({one_line(exc)}); "
                    f"prøver igjen om {delay:.1f} s"
                )
                self.stopping.wait(delay)
                continue
            backoff.reset()
            self._probe_systems()
            if claim is None:
                if exit_when_idle and not self._work_left():
                    break
                idle.wait(soon=self.queue.contended or bool(self.queue.blocked_systems))
                continue
            self.run_item(claim, slot)

    def _probe_systems(self) -> None:
        """While a system's breaker is open, look (at most once a second) for a probe that is
        due, and run it; the probe that passes closes the breaker (robots.systems)."""
        if not self.queue.blocked_systems or time.monotonic() < self._next_probe:
            return
        self._next_probe = time.monotonic() + 1.0
        try:
            if self.systems.probe_due(f"arbeider:{self.identity.id}") is not None:
                self.queue.refresh_pauses()
        except Exception as exc:  # noqa: BLE001 - the database may be away for a while
            logger.warning(f"Kunne ikke sjekke systemene: {one_line(exc)}")

    def _work_left(self) -> bool:
        """For --until-idle: is an item of our tasks still running somewhere, or waiting for a
        retry (after a system error or a lost worker)? Then idle is not reached yet. Items
        postponed on purpose (not_before later, no failed attempt) do not hold the worker."""
        from sqlalchemy import exists, or_, select

        from robots.models import ItemStatus, WorkItem

        query = select(
            exists().where(
                WorkItem.task.in_(self.tasks),
                or_(
                    WorkItem.status == ItemStatus.RUNNING,
                    (WorkItem.status == ItemStatus.PENDING)
                    & or_(WorkItem.failures > 0, WorkItem.abandons > 0),
                ),
            )
        )
        try:
            with self.db.engine.connect() as conn:
                return bool(conn.execute(query).scalar())
        except Exception as exc:  # noqa: BLE001
            logger.warning(f"Kunne ikke se om det er arbeid igjen: {one_line(exc)}")
            return True

    # One item -------------------------------------------------------------------------------

    def run_item(self, claim: Claim, slot: Slot | None = None) -> str:
        attributes: dict[str, str | int] = {
            "rpa.task": claim.task,
            "rpa.item_id": claim.item_id,
            "rpa.run_id": claim.run_id,
            "rpa.attempt": claim.attempt,
        }
        with tracing.span(f"kjøring {claim.task}", attributes) as span:
            status = self._run_item(claim, slot or self.slots[0])
            if span is not None:
                span.set_attribute("rpa.status", status)
            return status

    def _run_item(self, claim: Claim, slot: Slot) -> str:
        run_log = RunLog(claim.run_id, self.settings.data_path)
        with self._lock:
            slot.current = _Current(claim, run_log)
        open_run(run_log)
        task = self.registry.get(claim.task)
        ctx = RunContext(
            claim,
            self.settings,
            systems=task.systems if task else (),
            browsers=slot.browsers,
            services=self.services,
        )
        result: dict[str, Any] | None = None
        error: str | None = None
        outcome: str = RunOutcome.SYSTEM_ERROR
        started = time.perf_counter()
        provenance.start()
        ctx.log.info(f"Forsøk {claim.attempt} av {claim.task} {claim.reference!r} startet")
        try:
            task = self.registry[claim.task]
            payload = task.validate(sealing.open_payload(claim.payload))
            self._enter_task(slot)
            try:
                returned = task.func(ctx, payload)
            finally:
                self._leave_task(slot)
            result = json_safe(returned)
            outcome = RunOutcome.DONE
            ctx.log.info(f"Ferdig på {(time.perf_counter() - started) * 1000:.0f} ms")
        except (BusinessError, InvalidPayload) as exc:
            outcome, error = RunOutcome.BUSINESS_ERROR, str(exc)
            ctx.log.warning(f"Forretningsfeil: {exc}")
            self._capture(ctx)
        except Released:
            outcome, error = RunOutcome.RELEASED, "Arbeideren stoppet; elementet ble lagt tilbake"
            ctx.log.warning(error)
        except WaitingForPerson as exc:
            outcome = RunOutcome.WAITING
            ctx.log.info(f"Venter på svar fra en person (spørsmål {exc.question_id}): {exc.text}")
        except HandOver as exc:
            outcome, error, result = RunOutcome.HANDED_OVER, exc.reason, {"team": exc.team}
            ctx.log.info(f"Sendt til manuell behandling ({exc.team}): {exc.reason}")
        except SystemStateFault as exc:
            outcome, error = self._system_state_fault(claim, exc)
            ctx.log.error(error)
            self._capture(ctx)
        except Exception as exc:
            outcome = RunOutcome.SYSTEM_ERROR
            step = getattr(exc, "_rpa_step", None) or ctx.failed_step or ctx.current_step
            where = f"i steg «{step}»" if step else "utenfor et navngitt steg"
            error = f"Systemfeil {where}: {type(exc).__name__}: {exc}"
            first_cause = getattr(exc, "_rpa_first_cause", None)
            if first_cause:
                error += f" (første feil i steget: {first_cause})"
            ctx.log.bind(traceback=mask_text(traceback.format_exc(limit=20))).error(error)
            self._capture(ctx)
        finally:
            if self.on_failure is not None and outcome != RunOutcome.DONE:
                self.on_failure(ctx)
            # A context is kept for the next item only after a run that left its pages in a
            # known state; after a fault the next attempt starts from a fresh context.
            ctx.close(keep=outcome in KEEP_PAGES_AFTER)
            close_run(run_log)
        if task is not None and task.systems and outcome in REACHED:
            try:
                self.systems.reached(task.systems)
            except Exception as exc:  # noqa: BLE001 - bookkeeping; the outcome comes first
                logger.warning(f"Kunne ikke nullstille systemenes feilrekke: {one_line(exc)}")
        failed = outcome in (RunOutcome.SYSTEM_ERROR, RunOutcome.BUSINESS_ERROR)
        if ctx.side_effects and failed:
            # The run changed something before it failed: say so in the error and the result.
            done_already = "; ".join(ctx.side_effects)
            error = f"{error} (allerede utført: {done_already})"
            result = {"utført": list(ctx.side_effects)}
        slot.browsers = ctx.browsers
        made_of = provenance.for_run(task.func) if task is not None else None
        status = self._finish(claim, run_log, outcome, result, error, ctx.artifacts, made_of)
        run_log.close()
        with self._lock:
            slot.current = None
            self.processed += 1
        return status

    def _system_state_fault(self, claim: Claim, exc: SystemStateFault) -> tuple[str, str]:
        """The system, not the item, failed: change the system's state and let the item wait
        without spending an attempt (up to `unreachable_free_runs` runs of one item)."""
        actor = f"arbeider:{self.identity.id}"
        try:
            if isinstance(exc, CredentialsRejected):
                if self.systems.credentials_rejected(exc.system, str(exc), actor):
                    self._alert_now()
            else:
                self.systems.unreachable(exc.system, str(exc), actor)
            self.queue.refresh_pauses()
        except Exception as db_exc:  # noqa: BLE001 - the item's own outcome still counts
            logger.warning(f"Kunne ikke lagre systemets tilstand: {one_line(db_exc)}")
        if isinstance(exc, CredentialsRejected) or (
            claim.attempt <= self.settings.unreachable_free_runs
        ):
            return RunOutcome.SYSTEM_WAIT, f"{exc} (venter på systemet; forsøket telles ikke)"
        return RunOutcome.SYSTEM_ERROR, f"Systemfeil: {type(exc).__name__}: {exc}"

    def _alert_now(self) -> None:
        """Tell operators at once about a system that needs them (the alert rules of kind
        system_state), instead of at the scheduler's next evaluation."""
        try:
            from robots.alerts import evaluate

            evaluate(self.db, self.settings, kinds={"system_state"})
        except Exception as exc:  # noqa: BLE001 - the scheduler's evaluation will say it
            logger.warning(f"Varselet om systemet kunne ikke sendes nå: {one_line(exc)}")

    @staticmethod
    def _enter_task(slot: Slot) -> None:
        if slot.threaded:
            with slot.lock:
                slot.in_task = True
        else:
            slot.in_task = True

    @staticmethod
    def _leave_task(slot: Slot) -> None:
        """Out of the task function: a release asked for from now on is not raised, and one
        asked for but not yet raised is withdrawn."""
        if slot.threaded and slot.thread_id is not None:
            with slot.lock:
                slot.in_task = False
                raise_in(slot.thread_id, None)
        else:
            slot.in_task = False
            if _main_thread():
                signal.setitimer(signal.ITIMER_REAL, 0)

    def _capture(self, ctx: RunContext) -> None:
        """Failure evidence from every open browser session; never masks the real error."""
        try:
            ctx.capture_failure()
        except Exception as exc:  # noqa: BLE001 - the browser may be the thing that failed
            ctx.log.warning(f"Kunne ikke sikre bevis fra nettleseren: {exc}")

    def _finish(
        self,
        claim: Claim,
        run_log: RunLog,
        outcome: str,
        result: dict[str, Any] | None,
        error: str | None,
        artifacts: list[tuple[str, Any]] | None = None,
        made_of: dict[str, Any] | None = None,
    ) -> str:
        """Store the outcome; retried while the database is briefly away.

        If the database stays away the lease expires and the item is reclaimed, with its log
        lines taken from the JSONL file. If the database is there but refuses the outcome
        (a value it cannot store), the item is stopped as poison with the reason, so that it
        cannot hold the queue or the worker."""
        last: Exception | None = None
        for delay in (*self.FINISH_RETRY_DELAYS, None):
            events = run_log.drain()
            try:
                return self.queue.finish(
                    claim,
                    outcome,
                    result=result,
                    error=error,
                    events=events,
                    artifacts=artifacts,
                    provenance=made_of,
                )
            except Exception as exc:  # noqa: BLE001 - any database failure
                run_log.give_back(events)
                last = exc
                made_of = None  # the run's provenance never stands in the way of its outcome
                logger.warning(
                    f"Lagring av utfallet til element {claim.item_id} feilet: {one_line(exc)}"
                )
                if delay is None:
                    break
                time.sleep(delay)
        assert last is not None
        if is_transient(last):
            logger.error(
                f"Databasen er utilgjengelig; element {claim.item_id} blir gjenvunnet når "
                "leieavtalen utløper"
            )
            return "unknown"
        reason = (
            f"Stoppet: utfallet ({outcome}) kunne ikke lagres ({one_line(last)}). "
            f"Kjøreloggen ligger i {run_log.path.name}."
        )
        try:
            if self.queue.poison(claim, reason):
                logger.error(f"Element {claim.item_id}: {reason}")
                return "failed"
        except Exception as exc:  # noqa: BLE001
            logger.error(f"Kunne ikke stoppe element {claim.item_id}: {one_line(exc)}")
        return "unknown"

    # Heartbeat ------------------------------------------------------------------------------

    def _heartbeat_loop(self) -> None:
        while not self.stopping.wait(self.settings.heartbeat_seconds):
            if self._parent is not None and os.getppid() != self._parent:
                logger.warning("Overvåkeren er borte; stopper")
                os.kill(os.getpid(), signal.SIGTERM)
            self.beat()

    def beat(self) -> None:
        """Renew the current lease, store pending log lines, and mark the worker alive."""
        with self._lock:
            running = [slot.current for slot in self.slots if slot.current is not None]
        try:
            for current in running:
                if current.lost:
                    continue
                events = current.run_log.drain()
                try:
                    if not self.queue.renew(current.claim, events):
                        current.lost = True
                        logger.warning(
                            f"Element {current.claim.item_id} er ikke lenger tildelt denne "
                            "arbeideren (gjenvunnet eller avbrutt)"
                        )
                except Exception:
                    current.run_log.give_back(events)
                    raise
            hosts = [slot.browsers for slot in self.slots if slot.browsers is not None]
            self._set_worker(
                heartbeat=True,
                status="busy" if running else "idle",
                current_item_id=running[0].claim.item_id if running else None,
                browser_launches=sum(host.launches for host in hosts),
                browser_crashes=sum(host.crashes for host in hosts),
            )
        except Exception as exc:  # noqa: BLE001 - keep beating through database hiccups
            logger.warning(f"Hjerteslag feilet: {exc}")

    def _register(self) -> None:
        """Enter this worker in the worker table; retried with backoff while the database is
        away (a worker never dies of a database error)."""
        backoff = DatabaseBackoff()
        while not self.stopping.is_set():
            try:
                with self.db.session() as session:
                    session.add(
                        Worker(
                            id=self.identity.id,
                            host=self.identity.host,
                            pid=self.identity.pid,
                            status="idle",
                        )
                    )
                return
            except Exception as exc:  # noqa: BLE001
                delay = backoff.next()
                logger.error(f"Kan ikke registrere arbeideren ({one_line(exc)}); ny om {delay} s")
                self.stopping.wait(delay)

    def _set_worker(self, *, heartbeat: bool = False, **values: Any) -> None:
        """Update this worker's row. A heartbeat never overwrites "stopped": one that was slow
        (a loaded database) and lands after the worker stopped must not bring it back."""
        query = update(Worker).where(Worker.id == self.identity.id)
        if heartbeat:
            query = query.where(Worker.status != "stopped")
        try:
            with self.db.session() as session:
                session.execute(query.values(heartbeat_at=utcnow(), **values))
        except Exception as exc:  # noqa: BLE001
            logger.warning(f"Kunne ikke oppdatere arbeiderregisteret: {exc}")


def json_safe(returned: Any) -> dict[str, Any] | None:
    """A task's return value as JSON the database can store (dates and paths as text)."""
    if returned is None:
        return None
    value = returned if isinstance(returned, dict) else {"value": returned}
    safe: dict[str, Any] = json.loads(json.dumps(value, default=str))
    return safe


class DatabaseBackoff:
    """Waits between attempts while the database is away: 0.5 s doubling up to 30 s."""

    def __init__(self, first: float = 0.5, cap: float = 30.0) -> None:
        self.first, self.cap, self.delay = first, cap, 0.0

    def next(self) -> float:
        self.delay = min(self.cap, self.delay * 2 if self.delay else self.first)
        return self.delay

    def reset(self) -> None:
        self.delay = 0.0


def one_line(exc: BaseException) -> str:
    """An exception as one masked line (database errors carry SQL and parameters below)."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return mask_text(f"{type(exc).__name__}: {text[0] if text else ''}")[:300]


def is_transient(exc: BaseException) -> bool:
    """A connection-level failure (the database is away), as opposed to a refused value."""
    from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError

    return isinstance(exc, OperationalError | InterfaceError | DisconnectionError | OSError)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


# Processes ----------------------------------------------------------------------------------


def worker_main(
    settings: Settings,
    tasks: list[str] | None = None,
    supervised: bool = True,
    until_idle: bool = False,
) -> None:
    """Entry point of one worker process (spawned: builds its own engine and browser). The
    settings are the parent's, handed over by multiprocessing, and become this process's own
    (`get_settings`), so nothing travels through the environment."""
    use_settings(settings)
    configure_logging(settings)
    logger.configure(extra={"component": "worker"})
    db = Database(settings.effective_database_url, settings)
    check_schema(db.engine)
    db.dispose()
    tracing.configure(settings)
    worker = WorkerProcess(settings, tasks=tasks, supervised=supervised)
    worker.install_signal_handlers()
    try:
        worker.run(exit_when_idle=until_idle)
    finally:
        tracing.shutdown()


def run_until_idle(settings: Settings, processes: int, tasks: list[str] | None) -> list[int | None]:
    """`worker --until-idle --processes N`: N processes that each stop when no item of their
    tasks is waiting, running or due for a retry; returns their exit codes."""
    context = mp.get_context("spawn")
    procs = [
        context.Process(target=worker_main, args=(settings, tasks, True, True))
        for _ in range(processes)
    ]
    for proc in procs:
        proc.start()

    def forward(signum: int, _frame: Any) -> None:
        for proc in procs:
            if proc.is_alive() and proc.pid:
                os.kill(proc.pid, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for proc in procs:
        proc.join()
    return [proc.exitcode for proc in procs]


class Supervisor:
    """Keeps N worker processes alive; forwards SIGTERM/SIGINT and waits for them to finish.

    Workers that keep dying (a crash loop) are paused, not given up on: a supervisor that
    exited would take `serve`'s console and scheduler down with it."""

    def __init__(self, processes: int, settings: Settings, tasks: list[str] | None = None) -> None:
        self.count = processes
        self.settings = settings
        self.tasks = tasks
        self.procs: list[mp.process.BaseProcess] = []
        self.stopping = threading.Event()
        self.crash_loop: str | None = None  # the current pause's reason; None while running
        self.paused_until: float | None = None  # monotonic time the workers come back
        self._alert_id: int | None = None
        self._ctx = mp.get_context("spawn")

    def _spawn(self) -> mp.process.BaseProcess:
        proc = self._ctx.Process(
            target=worker_main, args=(self.settings, self.tasks, True), daemon=False
        )
        proc.start()
        return proc

    def start(self) -> None:
        self.procs = [self._spawn() for _ in range(self.count)]
        logger.info(f"Startet {self.count} arbeiderprosesser: {[p.pid for p in self.procs]}")

    def watch(self) -> None:
        """Restart workers that died, with a growing pause, until stop() is called. More than
        `worker_restart_limit` restarts within `worker_restart_window_seconds` is a crash loop:
        every worker is stopped for `worker_crash_pause_seconds` (nothing claims, no browser is
        relaunched every second) and an alert is raised; the workers come back after the pause,
        or sooner when an operator acknowledges the alert."""
        restarts: list[float] = []
        next_start: dict[int, float] = {}
        while not self.stopping.wait(1.0):
            now = time.monotonic()
            if self.paused_until is not None:
                if now < self.paused_until and not self._acknowledged():
                    continue
                self._resume()
                restarts.clear()
                next_start.clear()
                continue
            for i, proc in enumerate(self.procs):
                if proc.is_alive() or self.stopping.is_set():
                    continue
                if i not in next_start:
                    window = self.settings.worker_restart_window_seconds
                    restarts[:] = [t for t in restarts if now - t < window]
                    restarts.append(now)
                    if len(restarts) > self.settings.worker_restart_limit:
                        self._pause(
                            f"Arbeiderprosessene krasjet {len(restarts)} ganger på "
                            f"{window:.0f} s (siste avslutningskode {proc.exitcode})"
                        )
                        break
                    delay = min(60.0, 2.0 ** (len(restarts) - 1))
                    next_start[i] = now + delay
                    logger.warning(
                        f"Arbeiderprosess {proc.pid} endte med kode {proc.exitcode}; "
                        f"starter ny om {delay:.0f} s"
                    )
                if now >= next_start[i]:
                    del next_start[i]
                    self.procs[i] = self._spawn()

    def _pause(self, reason: str) -> None:
        """Stop every worker (each may finish its item within the grace), say why, alert."""
        pause = self.settings.worker_crash_pause_seconds
        self.crash_loop = (
            f"{reason}; ingen arbeider starter de neste {pause:.0f} s (eller til varselet er "
            "kvittert ut). Se loggen over for årsaken."
        )
        logger.error(self.crash_loop)
        for proc in self.procs:
            if proc.is_alive() and proc.pid:
                os.kill(proc.pid, signal.SIGTERM)
        try:
            from robots.alerts import raise_alert

            db = Database(self.settings.effective_database_url, self.settings)
            try:
                self._alert_id = raise_alert(
                    db, self.settings, "worker_crash_loop", socket.gethostname(), self.crash_loop
                )
            finally:
                db.dispose()
        except Exception as exc:  # noqa: BLE001 - the pause holds even if the alert cannot
            self._alert_id = None
            logger.error(f"Kunne ikke lagre varselet om krasjløkken: {one_line(exc)}")
        self.paused_until = time.monotonic() + pause

    def _acknowledged(self) -> bool:
        """An operator acknowledged the crash-loop alert in the console: resume now."""
        if self._alert_id is None:
            return False
        from robots.alerts import alert_status

        db = Database(self.settings.effective_database_url, self.settings)
        try:
            return alert_status(db, self._alert_id) == "acknowledged"
        except Exception:  # noqa: BLE001 - the database may be the reason; wait out the pause
            return False
        finally:
            db.dispose()

    def _resume(self) -> None:
        self.paused_until, self.crash_loop, self._alert_id = None, None, None
        for i, proc in enumerate(self.procs):
            if not proc.is_alive():
                self.procs[i] = self._spawn()
            # (one still finishing its item after the pause's SIGTERM is restarted as usual
            # when it ends)
        logger.warning(f"Pausen er over; arbeiderne kjører igjen: {[p.pid for p in self.procs]}")

    def stop(self) -> None:
        self.stopping.set()
        for proc in self.procs:
            if proc.is_alive() and proc.pid:
                os.kill(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.settings.shutdown_grace_seconds + 15
        for proc in self.procs:
            proc.join(timeout=max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                logger.error(f"Arbeiderprosess {proc.pid} stoppet ikke; dreper den")
                proc.kill()
                proc.join(5)
