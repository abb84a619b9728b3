"""Framegate's shapes models (``ShapesPipeline``), trained on procedural moving shapes and shipped in-package.

Rules: native 32x32 at 8 fps; 8-frame chunks, chained on their last frame for longer clips
(frames ``7k+1``, 8 to 29); square sizes up to 512 are upsampled from 32x32 for display, and the
job records that it was. Text-to-video and image-to-video (the image becomes the first frame).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import WeightsNotFound
from ..spec import FrameRule, GenerationParams, Mode, ModelSpec, SizeRule

if TYPE_CHECKING:
    from PIL import Image

    from ..catalog import CatalogEntry

PACKAGED = Path(__file__).resolve().parent.parent / "shapes" / "weights"
NATIVE = 32
SIZES = tuple((s, s) for s in (32, 64, 128, 256, 512))


class ShapesFamily:
    name = "shapes"

    def spec(self, entry: CatalogEntry) -> ModelSpec:
        from ..shapes.presets import PRESETS

        preset = PRESETS.get(entry.weights.removeprefix("builtin:"), PRESETS["shapes-fast"])
        base = ModelSpec(
            id=entry.id,
            family=self.name,
            modes=frozenset({"t2v", "i2v"}),
            frames=FrameRule(multiple=7, offset=1, min_frames=8, max_frames=29),
            sizes=SizeRule(default=(128, 128), allowed=SIZES),
            fps=8,
            default_seconds=1.0,
            default_steps=preset.steps,
            default_guidance=preset.guidance,
            max_steps=100,
            price_per_second=preset.price_per_second,
            negative_prompt=False,
            quality=preset.quality,
            description=preset.description,
            prompt_check="shapes",
            # Trained on 8-frame clips at 32x32: longer clips chain 8-frame chunks, larger ones upsample.
            # Time priors for the router, measured on a 2-core CPU (load ~2 s, ~0.08 s per frame x step).
            extras={
                "native_size": f"{NATIVE}x{NATIVE}",
                "trained_frames": 8,
                "load_seconds": 2.0,
                "seconds_per_frame_step": 0.08,
            },
        )
        return entry.apply_overrides(base)

    def packaged_weights(self, name: str) -> Path | None:
        path = PACKAGED / name
        if not (path / "model_index.json").is_file():
            raise WeightsNotFound(
                f"the shipped weights of {name!r} are missing from {path}; "
                "regenerate them from a source checkout with: "
                f"python -m tools.shapes.train --model {name}"
            )
        return path

    def load(self, path: Path, mode: Mode, *, device: str, dtype: Any) -> Any:
        import torch

        from ..shapes.pipeline import ShapesPipeline

        if not (path / "model_index.json").is_file():
            raise WeightsNotFound(f"no diffusers model_index.json in {path}")
        # Weights ship in fp16 to stay small; they run in fp32 on a CPU.
        run_dtype = torch.float32 if device == "cpu" else dtype
        pipe = ShapesPipeline.from_pretrained(  # type: ignore[no-untyped-call]
            path, local_files_only=True, dtype=run_dtype
        )
        pipe.set_progress_bar_config(disable=True)
        return pipe.to(device)

    def for_mode(self, pipe: Any, mode: Mode) -> Any:
        return pipe  # one pipeline does t2v and i2v

    def sample_rate(self, pipe: Any) -> int | None:
        return None

    def call_kwargs(
        self, pipe: Any, params: GenerationParams, prompt: str, image: Image.Image | None
    ) -> dict[str, Any]:
        return {
            "prompt": prompt,
            "image": image,
            "num_frames": params.frames,
            "height": params.height,
            "width": params.width,
            "num_inference_steps": params.steps,
            "guidance_scale": params.guidance,
        }

    def progress_total(self, params: GenerationParams) -> int:
        return params.steps * (1 + (params.frames - 8) // 7)

    def run_notes(self, params: GenerationParams) -> dict[str, Any]:
        if (params.width, params.height) != (NATIVE, NATIVE):
            return {"upsampled_from": f"{NATIVE}x{NATIVE}"}
        return {}

    def build_tiny(self, path: Path, *, seed: int = 0) -> None:
        """Nothing to build: the shapes models ship trained (:meth:`packaged_weights`)."""
        raise WeightsNotFound(
            "the shapes family builds no models; its built-ins ship in the package", param="model"
        )
