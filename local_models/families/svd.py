"""Stable Video Diffusion (``StableVideoDiffusionPipeline``): image-to-video, no text.

Rules: any frame count up to the UNet's ``num_frames`` (14 for SVD, 25 for SVD-XT, read from the
checkpoint), width and height multiples of 8 (default 1024x576), the ``fps`` micro-condition
from the request (default 7, 3 to 30), 25 Euler steps, guidance ramped over the frames from 1 to
``guidance`` (diffusers' ``max_guidance_scale``). SVD reads no text: the prompt is stored with the
job but does not steer the clip, and the job records ``prompt_used: false``.
"""

from __future__ import annotations

from pathlib import Path
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

    def build_tiny(self, path: Path, *, seed: int = 0) -> None:
        import torch
        from diffusers import (
            AutoencoderKLTemporalDecoder,
            EulerDiscreteScheduler,
            StableVideoDiffusionPipeline,
            UNetSpatioTemporalConditionModel,
        )
        from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

        torch.manual_seed(seed)
        unet = UNetSpatioTemporalConditionModel(
            block_out_channels=(32, 64),
            layers_per_block=1,
            sample_size=32,
            in_channels=8,
            out_channels=4,
            down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
            up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
            cross_attention_dim=32,
            num_attention_heads=8,
            projection_class_embeddings_input_dim=96,
            addition_time_embed_dim=32,
            num_frames=8,
        )
        scheduler = EulerDiscreteScheduler(
            beta_start=0.00085,
            beta_end=0.012,
            beta_schedule="scaled_linear",
            interpolation_type="linear",
            num_train_timesteps=1000,
            prediction_type="v_prediction",
            sigma_max=700.0,
            sigma_min=0.002,
            steps_offset=1,
            timestep_spacing="leading",
            timestep_type="continuous",
            use_karras_sigmas=True,
        )
        torch.manual_seed(seed)
        vae = AutoencoderKLTemporalDecoder(
            block_out_channels=[32, 64],
            in_channels=3,
            out_channels=3,
            down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
            latent_channels=4,
        )
        torch.manual_seed(seed)
        image_encoder = CLIPVisionModelWithProjection(
            CLIPVisionConfig(
                hidden_size=32,
                projection_dim=32,
                num_hidden_layers=2,
                num_attention_heads=4,
                image_size=224,  # the pipeline always resizes its conditioning image to 224x224
                intermediate_size=37,
                patch_size=32,
            )
        )
        pipe = StableVideoDiffusionPipeline(
            vae=vae,
            image_encoder=image_encoder,
            unet=unet,
            scheduler=scheduler,
            feature_extractor=CLIPImageProcessor(crop_size=32, size=32),
        )
        self.save_tiny(pipe, path)
