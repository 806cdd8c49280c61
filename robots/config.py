"""Where the installation's own files are, and the one loader the flows read their
configuration through.

Relative paths in the settings (`config_dir`, `selectors_dir`, `schedules_file`, `data_dir`)
mean: inside the checkout when the program runs from one, else inside the current directory.
A file that is not there falls back to the defaults installed with the package
(`<prefix>/share/kommune-rpa/`), so `pip install kommune-rpa` gives a working `rpa` command
outside any checkout.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from robots.settings import Settings

_PACKAGE_PARENT = Path(__file__).resolve().parent.parent
# A checkout (or an editable install) has its pyproject.toml beside the package.
ROOT = _PACKAGE_PARENT if (_PACKAGE_PARENT / "pyproject.toml").exists() else Path.cwd()
INSTALLED = Path(sys.prefix) / "share" / "kommune-rpa"


def resolve(path: Path | str) -> Path:
    """An absolute path for a configured one: as given if absolute; else under ROOT, or under
    the installed defaults when ROOT has no such file."""
    path = Path(path)
    if path.is_absolute():
        return path
    local = ROOT / path
    if local.exists():
        return local
    installed = INSTALLED / path
    return installed if installed.exists() else local


def config_path(name: str, settings: Settings | None = None) -> Path:
    """A file in the configuration directory (setting `config_dir`), e.g. a template. The run
    that asks records the file's hash (robots.provenance)."""
    from robots import provenance

    path = _settings(settings).config_path / name
    provenance.read(path)
    return path


_CACHE: dict[Path, tuple[float, dict[str, Any]]] = {}


def load_yaml(name: str, settings: Settings | None = None) -> dict[str, Any]:
    """A flow's YAML file from the configuration directory, parsed once per change on disk."""
    path = config_path(name, settings)
    mtime = path.stat().st_mtime
    cached = _CACHE.get(path)
    if cached is None or cached[0] != mtime:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: forventet en YAML-mapping på toppnivå")
        cached = (mtime, loaded)
        _CACHE[path] = cached
    return cached[1]


def _settings(settings: Settings | None) -> Settings:
    if settings is not None:
        return settings
    from robots.settings import get_settings

    return get_settings()
