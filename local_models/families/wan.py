"""Wan 2.1 / 2.2 (``WanPipeline``, ``WanImageToVideoPipeline``).

Rules: frames ``4k+1`` (the VAE compresses time 4x), 16 fps (Wan 2.2 5B: 24), width and height
multiples of the VAE's spatial factor times the transformer's 2x2 patches (8x2 = 16 for Wan 2.1
and 2.2 A14B, 16x2 = 32 for Wan 2.2 5B, read from the checkpoint), flow matching.
Modes come from the checkpoint: a ``WanImageToVideoPipeline`` folder is image-to-video (2.1 with
its CLIP image encoder, 2.2 A14B with ``transformer_2``); a ``WanPipeline`` folder is text-to-video,
and also image-to-video when it was trained for both (``expand_timesteps``, Wan 2.2 TI2V 5B).
Two-expert checkpoints (``transformer_2``, ``boundary_ratio``) run both experts as diffusers does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..spec import FrameRule, GenerationParams, Mode, ModelSpec, SizeRule
from .common import DiffusersFamily, Rules, read_config, text_length

if TYPE_CHECKING:
    from ..catalog import CatalogEntry

RULES = Rules(
    frames=FrameRule(multiple=4, offset=1, min_frames=5, max_frames=81),
    sizes=SizeRule(default=(832, 480), multiple=16, min_side=256, max_side=1280),
    fps=16,
    default_seconds=5.0,
    default_steps=30,
    default_guidance=5.0,
    price_per_second=20.0,
    quality=0.8,
)
TINY = Rules(
    frames=FrameRule(multiple=4, offset=1, min_frames=5, max_frames=33),
    sizes=SizeRule(default=(64, 64), multiple=16, min_side=32, max_side=256),
    fps=16,
    default_seconds=1.0,
    default_steps=4,
    default_guidance=5.0,
    price_per_second=1.0,
    quality=0.05,
)


class WanFamily(DiffusersFamily):
    name = "wan"
    description = "Wan 2.x (Alibaba)"
    rules = RULES
    tiny_rules = TINY
    pipelines = {"t2v": "WanPipeline", "i2v": "WanImageToVideoPipeline"}
    shared_modes = False
    tiny_modes = frozenset({"t2v"})

    def spec(self, entry: CatalogEntry) -> ModelSpec:
        spec = super().spec(entry)
        multiple = _spatial_multiple(entry)
        if multiple is None or multiple == spec.sizes.multiple or entry.sizes is not None:
            return spec
        sizes = spec.sizes
        lo = max(sizes.min_side, multiple)
        default = tuple(max(lo, side // multiple * multiple) for side in sizes.default)
        return spec.with_overrides(
            sizes=replace(sizes, multiple=multiple, min_side=lo, default=(default[0], default[1]))
        )

    def modes_of(self, index: Mapping[str, Any]) -> frozenset[Mode]:
        if index.get("_class_name") == "WanImageToVideoPipeline":
            return frozenset({"i2v"})
        if index.get("expand_timesteps"):
            return frozenset({"t2v", "i2v"})  # Wan 2.2 TI2V: one model for both
        return frozenset({"t2v"})

    def for_mode(self, pipe: Any, mode: Mode) -> Any:
        from diffusers import WanImageToVideoPipeline

        if mode == "i2v" and type(pipe).__name__ == "WanPipeline" and pipe.config.get("expand_timesteps"):
            derived = WanImageToVideoPipeline.from_pipe(pipe, image_encoder=None, image_processor=None)
            derived.set_progress_bar_config(disable=True)
            return derived
        return super().for_mode(pipe, mode)

    def extra_kwargs(self, pipe: Any, params: GenerationParams) -> dict[str, Any]:
        # The text length is a property of the checkpoint's tokenizer, not a constant.
        return {"max_sequence_length": text_length(pipe.tokenizer, 512)}

    def build_tiny(self, path: Path, *, seed: int = 0) -> None:
        """The shipped ``wan-tiny``: a Wan 2.1 text-to-video pipeline with tiny random weights, built
        offline (the tests' other Wan builds are in ``tests/fixtures/tiny_models/wan.py``)."""
        import torch
        from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanPipeline

        from ..tokenizers import tiny_t5

        tokenizer, text_encoder = tiny_t5(64, seed=seed, umt5=True)
        torch.manual_seed(seed)
        vae = AutoencoderKLWan(
            base_dim=3,
            z_dim=16,
            dim_mult=[1, 1, 1, 1],
            num_res_blocks=1,
            temperal_downsample=[False, True, True],
        )
        pipe = WanPipeline(
            tokenizer=tokenizer,
            text_encoder=text_encoder,
            vae=vae,
            transformer=tiny_transformer(16, 16, seed=seed),
            scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
            expand_timesteps=False,
        )
        self.save_tiny(pipe, path)


def _spatial_multiple(entry: CatalogEntry) -> int | None:
    """VAE spatial factor x transformer patch, from the folder's configs (None before it exists)."""
    vae = read_config(entry, "vae", "config.json")
    transformer = read_config(entry, "transformer", "config.json") or read_config(
        entry, "transformer_2", "config.json"
    )
    if vae is None or transformer is None:
        return None
    factor = int(vae.get("scale_factor_spatial") or 8)
    patch = transformer.get("patch_size") or [1, 2, 2]
    return factor * int(patch[-1])


def tiny_transformer(in_channels: int, out_channels: int, *, seed: int = 0) -> Any:
    """The tiny builds' ``WanTransformer3DModel`` (2 layers, 2 heads of 12), seeded with ``seed``."""
    import torch
    from diffusers import WanTransformer3DModel

    torch.manual_seed(seed)
    return WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=in_channels,
        out_channels=out_channels,
        text_dim=32,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
    )
