"""`/metrics` in Prometheus' text format. Every figure is read from the database when scraped
(items, runs, durations, the oldest waiting item, workers, browser launches and crashes as the
workers report them with their heartbeat, alerts), so the figures are the same whichever
console is scraped, and hold across worker processes and machines without a shared directory
(prometheus-client's multiprocess mode is not needed)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import Select, case, func, select

from robots.db import Database
from robots.health import leader
from robots.models import (
    SCHEDULER_PREFIX,
    Alert,
    ItemStatus,
    Run,
    RunOutcome,
    Worker,
    WorkItem,
    utcnow,
)
from robots.settings import Settings
from robots.views import run_seconds

BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600)


class DatabaseCollector(Collector):
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        now = utcnow()
        with self.db.session() as session:
            items = GaugeMetricFamily(
                "rpa_items", "Items by task and status", labels=["task", "status"]
            )
            for task, status, n in session.execute(
                select(WorkItem.task, WorkItem.status, func.count()).group_by(
                    WorkItem.task, WorkItem.status
                )
            ):
                items.add_metric([task, str(status)], n)
            yield items

            runs = CounterMetricFamily(
                "rpa_runs",
                "Finished runs (attempts) by task and outcome",
                labels=["task", "outcome"],
            )
            claims = CounterMetricFamily("rpa_claims", "Items claimed by a worker (runs started)")
            reclaims = CounterMetricFamily(
                "rpa_lease_reclaims", "Leases that expired and were reclaimed (abandoned runs)"
            )
            started = abandoned = 0
            for task, outcome, n in session.execute(
                select(WorkItem.task, Run.outcome, func.count())
                .join(WorkItem, WorkItem.id == Run.item_id)
                .group_by(WorkItem.task, Run.outcome)
            ):
                started += n
                if outcome is not None:
                    runs.add_metric([task, str(outcome)], n)
                if outcome == RunOutcome.ABANDONED:
                    abandoned += n
            claims.add_metric([], started)
            reclaims.add_metric([], abandoned)
            yield runs
            yield claims
            yield reclaims

            seconds = run_seconds(self.db)
            columns = [func.count(), func.coalesce(func.sum(seconds), 0.0)] + [
                func.sum(case((seconds <= b, 1), else_=0)) for b in BUCKETS
            ]
            durations = HistogramMetricFamily(
                "rpa_run_duration_seconds", "Duration of finished runs by task", labels=["task"]
            )
            query: Select[*tuple[Any, ...]] = select(WorkItem.task, *columns)
            for row in session.execute(
                query.join(WorkItem, WorkItem.id == Run.item_id)
                .where(Run.ended_at.is_not(None))
                .group_by(WorkItem.task)
            ):
                task, count, total = row[0], row[1], row[2]
                below: list[Any] = list(row[3:])
                buckets = [
                    (str(float(b)), int(n or 0)) for b, n in zip(BUCKETS, below, strict=True)
                ]
                buckets.append(("+Inf", int(count)))
                durations.add_metric([task], buckets, float(total or 0))
            yield durations

            oldest = GaugeMetricFamily(
                "rpa_queue_oldest_waiting_seconds",
                "Age of the oldest waiting item",
                labels=["task"],
            )
            for task, first in session.execute(
                select(WorkItem.task, func.min(WorkItem.created_at))
                .where(WorkItem.status == ItemStatus.PENDING)
                .group_by(WorkItem.task)
            ):
                if first is not None:
                    oldest.add_metric([task], (now - first).total_seconds())
            yield oldest

            fresh = now - timedelta(seconds=3 * self.settings.heartbeat_seconds)
            workers = GaugeMetricFamily(
                "rpa_workers",
                "Worker processes by liveness (heartbeat within 3 intervals)",
                labels=["state"],
            )
            alive = dead = launches = crashes = 0
            for status, heartbeat, launched, crashed in session.execute(
                select(
                    Worker.status,
                    Worker.heartbeat_at,
                    Worker.browser_launches,
                    Worker.browser_crashes,
                ).where(~Worker.id.startswith(SCHEDULER_PREFIX))
            ):
                launches += launched or 0
                crashes += crashed or 0
                if status in ("stopped", "dead"):
                    continue
                if heartbeat >= fresh:
                    alive += 1
                else:
                    dead += 1
            workers.add_metric(["alive"], alive)
            workers.add_metric(["silent"], dead)
            yield workers
            browser = CounterMetricFamily(
                "rpa_browser_launches", "Browser launches reported by workers"
            )
            browser.add_metric([], launches)
            yield browser
            crashed_total = CounterMetricFamily(
                "rpa_browser_crashes", "Browsers relaunched after a crash, reported by workers"
            )
            crashed_total.add_metric([], crashes)
            yield crashed_total

            fired = CounterMetricFamily(
                "rpa_alerts_fired", "Times alert rules fired", labels=["rule"]
            )
            open_alerts = GaugeMetricFamily(
                "rpa_alerts_open", "Alerts not yet closed", labels=["rule"]
            )
            for rule, total, still_open in session.execute(
                select(
                    Alert.rule,
                    func.sum(Alert.fired),
                    func.sum(case((Alert.status != "closed", 1), else_=0)),
                ).group_by(Alert.rule)
            ):
                fired.add_metric([rule], int(total or 0))
                open_alerts.add_metric([rule], int(still_open or 0))
            yield fired
            yield open_alerts
        lead = GaugeMetricFamily("rpa_scheduler_leader", "1 if a scheduler leads")
        lead.add_metric([], 1 if leader(self.db, self.settings) is not None else 0)
        yield lead


def render(db: Database, settings: Settings) -> tuple[bytes, str]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(db, settings))
    from prometheus_client import CONTENT_TYPE_LATEST

    return generate_latest(registry), CONTENT_TYPE_LATEST
