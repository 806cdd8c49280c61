"""Every command of `runner.py` (sub-apps and plugin commands included) is run at least once
as a subprocess somewhere in tests/: a command nobody runs can break unseen (issue 23)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer.main

from robots.cli import app, load_plugins

TESTS = Path(__file__).resolve().parent
# The helpers that start runner.py as a subprocess: Env.runner / Env.start (tests/conftest.py).
SUBPROCESS_HELPERS = {"runner", "start"}


def commands() -> set[tuple[str, ...]]:
    """Every leaf command of the Typer app as its words, e.g. ("items", "retry")."""
    load_plugins()

    def walk(command: Any, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        subs = getattr(command, "commands", None)  # a group (typer vendors its own click)
        if subs is None:
            yield path
            return
        for name, sub in subs.items():
            yield from walk(sub, (*path, name))

    return set(walk(typer.main.get_command(app), ()))


def invoked() -> set[tuple[str, ...]]:
    """The leading string arguments of every `<env>.runner(...)` / `<env>.start(...)` call in
    the test files: the words a test passes to runner.py."""
    found: set[tuple[str, ...]] = set()
    for path in TESTS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in SUBPROCESS_HELPERS
            ):
                continue
            words: list[str] = []
            for arg in node.args:
                if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                    break
                words.append(arg.value)
            found.add(tuple(words))
    return found


def test_the_scan_sees_a_known_invocation() -> None:
    """The scanner itself: this file's own example below must be found (else the test below
    would pass on a scanner that finds nothing)."""
    assert ("items", "retry", "--example") in invoked()


def _example(env: Any) -> None:  # never run; read by the scanner only
    env.runner("items", "retry", "--example")


def test_every_command_has_a_subprocess_test() -> None:
    calls = invoked() - {("items", "retry", "--example")}
    missing = sorted(
        " ".join(command)
        for command in commands()
        if not any(call[: len(command)] == command for call in calls)
    )
    assert not missing, f"commands without a subprocess test: {', '.join(missing)}"
