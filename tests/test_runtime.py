"""The browser robot runtime in real Chromium against the sandbox HR portal."""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import select

from robots import fnr, sealing
from robots.browser import BrowserNotFound, find_browser
from robots.config import ROOT
from robots.locators import SelectorFileError, load_system, parse_system
from robots.models import Artifact, ItemStatus, Run, RunEvent, RunOutcome, WorkItem
from robots.vault import Vault, VaultError
from sandbox.common import Faults
from tests.conftest import Env, settle

CREDS = {"RPA_CRED_HR_USERNAME": "robot", "RPA_CRED_HR_PASSWORD": "robot-passord"}


def robot_env(sandbox) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        **CREDS,
        "RPA_SYSTEM_URLS": json.dumps({"hr": sandbox.hr.url, "archive": sandbox.archive.url}),
    }


def run_worker(env: Env, sandbox) -> None:  # type: ignore[no-untyped-def]
    settle(env, robot_env(sandbox), processes=2, timeout=180)


def stored_text(env: Env) -> str:
    """Everything the run log holds: database events and the JSONL files."""
    with env.db.session() as session:
        events = session.scalars(select(RunEvent)).all()
        runs = session.scalars(select(Run)).all()
        items = session.scalars(select(WorkItem)).all()
    parts = [f"{e.message} {e.data}" for e in events]
    parts += [r.error_message or "" for r in runs] + [i.error_message or "" for i in items]
    parts += [p.read_text() for p in (env.data_dir / "runs").glob("*.jsonl")]
    return "\n".join(parts)


def employee(sandbox, employee_id: int) -> dict:  # type: ignore[no-untyped-def,type-arg]
    return httpx.get(f"{sandbox.hr.url}/_sandbox/employees/{employee_id}").json()["employee"]


def test_failure_keeps_masked_screenshot_html_and_trace(sqlite_env: Env, sandbox) -> None:  # type: ignore[no-untyped-def]
    env = sqlite_env
    hire = sandbox.hr_app.state.data.new_hire_ids[0]
    person = employee(sandbox, hire)
    env.queue().submit(
        "hr_lookup", "fail-1", {"employee_id": hire, "fail": "system"}, submitted_by="t"
    )
    run_worker(env, sandbox)
    with env.db.session() as session:
        item = session.scalars(select(WorkItem)).one()
        assert item.status == ItemStatus.FAILED and item.failures == 3
        artifacts = session.scalars(select(Artifact)).all()
    kinds = sorted(a.kind for a in artifacts)
    # screenshot and HTML for each of the three failed attempts; a trace for the two retries
    # (trace = on_first_retry, the default)
    assert kinds == ["html"] * 3 + ["screenshot"] * 3 + ["trace"] * 2
    for artifact in artifacts:
        path = Path(artifact.path)
        assert path.stat().st_size == artifact.size and len(artifact.sha256) == 64
    # No fødselsnummer and no password anywhere: events, JSONL, HTML, trace.
    text = stored_text(env)
    sealing.install(env.settings)  # the installation's key: the worker's keyed hash
    assert f"fødselsnummer {fnr.tag(person['fnr'])}" in text and person["fnr"][:6] not in text
    html = [Path(a.path).read_text() for a in artifacts if a.kind == "html"]
    trace_texts = []
    for artifact in artifacts:
        if artifact.kind == "trace":
            with zipfile.ZipFile(artifact.path) as archive:
                names = archive.namelist()
                assert any(n.endswith(".trace") for n in names), names
                for name in names:
                    if name.endswith((".trace", ".network")):
                        trace_texts.append(archive.read(name).decode())
    assert trace_texts and any(
        '"type":"action"' in t or '"type": "action"' in t or '"before"' in t for t in trace_texts
    )
    for blob in [text, *html, *trace_texts]:
        assert person["fnr"] not in blob
        assert "robot-passord" not in blob
    # The screenshot's fødselsnummer box is filled with the mask colour.
    shot = next(Path(a.path) for a in artifacts if a.kind == "screenshot")
    box = fnr_box(sandbox, hire)
    image = Image.open(shot).convert("RGB")
    pixels = [
        image.getpixel((int(box["x"] + dx), int(box["y"] + box["height"] / 2)))
        for dx in range(2, int(box["width"]) - 2, 3)
    ]
    assert pixels and all(p == (0, 0, 0) for p in pixels), pixels[:5]
    outside = image.getpixel((int(box["x"] + box["width"] + 40), int(box["y"] + 2)))
    assert outside != (0, 0, 0)


