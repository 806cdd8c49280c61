"""Maintenance: retention of run logs, artifacts and the input of finished items (the audit
trail is kept whole, its hash chain must still verify, and so are the work items and runs
themselves, without their input), and the full verification of the audit trail from its first
event."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import String, cast, delete, select, update

from robots import audit
from robots.context import RunContext
from robots.db import Database
from robots.models import FINAL_STATUSES, Artifact, Run, RunEvent, WorkItem, utcnow
from robots.runlog import jsonl_path
from robots.tasks import BusinessError, task


class RetentionInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: int | None = Field(default=None, ge=1, description="Tom: innstillingen retention_days")


@task(
    "vedlikehold.retention", input=RetentionInput, max_attempts=3, title="Slett gamle kjørelogger"
)
def retention(ctx: RunContext, data: RetentionInput) -> dict[str, Any]:
    """Sletter kjøreloggens hendelser og vedlegg, og inndata til ferdige elementer, eldre enn
    oppbevaringstiden."""
    days = data.days or ctx.settings.retention_days
    cutoff = utcnow() - timedelta(days=days)
    db = Database(ctx.settings.effective_database_url, ctx.settings)
    try:
        with ctx.step("Slett gamle hendelser og vedlegg"), db.session() as session:
            old_runs = select(Run.id).where(Run.started_at < cutoff, Run.id != ctx.claim.run_id)
            files = session.scalars(
                select(Artifact.path).where(Artifact.run_id.in_(old_runs))
            ).all()
            run_ids = session.scalars(old_runs).all()
            events = session.execute(delete(RunEvent).where(RunEvent.run_id.in_(old_runs))).rowcount
            artifacts = session.execute(
                delete(Artifact).where(Artifact.run_id.in_(old_runs))
            ).rowcount
            inputs = session.execute(
                update(WorkItem)
                .where(
                    WorkItem.status.in_(FINAL_STATUSES),
                    WorkItem.finished_at < cutoff,
                    cast(WorkItem.payload, String) != "{}",
                )
                .values(payload={})
            ).rowcount
            audit.record(
                session,
                f"oppgave:{ctx.claim.task}",
                "retention",
                "run_log",
                {"days": days, "events": events, "artifacts": artifacts, "inputs": inputs},
            )
        removed = 0
        for path in [*map(Path, files), *(jsonl_path(ctx.settings.data_path, r) for r in run_ids)]:
            if path.exists():
                path.unlink()
                removed += 1
    finally:
        db.dispose()
    ctx.log.info(
        f"Slettet {events} hendelser, {artifacts} vedlegg, {removed} filer og inndata til "
        f"{inputs} ferdige elementer eldre enn {days} dager"
    )
    return {"events": events, "artifacts": artifacts, "files": removed, "inputs": inputs}


class VerifyAuditInput(BaseModel):
    model_config = ConfigDict(extra="forbid")


@task(
    "vedlikehold.verify_audit",
    input=VerifyAuditInput,
    max_attempts=1,
    roles=("auditor", "operator"),
    title="Kontroller hele revisjonssporet",
)
def verify_audit(ctx: RunContext, data: VerifyAuditInput) -> dict[str, Any]:
    """Kontrollerer hele revisjonssporet fra første hendelse (hash-kjeden og de signerte
    kontrollpunktene). Konsollet kontrollerer bare det nye siden forrige kontroll."""
    db = Database(ctx.settings.effective_database_url, ctx.settings)
    try:
        with ctx.step("Kontroller hele revisjonssporet"), db.session() as session:
            check = audit.verify(session, full=True)
            audit.record(
                session,
                f"oppgave:{ctx.claim.task}",
                "verify",
                "audit_chain",
                {"intact": check.intact, "checked": check.checked, "broken": check.first_broken_id},
            )
    finally:
        db.dispose()
    if not check.intact:
        raise BusinessError(f"Revisjonssporet er brutt{check.at}: {check.reason}")
    ctx.log.info(f"Revisjonssporet er intakt: {check.checked} hendelser kontrollert")
    return {"intact": True, "checked": check.checked}
