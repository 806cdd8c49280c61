"""What a run was made of, so that any decision can be explained later (forvaltningsloven
§§ 11-13: a person can get an explanation, and the legal content of the automation is
documented): the version of the code (package version, git commit when run from a checkout,
a hash of the task's module) and a SHA-256 of every configuration file the run read (the flow's
YAML, templates, selector files). The worker stores it on the run; the run report shows it."""

from __future__ import annotations

import hashlib
import inspect
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Any

from robots.config import ROOT

_reads: ContextVar[dict[str, str] | None] = ContextVar("rpa_config_reads", default=None)


def start() -> None:
    """Begin recording the configuration files this run reads."""
    _reads.set({})


def read(path: Path) -> None:
    """Called by the config loaders for every file they hand out."""
    reads = _reads.get()
    if reads is not None and path.exists():
        reads[_shown(path)] = file_hash(path)


def finish() -> dict[str, str]:
    reads = _reads.get() or {}
    _reads.set(None)
    return dict(sorted(reads.items()))


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT.resolve()))
    except ValueError:
        return str(path)


@lru_cache(maxsize=256)
def _hash_of(path: str, mtime: float) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def file_hash(path: Path) -> str:
    return _hash_of(str(path.resolve()), path.stat().st_mtime)


@lru_cache(maxsize=1)
def code_version() -> dict[str, str]:
    """The package version and, in a checkout, the git commit (read from .git, no git needed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = {"package": f"kommune-rpa {version('kommune-rpa')}"}
    except PackageNotFoundError:
        found = {"package": "kommune-rpa (ikke installert)"}
    commit = _git_commit(ROOT / ".git")
    if commit:
        found["git"] = commit
    return found


def _git_commit(git: Path) -> str:
    if git.is_file():  # a worktree: "gitdir: <path>"
        git = Path(git.read_text().split(":", 1)[1].strip())
    head = git / "HEAD"
    if not head.exists():
        return ""
    ref = head.read_text().strip()
    if not ref.startswith("ref: "):
        return ref
    name = ref[5:]
    for base in (git, _common(git)):
        loose = base / name
        if loose.exists():
            return loose.read_text().strip()
        packed = base / "packed-refs"
        if packed.exists():
            for line in packed.read_text().splitlines():
                if line.endswith(" " + name):
                    return line.split(" ", 1)[0]
    return ""


def _common(git: Path) -> Path:
    common = git / "commondir"
    return (git / common.read_text().strip()).resolve() if common.exists() else git


def task_module_hash(func: Any) -> str:
    """SHA-256 of the source file of the module that defines the task function."""
    source = inspect.getsourcefile(func)
    return file_hash(Path(source)) if source else ""


def for_run(func: Any) -> dict[str, Any]:
    """What the worker stores on a run: code version, the task module's hash, config read."""
    return {**code_version(), "task_module": task_module_hash(func), "config": finish()}
