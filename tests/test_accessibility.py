"""WCAG 2.1 AA, which Norwegian public bodies must meet: axe-core (vendored from the npm
registry, tests/vendor/) runs in real Chromium on every console page for every role, at 1280 and
at 375 px; any violation fails the test. Each page is also screenshotted at both widths
(var/… of the test's data directory), and a page must not scroll sideways at 375 px."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from robots.models import Alert, Artifact, Question, Run, RunEvent, Schedule, WorkItem, utcnow
from tests.conftest import PASSWORD
from tests.test_console import api
from tests.test_sykefravaersprosent import seed_figures

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
WIDTHS = (1280, 375)
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def seed(env: Any, server: Any, tokens: dict[str, str]) -> dict[str, Any]:
    """An item of each kind a page shows: done with a result and a run with events and a
    screenshot, a business error, a technical error, one waiting; a schedule."""
    caseworker = api(server, tokens["caseworker"])
    ids = {}
    for name in ("ferdig", "forretning", "teknisk", "venter"):
        body = {"task": "probe", "reference": f"a11y-{name}", "payload": {}}
        ids[name] = caseworker.post("/api/items", json=body).json()["id"]
    now = utcnow()
    shot = env.data_dir / "skjerm.png"
    shot.write_bytes(PNG)
    with env.db.session() as session:
        run = Run(
            item_id=ids["ferdig"],
            attempt=1,
            worker_id="w1",
            host="h",
            pid=1,
            started_at=now - timedelta(seconds=4),
            ended_at=now,
            outcome="done",
        )
        session.add(run)
        session.flush()
        ids["run"] = run.id
        for seq, (level, message) in enumerate((("INFO", "Start"), ("WARNING", "Treg side"))):
            session.add(
                RunEvent(
                    run_id=run.id,
                    seq=seq,
                    ts=now,
                    level=level,
                    step="Steg",
                    message=message,
                    duration_ms=120.0,
                )
            )
        session.add(
            Artifact(
                run_id=run.id, kind="screenshot", path=str(shot), size=len(PNG), sha256="0" * 64
            )
        )
        session.add(Schedule(name="morgen", task="probe", trigger="cron", spec="0 6 * * 1-5"))
        question = Question(
            item_id=ids["venter"],
            run_id=run.id,
            key="spørsmål-1",
            model="tests.probe_tasks.probe:Approval",
            text="Skal søknaden godkjennes?",
            to_role="caseworker",
            evidence={"Beløp": "12 000 kr"},
            status="open",
            on_deadline="escalate",
        )
        session.add(question)
        session.add(
            Alert(
                key="feilet:item:1",
                rule="feilet",
                message="Element 1 feilet",
                status="open",
                severity="warning",
            )
        )
        session.flush()
        ids["question"] = question.id
        values = {
            "ferdig": dict(status="done", result={"journalpost": "2026/1-1"}),
            "forretning": dict(
                status="business_error", error_kind="business", error_message="Fant ikke ansatt"
            ),
            "teknisk": dict(status="failed", error_kind="system", error_message="Tidsavbrudd"),
        }
        for name, changes in values.items():
            session.execute(
                update(WorkItem).where(WorkItem.id == ids[name]).values(finished_at=now, **changes)
            )
    from datetime import date

    from robots.links import issue

    seed_figures(env)  # the leader's page with its table and trend charts

    token = issue(
        env.db,
        env.settings,
        "sykefravaer:1:2026-01-05:oppfolgingsplan",
        "Oppfølgingsplan",
        date.today() + timedelta(days=7),
        "leder@kommune.example",
    )
    return {**ids, "link": token}


def pages_for(role: str, ids: dict[str, Any]) -> list[str]:
    common = [f"/elementer/{ids['ferdig']}", f"/elementer/{ids['teknisk']}", "/404-finnes-ikke"]
    return {
        "caseworker": [
            "/mine",
            "/ny",
            "/ny/probe",
            "/ny/arkivering",
            "/sporsmal",
            f"/sporsmal/{ids['question']}",
            f"/kvittering/{ids['link']}",
            "/manuell",
            *common,
        ],
        "operator": [
            "/drift",
            "/drift/elementer?status=failed",
            "/drift/systemer",
            "/drift/varsler",
            "/tidsplaner",
            "/revisjon",
            f"/kjoringer/{ids['run']}",
            *common,
        ],
        "auditor": [
            "/revisjon",
            "/revisjonsspor",
            f"/kjoringer/{ids['run']}",
            f"/kjoringer/{ids['run']}/rapport",
            "/mine",
            *common,
        ],
        "admin": ["/admin/brukere", "/drift", "/mine", "/sykefravaer", *common],
        "leder": ["/sykefravaer", "/404-finnes-ikke"],
    }[role]


def violations(page: Any) -> list[str]:
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        "async () => (await axe.run(document))"  # every rule, best practices included
        ".violations.map(v => v.id + ': ' + v.help + ' ' + v.nodes.map(n => n.target).join(' '))",
    )
    return list(result)


@pytest.mark.slow
def test_every_page_for_every_role_passes_axe_at_1280_and_375_px(
    console: Any, browser: Any
) -> None:
    env, server, tokens = console
    ids = seed(env, server, tokens)
    shots = env.data_dir / "skjermbilder"
    shots.mkdir()
    found: dict[str, list[str]] = {}
    for role in ("caseworker", "operator", "auditor", "admin", "leder"):
        for width in WIDTHS:
            context = browser.new_context(locale="nb-NO", viewport={"width": width, "height": 900})
            page = context.new_page()
            page.set_default_timeout(15_000)
            page.goto(f"{server.url}/login")
            if width == WIDTHS[0] and role == "caseworker":
                found["/login"] = violations(page)
            page.get_by_label("Brukernavn").fill(role)
            page.get_by_label("Passord").fill(PASSWORD)
            page.get_by_role("button", name="Logg inn").click()
            page.wait_for_load_state()
            for path in pages_for(role, ids):
                page.goto(f"{server.url}{path}")
                page.wait_for_load_state("domcontentloaded")
                key = f"{role} {width}px {path}"
                found[key] = violations(page)
                name = path.strip("/").replace("/", "_").replace("?", "_") or "start"
                page.screenshot(path=str(shots / f"{role}-{width}-{name}.png"), full_page=True)
                if width == 375:
                    wide = page.evaluate(
                        "() => document.documentElement.scrollWidth - window.innerWidth"
                    )
                    if wide > 1:
                        found[key].append(f"the page scrolls sideways by {wide} px at 375 px")
            context.close()
    failing = {k: v for k, v in found.items() if v}
    assert failing == {}, failing
    assert len(list(shots.glob("*.png"))) >= 40
