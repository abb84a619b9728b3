"""A hosted backend's config: its models as Framegate sees them (read from config, never guessed), its
options and its key.

```toml
[backends.fal]
type = "fal"
api_key_env = "FAL_KEY"

[[backends.fal.models]]
id = "kling-2"                                      # Framegate's name for it
target = "fal-ai/kling-video/v2/master/text-to-video"  # the provider's
modes = ["t2v"]
sizes = ["1280x720", "720x1280"]                   # the first is the default
seconds = [5, 10]                                  # the lengths it renders
fps = 24
quality = 0.8                                      # 0-1, for the "quality" policy
eta_seconds = 90                                   # the latency prior, until measured
price = { per_second = 28 }                        # or { per_clip = 100 }, { sizes = { "1280x720" = 20 } }
```
"""

from __future__ import annotations

import base64
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from local_models import FrameRule, InvalidInput, ModelSpec, SizeRule, parse_size

from .base import GenerationRequest

__all__ = [
    "HostedModel",
    "api_key_from",
    "aspect_ratio",
    "check_options",
    "hosted_model",
    "model_inputs",
    "models_of",
    "resolution_label",
]

_KEYS = {
    "id",
    "target",
    "modes",
    "sizes",
    "seconds",
    "fps",
    "audio",
    "negative_prompt",
    "seed",
    "quality",
    "eta_seconds",
    "price",
    "description",
    "input",
}


@dataclass(frozen=True)
class HostedModel:
    """One provider model: Framegate's id for it, the provider's name (``target``), its rules."""

    spec: ModelSpec
    target: str
    takes_seed: bool = True
    input: Mapping[str, Any] = field(default_factory=dict)  # fixed fields sent with every request

    @property
    def id(self) -> str:
        return self.spec.id


def hosted_model(raw: Mapping[str, Any], provider: str, backend: str | None = None) -> HostedModel:
    """A model entry of a hosted backend. Raises ``ValueError`` naming the model and what is wrong."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"each model must be a table (id, sizes, seconds, price...), got {raw!r}")
    name = raw.get("id")
    if not isinstance(name, str) or not name:
        raise ValueError("every model entry needs an id")
    try:
        return _parse(raw, name, provider, backend or provider)
    except (TypeError, ValueError, AttributeError, OverflowError, InvalidInput) as exc:
        raise ValueError(f"model {name!r}: {getattr(exc, 'message', exc)}") from None


def _parse(raw: Mapping[str, Any], name: str, provider: str, backend: str) -> HostedModel:
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise ValueError(f"unknown keys: {', '.join(unknown)} (known: {', '.join(sorted(_KEYS))})")
    missing = [key for key in ("sizes", "seconds", "price") if key not in raw]
    if missing:
        raise ValueError(f"{', '.join(missing)} must be given (see the README's 'Hosted providers')")
    if not isinstance(raw["price"], Mapping) or not raw["price"]:
        raise ValueError(
            "price must be a table, e.g. { per_second = 10 }, { per_clip = 50 } or { per_second = 0 }"
        )
    fps = int(raw.get("fps", 24))
    sizes = tuple(parse_size(str(s)) for s in raw["sizes"])
    seconds = tuple(float(s) for s in raw["seconds"])
    if not 1 <= fps <= 240 or not sizes or not seconds:
        raise ValueError("sizes and seconds must be non-empty lists and fps from 1 to 240")
    for length in seconds:
        whole = abs(length * fps - round(length * fps)) < 1e-6 and round(length * fps) >= 1
        if not (math.isfinite(length) and 0 < length <= 600 and whole):
            raise ValueError(f"seconds {length:g} is not a whole number of frames at {fps} fps (up to 600 s)")
    quality, eta = float(raw.get("quality", 0.5)), float(raw.get("eta_seconds", 60.0))
    if not 0 <= quality <= 1 or not (math.isfinite(eta) and 0 < eta <= 86_400):
        raise ValueError("quality must be from 0 to 1 and eta_seconds a positive number of seconds")
    modes = frozenset(raw.get("modes", ["t2v"]))
    if not modes or not modes <= {"t2v", "i2v"}:
        raise ValueError("modes must be t2v and/or i2v")
    frames = [round(s * fps) for s in seconds]
    target = str(raw.get("target", name))
    spec = ModelSpec(
        id=name,
        family=provider,
        modes=modes,  # type: ignore[arg-type]
        frames=FrameRule(1, 0, min(frames), max(frames)),
        sizes=SizeRule(default=sizes[0], allowed=sizes),
        fps=fps,
        default_seconds=seconds[0],
        default_steps=1,
        default_guidance=0.0,
        price_per_second=0.0,  # the backend's price table is applied where offers are priced
        max_steps=1,
        audio=bool(raw.get("audio", False)),
        negative_prompt=bool(raw.get("negative_prompt", False)),
        quality=quality,
        description=str(raw.get("description", f"{target} on {backend} ({provider})")),
        seconds_allowed=seconds,
        # A hosted model has no steps, guidance or frame rate to set; asking for one is refused.
        fixed=frozenset({"steps", "guidance", "fps"}),
        extras={
            "hosted": provider,
            "price": dict(raw["price"]),
            # The ETA prior per frame (steps are 1): measured latency replaces it after the first job.
            "seconds_per_frame_step": eta / frames[0],
            "load_seconds": 0.0,
        },
    )
    return HostedModel(spec, target, bool(raw.get("seed", True)), dict(raw.get("input") or {}))


def api_key_from(api_key: str | None, api_key_env: str | None, api_key_file: str | None) -> str:
    """The provider key from the config's ``api_key``, an environment variable, or a secrets file."""
    if api_key_file:
        try:
            return Path(api_key_file).read_text().strip()
        except OSError as exc:
            raise ValueError(f"api_key_file {api_key_file}: {exc.strerror or exc}") from None
    if api_key_env:
        value = os.environ.get(api_key_env, "")
        if not value:
            raise ValueError(f"the environment variable {api_key_env} (api_key_env) is not set")
        return value
    if api_key is None:
        raise ValueError(
            'no API key: set api_key_env, api_key_file or api_key ("none" for a server without one)'
        )
    return api_key


