"""The ``framegate`` command."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import typer

from gateway.cli.admin import credits_app, keys_app, ledger_app
from gateway.cli.client import generate
from gateway.cli.providers import providers

app = typer.Typer(
    help="Framegate: one API for many open video diffusion models.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(keys_app, name="keys")
app.add_typer(credits_app, name="credits")
app.add_typer(ledger_app, name="ledger")
app.command("generate")(generate)
app.command("providers")(providers)


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

    from gateway.app import create_app
    from gateway.cli.environment import settings_from_env

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
    settings = settings_from_env()
    _check_config(settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The standard asyncio loop, not uvloop: under saturation uvloop left some connections unserved
    # for up to 2 s while others were answered (p99 1.1 s vs 0.12 s at the same throughput,
    # ``wrk -c64`` against a bare ASGI app on this 2-core machine; see bench/tail.py).
    loop = "asyncio"
    if processes > 1:
        uvicorn.run(
            "gateway.app:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=processes,
            log_level="info",
            access_log=False,
            loop=loop,
        )
    else:
        uvicorn.run(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            log_level="info",
            access_log=False,
            loop=loop,
        )


models_app = typer.Typer(
    help="List models (framegate models) and register one (framegate models add).",
    invoke_without_command=True,
)
app.add_typer(models_app, name="models")


@models_app.callback()
def models(ctx: typer.Context) -> None:
    """List the models this gateway would serve (built-ins, FRAMEGATE_CONFIG, and added models)."""
    if ctx.invoked_subcommand is not None:
        return
    from gateway.app import build_backends
    from gateway.cli.environment import settings_from_env
    from gateway.config import load_config

    settings = settings_from_env()
    _, offers = build_backends(settings, load_config(settings.config, settings.data_dir))
    typer.echo(f"{'MODEL':<24} {'BACKEND':<10} {'MODES':<9} {'DEFAULT SIZE':<13} {'FRAMES':<26} CREDITS/S")
    for offer in sorted(offers, key=lambda o: o.spec.id):
        spec = offer.spec
        size = "{}x{}".format(*spec.sizes.default)
        typer.echo(
            f"{spec.id:<24} {offer.backend:<10} {','.join(sorted(spec.modes)):<9} {size:<13} "
            f"{spec.frames.describe():<26} {spec.price_per_second:g}"
        )


def _check_config(settings: Any) -> None:
    """Fail before the server starts, with one line, when the config or a model entry is wrong."""
    from gateway.app import build_backends
    from gateway.config import ConfigError, load_config
    from local_models import LocalModelError

    try:
        adapters, _ = build_backends(settings, load_config(settings.config, settings.data_dir))
    except ConfigError as exc:
        typer.echo(f"framegate: config: {exc}", err=True)
        raise typer.Exit(2) from None
    except LocalModelError as exc:
        typer.echo(f"framegate: config: {exc.message}", err=True)
        raise typer.Exit(2) from None
    for adapter in adapters.values():
        adapter.close()


@models_app.command("add")
def models_add(
    path: Path = typer.Option(
        ..., exists=True, file_okay=False, help="a diffusers folder (model_index.json)"
    ),
    id: str | None = typer.Option(None, help="model id (default: the folder's name, lower-cased)"),
    family: str | None = typer.Option(None, help="family (default: detected from model_index.json)"),
) -> None:
    """Validate a local diffusers folder and register it; weights are never downloaded."""
    import json
    import re

    from gateway.cli.environment import settings_from_env
    from gateway.config import registered_models
    from local_models import CatalogEntry, LocalModelError, detect_family, get_family

    index_path = path / "model_index.json"
    if not index_path.is_file():
        typer.echo(f"{path} is not a diffusers folder (no model_index.json)", err=True)
        raise typer.Exit(1)
    index = json.loads(index_path.read_text())
    missing = [
        name
        for name, spec in index.items()
        if not name.startswith("_") and isinstance(spec, list) and spec[0] and not (path / name).is_dir()
    ]
    if missing:
        typer.echo(f"{path} is incomplete: missing {', '.join(missing)}", err=True)
        raise typer.Exit(1)
    try:
        family = family or detect_family(index)
        model_id = id or re.sub(r"[^a-z0-9._-]+", "-", path.resolve().name.lower()).strip("-")
        entry = CatalogEntry(id=model_id, family=family, weights=str(path.resolve()))
        spec = get_family(family).spec(entry)
    except (LocalModelError, ValueError) as exc:
        typer.echo(f"cannot register {path}: {getattr(exc, 'message', exc)}", err=True)
        raise typer.Exit(1) from None
    settings = settings_from_env()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    entries = [m for m in registered_models(settings.data_dir) if m.get("id") != model_id]
    entries.append({"id": model_id, "family": family, "weights": str(path.resolve())})
    lines = []
    for m in entries:
        lines += ["[[models]]", *(f"{k} = {json.dumps(v)}" for k, v in m.items()), ""]
    (settings.data_dir / "models.toml").write_text("\n".join(lines))
    typer.echo(
        f"registered {model_id} ({family}, {', '.join(sorted(spec.modes))}, frames {spec.frames.describe()}, "
        f"{spec.sizes.describe()}); restart the gateway to serve it"
    )


# "\[": the help is Rich markup, which would read [ray] as a style and drop it.
ray_app = typer.Typer(help="GPU worker pools on Ray Serve (pip install 'framegate\\[ray]').")
app.add_typer(ray_app, name="ray")


@ray_app.command("up")
def ray_up(
    address: str | None = typer.Option(None, help="a running Ray cluster (default: start one here)"),
    device: str | None = typer.Option(None, help="torch device inside replicas (default: cuda if present)"),
) -> None:
    """Deploy every ``type = "ray"`` backend of the config as a Serve application, and keep it up."""
    import time

    from gateway.cli.environment import settings_from_env
    from gateway.config import load_config
    from local_models import Catalog

    try:
        import ray
        from ray import serve

        from adapters.ray_serve import build_app
    except ImportError:
        typer.echo("Ray Serve is not installed: pip install 'framegate[ray]'", err=True)
        raise typer.Exit(2) from None
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings = settings_from_env()
    config = load_config(settings.config, settings.data_dir)
    catalog = Catalog.from_config(config.models, builtins=config.builtin_models)
    pools = {name: b.model_dump() for name, b in config.backends.items() if b.type == "ray"}
    if not pools:
        typer.echo('no backend of type "ray" in the config', err=True)
        raise typer.Exit(2)
    ray.init(address=address, namespace="framegate", log_to_driver=False)
    for name, pool in pools.items():
        entries = catalog.for_backend(name)
        serve.run(
            build_app(
                entries,
                settings.resolved_models_dir,
                max_models_per_replica=int(pool.get("max_models_per_replica", 2)),
                num_replicas=int(pool.get("replicas", 1)),
                num_gpus=float(pool.get("gpus_per_replica", 1.0)),
                num_cpus=float(pool.get("cpus_per_replica", 1.0)),
                device=device,
            ),
            name=name,
            route_prefix=None,
        )
        typer.echo(f"pool {name}: {', '.join(e.id for e in entries) or 'no models'}")
    typer.echo("Ray Serve pools are up; Ctrl-C stops them.")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        serve.shutdown()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
