"""Everything in one process tree: the scheduler (a thread here) and N worker processes."""

from __future__ import annotations

import threading

from loguru import logger

from robots.db import Database, check_schema
from robots.runlog import configure_logging
from robots.scheduler import Scheduler
from robots.settings import Settings
from robots.tasks import discover
from robots.worker import Supervisor


class Service:
    def __init__(
        self, settings: Settings, *, processes: int | None = None, web_port: int | None = None
    ) -> None:
        self.settings = settings
        configure_logging(settings)
        self.db = Database(settings.effective_database_url)
        check_schema(self.db.engine)
        self.registry = discover(settings.task_packages)
        self.scheduler = Scheduler(self.db, settings, self.registry)
        self.supervisor = Supervisor(processes or settings.worker_processes, settings)
        self._threads: list[threading.Thread] = []
        self.web = None
        if web_port is not None:
            from robots.console.app import create_app
            from sandbox.common import ServerThread

            self.web = ServerThread(create_app(settings, self.db), web_port)

    def start(self) -> None:
        self.supervisor.start()
        for target, name in ((self.scheduler.run, "scheduler"), (self.supervisor.watch, "watch")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        logger.info(f"Tjenesten kjører: planlegger og {self.supervisor.count} arbeiderprosesser")

    def stop(self) -> None:
        if self.web is not None:
            self.web.stop()
        self.scheduler.stop()
        self.supervisor.stop()
        for thread in self._threads:
            thread.join(timeout=15)
        self.db.dispose()
