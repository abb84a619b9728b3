"""Stable Video Diffusion (``StableVideoDiffusionPipeline``): image-to-video, no text.

Rules: any frame count up to the UNet's ``num_frames`` (14 for SVD, 25 for SVD-XT, read from the
checkpoint), width and height multiples of 8 (default 1024x576), the ``fps`` micro-condition
from the request (default 7, 3 to 30), 25 Euler steps, guidance ramped over the frames from 1 to
``guidance`` (diffusers' ``max_guidance_scale``). SVD reads no text: the prompt is stored with the
job but does not steer the clip, and the job records ``prompt_used: false``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..spec import FrameRule, GenerationParams, ModelSpec, SizeRule
from .common import DiffusersFamily, Rules, read_config

if TYPE_CHECKING:
    from ..catalog import CatalogEntry

RULES = Rules(
    frames=FrameRule(multiple=1, offset=0, min_frames=2, max_frames=25),
    sizes=SizeRule(default=(1024, 576), multiple=8, min_side=256, max_side=1280),
    fps=7,
    fps_range=(3, 30),
    default_seconds=2.0,
    default_steps=25,
    default_guidance=3.0,
    price_per_second=6.0,
    quality=0.5,
    negative_prompt=False,
)
TINY = Rules(
    frames=FrameRule(multiple=1, offset=0, min_frames=2, max_frames=8),
    sizes=SizeRule(default=(32, 32), multiple=8, min_side=16, max_side=128),
    fps=7,
    fps_range=(3, 30),
    default_seconds=0.5,
    default_steps=2,
    default_guidance=3.0,
    price_per_second=1.0,
    quality=0.05,
    negative_prompt=False,
)


class SVDFamily(DiffusersFamily):
    name = "svd"
    description = "Stable Video Diffusion (Stability AI), image-to-video"
    rules = RULES
    tiny_rules = TINY
    pipelines = {"i2v": "StableVideoDiffusionPipeline"}
    shared_modes = True

    def spec(self, entry: CatalogEntry) -> ModelSpec:
        unet = read_config(entry, "unet", "config.json") or {}
        return self.capped_frames(super().spec(entry), entry, unet.get("num_frames"))

    def call_kwargs(self, pipe: Any, params: GenerationParams, prompt: str, image: Any) -> dict[str, Any]:
        kwargs = super().call_kwargs(pipe, params, prompt, image)
        kwargs.pop("prompt")
        kwargs.pop("guidance_scale")
        kwargs.update(
            min_guidance_scale=min(1.0, params.guidance),
            max_guidance_scale=params.guidance,
            fps=params.fps,
            decode_chunk_size=8,
        )
        return kwargs

    def run_notes(self, params: GenerationParams) -> dict[str, Any]:
        return {"prompt_used": False}
