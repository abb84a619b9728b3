"""AnimateDiff (``AnimateDiffPipeline``): a Stable Diffusion 1.5 UNet plus a motion adapter, text-to-video.

Rules: 1 to 32 frames (the motion module's positional table; read from the adapter's
``motion_max_seq_length``), width and height multiples of 8 (default 512x512), 8 fps, 25 DDIM
steps, guidance 7.5, CLIP's 77-token text.
"""

from __future__ import annotations

from pathlib import Path
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

    def build_tiny(self, path: Path, *, seed: int = 0) -> None:
        import torch
        from diffusers import (
            AnimateDiffPipeline,
            AutoencoderKL,
            DDIMScheduler,
            MotionAdapter,
            UNet2DConditionModel,
        )

        from ..tokenizers import tiny_clip_text

        channels = (8, 8)
        torch.manual_seed(seed)
        unet = UNet2DConditionModel(
            block_out_channels=channels,
            layers_per_block=2,
            sample_size=8,
            in_channels=4,
            out_channels=4,
            down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=8,
            norm_num_groups=2,
        )
        torch.manual_seed(seed)
        vae = AutoencoderKL(
            block_out_channels=channels,
            in_channels=3,
            out_channels=3,
            down_block_types=["DownEncoderBlock2D"] * 2,
            up_block_types=["UpDecoderBlock2D"] * 2,
            latent_channels=4,
            norm_num_groups=2,
        )
        tokenizer, text_encoder = tiny_clip_text(8, seed=seed)
        torch.manual_seed(seed)
        motion_adapter = MotionAdapter(
            block_out_channels=channels,
            motion_layers_per_block=2,
            motion_norm_num_groups=2,
            motion_num_attention_heads=4,
            motion_max_seq_length=16,
        )
        pipe = AnimateDiffPipeline(
            vae=vae,
            text_encoder=text_encoder,
            tokenizer=tokenizer,
            unet=unet,
            motion_adapter=motion_adapter,
            scheduler=DDIMScheduler(
                beta_start=0.00085, beta_end=0.012, beta_schedule="linear", clip_sample=False
            ),
            feature_extractor=None,
            image_encoder=None,
        )
        self.save_tiny(pipe, path)
