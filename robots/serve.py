"""Everything in one process tree: the console (a thread), the scheduler (a thread) and N worker
processes, started and stopped together."""

from __future__ import annotations

import threading

from loguru import logger

from robots.app import RpaApp
from robots.runlog import configure_logging
from robots.scheduler import Scheduler
from robots.web import ServerThread
from robots.worker import Supervisor


class Service:
    def __init__(
        self,
        app: RpaApp,
        *,
        processes: int | None = None,
        web_port: int | None = None,
        web_host: str = "127.0.0.1",
    ) -> None:
        self.app = app
        self.settings = settings = app.settings
        configure_logging(settings)
        self.db = app.db
        self.registry = app.registry
        self.scheduler = Scheduler(self.db, settings, self.registry)
        self.supervisor = Supervisor(processes or settings.worker_processes, settings)
        self._threads: list[threading.Thread] = []
        self.web: ServerThread | None = None
        if web_port is not None:
            from robots.console.app import console_for

            self.web = ServerThread(console_for(app), web_port, web_host)

    @property
    def url(self) -> str | None:
        return self.web.url if self.web is not None else None

    def start(self) -> None:
        """Start the workers, the scheduler and the console; returns once the console answers."""
        self.supervisor.start()
        for target, name in ((self.scheduler.run, "scheduler"), (self.supervisor.watch, "watch")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        if self.web is not None:
            self.web.start()
        where = f"; konsollen på {self.web.url}" if self.web is not None else ""
        logger.info(
            f"Tjenesten kjører: planlegger og {self.supervisor.count} arbeiderprosesser{where}"
        )

    def stop(self) -> None:
        """Stop everything, each part even if another fails; no worker process is left."""
        for part, action in (
            ("konsollen", self.web.stop if self.web is not None else None),
            ("planleggeren", self.scheduler.stop),
            ("arbeiderne", self.supervisor.stop),
        ):
            if action is None:
                continue
            try:
                action()
            except Exception as exc:  # noqa: BLE001 - go on stopping the rest
                logger.error(f"Kunne ikke stoppe {part}: {exc}")
        for thread in self._threads:
            thread.join(timeout=15)
        self.db.dispose()
