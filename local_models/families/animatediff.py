"""AnimateDiff (``AnimateDiffPipeline``): a Stable Diffusion 1.5 UNet plus a motion adapter, text-to-video.

Rules: 1 to 32 frames (the motion module's positional table; read from the adapter's
``motion_max_seq_length``), width and height multiples of 8 (default 512x512), 8 fps, 25 DDIM
steps, guidance 7.5, CLIP's 77-token text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..spec import FrameRule, ModelSpec, SizeRule
from .common import DiffusersFamily, Rules, read_config

if TYPE_CHECKING:
    from ..catalog import CatalogEntry

RULES = Rules(
    frames=FrameRule(multiple=1, offset=0, min_frames=1, max_frames=32),
    sizes=SizeRule(default=(512, 512), multiple=8, min_side=256, max_side=1024),
    fps=8,
    default_seconds=2.0,
    default_steps=25,
    default_guidance=7.5,
    price_per_second=3.0,
    quality=0.35,
)
TINY = Rules(
    frames=FrameRule(multiple=1, offset=0, min_frames=1, max_frames=16),
    sizes=SizeRule(default=(32, 32), multiple=8, min_side=16, max_side=128),
    fps=8,
    default_seconds=1.0,
    default_steps=2,
    default_guidance=7.5,
    price_per_second=1.0,
    quality=0.05,
)


class AnimateDiffFamily(DiffusersFamily):
    name = "animatediff"
    description = "AnimateDiff (SD 1.5 + motion adapter), text-to-video"
    rules = RULES
    tiny_rules = TINY
    pipelines = {"t2v": "AnimateDiffPipeline"}
    shared_modes = True

    def spec(self, entry: CatalogEntry) -> ModelSpec:
        adapter = read_config(entry, "motion_adapter", "config.json") or {}
        return self.capped_frames(super().spec(entry), entry, adapter.get("motion_max_seq_length"))
