"""What every `privateline` subcommand shares: consoles, the config option, wiring, failing cleanly."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from privateline.app.config import ConfigError, Settings, load_settings
from privateline.app.logs import configure_logging
from privateline.app.migrate import pending
from privateline.app.system import System, build_system
from privateline.register.loader import RegisterError

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="A TOML configuration file (also: $PRIVATELINE_CONFIG)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(code)


def settings_from(config: Path | None, **overrides: object) -> Settings:
    try:
        settings = load_settings(config, **overrides)
    except ConfigError as exc:
        fail(str(exc))
    configure_logging(settings.log_level, settings.log_format)
    return settings


def system_from(config: Path | None, **overrides: object) -> System:
    settings = settings_from(config, **overrides)
    try:
        return build_system(settings)
    except RegisterError as exc:
        fail(exc.describe())
    except ValueError as exc:
        fail(str(exc))


def migrated_system_from(config: Path | None) -> System:
    """The system, for commands that read or change data: refused on a schema that is not up to date."""
    system = system_from(config)
    if pending(system.database):
        system.close()
        fail("the database schema is not up to date: run `privateline migrate` first")
    return system
