"""A self-contained HTML report of one run: steps with durations, the run log, screenshots
embedded, artifacts with checksums, outcome. Everything in it passed through the masker."""

from __future__ import annotations

import base64
from pathlib import Path

from jinja2 import Environment, select_autoescape
from sqlalchemy.orm import Session

from robots.masking import mask, mask_text
from robots.models import Run
from robots.settings import Settings

_TEMPLATE = Path(__file__).parent / "templates" / "run_report.html"

_OUTCOMES = {
    "done": "ferdig",
    "business_error": "forretningsfeil",
    "system_error": "systemfeil",
    "abandoned": "forlatt (arbeideren forsvant)",
    "released": "lagt tilbake",
    "lost": "forkastet (elementet var tatt over)",
    None: "pågår",
}


def render(session: Session, run_id: int, settings: Settings) -> str:
    run = session.get(Run, run_id)
    if run is None:
        from robots.queue import ItemNotFound

        raise ItemNotFound(f"Fant ikke kjøring {run_id}")
    zone = settings.zone

    def local(ts: object) -> str:
        return ts.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"  # type: ignore[attr-defined]

    steps = []
    for event in run.events:
        if event.duration_ms is not None and event.step:
            failed = event.level in ("WARNING", "ERROR") and event.message.startswith("Feilet")
            steps.append(
                {
                    "name": event.step,
                    "duration": f"{event.duration_ms:.0f} ms",
                    "result": "feilet" if failed else "ok",
                }
            )
    screenshots = []
    for artifact in run.artifacts:
        path = Path(artifact.path)
        if artifact.kind == "screenshot" and path.exists():
            screenshots.append(
                {"name": path.stem, "data": base64.b64encode(path.read_bytes()).decode()}
            )
    duration = (
        f"{(run.ended_at - run.started_at).total_seconds():.2f} s" if run.ended_at else "pågår"
    )
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    return env.from_string(_TEMPLATE.read_text(encoding="utf-8")).render(
        run=run,
        item=run.item,
        reference=mask_text(run.item.reference),
        outcome_text=_OUTCOMES.get(run.outcome, run.outcome),
        error=mask_text(run.error_message or ""),
        started=local(run.started_at),
        ended=local(run.ended_at),
        duration=duration,
        payload=mask(run.item.payload),
        steps=steps,
        screenshots=screenshots,
        artifacts=run.artifacts,
        events=[
            {
                "seq": e.seq,
                "time": local(e.ts),
                "level": e.level,
                "step": e.step,
                "message": mask_text(e.message),
            }
            for e in run.events
        ],
    )
