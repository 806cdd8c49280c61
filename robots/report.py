"""A self-contained HTML report of one run: steps with durations, the run log, screenshots
embedded, artifacts with checksums, outcome. It is made from the read layer's views, so
everything in it passed through the masker."""

from __future__ import annotations

import base64
from pathlib import Path

from jinja2 import Environment, select_autoescape

from robots.labels import actor_name, artifact_name, value_text
from robots.views import Views

_TEMPLATE = Path(__file__).parent / "templates" / "run_report.html"


def render(views: Views, run_id: int) -> str:
    """The report (NotFound if there is no such run)."""
    detail = views.run(run_id)
    run = detail.run
    steps = [
        {
            "name": e.step,
            "duration": f"{e.duration_ms:.0f} ms",
            "result": "feilet"
            if e.level in ("WARNING", "ERROR") and e.message.startswith("Feilet")
            else "ok",
        }
        for e in detail.events
        if e.duration_ms is not None and e.step
    ]
    screenshots = [
        {"name": Path(a.path).stem, "data": base64.b64encode(Path(a.path).read_bytes()).decode()}
        for a in detail.artifacts
        if a.kind == "screenshot" and Path(a.path).exists()
    ]
    duration = f"{run.duration_s:.2f} s" if run.duration_s is not None else "pågår"
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters.update(person=actor_name, verdi=value_text, vedlegg=artifact_name)
    return env.from_string(_TEMPLATE.read_text(encoding="utf-8")).render(
        run=run,
        item=detail.item,
        started=views.local(run.started_at),
        ended=views.local(run.ended_at),
        zone=views.zone_note,
        duration=duration,
        steps=steps,
        screenshots=screenshots,
        artifacts=detail.artifacts,
        provenance=detail.provenance,
        rules=detail.rules,
        events=[
            {
                "seq": e.seq,
                "time": views.local(e.ts),
                "level": e.level,
                "step": e.step,
                "message": e.message,
            }
            for e in detail.events
        ],
    )
