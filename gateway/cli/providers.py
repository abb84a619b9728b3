"""``framegate providers``: the configured hosted providers, their models and prices, and how their
last jobs went (from the database, so it works whether or not the gateway is running)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import typer
from sqlalchemy import func, select

from gateway.cli.admin import open_db, utc_time
from gateway.engine.db import jobs

__all__ = ["providers"]


def providers() -> None:
    """List hosted providers: models, prices, and each backend's last job and last failure."""
    from adapters.hosted import HostedAdapter
    from gateway.app import build_backends
    from gateway.cli.environment import settings_from_env
    from gateway.config import ConfigError, load_config

    settings = settings_from_env()
    try:
        adapters, offers = build_backends(settings, load_config(settings.config, settings.data_dir))
    except ConfigError as exc:
        typer.echo(f"framegate: config: {exc}", err=True)
        raise typer.Exit(2) from None
    hosted = {name: a for name, a in adapters.items() if isinstance(a, HostedAdapter)}
    if not hosted:
        typer.echo("no hosted providers are configured (see the README's 'Hosted providers')")
        return
    prices = {(o.backend, o.spec.id): o.price_rule.as_dict() for o in offers}
    db = open_db()
    try:
        for name, adapter in sorted(hosted.items()):
            last = _last_jobs(db, name)
            typer.echo(
                f"{name}  ({adapter.provider.kind}, {adapter.base_url}, {adapter.concurrency} at once)"
            )
            typer.echo(f"  health: {last}")
            for model in adapter.hosted_models():
                spec = model.spec
                sizes = ",".join(f"{w}x{h}" for w, h in spec.sizes.allowed or ())
                seconds = ",".join(f"{s:g}" for s in spec.seconds_allowed or ())
                typer.echo(
                    f"  {spec.id:<22} -> {model.target:<40} {','.join(sorted(spec.modes)):<8} "
                    f"{sizes} {seconds}s  price {_price(prices.get((name, spec.id), {}))}"
                )
    finally:
        db.dispose()
        for each in adapters.values():
            each.close()


def _shown_url(url: str) -> str:
    """The URL without credentials or a query (where a careless config may have put a key)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{parts.path}"


def _price(rule: dict[str, Any]) -> str:
    parts = [f"{rule.get('credits_per_second', 0):g}/s"]
    if rule.get("credits_per_second_by_size"):
        parts = [f"{v:g}/s at {k}" for k, v in rule["credits_per_second_by_size"].items()]
    if rule.get("credits_per_clip"):
        parts.append(f"+{rule['credits_per_clip']:g}/clip")
    return " ".join(parts)


def _last_jobs(db: Any, backend: str) -> str:
    with db.read() as conn:
        done = conn.execute(
            select(jobs.c.status, jobs.c.error_code, jobs.c.completed_at)
            .where(jobs.c.backend == backend, jobs.c.status.in_(("completed", "failed")))
            .order_by(jobs.c.completed_at.desc())
            .limit(1)
        ).first()
        failures = conn.execute(  # a cancel is the caller's doing, not the provider's
            select(func.count()).where(
                jobs.c.backend == backend, jobs.c.status == "failed", jobs.c.error_code != "cancelled"
            )
        ).scalar_one()
        running = conn.execute(
            select(func.count()).where(jobs.c.backend == backend, jobs.c.status == "in_progress")
        ).scalar_one()
    if done is None:
        return f"no finished jobs yet; {running} running"
    outcome = done.status if done.error_code is None else f"{done.status} ({done.error_code})"
    return f"last job {outcome} at {utc_time(done.completed_at)}; {failures} failed in all; {running} running"
