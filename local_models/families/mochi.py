"""Mochi 1 (``MochiPipeline``): text-to-video only.

Rules: frames ``6k+1`` (the VAE compresses time 6x), width and height multiples of 16
(8x VAE, 2x2 patches), 30 fps, flow-matching Euler, 64 steps, guidance 4.5. The text length is
the checkpoint tokenizer's (256 in the release).
"""

from __future__ import annotations

from typing import Any

from ..spec import FrameRule, GenerationParams, SizeRule
from .common import DiffusersFamily, Rules, text_length

RULES = Rules(
    frames=FrameRule(multiple=6, offset=1, min_frames=7, max_frames=163),
    sizes=SizeRule(default=(848, 480), multiple=16, min_side=256, max_side=1280),
    fps=30,
    default_seconds=2.8,
    default_steps=64,
    default_guidance=4.5,
    price_per_second=15.0,
    quality=0.7,
)
TINY = Rules(
    frames=FrameRule(multiple=6, offset=1, min_frames=7, max_frames=25),
    sizes=SizeRule(default=(32, 32), multiple=16, min_side=16, max_side=128),
    fps=30,
    default_seconds=0.25,
    default_steps=2,
    default_guidance=4.5,
    price_per_second=1.0,
    quality=0.05,
)


class MochiFamily(DiffusersFamily):
    name = "mochi"
    description = "Mochi 1 (Genmo), text-to-video"
    rules = RULES
    tiny_rules = TINY
    pipelines = {"t2v": "MochiPipeline"}
    shared_modes = True

    def extra_kwargs(self, pipe: Any, params: GenerationParams) -> dict[str, Any]:
        return {"max_sequence_length": text_length(pipe.tokenizer, 256)}
