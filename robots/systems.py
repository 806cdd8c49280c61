"""Each target system's state, shared by every machine through the database.

An item's failure and a system's failure are different things. A rejected login or a system
that cannot be reached is not the item's fault, and retrying each item turns it into a login
storm (a locked directory account for the whole municipality) or a pile of failed items. So:

- `available`: the default (a system without a row).
- `credentials_rejected`: the system refused the robot's login. No worker logs in to it again
  (the browser host's login gate asks here first) and no item of it is claimed, until an
  operator says the credentials are renewed (`systems renewed`, or the console). Alerted at
  once.
- `unavailable`: `breaker_threshold` items in a row could not reach it. The circuit breaker is
  open: its items are not claimed; a worker probes the system (its `health` path, else its login
  page) with a doubling wait from `probe_base_seconds` to `probe_max_seconds`, and the first
  probe that passes closes the breaker. An operator can ask for a probe now.

Items that wait for a system spend no attempts (run outcome `system_wait`). Every change of
state is in the audit trail (target `system:<name>`), which is also the state's history.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from loguru import logger
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from robots import audit
from robots.db import Database
from robots.faults import CredentialsRejected
from robots.masking import mask_text
from robots.models import SystemState, utcnow
from robots.settings import Settings
from robots.storable import storable_text

AVAILABLE = "available"
REJECTED = "credentials_rejected"
UNAVAILABLE = "unavailable"


class UnknownSystem(LookupError):
    """No selectors file names this system."""


@dataclass(frozen=True)
class SystemStatus:
    """One system's state as people read it (a system without a row is available)."""

    system: str
    state: str
    since: datetime | None
    detail: str
    changed_by: str
    unreachable_streak: int
    probes: int
    next_probe_at: datetime | None


def _status(row: SystemState) -> SystemStatus:
    return SystemStatus(
        row.system,
        row.state,
        row.since,
        row.detail or "",
        row.changed_by,
        row.unreachable_streak,
        row.probes,
        row.next_probe_at,
    )


