"""Worker processes: claim, run, heartbeat, finish; and the supervisor that keeps N of them.

A worker finishes every item it claims as done, business error or system error. On SIGTERM or
SIGINT it lets the current item run for `shutdown_grace_seconds`, then releases it back to the
queue; a worker killed outright loses its lease and the item is reclaimed after expiry.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import secrets
import signal
import socket
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any

from loguru import logger
from sqlalchemy import update

from robots.context import RunContext
from robots.db import Database, check_schema
from robots.masking import mask_text
from robots.models import RunOutcome, Worker, utcnow
from robots.outbox import Outbox
from robots.queue import Claim, Queue, WorkerIdentity
from robots.runlog import RunLog, configure_logging, set_current
from robots.settings import Settings, get_settings
from robots.tasks import BusinessError, InvalidPayload, Task, discover


@dataclass(frozen=True)
class Services:
    """What tasks may use of the worker: the queue (follow-up work) and the outbox (e-mail)."""

    queue: Queue
    outbox: Outbox


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


class WorkerProcess:
    """One worker: runs items one at a time in the main thread, heartbeats in another."""

    def __init__(
        self,
        settings: Settings,
        registry: dict[str, Task] | None = None,
        *,
        tasks: list[str] | None = None,
        supervised: bool = False,
    ) -> None:
        self.settings = settings
        self.db = Database(settings.effective_database_url)
        self.registry = registry if registry is not None else discover(settings.task_packages)
        self.tasks = tasks or list(self.registry)
        self.queue = Queue(self.db, settings, self.registry)
        self.services = Services(self.queue, Outbox(self.db, settings))
        self.identity = new_identity()
        self.stopping = threading.Event()
        self.current: _Current | None = None
        self._lock = threading.Lock()
        self._parent = os.getppid() if supervised else None
        self.processed = 0
        self._in_task = False  # Released may only be raised while the task function runs
        self.browsers: Any = None  # BrowserHost, created when a task first opens a system

    # Lifecycle ------------------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self._on_stop_signal)
        signal.signal(signal.SIGINT, self._on_stop_signal)
        signal.signal(signal.SIGALRM, self._on_grace_expired)

    def _on_stop_signal(self, signum: int, _frame: Any) -> None:
        if self.stopping.is_set() and self._in_task:
            raise Released()  # second signal: release now
        self.stopping.set()
        if self._in_task and self.current is not None:
            logger.info(
                f"Stoppsignal: lar element {self.current.claim.item_id} kjøre ferdig i inntil "
                f"{self.settings.shutdown_grace_seconds:.0f} s"
            )
            signal.setitimer(signal.ITIMER_REAL, max(0.01, self.settings.shutdown_grace_seconds))

    def _on_grace_expired(self, _signum: int, _frame: Any) -> None:
        if self._in_task:
            raise Released()

    def run(self, *, max_items: int | None = None, exit_when_idle: bool = False) -> int:
        """Process items until stopped (or `max_items`, or an empty queue if asked)."""
        self._register()
        beat = threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True)
        beat.start()
        logger.info(f"Arbeider {self.identity.id} startet; oppgaver: {', '.join(self.tasks)}")
        try:
            while not self.stopping.is_set():
                if max_items is not None and self.processed >= max_items:
                    break
                claim = self.queue.claim(self.identity, self.tasks)
                if claim is None:
                    if exit_when_idle:
                        break
                    self.stopping.wait(self.settings.poll_seconds * random_factor())
                    continue
                self.run_item(claim)
        finally:
            self.stopping.set()
            beat.join(timeout=5)
            self._set_worker(status="stopped", current_item_id=None)
            if self.browsers is not None:
                self.browsers.close()
            self.db.dispose()
            logger.info(f"Arbeider {self.identity.id} stoppet etter {self.processed} elementer")
        return self.processed

    # One item -------------------------------------------------------------------------------

    def run_item(self, claim: Claim) -> str:
        run_log = RunLog(claim.run_id, self.settings.data_path)
        with self._lock:
            self.current = _Current(claim, run_log)
        set_current(run_log)
        task = self.registry.get(claim.task)
        ctx = RunContext(
            claim,
            self.settings,
            systems=task.systems if task else (),
            browsers=self.browsers,
            services=self.services,
        )
        result: dict[str, Any] | None = None
        error: str | None = None
        started = time.perf_counter()
        ctx.log.info(f"Forsøk {claim.attempt} av {claim.task} {claim.reference!r} startet")
        try:
            task = self.registry[claim.task]
            payload = task.validate(claim.payload)
            self._in_task = True
            try:
                returned = task.func(ctx, payload)
            finally:
                self._in_task = False
                if _main_thread():
                    signal.setitimer(signal.ITIMER_REAL, 0)
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
        except Exception as exc:
            outcome = RunOutcome.SYSTEM_ERROR
            error = f"{type(exc).__name__}: {exc}"
            ctx.log.bind(traceback=mask_text(traceback.format_exc(limit=20))).error(
                f"Systemfeil i steg {ctx.current_step or '-'}: {error}"
            )
            self._capture(ctx)
        finally:
            ctx.close()
            set_current(None)
        self.browsers = ctx.browsers
        status = self._finish(claim, run_log, outcome, result, error, ctx.artifacts)
        run_log.close()
        with self._lock:
            self.current = None
        self.processed += 1
        return status

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
    ) -> str:
        """Store the outcome; retried while the database is briefly away. If it stays away the
        lease expires and the item is reclaimed, with its log lines taken from the JSONL file."""
        for delay in (0.2, 1, 3, 5, None):
            events = run_log.drain()
            try:
                return self.queue.finish(
                    claim,
                    outcome,
                    result=result,
                    error=error,
                    events=events,
                    artifacts=artifacts,
                )
            except Exception as exc:  # noqa: BLE001 - any database failure
                run_log.give_back(events)
                if delay is None:
                    logger.error(f"Kunne ikke lagre utfallet av element {claim.item_id}: {exc}")
                    return "unknown"
                time.sleep(delay)
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
            current = self.current
        try:
            if current is not None and not current.lost:
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
            self._set_worker(
                status="busy" if current else "idle",
                current_item_id=current.claim.item_id if current else None,
            )
        except Exception as exc:  # noqa: BLE001 - keep beating through database hiccups
            logger.warning(f"Hjerteslag feilet: {exc}")

    def _register(self) -> None:
        with self.db.session() as session:
            session.add(
                Worker(
                    id=self.identity.id,
                    host=self.identity.host,
                    pid=self.identity.pid,
                    status="idle",
                )
            )

    def _set_worker(self, **values: Any) -> None:
        try:
            with self.db.session() as session:
                session.execute(
                    update(Worker)
                    .where(Worker.id == self.identity.id)
                    .values(heartbeat_at=utcnow(), **values)
                )
        except Exception as exc:  # noqa: BLE001
            logger.warning(f"Kunne ikke oppdatere arbeiderregisteret: {exc}")


def json_safe(returned: Any) -> dict[str, Any] | None:
    """A task's return value as JSON the database can store (dates and paths as text)."""
    if returned is None:
        return None
    value = returned if isinstance(returned, dict) else {"value": returned}
    return json.loads(json.dumps(value, default=str))


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def random_factor() -> float:
    """Spread idle polls so workers do not wake in lockstep."""
    import random

    return random.uniform(0.75, 1.25)


