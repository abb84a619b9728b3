"""The ``framegate`` command."""

from __future__ import annotations

import logging
import os
from typing import Any

import typer

from .admin import credits_app, keys_app, ledger_app
from .client import generate

app = typer.Typer(
    help="Framegate: one API for many open video diffusion models.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(keys_app, name="keys")
app.add_typer(credits_app, name="credits")
app.add_typer(ledger_app, name="ledger")
app.command("generate")(generate)


@app.command()
def serve(
    host: str | None = typer.Option(None, help="bind address (FRAMEGATE_HOST, default 127.0.0.1)"),
    port: int | None = typer.Option(None, help="port (FRAMEGATE_PORT, default 8000)"),
    workers: int | None = typer.Option(None, help="in-process job workers per process (FRAMEGATE_WORKERS)"),
    role: str | None = typer.Option(
        None, help="gateway (default) or worker: run jobs for an upstream gateway"
    ),
    processes: int = typer.Option(1, min=1, help="gateway processes sharing the port and the database"),
) -> None:
    """Run the gateway with its in-process workers (SQLite in ./.framegate by default)."""
    import uvicorn

    from ..app import create_app
    from ..settings import Settings

    # Weights only ever load from local disk; make any stray Hub lookup fail instead of downloading.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    overrides: dict[str, Any] = {
        k: v
        for k, v in (("host", host), ("port", port), ("workers", workers), ("role", role))
        if v is not None
    }
    # Several processes each build their own app from the environment: pass the overrides down.
    for name, value in overrides.items():
        os.environ[f"FRAMEGATE_{name.upper()}"] = str(value)
    settings = Settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if processes > 1:
        uvicorn.run(
            "gateway.app:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=processes,
            log_level="info",
            access_log=False,
        )
    else:
        uvicorn.run(
            create_app(settings), host=settings.host, port=settings.port, log_level="info", access_log=False
        )


@app.command("models")
def models() -> None:
    """List the models this gateway would serve (from the built-ins and FRAMEGATE_CONFIG)."""
    from ..app import build_backends
    from ..config import load_config
    from ..settings import Settings

    settings = Settings()
    _, offers = build_backends(settings, load_config(settings.config))
    typer.echo(f"{'MODEL':<24} {'BACKEND':<10} {'MODES':<9} {'DEFAULT SIZE':<13} {'FRAMES':<26} CREDITS/S")
    for offer in sorted(offers, key=lambda o: o.spec.id):
        spec = offer.spec
        size = "{}x{}".format(*spec.sizes.default)
        typer.echo(
            f"{spec.id:<24} {offer.backend:<10} {','.join(sorted(spec.modes)):<9} {size:<13} "
            f"{spec.frames.describe():<26} {spec.price_per_second:g}"
        )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