class Systems:
    """Reads and changes the systems' states (each change audited)."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    # Reading ----------------------------------------------------------------------------------

    def blocked(self) -> dict[str, str]:
        """The systems whose items must not be claimed now: {system: state}."""
        with self.db.engine.connect() as conn:
            rows = conn.execute(
                select(SystemState.system, SystemState.state).where(
                    SystemState.state != AVAILABLE
                )
            ).all()
        return {system: state for system, state in rows}

    def status(self, system: str) -> SystemStatus:
        with self.db.session() as session:
            row = session.get(SystemState, system)
            if row is None:
                return SystemStatus(system, AVAILABLE, None, "", "", 0, 0, None)
            return _status(row)

    def all(self, known: Iterable[str] = ()) -> list[SystemStatus]:
        """Every system with a row, and the `known` ones (from the selector files) as
        available where they have none."""
        with self.db.session() as session:
            rows = {r.system: _status(r) for r in session.scalars(select(SystemState))}
        for system in known:
            rows.setdefault(system, SystemStatus(system, AVAILABLE, None, "", "", 0, 0, None))
        return [rows[name] for name in sorted(rows)]

    def check_login(self, system: str) -> None:
        """The browser host's login gate: no login while the credentials are rejected."""
        state = self.status(system)
        if state.state == REJECTED:
            raise CredentialsRejected(
                system,
                f"{system}: innloggingen er avvist ({state.detail or 'se systemstatus'}); ingen "
                "nye forsøk før en driftsoperatør sier at den er fornyet",
            )

    # What the workers report ------------------------------------------------------------------

    def credentials_rejected(self, system: str, detail: str, actor: str) -> bool:
        """Mark the system's credentials rejected; True if this changed its state."""
        with self.db.session() as session:
            row = _locked_row(session, system)
            if row.state == REJECTED:
                return False
            self._change(session, row, REJECTED, detail, actor, "system_credentials_rejected")
        logger.error(f"{system}: innloggingen ble avvist; systemets elementer venter ({detail})")
        return True

    def unreachable(self, system: str, detail: str, actor: str) -> bool:
        """One more item could not reach the system; True if its breaker is open now (it
        opened with this failure, or was open already)."""
        with self.db.session() as session:
            row = _locked_row(session, system)
            row.unreachable_streak += 1
            if row.state == UNAVAILABLE:
                return True
            if row.state == AVAILABLE and row.unreachable_streak >= self.settings.breaker_threshold:
                self._change(session, row, UNAVAILABLE, detail, actor, "system_unavailable")
                row.probes = 0
                row.next_probe_at = utcnow() + timedelta(seconds=self.settings.probe_base_seconds)
                logger.error(
                    f"{system}: kan ikke nås ({row.unreachable_streak} elementer på rad); "
                    "sikringen er åpnet, elementene venter"
                )
                return True
            return row.state != AVAILABLE

    def reached(self, systems: Iterable[str]) -> None:
        """Items of these systems got through: their streak of unreachable failures ends."""
        names = list(systems)
        if not names:
            return
        with self.db.engine.begin() as conn:
            conn.execute(
                update(SystemState)
                .where(SystemState.system.in_(names), SystemState.unreachable_streak > 0)
                .values(unreachable_streak=0)
            )

    # Probing ----------------------------------------------------------------------------------

    def take_due_probe(self) -> str | None:
        """A system whose probe is due, taken by this worker (the next probe moved on by the
        doubling wait, so no other worker probes it meanwhile), or None."""
        now = utcnow()
        with self.db.session() as session:
            row = session.scalars(
                select(SystemState)
                .where(SystemState.state == UNAVAILABLE, SystemState.next_probe_at <= now)
                .order_by(SystemState.next_probe_at)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if row is None:
                return None
            row.probes += 1
            wait = min(
                self.settings.probe_max_seconds,
                self.settings.probe_base_seconds * 2**row.probes,
            )
            row.next_probe_at = now + timedelta(seconds=wait)
            return row.system

    def probe(self, system: str) -> str | None:
        """GET the system's health path (else its login page, else /); None if it answered
        below HTTP 500, else what went wrong."""
        import httpx

        from robots.locators import load_system

        spec = load_system(system)
        base = self.settings.system_urls.get(system, spec.base_url)
        path = spec.health or (spec.login.path if spec.login else "/")
        url = httpx.URL(base.rstrip("/") + "/").join(path.lstrip("/"))
        try:
            answer = httpx.get(url, timeout=5, follow_redirects=False)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        return None if answer.status_code < 500 else f"HTTP {answer.status_code}"

    def probe_due(self, actor: str) -> str | None:
        """Probe one system whose probe is due; close its breaker if the probe passes.
        Returns the system probed, or None."""
        system = self.take_due_probe()
        if system is None:
            return None
        try:
            problem = self.probe(system)
        except Exception as exc:  # noqa: BLE001 - a broken selectors file must not stop a worker
            problem = f"{type(exc).__name__}: {exc}"
        if problem is None:
            self.close(system, actor, "Sjekken av systemet lyktes", "system_available")
        else:
            logger.info(
                f"{system}: sjekken feilet ({mask_text(problem)}); sikringen er fortsatt åpen"
            )
        return system

    # What operators and probes do -------------------------------------------------------------

    def close(self, system: str, actor: str, detail: str, action: str) -> bool:
        """Make the system available again; True if it was not."""
        with self.db.session() as session:
            row = _locked_row(session, system)
            if row.state == AVAILABLE:
                return False
            self._change(session, row, AVAILABLE, detail, actor, action)
            row.unreachable_streak = row.probes = 0
            row.next_probe_at = None
        logger.info(f"{system}: tilgjengelig igjen ({detail})")
        return True

    def renewed(self, system: str, actor: str) -> bool:
        """An operator says the credentials are renewed: logins may be tried again."""
        return self.close(system, actor, "Innloggingen er fornyet", "system_credentials_renewed")

    def probe_now(self, system: str, actor: str) -> bool:
        """An operator asks for a probe now (an open breaker); True if one is due now."""
        with self.db.session() as session:
            row = session.get(SystemState, system, with_for_update=True)
            if row is None or row.state != UNAVAILABLE:
                return False
            row.next_probe_at = utcnow()
            audit.record(session, actor, "system_probe_now", f"system:{system}")
        return True

    def _change(
        self, session: Session, row: SystemState, state: str, detail: str, actor: str, action: str
    ) -> None:
        before = row.state
        detail = storable_text(mask_text(detail))[:2000]
        row.state, row.since, row.detail, row.changed_by = state, utcnow(), detail, actor[:120]
        audit.record(
            session,
            actor,
            action,
            f"system:{row.system}",
            {"fra": before, "til": state, "grunn": detail[:500]},
        )


def _locked_row(session: Session, system: str) -> SystemState:
    """The system's row, made if missing, locked for this transaction."""
    row = session.get(SystemState, system, with_for_update=True)
    if row is None:
        try:
            with session.begin_nested():
                session.add(SystemState(system=system, state=AVAILABLE, since=utcnow()))
        except IntegrityError:
            pass  # another worker made it a moment ago
        row = session.get(SystemState, system, with_for_update=True, populate_existing=True)
        assert row is not None
    return row