def fnr_box(sandbox, hire: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Where the fødselsnummer is on the employee page, measured in our own browser."""
    from playwright.sync_api import sync_playwright

    from robots.browser import launch

    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page()
        page.goto(f"{sandbox.hr.url}/login")
        page.get_by_label("Brukernavn").fill("robot")
        page.get_by_label("Passord").fill("robot-passord")
        page.get_by_role("button", name="Logg inn").click()
        page.goto(f"{sandbox.hr.url}/ansatte/{hire}")
        box = page.locator("#fnr").bounding_box()
        browser.close()
    assert box is not None
    return box


def test_layout_variant_uses_fallbacks_and_popups_are_dismissed(sqlite_env: Env, sandbox) -> None:  # type: ignore[no-untyped-def]
    env = sqlite_env
    sandbox.set_faults(Faults(seed=3, layout_variant=True, popup_rate=0.5))
    hire = sandbox.hr_app.state.data.new_hire_ids[1]
    env.queue().submit("hr_lookup", "variant", {"employee_id": hire}, submitted_by="t")
    run_worker(env, sandbox)
    with env.db.session() as session:
        item = session.scalars(select(WorkItem)).one()
        messages = session.scalars(select(RunEvent.message)).all()
    assert item.status == ItemStatus.DONE, item.error_message
    assert item.result["name"] == employee(sandbox, hire)["name"]
    assert any("brukte reserve label='Brukernavn'" in m for m in messages)
    assert any("lukket popup" in m for m in messages)
    assert sandbox.hr_app.state.faults.injected["popup"] >= 1


def test_killed_chromium_is_a_system_error_and_the_retry_succeeds(sqlite_env: Env, sandbox) -> None:  # type: ignore[no-untyped-def]
    env = sqlite_env
    hire = sandbox.hr_app.state.data.new_hire_ids[2]
    env.queue().submit(
        "hr_lookup",
        "crash",
        {"employee_id": hire, "kill_browser_on_first_attempt": True},
        submitted_by="t",
    )
    run_worker(env, sandbox)
    with env.db.session() as session:
        item = session.scalars(select(WorkItem)).one()
        runs = session.scalars(select(Run).order_by(Run.id)).all()
    assert item.status == ItemStatus.DONE
    assert [r.outcome for r in runs] == [RunOutcome.SYSTEM_ERROR, RunOutcome.DONE]
    assert "closed" in (runs[0].error_message or "").lower()


def test_session_expiry_and_http_500_are_retried_within_the_step(sqlite_env: Env, sandbox) -> None:  # type: ignore[no-untyped-def]
    env = sqlite_env
    sandbox.set_faults(Faults(seed=11, error_rate=0.15, session_expiry_rate=0.1))
    refs = []
    for hire in sandbox.hr_app.state.data.new_hire_ids[:4]:
        refs.append(f"fault-{hire}")
        env.queue().submit("hr_lookup", refs[-1], {"employee_id": hire}, submitted_by="t")
    run_worker(env, sandbox)
    injected = sandbox.hr_app.state.faults.injected
    assert injected["error"] + injected["expiry"] >= 2
    with env.db.session() as session:
        statuses = session.scalars(select(WorkItem.status)).all()
    assert statuses == [ItemStatus.DONE] * 4


def test_broken_selector_files_name_the_file_key_and_problem(tmp_path: Path) -> None:
    base = Path("selectors/hr.yaml").read_text()
    broken = base.replace('- {css: "#username"}', '- {css: "#username", label: Brukernavn}')
    with pytest.raises(SelectorFileError) as caught:
        parse_system(broken, "selectors/hr.yaml")
    message = str(caught.value)
    assert "selectors/hr.yaml" in message and "pages.login.username" in message
    assert "exactly one of" in message
    with pytest.raises(SelectorFileError, match=r"linje \d+"):
        parse_system("system: hr\npages: [\n", "x.yaml")
    with pytest.raises(SelectorFileError, match="unknown element 'login.brukernavn'"):
        parse_system(base.replace("username: login.username", "username: login.brukernavn"))
    with pytest.raises(SelectorFileError, match="finnes ikke. Kjente systemer: archive, hr"):
        load_system("ukjent")
    spec = load_system("hr")
    assert [e.secret for n, e in spec.all_elements() if n == "login.password"] == [True]


def test_missing_browser_error_lists_what_was_tried(monkeypatch: pytest.MonkeyPatch) -> None:
    class NoManaged:
        class chromium:  # noqa: N801 - mimics playwright.chromium
            executable_path = "/nonexistent/ms-playwright/chrome"

    monkeypatch.setattr(
        "robots.browser.SYSTEM_CANDIDATES", ("/nonexistent/chromium", "no-such-browser")
    )
    with pytest.raises(BrowserNotFound) as caught:  # a chosen browser is not replaced
        find_browser(NoManaged, configured="/usr/bin/chromium-missing")
    assert "/usr/bin/chromium-missing" in str(caught.value)
    assert "playwright install chromium" in str(caught.value)
    with pytest.raises(BrowserNotFound) as caught:
        find_browser(NoManaged)
    message = str(caught.value)
    for part in (
        "Playwrights egen Chromium",
        "/nonexistent/chromium",
        "no-such-browser",
        "playwright install chromium",
        "apt-get install chromium",
    ):
        assert part in message


def test_vault_sources_and_file_permissions(
    sqlite_env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = sqlite_env.settings
    with pytest.raises(VaultError, match="RPA_CRED_ARCHIVE_USERNAME"):
        Vault(settings).get("archive")
    monkeypatch.setenv("RPA_CRED_ARCHIVE_USERNAME", "robot")
    monkeypatch.setenv("RPA_CRED_ARCHIVE_PASSWORD", "s3cret-from-env")
    creds = Vault(settings).get("archive")
    assert creds.password == "s3cret-from-env" and "s3cret" not in repr(creds)
    file = tmp_path / "credentials.toml"
    file.write_text('[hr]\nusername = "robot"\npassword = "fra-fil-123"\n')
    os.chmod(file, 0o644)
    settings = settings.model_copy(update={"credentials_file": str(file)})
    with pytest.raises(VaultError, match="chmod 600"):
        Vault(settings).get("hr")
    os.chmod(file, 0o600)
    assert Vault(settings).get("hr").password == "fra-fil-123"
    from robots.masking import mask_text

    assert mask_text("passordet er fra-fil-123") == "passordet er ***"


def test_html_report_is_self_contained_and_masked(sqlite_env: Env, sandbox) -> None:  # type: ignore[no-untyped-def]
    env = sqlite_env
    hire = sandbox.hr_app.state.data.new_hire_ids[3]
    person = employee(sandbox, hire)
    env.queue().submit(
        "hr_lookup", "report", {"employee_id": hire, "fail": "business"}, submitted_by="t"
    )
    run_worker(env, sandbox)
    out = env.data_dir / "report.html"
    result = env.runner("runs", "report", "1", "--out", str(out))
    assert result.returncode == 0, result.stderr
    html = out.read_text()
    assert "Utfall: forretningsfeil" in html and "Den ansatte har sluttet" in html
    assert "Åpne ansatt" in html and " ms</td>" in html
    assert "data:image/png;base64," in html and "<script" not in html
    sealing.install(env.settings)
    assert person["fnr"][:6] not in html and fnr.tag(person["fnr"]) in html


def test_a_slow_login_that_succeeded_is_not_retried_into_a_loop(sqlite_env: Env, sandbox) -> None:  # type: ignore[no-untyped-def]
    """The login POST succeeds but the page after it takes longer than the element timeout;
    the system sends a logged-in user away from its login page. The runtime must notice it is
    logged in instead of trying to fill a login form that is no longer there (issue 10)."""
    env = sqlite_env
    sandbox.set_faults(Faults(slow_logins=1, slow_login_ms=12_000))
    hire = sandbox.hr_app.state.data.new_hire_ids[0]
    env.queue().submit("hr_lookup", "treg-1", {"employee_id": hire}, submitted_by="t")
    run_worker(env, sandbox)
    with env.db.session() as session:
        item = session.scalars(select(WorkItem)).one()
        assert item.status == ItemStatus.DONE, item.error_message
        assert item.attempts == 1
    assert sandbox.hr_app.state.faults.slow_logins_left == 0  # the fault did fire


def test_run_a_browser_task_against_the_hr_portal(sqlite_env: Env, sandbox) -> None:  # type: ignore[no-untyped-def]
    env = sqlite_env
    hire = sandbox.hr_app.state.data.new_hire_ids[0]
    person = employee(sandbox, hire)
    done = env.runner(
        "run",
        "hr_lookup",
        "--data",
        json.dumps({"employee_id": hire}),
        extra_env=robot_env(sandbox),
    )
    assert done.returncode == 0, done.stderr
    assert "hr: logget inn som robot" in done.stderr and person["fnr"] not in done.stderr
    failed = env.runner(
        "run",
        "hr_lookup",
        "--data",
        json.dumps({"employee_id": hire, "fail": "system"}),
        extra_env=robot_env(sandbox),
    )
    assert failed.returncode == 14 and "Bevis:" in failed.stdout  # screenshot, HTML, trace
    assert "trace" in failed.stdout and person["fnr"] not in failed.stdout + failed.stderr


def test_a_worker_logs_in_once_per_system_and_again_when_asked(sqlite_env: Env, sandbox) -> None:  # type: ignore[no-untyped-def]
    env = sqlite_env
    hires = sandbox.hr_app.state.data.new_hire_ids[:3]

    def logins() -> int:
        with env.db.session() as session:
            messages = session.scalars(select(RunEvent.message)).all()
        return sum("hr: logget inn som robot" in m for m in messages)

    for hire in hires:
        env.queue().submit("hr_lookup", f"gjenbruk-{hire}", {"employee_id": hire}, submitted_by="t")
    settle(env, robot_env(sandbox), processes=1, timeout=180)
    assert logins() == 1  # one worker, three items, one login
    for hire in hires:
        env.queue().submit("hr_lookup", f"uten-{hire}", {"employee_id": hire}, submitted_by="t")
    settle(env, {**robot_env(sandbox), "RPA_REUSE_LOGINS": "false"}, processes=1, timeout=180)
    assert logins() == 1 + 3
    with env.db.session() as session:
        assert {i.status for i in session.scalars(select(WorkItem))} == {ItemStatus.DONE}


def test_selectors_suggest_lists_the_page_with_robust_locators(sqlite_env: Env, sandbox) -> None:  # type: ignore[no-untyped-def]
    """`selectors suggest` against the sandbox HR portal: a logged-in page, label first, the
    fødselsnummer marked pii and never printed, every element valid for a selectors file."""
    import yaml

    from robots.locators import ElementSpec

    env = sqlite_env
    hire = sandbox.hr_app.state.data.new_hire_ids[0]
    person = employee(sandbox, hire)
    result = env.runner(
        "selectors",
        "suggest",
        "hr",
        f"/ansatte/{hire}",
        "--page",
        "ansatt",
        extra_env=robot_env(sandbox),
    )
    assert result.returncode == 0, result.stderr
    assert person["fnr"] not in result.stdout
    elements = yaml.safe_load(result.stdout)["pages"]["ansatt"]
    for spec in elements.values():
        ElementSpec.model_validate(spec)
    systems = next(v for k, v in elements.items() if k.startswith("systemer"))
    assert systems["locators"][0] == {"label": "Systemer"}  # the label first
    assert any(v.get("pii") for v in elements.values())  # the fødselsnummer field
    buttons = [v for k, v in elements.items() if k.endswith("_knapp")]
    assert any(
        loc.get("role") == "button" and loc.get("name") == "Bestill IT-tilgang"
        for b in buttons
        for loc in b["locators"]
    )

    # A page anonymous visitors see too, whose form only a logged-in user gets: the
    # suggestions are of the logged-in page, fields without id or label by their name
    # attribute, and no positional CSS where an attribute names the element.
    board = env.runner(
        "selectors", "suggest", "hr", "/oppslag", "--page", "board", extra_env=robot_env(sandbox)
    )
    assert board.returncode == 0, board.stderr
    elements = yaml.safe_load(board.stdout)["pages"]["board"]
    locators = [loc for spec in elements.values() for loc in spec["locators"]]
    assert {"css": 'input[name="tittel"]'} in locators
    assert {"css": 'select[name="prioritet"]'} in locators
    assert {"test_id": "publiser"} in locators
    assert "nth-of-type" not in board.stdout, board.stdout


def test_selectors_check_reports_every_element_and_a_renamed_one(
    sqlite_env: Env, sandbox, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """`selectors check hr` as an operator runs it after a vendor upgrade: against the live
    portal every element resolves (exit 0); with one element renamed in the selectors file the
    table names it as MANGLER with a screenshot of its page, and the exit code is 10."""
    env = sqlite_env
    result = env.runner("selectors", "check", "hr", extra_env=robot_env(sandbox), timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 mangler" in result.stdout
    assert "robot-passord" not in result.stdout + result.stderr

    renamed = tmp_path / "selectors"
    renamed.mkdir()
    for source in (ROOT / "selectors").glob("*.yaml"):
        text = source.read_text(encoding="utf-8")
        if source.name == "hr.yaml":  # the vendor renamed the search field, id and label
            text = text.replace('{css: "#sok"}', '{css: "#finn"}')
            text = text.replace("{label: Søk}", "{label: Finn ansatt}")
        (renamed / source.name).write_text(text, encoding="utf-8")
    result = env.runner(
        "selectors",
        "check",
        "hr",
        extra_env={**robot_env(sandbox), "RPA_SELECTORS_DIR": str(renamed)},
        timeout=180,
    )
    assert result.returncode == 10, result.stdout + result.stderr
    assert "MANGLER" in result.stdout and "search" in result.stdout
    assert list((env.data_dir / "selector-check").glob("hr-*.png"))


@contextmanager
def robot_host(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch, **extra_env: str
) -> Iterator[tuple[Any, Any]]:
    """The robot's settings against the sandbox (and `extra_env`) and a worker's browser host
    on them, closed afterwards."""
    from robots.runtime import BrowserHost
    from robots.settings import load_settings, use_settings

    for key, value in {**robot_env(sandbox), **extra_env}.items():
        monkeypatch.setenv(key, value)
    use_settings(None)
    settings = load_settings()
    host = BrowserHost(settings)
    try:
        yield settings, host
    finally:
        host.close()
        use_settings(None)


def test_the_next_item_takes_over_a_kept_page_and_a_failed_item_closes_it(
    sqlite_env: Env,
    sandbox,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """reuse_pages: after a run that ended well the worker's next item gets the same context
    and page (logged in, cache warm); after a fault the next one starts in a fresh context."""
    from loguru import logger

    from robots.runtime import open_system

    with robot_host(sandbox, monkeypatch) as (settings, host):
        first = open_system(host, "hr", settings, logger)
        first.goto("/nyansatte")
        page = first.page
        first.close(keep=True)
        second = open_system(host, "hr", settings, logger)
        assert second.page is page and second.reused_login
        # The page still shows the last item's list: no evidence is taken from it.
        assert page.url.endswith("/nyansatte") and not second.shows_this_item
        assert second.capture_failure(tmp_path / "bevis") == []
        assert not list((tmp_path / "bevis").iterdir())
        second.goto("/nyansatte")
        assert not second.on_login_page()  # the kept page is still logged in
        assert {kind for kind, _ in second.capture_failure(tmp_path / "bevis")} >= {
            "screenshot",
            "html",
        }
        second.close(keep=False)  # the item failed
        assert page.is_closed()
        third = open_system(host, "hr", settings, logger)
        assert third.page is not page
        third.close()


def test_a_traced_item_on_a_kept_page_starts_on_an_empty_page(
    sqlite_env: Env,
    sandbox,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """trace = retain_on_failure records from the session's start; its first snapshot must
    not show the last item's page, so a kept page is emptied before the trace starts."""
    from loguru import logger

    from robots.runtime import open_system

    with robot_host(sandbox, monkeypatch, RPA_TRACE="retain_on_failure") as (settings, host):
        first = open_system(host, "hr", settings, logger)
        first.goto("/nyansatte")
        first.close(keep=True)
        second = open_system(host, "hr", settings, logger)
        assert second.page.url == "about:blank" and second.shows_this_item and second.tracing
        second.close()


def test_slots_share_the_worker_s_one_chromium(sqlite_env: Env, sandbox) -> None:  # type: ignore[no-untyped-def]
    """worker_concurrency 3: one worker process, one Chromium, three contexts at a time; each
    slot logs in once and keeps its login."""
    env = sqlite_env
    hires = sandbox.hr_app.state.data.new_hire_ids[:6]
    for hire in hires:
        env.queue().submit("hr_lookup", f"plass-{hire}", {"employee_id": hire}, submitted_by="t")
    settle(env, {**robot_env(sandbox), "RPA_WORKER_CONCURRENCY": "3"}, processes=1, timeout=180)
    with env.db.session() as session:
        assert {i.status for i in session.scalars(select(WorkItem))} == {ItemStatus.DONE}
        messages = session.scalars(select(RunEvent.message)).all()
        runs = session.scalars(select(Run)).all()
    assert 1 <= sum("hr: logget inn som robot" in m for m in messages) <= 3
    assert len({r.worker_id for r in runs}) == 1
    # masking holds with slots: no clear fødselsnummer in any stored line
    for hire in hires:
        assert employee(sandbox, hire)["fnr"] not in "\n".join(messages)
