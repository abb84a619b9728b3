"""The configured backends: local model pools, hosted providers and others by registered type, and
every (model, backend) offer with its price from the config."""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from adapters import Adapter, LocalAdapter, create_adapter
from adapters.registry import HOSTED_TYPES
from billing import PriceRule
from gateway.config import ConfigError, FileConfig, PriceConfig
from gateway.engine.errors import InvalidRequest
from gateway.engine.outbound import AddressPolicy
from gateway.metrics import Metrics
from gateway.settings import Settings
from local_models import Catalog, InvalidInput, LoadedPipeline, parse_size
from router import Offer, default_price

__all__ = ["build_backends"]

log = logging.getLogger("framegate")


def build_backends(
    settings: Settings, config: FileConfig, metrics: Metrics | None = None
) -> tuple[dict[str, Adapter], list[Offer]]:
    """The configured adapters by name, and every (model, backend) offer with config prices applied."""
    catalog = Catalog.from_config(config.models, builtins=config.builtin_models)
    adapters: dict[str, Adapter] = {}

    def on_load(loaded: LoadedPipeline) -> None:
        if metrics is not None:
            metrics.models_loaded.labels(model=loaded.model_id).inc()
            metrics.model_load_seconds.labels(model=loaded.model_id).observe(loaded.load_seconds)
        # A loaded pipeline is ~250k Python objects that live until it is evicted: out of the cyclic
        # GC's reach, or every full collection rescans them (90-140 ms pauses of the event loop,
        # measured under wrk, as app startup's gc.freeze() found for the rest).
        gc.freeze()

    def on_evict(model_id: str) -> None:
        if metrics is not None:
            metrics.model_evictions.labels(model=model_id).inc()
        # The evicted pipeline's cycles are frozen with everything else: collect them once, refreeze.
        gc.unfreeze()
        gc.collect()
        gc.freeze()

    local_backends = {entry.backend for entry in catalog} - set(config.backends)
    for name in sorted(local_backends):
        adapters[name] = LocalAdapter(
            catalog,
            settings.resolved_models_dir,
            name=name,
            device=settings.device,
            max_loaded=settings.max_loaded_models,
            memory_gb=settings.gpu_memory_gb,
            on_load=on_load,
            on_evict=on_evict,
            max_batch=settings.batch_max,
        )
    for name, backend in config.backends.items():
        options: dict[str, Any] = backend.model_dump(exclude={"type"})
        if backend.type in HOSTED_TYPES:
            options["url_check"] = _result_url_check(settings)
        if backend.type == "ray":
            options["entries"] = catalog.for_backend(name)  # the models its Serve pool runs
        try:
            adapters[name] = create_adapter(backend.type, name=name, **options)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"backend {name!r}: {exc}") from exc
    offers = [Offer(spec, name) for name, adapter in adapters.items() for spec in adapter.models()]
    hosted = {o.spec.id for o in offers if "hosted" in o.spec.extras}
    for model in sorted(hosted & {o.spec.id for o in offers if "hosted" not in o.spec.extras}):
        log.warning("model %r is both a hosted model and a local one: the router treats them as one", model)
    known = {offer.spec.id for offer in offers}
    unknown = sorted(set(config.prices) - known)
    if unknown:
        raise ConfigError(f"[prices] names unknown models: {', '.join(unknown)}")
    if settings.role == "worker":
        # A worker node runs jobs for an upstream gateway, which does the billing: nothing costs here.
        return adapters, [Offer(o.spec, o.backend, PriceRule(0.0)) for o in offers]
    return adapters, [_priced(offer, config.prices.get(offer.spec.id)) for offer in offers]


def _tiers(offer: Offer, price: PriceConfig) -> tuple[tuple[str, float], ...]:
    """``price.sizes`` as (``WxH``, credits per second): each a size the model renders and, without a
    ``per_second`` or ``per_clip``, every size it renders priced (a missing tier would make clips free)."""
    try:
        tiers = tuple((f"{w}x{h}", v) for (w, h), v in ((parse_size(k), v) for k, v in price.sizes.items()))
    except InvalidInput as exc:
        raise ConfigError(f"model {offer.spec.id!r}: price.sizes: {exc.message}") from None
    allowed = {f"{w}x{h}" for w, h in offer.spec.sizes.allowed or ()}
    if allowed:
        strays = sorted({size for size, _ in tiers} - allowed)
        unpriced = (
            sorted(allowed - {s for s, _ in tiers})
            if tiers and not (price.per_second or price.per_clip)
            else []
        )
        if strays or unpriced:
            problem = (
                f"names sizes it does not render: {', '.join(strays)}"
                if strays
                else (f"has no tier for {', '.join(unpriced)}, and per_second and per_clip are 0")
            )
            raise ConfigError(f"model {offer.spec.id!r}: price.sizes {problem}")
    return tiers


def _result_url_check(settings: Settings) -> Callable[[str], str | None]:
    """The outbound address rules, for the result URLs a hosted provider hands back."""
    policy = AddressPolicy.of(settings.outbound_allow_http, settings.outbound_allow_networks)

    def check(url: str) -> str | None:
        try:
            policy.check_url(url, param="result_url")
            policy.check_host(url, param="result_url")
        except InvalidRequest as exc:
            return exc.message
        return None

    return check


def _priced(offer: Offer, price: float | PriceConfig | None) -> Offer:
    if price is None and "price" in offer.spec.extras:  # a hosted model's price, from its backend's config
        try:
            price = PriceConfig.model_validate(offer.spec.extras["price"])
        except ValidationError as exc:
            raise ConfigError(f"model {offer.spec.id!r}: invalid price: {exc}") from exc
    if price is None:
        return offer
    if isinstance(price, (int, float)):
        rule = default_price(offer.spec.with_overrides(price_per_second=float(price)))
    else:
        base = parse_size(price.base_size) if price.base_size else None
        tiers = _tiers(offer, price)
        rule = PriceRule(
            price.per_second, base[0] * base[1] if base else None, price.base_steps, price.per_clip, tiers
        )
    return Offer(offer.spec.with_overrides(price_per_second=rule.per_second), offer.backend, rule)
