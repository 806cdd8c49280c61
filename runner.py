#!/usr/bin/env python3
"""The single entry point: `python runner.py <command>` (see `python runner.py --help`)."""

from __future__ import annotations

import sys

EXIT_CODES = {
    "InvalidPayload": 3,
    "ValueError": 3,
    "UnknownTask": 4,
    "DatabaseUnavailable": 5,
    "SchemaOutdated": 6,
    "SettingsError": 7,
    "ScheduleError": 7,
    "SelectorFileError": 7,
    "BrowserNotFound": 11,
    "VaultError": 11,
    "ItemNotFound": 8,
    "InvalidTransition": 8,
}


def main() -> int:
    from rich.console import Console

    err = Console(stderr=True, highlight=False)
    try:
        from robots.cli import app

        app()
    except Exception as exc:  # map known failures to a message and an exit code
        from robots.masking import mask_text

        code = next((c for cls in type(exc).__mro__ if (c := EXIT_CODES.get(cls.__name__))), None)
        if code is None:
            raise
        err.print(f"[red]Feil:[/red] {mask_text(str(exc))}", markup=True)
        return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
