"""Mochi 1 (``MochiPipeline``): text-to-video only.

Rules: frames ``6k+1`` (the VAE compresses time 6x), width and height multiples of 16
(8x VAE, 2x2 patches), 30 fps, flow-matching Euler, 64 steps, guidance 4.5. The text length is
the checkpoint tokenizer's (256 in the release).
"""

from __future__ import annotations

from pathlib import Path
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

    def build_tiny(self, path: Path, *, seed: int = 0) -> None:
        import torch
        from diffusers import (
            AutoencoderKLMochi,
            FlowMatchEulerDiscreteScheduler,
            MochiPipeline,
            MochiTransformer3DModel,
        )

        from ..tokenizers import tiny_t5

        tokenizer, text_encoder = tiny_t5(32, seed=seed)
        torch.manual_seed(seed)
        transformer = MochiTransformer3DModel(
            patch_size=2,
            num_attention_heads=2,
            attention_head_dim=8,
            num_layers=2,
            pooled_projection_dim=16,
            in_channels=12,
            out_channels=None,
            qk_norm="rms_norm",
            text_embed_dim=32,
            time_embed_dim=4,
            activation_fn="swiglu",
            max_sequence_length=32,
        )
        torch.manual_seed(seed)
        vae = AutoencoderKLMochi(
            latent_channels=12,
            out_channels=3,
            encoder_block_out_channels=(32, 32, 32, 32),
            decoder_block_out_channels=(32, 32, 32, 32),
            layers_per_block=(1, 1, 1, 1, 1),
        )
        pipe = MochiPipeline(
            scheduler=FlowMatchEulerDiscreteScheduler(),
            vae=vae,
            text_encoder=text_encoder,
            tokenizer=tokenizer,
            transformer=transformer,
        )
        self.save_tiny(pipe, path)
