#!/usr/bin/env python3
"""The single entry point: `python runner.py <command>` (see `python runner.py --help`)."""

from __future__ import annotations

import os
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
    "NotAllowed": 8,
    "ScaffoldError": 3,
    "CrashLoop": 12,
    "SystemFault": 13,
    "TaskPackageError": 7,
}


def main() -> int:
    from rich.console import Console

    err = Console(stderr=True, highlight=False, soft_wrap=True)  # one line, never folded
    try:
        from robots.cli import app

        app()
    except Exception as exc:  # map known failures to a message and an exit code
        from rich.markup import escape

        from robots.masking import mask_text

        code = next((c for cls in type(exc).__mro__ if (c := EXIT_CODES.get(cls.__name__))), None)
        if code is None:  # unexpected: one line, the traceback only when asked for
            if os.environ.get("RPA_DEBUG"):
                raise
            lines = str(exc).strip().splitlines()
            first = lines[0] if lines else ""
            err.print(
                f"[red]Uventet feil:[/red] {escape(mask_text(f'{type(exc).__name__}: {first}'))}"
                " (RPA_DEBUG=1 viser hele sporingen)",
                markup=True,
            )
            return 1
        err.print(f"[red]Feil:[/red] {escape(mask_text(str(exc)))}", markup=True)
        return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
