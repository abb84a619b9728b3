"""HunyuanVideo (``HunyuanVideoPipeline``, ``HunyuanVideoImageToVideoPipeline``): t2v and i2v checkpoints.

Rules: frames ``4k+1`` up to 129 (the VAE compresses time 4x), width and height multiples of 16
(8x VAE, 2x2 patches; default 1280x720), 24 fps, flow matching with shift 7, 50 steps; t2v is
guidance-distilled (``guidance`` feeds the embedded guidance, 6 by default). Text goes through the
release's Llama chat template; a tiny test build (character tokenizer) uses a plain template,
since the release's token offsets into that template mean nothing for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..spec import FrameRule, GenerationParams, SizeRule
from .common import MARKER, DiffusersFamily, Rules

RULES = Rules(
    frames=FrameRule(multiple=4, offset=1, min_frames=5, max_frames=129),
    sizes=SizeRule(default=(1280, 720), multiple=16, min_side=256, max_side=1280),
    fps=24,
    default_seconds=5.0,
    default_steps=50,
    default_guidance=6.0,
    price_per_second=25.0,
    quality=0.85,
    negative_prompt=False,
)
TINY = Rules(
    frames=FrameRule(multiple=4, offset=1, min_frames=5, max_frames=17),
    sizes=SizeRule(default=(32, 32), multiple=16, min_side=16, max_side=128),
    fps=24,
    default_seconds=0.4,
    default_steps=2,
    default_guidance=6.0,
    price_per_second=1.0,
    quality=0.05,
    negative_prompt=False,
)
TINY_TEMPLATES = {
    "t2v": {"template": "{}", "crop_start": 0},
    "i2v": {
        "template": "{}",
        "crop_start": 0,
        "image_emb_len": 49,
        "image_emb_start": 5,
        "image_emb_end": 54,
    },
}


class HunyuanVideoFamily(DiffusersFamily):
    name = "hunyuan"
    description = "HunyuanVideo (Tencent)"
    rules = RULES
    tiny_rules = TINY
    pipelines = {"t2v": "HunyuanVideoPipeline", "i2v": "HunyuanVideoImageToVideoPipeline"}
    shared_modes = False
    tiny_modes = frozenset({"t2v"})

    def extra_kwargs(self, pipe: Any, params: GenerationParams) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if params.mode == "i2v" and pipe.transformer.config.get("image_condition_type") == "latent_concat":
            # This variant conditions on the image as an extra first latent frame and drops the
            # frames it decodes to; ask for them on top, so the clip has exactly params.frames.
            kwargs["num_frames"] = params.frames + int(pipe.vae_scale_factor_temporal)
        if (Path(str(getattr(pipe, "name_or_path", ""))) / MARKER).is_file():
            kwargs["prompt_template"] = TINY_TEMPLATES[params.mode]
            kwargs["max_sequence_length"] = 64
        return kwargs

    def build_tiny(self, path: Path, *, seed: int = 0) -> None:
        build_variant(path, "t2v", seed=seed)


def build_variant(path: Path, mode: str = "t2v", *, seed: int = 0) -> None:
    """A tiny random-weight HunyuanVideo checkpoint for ``mode`` (``t2v``; ``i2v`` with a Llava encoder)."""
    import torch
    from diffusers import (
        AutoencoderKLHunyuanVideo,
        FlowMatchEulerDiscreteScheduler,
        HunyuanVideoImageToVideoPipeline,
        HunyuanVideoPipeline,
        HunyuanVideoTransformer3DModel,
    )
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlamaConfig,
        LlamaModel,
        LlavaConfig,
        LlavaForConditionalGeneration,
    )

    from ..tokenizers import tiny_clip_text, tiny_llama_tokenizer

    i2v = mode == "i2v"
    torch.manual_seed(seed)
    transformer = HunyuanVideoTransformer3DModel(
        in_channels=2 * 4 + 1 if i2v else 4,
        out_channels=4,
        num_attention_heads=2,
        attention_head_dim=10,
        num_layers=2,
        num_single_layers=2,
        num_refiner_layers=1,
        patch_size=1,
        patch_size_t=1,
        guidance_embeds=not i2v,
        text_embed_dim=16,
        pooled_projection_dim=8,
        rope_axes_dim=(2, 4, 4),
        **({"image_condition_type": "latent_concat"} if i2v else {}),
    )
    torch.manual_seed(seed)
    vae = AutoencoderKLHunyuanVideo(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        down_block_types=("HunyuanVideoDownBlock3D",) * 4,
        up_block_types=("HunyuanVideoUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8),
        layers_per_block=1,
        act_fn="silu",
        norm_num_groups=4,
        scaling_factor=0.476986,
        spatial_compression_ratio=8,
        temporal_compression_ratio=4,
        mid_block_add_attention=True,
    )
    tokenizer = tiny_llama_tokenizer()
    text_config = LlamaConfig(
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=3,
        hidden_size=16,
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=2,
        vocab_size=len(tokenizer) + 2,
        hidden_act="gelu",
    )
    torch.manual_seed(seed)
    text_encoder: Any
    if i2v:
        vision = CLIPVisionConfig(
            hidden_size=8,
            intermediate_size=37,
            projection_dim=32,
            num_attention_heads=4,
            num_hidden_layers=2,
            image_size=224,
        )
        text_encoder = LlavaForConditionalGeneration(
            LlavaConfig(  # type: ignore[call-arg]
                vision_config=vision,
                text_config=text_config,
                pad_token_id=3,
                image_token_index=len(tokenizer),
            )
        )
    else:
        text_encoder = LlamaModel(text_config)
    tokenizer_2, text_encoder_2 = tiny_clip_text(8, seed=seed)
    common = dict(
        transformer=transformer,
        vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        tokenizer=tokenizer,
        tokenizer_2=tokenizer_2,
    )
    pipe: Any
    if i2v:
        pipe = HunyuanVideoImageToVideoPipeline(
            **common,
            image_processor=CLIPImageProcessor(
                crop_size=224,
                do_center_crop=True,
                do_normalize=True,
                do_resize=True,
                image_mean=[0.48145466, 0.4578275, 0.40821073],
                image_std=[0.26862954, 0.26130258, 0.27577711],
                resample=3,
                size=224,
            ),
        )
    else:
        pipe = HunyuanVideoPipeline(**common)
    DiffusersFamily.save_tiny(pipe, path)
