"""LTX-Video (``LTXPipeline``, ``LTXImageToVideoPipeline``): one checkpoint serves t2v and i2v.

Rules: frames ``8k+1`` (the VAE compresses time 8x), width and height multiples of 32
(32x spatial compression, patch 1), 24 fps (8 to 60 accepted and passed to the model as
``frame_rate``, which scales its RoPE in time), flow-matching Euler, 50 steps, guidance 3.
"""

from __future__ import annotations

from pathlib import Path
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

    def build_tiny(self, path: Path, *, seed: int = 0) -> None:
        import torch
        from diffusers import (
            AutoencoderKLLTXVideo,
            FlowMatchEulerDiscreteScheduler,
            LTXPipeline,
            LTXVideoTransformer3DModel,
        )

        from ..tokenizers import tiny_t5

        tokenizer, text_encoder = tiny_t5(64, seed=seed)
        torch.manual_seed(seed)
        transformer = LTXVideoTransformer3DModel(
            in_channels=8,
            out_channels=8,
            patch_size=1,
            patch_size_t=1,
            num_attention_heads=4,
            attention_head_dim=8,
            cross_attention_dim=32,
            num_layers=2,
            caption_channels=32,
        )
        torch.manual_seed(seed)
        vae = AutoencoderKLLTXVideo(
            in_channels=3,
            out_channels=3,
            latent_channels=8,
            block_out_channels=(8, 8, 8, 8),
            decoder_block_out_channels=(8, 8, 8, 8),
            layers_per_block=(1, 1, 1, 1, 1),
            decoder_layers_per_block=(1, 1, 1, 1, 1),
            spatio_temporal_scaling=(True, True, False, False),
            decoder_spatio_temporal_scaling=(True, True, False, False),
            decoder_inject_noise=(False, False, False, False, False),
            upsample_residual=(False, False, False, False),
            upsample_factor=(1, 1, 1, 1),
            timestep_conditioning=False,
            patch_size=1,
            patch_size_t=1,
            encoder_causal=True,
            decoder_causal=False,
        )
        pipe = LTXPipeline(
            scheduler=FlowMatchEulerDiscreteScheduler(),
            vae=vae,
            text_encoder=text_encoder,
            tokenizer=tokenizer,
            transformer=transformer,
        )
        self.save_tiny(pipe, path)
