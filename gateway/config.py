"""The optional TOML config file (``FRAMEGATE_CONFIG``): models, prices and extra backends.

```toml
[prices]            # credits per second of video, by model id
"wan-tiny" = 2.0

[[models]]          # catalog entries (see local_models.CatalogEntry)
id = "wan-1.3b"
family = "wan"
weights = "/models/Wan2.1-T2V-1.3B-Diffusers"

[backends.chaos]    # adapters by registered type
type = "fake"
fail_rate = 0.5
```
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = ["BackendConfig", "ConfigError", "FileConfig", "load_config"]


class ConfigError(Exception):
    code = "invalid_config"


class BackendConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str


class FileConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    models: list[dict[str, Any]] = Field(default_factory=list)
    prices: dict[str, float] = Field(default_factory=dict)
    backends: dict[str, BackendConfig] = Field(default_factory=dict)
    builtin_models: bool = True


def load_config(path: Path | None) -> FileConfig:
    """Parse and validate the config file; no file means the defaults."""
    if path is None:
        return FileConfig()
    try:
        raw = tomllib.loads(Path(path).read_text())
        return FileConfig.model_validate(raw)
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} does not exist") from exc
    except (tomllib.TOMLDecodeError, ValidationError) as exc:
        raise ConfigError(f"config file {path} is invalid: {exc}") from exc
