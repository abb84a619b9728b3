"""A hosted provider's models as Framegate sees them: read from the backend's config, never guessed.

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

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from local_models import FrameRule, InvalidInput, ModelSpec, SizeRule, parse_size

__all__ = ["HostedModel", "aspect_ratio", "hosted_model", "resolution_label"]

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
    if not isinstance(raw["price"], Mapping):
        raise ValueError("price must be a table, e.g. { per_second = 10 } or { per_clip = 50 }")
    fps = int(raw.get("fps", 24))
    sizes = tuple(parse_size(str(s)) for s in raw["sizes"])
    seconds = tuple(float(s) for s in raw["seconds"])
    if not 1 <= fps <= 240 or not sizes or not seconds:
        raise ValueError("sizes and seconds must be non-empty lists and fps from 1 to 240")
    for length in seconds:
        if not (
            math.isfinite(length) and 0 < length <= 600 and abs(length * fps - round(length * fps)) < 1e-6
        ):
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


def aspect_ratio(width: int, height: int) -> str:
    """``1280x720`` -> ``"16:9"``."""
    g = math.gcd(width, height)
    return f"{width // g}:{height // g}"


def resolution_label(width: int, height: int) -> str:
    """``1280x720`` -> ``"720p"`` (the short side)."""
    return f"{min(width, height)}p"
