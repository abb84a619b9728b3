"""The two shipped shapes models: architecture presets and default sampling settings.

An untrained pipeline of a preset is built by ``tools.shapes.train.build_pipeline``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["PRESETS", "Preset"]


@dataclass(frozen=True)
class Preset:
    name: str
    denoiser: str  # "unet"
    config: dict[str, Any] = field(default_factory=dict)
    steps: int = 8
    guidance: float = 3.0
    price_per_second: float = 0.1
    quality: float = 0.5
    description: str = ""


PRESETS: dict[str, Preset] = {
    "shapes-fast": Preset(
        "shapes-fast",
        "unet",
        {"channels": (48, 96, 128)},
        steps=8,
        guidance=3.0,
        price_per_second=0.1,
        quality=0.6,
        description="Framegate shapes, fast: space-time conv UNet (attention at 8x8 and 4x4), 8 steps",
    ),
    "shapes-hq": Preset(
        "shapes-hq",
        "unet",
        {"channels": (64, 128, 160)},
        steps=16,
        guidance=3.0,
        price_per_second=0.25,
        quality=0.8,
        description="Framegate shapes, quality: a wider space-time conv UNet, 16 steps",
    ),
}
