"""The run log: loguru records of a run, masked, written to a JSONL file at once and to the
database in batches (with the run's outcome, and by the heartbeat in between).

The JSONL file is the durable copy: if the worker dies before a batch reached the database, the
worker that reclaims the item reads the missing lines back from the file (`ingest_jsonl`).
"""

from __future__ import annotations

import json
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from loguru import logger
from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from robots.masking import mask, mask_text
from robots.models import RunEvent, utcnow
from robots.settings import Settings
from robots.statements import add_events_postgresql, add_events_sqlite
from robots.storable import storable, storable_text


def jsonl_path(data_dir: Path, run_id: int) -> Path:
    return data_dir / "runs" / f"run-{run_id}.jsonl"


class RunLog:
    """Events of one run. Thread-safe: the task and the heartbeat thread both touch it."""

    def __init__(self, run_id: int, data_dir: Path) -> None:
        self.run_id = run_id
        self.path = jsonl_path(data_dir, run_id)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8")
        self._lock = threading.Lock()
        self._seq = 0
        self._pending: list[dict[str, Any]] = []

    def emit(
        self,
        level: str,
        message: str,
        *,
        step: str | None = None,
        duration_ms: float | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        with self._lock:
            self._seq += 1
            event = {
                "run_id": self.run_id,
                "seq": self._seq,
                "ts": utcnow().isoformat(),
                "level": level,
                "step": storable_text(step) if step else step,
                "message": storable_text(mask_text(message)),
                "duration_ms": None if duration_ms is None else round(duration_ms, 3),
                "data": storable(mask(data)) if data else None,
            }
            self._file.write(json.dumps(event, ensure_ascii=False, default=str) + "\n")
            self._file.flush()
            self._pending.append(event)

    def drain(self) -> list[dict[str, Any]]:
        """Events not yet stored in the database; the caller stores them or gives them back."""
        with self._lock:
            events, self._pending = self._pending, []
            return events

    def give_back(self, events: list[dict[str, Any]]) -> None:
        with self._lock:
            self._pending[:0] = events

    def close(self) -> None:
        with self._lock:
            self._file.close()


def store_events(conn: Connection, events: list[dict[str, Any]]) -> None:
    """Store run-log lines; a line already stored is skipped, never an error."""
    if events:
        statement = (
            add_events_postgresql if conn.dialect.name == "postgresql" else add_events_sqlite
        )
        conn.execute(statement, [_row(e) for e in events])


def _row(event: dict[str, Any]) -> dict[str, Any]:
    row = {k: event.get(k) for k in ("run_id", "seq", "level", "duration_ms")}
    row["step"] = storable_text(str(event["step"]))[:200] if event.get("step") else None
    row["message"] = storable_text(str(event.get("message") or ""))
    row["ts"] = datetime.fromisoformat(event["ts"])
    row["data"] = storable(event.get("data"))
    return row


def ingest_jsonl(session: Session, data_dir: Path, run_id: int) -> int:
    """Store the lines of a run's JSONL file that the database lacks; returns how many.

    Never raises: a reclaim must go on even if the file holds something the database refuses
    (the file itself stays on disk as the durable copy, and the refusal is logged)."""
    path = jsonl_path(data_dir, run_id)
    if not path.exists():
        return 0
    try:
        stored = (
            session.scalar(select(func.max(RunEvent.seq)).where(RunEvent.run_id == run_id)) or 0
        )
        missing = []
        with path.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                event = _parse_line(line, run_id)
                if event is not None and event["seq"] > stored:
                    missing.append(event)
        with session.begin_nested():
            store_events(session.connection(), missing)
        return len(missing)
    except Exception as exc:  # noqa: BLE001 - a reclaim must not fail on one bad file
        logger.warning(f"Kunne ikke kopiere kjøreloggen {path.name} til databasen: {exc}")
        return 0


def _parse_line(line: str, run_id: int) -> dict[str, Any] | None:
    """One JSONL line as an event of this run, or None (a torn last line, a foreign line)."""
    try:
        event = json.loads(line)
        if event.get("run_id") != run_id or not isinstance(event.get("seq"), int):
            return None
        datetime.fromisoformat(event["ts"])
        return dict(event)
    except (json.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError):
        return None


# loguru wiring ------------------------------------------------------------------------------

# The runs this process is logging now, by run id: one per item slot of the worker (a record
# bound to a run id goes to that run's log, whichever thread logs it).
_open: dict[int, RunLog] = {}


def open_run(run_log: RunLog) -> None:
    """Route records bound to this run's id into its log (until close_run)."""
    _open[run_log.run_id] = run_log


def close_run(run_log: RunLog) -> None:
    _open.pop(run_log.run_id, None)


def _run_sink(message: Any) -> None:
    record = message.record
    run_log = _open.get(record["extra"].get("run_id"))
    if run_log is None:
        return
    extra = {k: v for k, v in record["extra"].items() if k not in ("run_id", "step", "duration_ms")}
    run_log.emit(
        record["level"].name,
        record["message"],
        step=record["extra"].get("step"),
        duration_ms=record["extra"].get("duration_ms"),
        data=extra or None,
    )


def _mask_record(record: Any) -> None:
    record["message"] = mask_text(record["message"])


# The clock in the installation's zone (setting timezone), with its UTC offset on every line:
# the same zone as the console, the CLI and the reports, and it says which one.
_FORMAT = "<green>{extra[clock]}</green> {level: <7} {extra[component]} | {message}"


def configure_logging(settings: Settings) -> None:
    """Route loguru: masked messages to stderr and/or the log file, run-bound records into the
    run log of the current run."""
    zone = settings.zone

    def patch(record: Any) -> None:
        _mask_record(record)
        record["extra"]["clock"] = record["time"].astimezone(zone).isoformat("T", "seconds")[11:]

    logger.remove()
    logger.configure(patcher=patch, extra={"component": "rpa"})
    if settings.log_stderr:
        logger.add(sys.stderr, level=settings.log_level, format=_FORMAT)
    if settings.log_path is not None:
        settings.log_path.parent.mkdir(parents=True, exist_ok=True)
        logger.add(
            settings.log_path,
            level=settings.log_level,
            format=_FORMAT,
            rotation="20 MB",
            retention=10,
            encoding="utf-8",
        )
    logger.add(
        _run_sink, level=settings.run_log_level, filter=lambda r: "run_id" in r["extra"], catch=True
    )