# Processes ----------------------------------------------------------------------------------


def worker_main(tasks: list[str] | None = None, supervised: bool = True) -> None:
    """Entry point of one worker process (spawned: builds its own engine and browser)."""
    settings = get_settings()
    configure_logging(settings)
    logger.configure(extra={"component": "worker"})
    db = Database(settings.effective_database_url)
    check_schema(db.engine)
    db.dispose()
    worker = WorkerProcess(settings, tasks=tasks, supervised=supervised)
    worker.install_signal_handlers()
    worker.run()


class Supervisor:
    """Keeps N worker processes alive; forwards SIGTERM/SIGINT and waits for them to finish."""

    def __init__(self, processes: int, settings: Settings, tasks: list[str] | None = None) -> None:
        self.count = processes
        self.settings = settings
        self.tasks = tasks
        self.procs: list[mp.process.BaseProcess] = []
        self.stopping = threading.Event()
        self._ctx = mp.get_context("spawn")

    def _spawn(self) -> mp.process.BaseProcess:
        proc = self._ctx.Process(target=worker_main, args=(self.tasks, True), daemon=False)
        proc.start()
        return proc

    def start(self) -> None:
        self.procs = [self._spawn() for _ in range(self.count)]
        logger.info(f"Startet {self.count} arbeiderprosesser: {[p.pid for p in self.procs]}")

    def watch(self) -> None:
        """Restart workers that died, until stop() is called."""
        while not self.stopping.wait(1.0):
            for i, proc in enumerate(self.procs):
                if not proc.is_alive() and not self.stopping.is_set():
                    logger.warning(
                        f"Arbeiderprosess {proc.pid} endte med kode {proc.exitcode}; starter ny"
                    )
                    self.procs[i] = self._spawn()

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
