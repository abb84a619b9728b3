"""Wan 2.1 text-to-video (``WanPipeline``).

Rules: frames ``4k+1`` (the VAE compresses time 4x), width and height multiples of 16
(8x VAE downsampling times the transformer's 2x2 patches), 16 fps, flow-matching Euler.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import WeightsNotFound
from ..spec import FrameRule, GenerationParams, Mode, ModelSpec, SizeRule

if TYPE_CHECKING:
    from PIL import Image

    from ..catalog import CatalogEntry


class WanFamily:
    """Wan 2.1 t2v. The tiny build shares the real checkpoint's layout and loading path."""

    name = "wan"

    def spec(self, entry: CatalogEntry) -> ModelSpec:
        tiny = entry.weights.startswith("builtin:")
        base = ModelSpec(
            id=entry.id,
            family=self.name,
            modes=frozenset({"t2v"}),
            frames=FrameRule(multiple=4, offset=1, min_frames=5, max_frames=33 if tiny else 81),
            sizes=SizeRule(
                default=(64, 64) if tiny else (832, 480),
                multiple=16,
                min_side=32 if tiny else 256,
                max_side=256 if tiny else 1280,
            ),
            fps=16,
            default_seconds=1.0 if tiny else 5.0,
            default_steps=4 if tiny else 30,
            default_guidance=5.0,
            price_per_second=1.0 if tiny else 20.0,
            quality=0.05 if tiny else 0.8,
            description="Wan 2.1 text-to-video" + (" (tiny random weights)" if tiny else ""),
        )
        return entry.apply_overrides(base)

    def load(self, path: Path, mode: Mode, *, device: str, dtype: Any) -> Any:
        from diffusers import WanPipeline

        if not (path / "model_index.json").is_file():
            raise WeightsNotFound(f"no diffusers model_index.json in {path}")
        pipe = WanPipeline.from_pretrained(path, local_files_only=True, dtype=dtype)
        pipe.set_progress_bar_config(disable=True)
        return pipe.to(device)

    def call_kwargs(
        self, pipe: Any, params: GenerationParams, prompt: str, image: Image.Image | None
    ) -> dict[str, Any]:
        # The text length is a property of the checkpoint's tokenizer, not a constant.
        max_len = min(512, int(getattr(pipe.tokenizer, "model_max_length", 512) or 512))
        return {
            "prompt": prompt,
            "negative_prompt": params.negative_prompt,
            "height": params.height,
            "width": params.width,
            "num_frames": params.frames,
            "num_inference_steps": params.steps,
            "guidance_scale": params.guidance,
            "max_sequence_length": max_len,
        }

    def progress_total(self, params: GenerationParams) -> int:
        return params.steps

    def run_notes(self, params: GenerationParams) -> dict[str, Any]:
        return {}

    def packaged_weights(self, name: str) -> Path | None:
        return None  # built offline from a config on first use instead

    def build_tiny(self, path: Path, *, seed: int = 0) -> None:
        import torch
        from diffusers import (
            AutoencoderKLWan,
            FlowMatchEulerDiscreteScheduler,
            WanPipeline,
            WanTransformer3DModel,
        )
        from transformers import UMT5Config, UMT5EncoderModel

        from ..tokenizers import tiny_t5_tokenizer

        tokenizer = tiny_t5_tokenizer(model_max_length=64)
        torch.manual_seed(seed)
        text_encoder = UMT5EncoderModel(
            UMT5Config(
                vocab_size=len(tokenizer),
                d_model=32,
                d_ff=37,
                d_kv=8,
                num_layers=2,
                num_heads=4,
                relative_attention_num_buckets=8,
            )
        )
        torch.manual_seed(seed)
        vae = AutoencoderKLWan(
            base_dim=3,
            z_dim=16,
            dim_mult=[1, 1, 1, 1],
            num_res_blocks=1,
            temperal_downsample=[False, True, True],
        )
        torch.manual_seed(seed)
        transformer = WanTransformer3DModel(
            patch_size=(1, 2, 2),
            num_attention_heads=2,
            attention_head_dim=12,
            in_channels=16,
            out_channels=16,
            text_dim=32,
            freq_dim=256,
            ffn_dim=32,
            num_layers=2,
            cross_attn_norm=True,
            qk_norm="rms_norm_across_heads",
            rope_max_seq_len=32,
        )
        pipe = WanPipeline(
            tokenizer=tokenizer,
            text_encoder=text_encoder,
            vae=vae,
            transformer=transformer,
            scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        )
        pipe.save_pretrained(path)  # type: ignore[attr-defined]
