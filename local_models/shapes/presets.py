"""The two shipped shapes models: architecture presets and default sampling settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["PRESETS", "Preset", "build_pipeline"]


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


def build_pipeline(name: str, *, seed: int = 0) -> Any:
    """A freshly initialised (untrained) pipeline for preset ``name``."""
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler

    from .pipeline import ShapesPipeline
    from .text import ShapesTextEncoder, build_tokenizer, concept_table, token_concepts
    from .unet import ShapesUNet

    preset = PRESETS[name]
    torch.manual_seed(seed)
    tokenizer = build_tokenizer()
    text_encoder = ShapesTextEncoder(token_concepts(tokenizer), concept_table())
    denoiser = ShapesUNet(**preset.config)
    scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=1.0)
    return ShapesPipeline(
        tokenizer=tokenizer, text_encoder=text_encoder, denoiser=denoiser, scheduler=scheduler
    )
