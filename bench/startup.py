"""Command-line start-up: `runner.py --help`, `items list` and one `submit`, against bare Python
(`python -c pass`), measured side by side in the same run.

    python bench/startup.py [--repeat 5]

Figures: median wall time of each command and its time above bare Python (target: under 0.5 s
on an idle machine), and whether the browser (playwright), console (fastapi) or Excel stacks
were imported by `submit` (they must not be). Nothing is asserted.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("playwright", "fastapi", "openpyxl", "RPA.Excel", "weasyprint")
FLOOR = "import sqlalchemy.orm, pydantic_settings"


def timed(args: list[str], env: dict[str, str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(args, cwd=ROOT, env=env, capture_output=True, check=False)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def imported_heavy(env: dict[str, str]) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "runner.py", "submit", "selftest", "--ref", "imp"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    modules = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    return sorted({h for h in HEAVY for m in modules if m == h or m.startswith(h + ".")})


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "RPA_DATA_DIR": tmp, "RPA_LOG_STDERR": "false"}
        subprocess.run(
            [sys.executable, "runner.py", "db", "upgrade"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        bare = timed([sys.executable, "-c", "pass"], env, args.repeat)
        # The floor of a command that reads the database: the libraries it cannot do without
        # (SQLAlchemy's ORM for the schema, pydantic-settings for the settings), nothing else.
        floor = timed([sys.executable, "-c", FLOOR], env, args.repeat)
        rows = []
        for label, command in (
            ("runner.py --help", ["--help"]),
            ("runner.py items list", ["items", "list"]),
            ("runner.py submit (ett element)", ["submit", "selftest", "--ref", "r{n}"]),
        ):
            n = iter(range(10_000))
            times = []
            for _ in range(args.repeat):
                argv = [a.replace("{n}", str(next(n))) for a in command]
                times.append(timed([sys.executable, "runner.py", *argv], env, 1))
            rows.append((label, statistics.median(times)))
        heavy = imported_heavy(env)
    from rich.console import Console
    from rich.table import Table

    table = Table("Kommando", "Median", "Over ren Python (mål < 0,5 s)", title="bench/startup.py")
    table.add_row("python -c pass", f"{bare:.3f} s", "-")
    table.add_row(f"python -c '{FLOOR}'", f"{floor:.3f} s", f"{floor - bare:.3f} s")
    for label, seconds in rows:
        table.add_row(label, f"{seconds:.3f} s", f"{seconds - bare:.3f} s")
    Console(width=120).print(table)
    print(f"Tunge pakker importert av submit: {', '.join(heavy) or 'ingen'}")


if __name__ == "__main__":
    main()
