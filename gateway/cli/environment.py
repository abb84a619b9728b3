"""The commands' settings: read from ``FRAMEGATE_*`` variables, a bad value named in one line."""

from __future__ import annotations

import typer
from pydantic import ValidationError

from gateway.settings import Settings

__all__ = ["settings_from_env"]


def settings_from_env() -> Settings:
    """The gateway's settings from the environment. A value that does not fit (``FRAMEGATE_WORKER_NICE=20``)
    ends the command with exit status 2 and one line per variable, not a traceback."""
    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            typer.echo(f"FRAMEGATE_{field.upper()}: {error['msg']} (got {error.get('input')!r})", err=True)
        raise typer.Exit(2) from None
