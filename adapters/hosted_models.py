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

from local_models import FrameRule, ModelSpec, SizeRule, parse_size

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


def hosted_model(raw: Mapping[str, Any], provider: str) -> HostedModel:
    """A ``models = [...]`` entry of a hosted backend. Raises ``ValueError`` naming what is wrong."""
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise ValueError(
            f"model entry has unknown keys: {', '.join(unknown)} (known: {', '.join(sorted(_KEYS))})"
        )
    if not isinstance(raw.get("id"), str) or not raw["id"]:
        raise ValueError("every model entry needs an id")
    sizes = tuple(parse_size(s) for s in raw.get("sizes", ["1280x720"]))
    seconds = tuple(float(s) for s in raw.get("seconds", [5]))
    fps = int(raw.get("fps", 24))
    if not sizes or not seconds or fps <= 0 or any(s <= 0 for s in seconds):
        raise ValueError(f"model {raw['id']!r}: sizes and seconds must be non-empty and positive")
    eta = float(raw.get("eta_seconds", 60.0))
    frames = [round(s * fps) for s in seconds]
    spec = ModelSpec(
        id=raw["id"],
        family=provider,
        modes=frozenset(raw.get("modes", ["t2v"])),
        frames=FrameRule(1, 0, min(frames), max(frames)),
        sizes=SizeRule(default=sizes[0], allowed=sizes),
        fps=fps,
        default_seconds=seconds[0],
        default_steps=1,
        default_guidance=0.0,
        price_per_second=float((raw.get("price") or {}).get("per_second", 0.0)),
        max_steps=1,
        audio=bool(raw.get("audio", False)),
        negative_prompt=bool(raw.get("negative_prompt", False)),
        quality=float(raw.get("quality", 0.5)),
        description=str(raw.get("description", f"{raw.get('target', raw['id'])} at {provider}")),
        seconds_allowed=seconds,
        # A hosted model has no steps, guidance or frame rate to set; asking for one is refused.
        fixed=frozenset({"steps", "guidance", "fps"}),
        extras={
            "hosted": provider,
            "price": dict(raw.get("price") or {"per_second": 0.0}),
            # The ETA prior per frame (steps are 1): measured latency replaces it after the first job.
            "seconds_per_frame_step": eta / max(1, round(seconds[0] * fps)),
            "load_seconds": 0.0,
        },
    )
    if not spec.modes or not spec.modes <= {"t2v", "i2v"}:
        raise ValueError(f"model {raw['id']!r}: modes must be t2v and/or i2v")
    return HostedModel(
        spec, str(raw.get("target", raw["id"])), bool(raw.get("seed", True)), dict(raw.get("input") or {})
    )


def aspect_ratio(width: int, height: int) -> str:
    """``1280x720`` -> ``"16:9"``."""
    g = math.gcd(width, height)
    return f"{width // g}:{height // g}"


def resolution_label(width: int, height: int) -> str:
    """``1280x720`` -> ``"720p"`` (the short side)."""
    return f"{min(width, height)}p"
