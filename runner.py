#!/usr/bin/env python3
"""The single entry point in a checkout: `python runner.py <command>` (installed: `rpa`).
See `python runner.py --help`."""

from __future__ import annotations

import sys

if __name__ == "__main__":
    from robots.cli import main

    sys.exit(main())
