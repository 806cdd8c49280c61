"""The application object: one `RpaApp` built once from `Settings`, owning the database, the
task registry, the queue, the outbox and the read layer.

The command line, the console, `serve`, the scheduler and the demo are thin adapters over it,
and it is passed explicitly: a spawned worker process receives the settings themselves
(pickled by multiprocessing), never through the environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from robots.db import Database, check_schema
from robots.outbox import Outbox
from robots.queue import Queue
from robots.settings import Settings, get_settings
from robots.tasks import Task, discover
from robots.views import Views


@dataclass
class RpaApp:
    settings: Settings
    db: Database
    _registry: dict[str, Task] | None = field(default=None, repr=False)

    @classmethod
    def build(
        cls,
        settings: Settings | None = None,
        db: Database | None = None,
        *,
        check: bool = True,
        registry: dict[str, Task] | None = None,
    ) -> RpaApp:
        """The app for these settings (the process's own by default); `check`: refuse an
        outdated schema (SchemaOutdated names the command to run)."""
        settings = settings or get_settings()
        db = db or Database(settings.effective_database_url, settings)
        if check:
            check_schema(db.engine)
        return cls(settings, db, registry)

    @property
    def registry(self) -> dict[str, Task]:
        """The tasks of the configured packages, discovered on first use (the CLI's `submit`
        needs them, `items list` does not)."""
        if self._registry is None:
            self._registry = discover(self.settings.task_packages)
        return self._registry

    @cached_property
    def queue(self) -> Queue:
        return Queue(self.db, self.settings, self.registry)

    @cached_property
    def outbox(self) -> Outbox:
        return Outbox(self.db, self.settings)

    @cached_property
    def views(self) -> Views:
        return Views(self.db, self.settings)

    def close(self) -> None:
        self.db.dispose()
