"""The optional TOML config file (``FRAMEGATE_CONFIG``): models, prices and extra backends.

```toml
[prices]            # credits per second of video, by model id (at its default size and steps)
"wan-tiny" = 2.0
"wan-1.3b" = { per_second = 20, base_size = "832x480", base_steps = 30 }

[[billing.packs]]   # credit packs sold through Stripe Checkout
id = "starter"
credits = 1000
price_cents = 1000

[[models]]          # catalog entries (see local_models.CatalogEntry)
id = "wan-1.3b"
family = "wan"
weights = "/models/Wan2.1-T2V-1.3B-Diffusers"

[routes]
fallbacks = { "wan-14b" = ["wan-1.3b", "ltx"] }   # an explicit model, then these if it fails
defaults = { policy = "balanced" }                 # for requests that say nothing
keys = { "key_0123" = { policy = "fastest", max_price = 5 } }  # per API key
allow = { "key_0123" = ["local", "fal"] }          # per API key: only these models/backends/providers

[backends.chaos]    # adapters by registered type
type = "fake"
fail_rate = 0.5
```
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "BackendConfig",
    "BillingConfig",
    "ConfigError",
    "FileConfig",
    "PackConfig",
    "PriceConfig",
    "RoutesConfig",
    "load_config",
    "registered_models",
]


class ConfigError(Exception):
    code = "invalid_config"


class BackendConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str


Credits = Annotated[float, Field(ge=0, le=1_000_000, allow_inf_nan=False)]


class PriceConfig(BaseModel):
    """``per_second`` credits at ``base_size`` and ``base_steps`` (each scaling is off if unset);
    ``sizes`` credits per second by ``WxH`` tier (hosted providers); ``per_clip`` credits per clip."""

    model_config = ConfigDict(extra="forbid")

    per_second: Credits = 0.0
    base_size: str | None = None
    base_steps: int | None = Field(default=None, ge=1)
    per_clip: Credits = 0.0
    sizes: dict[str, Credits] = Field(default_factory=dict)


class PackConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    credits: float = Field(gt=0)
    price_cents: int = Field(gt=0)
    currency: str = "usd"
    name: str | None = None


class BillingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    packs: list[PackConfig] = Field(default_factory=list)


class RoutesConfig(BaseModel):
    """``[routes]``: fallback chains per model, the default routing, and per-key defaults."""

    model_config = ConfigDict(extra="forbid")

    fallbacks: dict[str, list[str]] = Field(default_factory=dict)
    defaults: dict[str, Any] = Field(default_factory=dict)
    keys: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # Per key id: the only models, backends or providers its requests may use (a team barred from a
    # costly provider). Keys not listed may use everything.
    allow: dict[str, list[str]] = Field(default_factory=dict)


class FileConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    models: list[dict[str, Any]] = Field(default_factory=list)
    prices: dict[str, Credits | PriceConfig] = Field(default_factory=dict)
    backends: dict[str, BackendConfig] = Field(default_factory=dict)
    billing: BillingConfig = Field(default_factory=BillingConfig)
    routes: RoutesConfig = Field(default_factory=RoutesConfig)
    builtin_models: bool = True


def registered_models(data_dir: Path) -> list[dict[str, Any]]:
    """Models added with ``framegate models add`` (kept in ``DATA_DIR/models.toml``)."""
    path = data_dir / "models.toml"
    if not path.is_file():
        return []
    return list(tomllib.loads(path.read_text()).get("models", []))


def load_config(path: Path | None, data_dir: Path | None = None) -> FileConfig:
    """Parse and validate the config file (no file means the defaults), plus registered models."""
    config = _load_file(path)
    if data_dir is not None:
        config.models = [*registered_models(data_dir), *config.models]
    return config


def _load_file(path: Path | None) -> FileConfig:
    if path is None:
        return FileConfig()
    try:
        raw = tomllib.loads(Path(path).read_text())
        return FileConfig.model_validate(raw)
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} does not exist") from exc
    except (tomllib.TOMLDecodeError, ValidationError) as exc:
        raise ConfigError(f"config file {path} is invalid: {exc}") from exc