def check_options(**options: Any) -> None:
    """A hosted backend's options, checked at start: a bad value is named, never silently changed."""
    o = options
    url = urlsplit(str(o["url"]))
    if url.scheme not in ("http", "https") or not url.hostname or url.username or url.password:
        raise ValueError("url must be an http(s) URL without credentials (the key goes in api_key*)")
    if not isinstance(o["concurrency"], int) or not 1 <= o["concurrency"] <= 256:
        raise ValueError("concurrency must be a whole number from 1 to 256")
    limits = {
        "poll_seconds": 0.05,
        "timeout": 1.0,
        "unknown_after_seconds": 1.0,
        "download_timeout_seconds": 1.0,
        "max_retry_after_seconds": 0.0,
    }
    for key, low in limits.items():
        if not isinstance(o[key], (int, float)) or not low <= o[key] <= 86_400:
            raise ValueError(f"{key} must be a number of seconds from {low:g} to 86400")
    if (
        not isinstance(o["max_poll_seconds"], (int, float))
        or not o["poll_seconds"] <= o["max_poll_seconds"] <= 3600
    ):
        raise ValueError("max_poll_seconds must be at least poll_seconds and at most 3600")
    secret = o["webhook_secret"]
    if secret is not None:
        try:
            ok = secret.startswith("whsec_") and len(base64.b64decode(secret[6:], validate=True)) >= 16
        except (ValueError, AttributeError):
            ok = False
        if not ok:
            raise ValueError(
                "webhook_secret must be the provider's whsec_ signing secret (base64 after whsec_)"
            )


def models_of(raw: Sequence[Mapping[str, Any]], provider: str, backend: str) -> dict[str, HostedModel]:
    if not raw:
        raise ValueError("models must list at least one model")
    models: dict[str, HostedModel] = {}
    for entry in raw:
        model = hosted_model(entry, provider, backend)
        if model.id in models:
            raise ValueError(f"model {model.id!r} is listed twice")
        models[model.id] = model
    return models


def model_inputs(
    model: HostedModel, request: GenerationRequest, *, duration: object, image_key: str
) -> dict[str, Any]:
    """The input fields fal's and Replicate's video models share: prompt, length, aspect ratio and
    resolution, the model's fixed ``input``, then the seed, negative prompt and image where given."""
    p = request.params
    fields: dict[str, Any] = {
        "prompt": request.prompt,
        "duration": duration,
        "aspect_ratio": aspect_ratio(p.width, p.height),
        "resolution": resolution_label(p.width, p.height),
        **model.input,
    }
    if model.takes_seed:
        fields["seed"] = p.seed
    if p.negative_prompt:
        fields["negative_prompt"] = p.negative_prompt
    if request.image_path is not None:
        fields[image_key] = (
            "data:image/png;base64," + base64.b64encode(request.image_path.read_bytes()).decode()
        )
    return fields


def aspect_ratio(width: int, height: int) -> str:
    """``1280x720`` -> ``"16:9"``."""
    g = math.gcd(width, height)
    return f"{width // g}:{height // g}"


def resolution_label(width: int, height: int) -> str:
    """``1280x720`` -> ``"720p"`` (the short side)."""
    return f"{min(width, height)}p"
