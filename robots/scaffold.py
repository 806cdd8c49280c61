"""`runner.py new task NAME --system SYSTEM`: the first three files of a new robot.

A task module (input model, `@task`, one logged step that is safe to run again), a selectors file
for the system (the login block and one page, with fallbacks) unless the system has one, and a
test that runs the task with `runner.py run` against a small local page standing in for the
system. The guide (docs/first-robot.md) starts from these files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from robots.config import ROOT

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,40}$")


class ScaffoldError(ValueError):
    """A name is not usable or a file exists already (exit code 3)."""


@dataclass(frozen=True)
class Scaffold:
    task: Path
    selectors: Path | None  # None: the system's selectors file existed already
    test: Path


def new_task(name: str, system: str, root: Path = ROOT, package: str = "tasks") -> Scaffold:
    for label, value in (("oppgavenavn", name), ("systemnavn", system)):
        if not _NAME.match(value):
            raise ScaffoldError(
                f"Ugyldig {label} {value!r}: små bokstaver, sifre og _, 2-41 tegn, først en bokstav"
            )
    task_path = root / package / f"{name}.py"
    test_path = root / "tests" / f"test_{name}.py"
    selectors_path = root / "selectors" / f"{system}.yaml"
    for path in (task_path, test_path):
        if path.exists():
            raise ScaffoldError(f"{path} finnes allerede; ingenting er skrevet")
    task_path.parent.mkdir(parents=True, exist_ok=True)
    task_path.write_text(TASK.format(name=name, system=system), encoding="utf-8")
    test_path.write_text(TEST.format(name=name, system=system, upper=system.upper()), "utf-8")
    wrote_selectors = None
    if not selectors_path.exists():
        selectors_path.parent.mkdir(parents=True, exist_ok=True)
        selectors_path.write_text(SELECTORS.format(system=system), encoding="utf-8")
        wrote_selectors = selectors_path
    return Scaffold(task_path, wrote_selectors, test_path)


TASK = '''"""{name}: what this robot does, for whom, and why (written by `runner.py new task`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from robots.context import RunContext
from robots.tasks import BusinessError, task


class Input(BaseModel):
    """What a caseworker or a schedule gives the robot; validated when the item is submitted."""

    model_config = ConfigDict(extra="forbid")

    sak: str = Field(min_length=1, max_length=100, description="Saken roboten skal slå opp")


@task("{name}", input=Input, systems=("{system}",), roles=("operator", "admin"))
def run(ctx: RunContext, data: Input) -> dict[str, Any]:
    """Slår opp saken i {system} og leser overskriften (erstatt med robotens egentlige jobb)."""
    site = ctx.open("{system}")  # logged in with the vault's credentials for {system}

    def read_heading() -> str:
        site.goto("/")  # a step starts by going to its page: safe to run again from anywhere
        return site.text("start.heading")

    heading = ctx.run_step("Les startsiden", read_heading)
    if not heading:
        raise BusinessError(f"Fant ingen overskrift for sak {{data.sak}}")  # shown to people
    ctx.log.info(f"Sak {{data.sak}}: {{heading}}")
    return {{"sak": data.sak, "overskrift": heading}}
'''

SELECTORS = """# {system}: logical names -> Playwright locators, tried in order (first choice, then
# fallbacks). After a vendor upgrade: edit this file, then run
# `python runner.py selectors check {system}`; `python runner.py selectors validate` checks it.
system: {system}
title: {system}
base_url: http://127.0.0.1:8000      # per installation: RPA_SYSTEM_URLS='{{"{system}": "..."}}'
timeout_ms: 10000
navigation_timeout_ms: 30000

login:
  path: /login
  username: login.username
  password: login.password
  submit: login.submit
  success: start.heading
  failure: login.error

check_paths:
  login: /login
  start: /

pages:
  login:
    username:
      - {{label: Brukernavn}}
      - {{css: "input[name=username]"}}
    password:
      secret: true
      locators:
        - {{label: Passord}}
        - {{css: "input[type=password]"}}
    submit:
      - {{role: button, name: Logg inn}}
      - {{css: "button[type=submit]"}}
    error:
      optional: true
      locators:
        - {{role: alert}}
  start:
    heading:
      - {{css: "main h1"}}
      - {{role: heading, nth: 0}}
"""

TEST = '''"""{name}: runs the robot with `runner.py run` against a local page standing in for
{system} (written by `runner.py new task`; replace the page with what the real system shows)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from robots.web import ServerThread
from tests.conftest import Env

PAGE = "<!doctype html><html lang='nb'><body><main>{{}}</main></body></html>"


def stand_in() -> FastAPI:
    """A login page and a start page, like the system's."""
    app = FastAPI()

    @app.get("/login", response_class=HTMLResponse)
    def login_page() -> str:
        return PAGE.format(
            "<form method='post'><label for='u'>Brukernavn</label><input id='u' name='username'>"
            "<label for='p'>Passord</label><input id='p' name='password' type='password'>"
            "<button type='submit'>Logg inn</button></form>"
        )

    @app.post("/login")
    def login(username: str = Form(""), password: str = Form("")) -> Response:
        if (username, password) != ("robot", "hemmelig-passord"):
            return HTMLResponse(PAGE.format("<p role='alert'>Feil passord</p>"), 401)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie("okt", "1")
        return response

    @app.get("/", response_model=None)
    def start(request: Request) -> Any:
        if request.cookies.get("okt") != "1":
            return RedirectResponse("/login", status_code=303)
        return HTMLResponse(PAGE.format("<h1>Saksoversikt</h1>"))

    return app


def test_{name}_reads_the_start_page(sqlite_env: Env) -> None:
    server = ServerThread(stand_in()).start()
    try:
        done = sqlite_env.runner(
            "run",
            "{name}",
            "--data",
            json.dumps({{"sak": "2026/1"}}),
            extra_env={{
                "RPA_SYSTEM_URLS": json.dumps({{"{system}": server.url}}),
                "RPA_CRED_{upper}_USERNAME": "robot",
                "RPA_CRED_{upper}_PASSWORD": "hemmelig-passord",
            }},
        )
    finally:
        server.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    assert '"overskrift": "Saksoversikt"' in done.stdout
'''
