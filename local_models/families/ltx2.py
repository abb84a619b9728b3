"""LTX-2 (``LTX2Pipeline``, ``LTX2ImageToVideoPipeline``): video with a synchronized audio track.

Rules: frames ``8k+1`` (8x temporal VAE), width and height multiples of 32, 24 fps (8 to 60,
passed to the model as ``frame_rate``, which times the audio too), 40 steps, guidance 4. The
model generates sound with the picture; the request's ``audio`` (default on) keeps it as an AAC
track muxed in sync, or drops it. One checkpoint serves t2v and i2v.
"""

from __future__ import annotations

from typing import Any

from ..spec import FrameRule, GenerationParams, SizeRule
from .common import DiffusersFamily, Rules, text_length

RULES = Rules(
    frames=FrameRule(multiple=8, offset=1, min_frames=9, max_frames=257),
    sizes=SizeRule(default=(768, 512), multiple=32, min_side=256, max_side=1920),
    fps=24,
    fps_range=(8, 60),
    default_seconds=5.0,
    default_steps=40,
    default_guidance=4.0,
    price_per_second=16.0,
    quality=0.85,
    audio=True,
)
TINY = Rules(
    frames=FrameRule(multiple=8, offset=1, min_frames=9, max_frames=33),
    sizes=SizeRule(default=(32, 32), multiple=32, min_side=32, max_side=128),
    fps=24,
    fps_range=(8, 60),
    default_seconds=0.4,
    default_steps=2,
    default_guidance=1.0,
    price_per_second=1.0,
    quality=0.05,
    audio=True,
)


class LTX2Family(DiffusersFamily):
    name = "ltx2"
    description = "LTX-2 (Lightricks), video with synchronized audio"
    rules = RULES
    tiny_rules = TINY
    pipelines = {"t2v": "LTX2Pipeline", "i2v": "LTX2ImageToVideoPipeline"}
    shared_modes = True

    def extra_kwargs(self, pipe: Any, params: GenerationParams) -> dict[str, Any]:
        return {
            "frame_rate": float(params.fps),
            "max_sequence_length": text_length(pipe.tokenizer, 1024),
        }

    def sample_rate(self, pipe: Any) -> int | None:
        return int(pipe.vocoder.config.output_sampling_rate)
