"""LTX-Video (``LTXPipeline``, ``LTXImageToVideoPipeline``): one checkpoint serves t2v and i2v.

Rules: frames ``8k+1`` (the VAE compresses time 8x), width and height multiples of 32
(32x spatial compression, patch 1), 24 fps (8 to 60 accepted and passed to the model as
``frame_rate``, which scales its RoPE in time), flow-matching Euler, 50 steps, guidance 3.
"""

from __future__ import annotations

from typing import Any

from ..spec import FrameRule, GenerationParams, SizeRule
from .common import DiffusersFamily, Rules, text_length

RULES = Rules(
    frames=FrameRule(multiple=8, offset=1, min_frames=9, max_frames=257),
    sizes=SizeRule(default=(768, 512), multiple=32, min_side=256, max_side=1280),
    fps=24,
    fps_range=(8, 60),
    default_seconds=5.0,
    default_steps=50,
    default_guidance=3.0,
    price_per_second=8.0,
    quality=0.65,
)
TINY = Rules(
    frames=FrameRule(multiple=8, offset=1, min_frames=9, max_frames=33),
    sizes=SizeRule(default=(64, 64), multiple=32, min_side=32, max_side=256),
    fps=24,
    fps_range=(8, 60),
    default_seconds=0.5,
    default_steps=2,
    default_guidance=3.0,
    price_per_second=1.0,
    quality=0.05,
)


class LTXFamily(DiffusersFamily):
    name = "ltx"
    description = "LTX-Video (Lightricks), text- and image-to-video"
    rules = RULES
    tiny_rules = TINY
    pipelines = {"t2v": "LTXPipeline", "i2v": "LTXImageToVideoPipeline"}
    shared_modes = True

    def extra_kwargs(self, pipe: Any, params: GenerationParams) -> dict[str, Any]:
        return {
            "frame_rate": params.fps,
            "max_sequence_length": text_length(pipe.tokenizer, 128),
        }
