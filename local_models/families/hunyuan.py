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
