"""What a robot author does with a system's pages, in real Chromium against the sandbox HR
portal: `ctx.open` logs in, page helpers, the browser's language per system, URLs under a
base path."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from loguru import logger

from robots.config import ROOT
from robots.context import RunContext
from robots.locators import system_url
from robots.queue import Claim
from robots.runtime import open_system
from tests.conftest import Env
from tests.test_runtime import robot_host

CLAIM = Claim(1, 1, "hr_lookup", "ref", {}, 1, "w")


def contexts(settings: Any, host: Any) -> Iterator[RunContext]:
    """One run context per item, all on the worker's one browser host."""
    while True:
        yield RunContext(CLAIM, settings, systems=("hr",), browsers=host)


def test_ctx_open_logs_in_before_the_first_look_up(
    sqlite_env: Env, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/oppslag shows anonymous visitors the public notice only: a robot that opened the HR
    portal must see the internal one on its first look-up, with one login for two items on
    one worker (the kept login), and `login=False` stays anonymous."""
    with robot_host(sandbox, monkeypatch) as (settings, host):
        items = contexts(settings, host)
        anonymous = next(items).open("hr", login=False)
        anonymous.goto("/oppslag")
        assert anonymous.text("board.notices").startswith("Kantina")
        assert not anonymous.exists("board.internal_notice") and not anonymous.logged_in
        anonymous.close()

        first = next(items)
        hr = first.open("hr")
        assert hr.logged_in and host.login_count == 1
        hr.goto("/oppslag")
        assert hr.exists("board.internal_notice")
        first.close(keep=True)

        second = next(items)
        again = second.open("hr")
        again.goto("/oppslag")
        assert again.exists("board.internal_notice")
        assert host.login_count == 1  # the kept login, no login per item
        second.close()


def test_page_helpers_read_a_table_an_attribute_and_the_path(
    sqlite_env: Env, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The new-hire list read as a robot author needs it, without raw Playwright."""
    hires = sandbox.hr_app.state.data.new_hire_ids
    with robot_host(sandbox, monkeypatch) as (settings, host):
        hr = open_system(host, "hr", settings, logger)
        hr.goto("/nyansatte?side=1")
        assert hr.current_path == "/nyansatte"
        assert hr.current_url.endswith("/nyansatte?side=1")
        rows = hr.table_rows("list.table")
        assert len(rows) == 5  # one page of new hires
        assert list(rows[0]) == ["Ansattnr", "Navn", "Enhet", "Stilling", "Startdato"]
        assert [int(row["Ansattnr"]) for row in rows] == list(hires[:5])
        assert hr.attribute("list.rows", "data-ansattnr") == rows[0]["Ansattnr"]
        assert hr.attribute("list.next_page", "href") == "?q=&side=2"
        assert hr.attribute("list.table", "data-finnes-ikke") is None
        hr.close()


def _selectors_with(tmp_path: Path, extra: str) -> Path:
    copy = tmp_path / "selectors"
    shutil.copytree(ROOT / "selectors", copy)
    hr = copy / "hr.yaml"
    hr.write_text(hr.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return copy


def test_the_browser_language_is_per_system_and_select_takes_a_value(
    sqlite_env: Env, sandbox: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The portal labels its options by the browser's language. With the default nb-NO the
    labels are Norwegian and a select by value works whatever the labels say; with
    `locale: en-US` in the system's selectors file the labels are English."""
    with robot_host(sandbox, monkeypatch) as (settings, host):
        hr = open_system(host, "hr", settings, logger)
        hr.start_logged_in()
        hr.goto("/oppslag")
        options = hr.locate("board.priority").locator("option")
        assert options.all_inner_texts() == ["Haster", "Vanlig"]
        hr.select("board.priority", "normal")  # by value
        assert hr.locate("board.priority").input_value() == "normal"
        hr.select("board.priority", "Haster")  # no option has that value: by label
        assert hr.locate("board.priority").input_value() == "urgent"
        hr.close()

    english = _selectors_with(tmp_path, "locale: en-US\n")
    with robot_host(sandbox, monkeypatch, RPA_SELECTORS_DIR=str(english)) as (settings, host):
        hr = open_system(host, "hr", settings, logger)
        hr.start_logged_in()
        hr.goto("/oppslag")
        options = hr.locate("board.priority").locator("option")
        assert options.all_inner_texts() == ["Urgent", "Normal"]
        hr.select("board.priority", "Normal")
        assert hr.locate("board.priority").input_value() == "normal"
        hr.close()


def test_page_paths_are_relative_to_the_base_url_and_its_path() -> None:
    """A system served under a path keeps it for page, login and probe paths."""
    assert system_url("http://host/tracker", "/saker/1") == "http://host/tracker/saker/1"
    assert system_url("http://host/tracker/", "saker?q=a/b") == "http://host/tracker/saker?q=a/b"
    assert system_url("http://host", "/login") == "http://host/login"
    assert system_url("http://host/tracker", "https://other/x") == "https://other/x"


def test_a_session_keeps_the_base_url_s_path(
    sqlite_env: Env, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SystemSession.url, which goto and login use, keeps a base URL's path."""
    urls = '{"hr": "http://127.0.0.1:9/tracker"}'
    with robot_host(sandbox, monkeypatch, RPA_SYSTEM_URLS=urls) as (settings, host):
        hr = open_system(host, "hr", settings, logger)
        assert hr.url("/ansatte/7") == "http://127.0.0.1:9/tracker/ansatte/7"
        assert hr.url("/login") == "http://127.0.0.1:9/tracker/login"
        hr.close()
