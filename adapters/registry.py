"""Adapter types registered by name, so that config can say ``type = "fake"``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .base import Adapter

__all__ = ["HOSTED_TYPES", "AdapterFactory", "adapter_types", "create_adapter", "register_adapter_type"]

AdapterFactory = Callable[..., Adapter]
_TYPES: dict[str, AdapterFactory] = {}


def register_adapter_type(type_name: str, factory: AdapterFactory) -> None:
    """Make ``type_name`` available to backend config entries."""
    _TYPES[type_name] = factory


def adapter_types() -> list[str]:
    return sorted(_TYPES)


def create_adapter(type_name: str, **options: Any) -> Adapter:
    try:
        factory = _TYPES[type_name]
    except KeyError:
        raise ValueError(
            f"unknown adapter type {type_name!r} (known: {', '.join(adapter_types())})"
        ) from None
    return factory(**options)


def _fake(name: str, models: list[dict[str, Any]] | None = None, **behaviour: Any) -> Adapter:
    from local_models import ModelSpec

    from .fake import FakeAdapter, FakeBehaviour, fake_model_spec

    specs: list[ModelSpec] = []
    for raw in models or [{}]:
        specs.append(
            fake_model_spec(
                raw.get("id", "fake-video"),
                price_per_second=float(raw.get("price_per_second", 1.0)),
                modes=raw.get("modes", ("t2v", "i2v")),
            )
        )
    return FakeAdapter(name, specs, FakeBehaviour(**behaviour))


def _remote(
    name: str, url: str, api_key: str, models: list[str] | None = None, timeout: float = 30.0
) -> Adapter:
    from .remote import RemoteAdapter

    return RemoteAdapter(name, url, api_key, models=models, timeout=timeout)


def _ray(
    name: str,
    entries: list[Any] | None = None,
    address: str | None = None,
    app: str | None = None,
    replicas: int = 1,
    gpus_per_replica: float = 1.0,
    cpus_per_replica: float = 1.0,
    max_models_per_replica: int = 2,
) -> Adapter:
    # The pool's shape (replicas, GPUs, models per replica) is read by `framegate ray up`, not here.
    from .ray_serve import RayAdapter

    return RayAdapter(name, entries or [], address=address, app=app)


_HOSTED_URLS = {
    "fal": "https://queue.fal.run",
    "openai": "https://api.openai.com/v1",
    "replicate": "https://api.replicate.com",
    "veo": "https://generativelanguage.googleapis.com",
}


def _hosted(kind: str) -> AdapterFactory:
    def factory(
        name: str,
        models: list[dict[str, Any]],
        url: str | None = None,
        api_key: str | None = None,
        api_key_env: str | None = None,
        api_key_file: str | None = None,
        cancel_after: str = "30m",
        webhook_url: str | None = None,
        **options: Any,
    ) -> Adapter:
        from .fal import FalProvider
        from .hosted import HostedAdapter, Provider
        from .hosted_models import api_key_from
        from .openai_videos import OpenAIVideosProvider
        from .replicate import ReplicateProvider
        from .veo import VeoProvider

        providers: dict[str, Callable[[], Provider]] = {
            "fal": FalProvider,
            "openai": OpenAIVideosProvider,
            "veo": VeoProvider,
            "replicate": lambda: ReplicateProvider(cancel_after, webhook_url),
        }
        provider = providers[kind]()
        key = api_key_from(api_key, api_key_env, api_key_file)
        return HostedAdapter(
            name, provider, url=url or _HOSTED_URLS[kind], api_key=key, models=models, **options
        )

    return factory


HOSTED_TYPES = tuple(_HOSTED_URLS)
"""Adapter types that reach a hosted provider (they take ``url_check`` for result URLs)."""

for _kind in _HOSTED_URLS:
    register_adapter_type(_kind, _hosted(_kind))
register_adapter_type("fake", _fake)
register_adapter_type("ray", _ray)
register_adapter_type("remote", _remote)
