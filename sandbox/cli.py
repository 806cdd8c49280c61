"""The sandbox's commands, added to `runner.py` / `rpa` through the entry point group
`kommune_rpa.commands` (pyproject.toml): `demo` and `sandbox`. The engine's command line knows
nothing of them."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
    app.command("sandbox")(sandbox)


def demo(
    processes: int = typer.Option(2, "--processes", "-p", min=1, max=16),
    timeout: float = typer.Option(240, help="Maks sekunder demoen venter på elementene."),
) -> None:
    """Start tjenesten, send inn demoarbeid, vis fremdrift og en oppsummering."""
    from robots.browser import require_browser
    from robots.cli import _settings, console
    from sandbox.demo import run_demo

    settings = _settings()
    require_browser(settings.browser_path)  # the demo's robots all use one
    ok = run_demo(settings, processes=processes, timeout=timeout, console=console)
    raise typer.Exit(0 if ok else 1)


def sandbox(
    seed: int = typer.Option(0, help="Frø for feilinjeksjon."),
    error_rate: float = typer.Option(0.0, min=0, max=1, help="Andel HTTP 500-svar."),
    popup_rate: float = typer.Option(0.0, min=0, max=1, help="Andel sider med «Ny versjon»."),
    expiry_rate: float = typer.Option(
        0.0, min=0, max=1, help="Andel forespørsler som avslutter økten."
    ),
    latency_ms: int = typer.Option(0, min=0, help="Forsinkelse per forespørsel."),
    layout_variant: bool = typer.Option(False, help="Endrede id-er og klasser."),
) -> None:
    """Start testsystemene (HR, arkiv, e-post) på lokale porter."""
    from robots.cli import _settings, _wait_for_stop, console, table
    from sandbox.common import Faults
    from sandbox.run import Ports, Sandbox

    settings = _settings()
    faults = Faults(
        seed=seed,
        error_rate=error_rate,
        popup_rate=popup_rate,
        session_expiry_rate=expiry_rate,
        latency_ms=latency_ms,
        layout_variant=layout_variant,
    )
    ports = Ports(
        settings.sandbox_hr_port,
        settings.sandbox_archive_port,
        settings.sandbox_mail_port,
        settings.sandbox_smtp_port,
    )
    box = Sandbox(settings.data_path / "sandbox", ports=ports, faults=faults).start()
    systems = table("System", "Adresse", "Innlogging")
    for row in box.describe():
        systems.add_row(*row)
    console.print(systems)
    console.print("Stopp med Ctrl+C.")
    stop = _wait_for_stop()
    stop.wait()
    box.stop()
